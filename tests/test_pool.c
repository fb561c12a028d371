/*
 * test_pool.c -- core/pool.h and what lends from it: co_socket_recv_bytes /
 * co_socket_sendall_bytes, co_stream's read buffer, and sparse task frames.
 *
 *   - round trip: an echo through the pool, messages of 1 B to 200 KiB,
 *     every byte checked, no receive bigger than a chunk; an idle
 *     connection holds nothing;
 *   - a send that falls short keeps exactly its remainder: moved to a block
 *     of its own size up to CO_POOL_CHUNK / 2 (the boundary both ways), the
 *     chunk kept above; a remainder after a partial send too;
 *   - a thousand socketpairs echoing at the minimum bound: every byte
 *     intact, the peak never above the bound, tasks waited for room,
 *     nothing left;
 *   - cancelling a task with a remainder gives the memory back and drops
 *     the unsent bytes;
 *   - waiting for room: first come, first served; a cancelled waiter gives
 *     its turn up; a woken waiter's room is reserved for it; a close wakes
 *     a waiter with -EBADF, a timeout region with -ETIMEDOUT, and neither
 *     leaves a reservation behind or loses the socket's data;
 *   - a receive on an idle socket waits for data, not for room; one reader
 *     per socket holds while that reader waits for room (-EBUSY);
 *   - bad input, and the calls outside a kernel;
 *   - a stream holds a block only while bytes are buffered; closing a
 *     stream (idle, with bytes, or with its reader waiting for room);
 *   - a burst of 1,000 connects to a co_tcp_server echoing through the
 *     pool; a user's listen backlog is the one used;
 *   - spawn leaves the pages of a big frame untouched where the template
 *     is zero, and copies what is not.
 *
 * Orders of events come from the scheduler: a spawned task runs in the next
 * cycle, and a co_yield lets every ready task run (and block) first.  Tasks
 * tell the test what they have done through counters and a wait queue
 * (AWAIT_COUNT), never through sleeps; a timer appears only where a timeout
 * is what is tested, or as a safety net around a big run.  Every test ends
 * by checking, inside its kernel, that the pool lends nothing, and after
 * the kernel has gone that no file descriptor leaked (RUN).
 */
#define _GNU_SOURCE                 /* mincore, struct tcp_info */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curio.h"
#include "core/pool.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

#define CHUNK ((size_t)CO_POOL_CHUNK)
#define KIB ((size_t)1 << 10)

/* ------------------------------------------------------------ helpers */

static co_pool_stats stats(void)
{
    co_pool_stats s;
    ck_assert_int_eq(co_pool_get_stats(&s), 0);
    return s;
}

static size_t in_use(void)
{
    return stats().in_use;
}

/* The patterned bytes every transfer sends: byte i is pattern_byte(i), so
 * that a reader checks with memcmp what a writer sent from pat + offset. */
static unsigned char *pat;
static size_t pat_len;

static void pat_alloc(size_t len)
{
    pat = pattern_alloc(len);
    pat_len = len;
}

/* What the tasks have done, and the queue they wake at each step. */
static co_waitq progress;
static unsigned long echo_recvs, echo_sends;     /* echo_task's rounds */
static unsigned long handlers_ended, handler_failures;

static void bump(unsigned long *counter)
{
    (*counter)++;
    co_waitq_wake_all(&progress, 0);
}

/* Blocking: until *counter >= n. */
static co_status wait_count(co_task *t, const unsigned long *counter,
                            unsigned long n)
{
    int rc;
    if (co_wait_enter(t, &rc))
        return rc;
    if (*counter >= n)
        return 0;
    return co_block(t, &progress, CO_NO_DEADLINE);
}

#define AWAIT_COUNT(rc, t, counter, n)                                       \
    do {                                                                     \
        CO_AWAIT(rc, wait_count((t), &(counter), (n)));                      \
        ck_assert_int_eq(rc, 0);                                             \
    } while ((counter) < (n))

static void setup(void)
{
    log_reset();
    co_waitq_init(&progress);
    echo_recvs = echo_sends = 0;
    handlers_ended = handler_failures = 0;
    pat = NULL;
    pat_len = 0;
}

static void teardown(void)
{
    free(pat);
    pat = NULL;
}

/*
 * Fill s's send side from pat + off without blocking, until it takes not
 * even one more byte (the peer reads nothing meanwhile): the pieces halve
 * after each refusal, so that the last refusal is for a single byte.
 * Linux refuses a send on a Unix stream socket, whatever its size, once
 * the bytes it has queued reach its send buffer: any send on s now waits.
 * The count sent.
 */
static size_t fill_send_side(co_socket *s, size_t off)
{
    size_t filled = 0;
    for (size_t piece = 16 * KIB; piece > 0;) {
        ck_assert_uint_le(off + filled + piece, pat_len);
        int rc = co_socket_try_send(s, pat + off + filled, piece, 0);
        if (rc == -EAGAIN) {
            piece /= 2;
            continue;
        }
        ck_assert_int_gt(rc, 0);
        filled += (size_t)rc;
    }
    return filled;
}

/* A small send buffer, so that a send falls short soon. */
static void shrink_sndbuf(co_socket *s, int bytes)
{
    ck_assert_int_eq(co_socket_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bytes,
                                          sizeof bytes), 0);
}

/* The descriptor limit raised to the hard limit for the big tests. */
static struct rlimit saved_limit;

static rlim_t raise_fd_limit(void)
{
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved_limit), 0);
    struct rlimit r = saved_limit;
    r.rlim_cur = r.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
    return r.rlim_max;
}

static void restore_fd_limit(void)
{
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
}

/* ------------------------------------------------------------ tasks */

/*
 * Echo through the pool until end of stream: recv_bytes, then
 * sendall_bytes of what came.  Counts its rounds in echo_recvs /
 * echo_sends (waking `progress`), checks that no receive exceeds a chunk,
 * shuts its write side down at the end if `shut`.  Returns the count
 * echoed, or the error.
 */
struct echo_frame {
    co_frame co;
    co_socket *s;
    size_t maxlen;              /* asked of each recv_bytes */
    int shut;
    int n, rc;
    size_t total;
    co_bytes data;
};

static co_status echo_task(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv_bytes(t, f->s, &f->data, f->maxlen));
        if (f->n <= 0)
            break;
        ck_assert_uint_le((size_t)f->n, CHUNK);
        ck_assert_uint_eq(f->data.len, (size_t)f->n);
        ck_assert_ptr_nonnull(f->data.data);
        bump(&echo_recvs);
        CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->s, &f->data));
        /* given back, whatever the outcome */
        ck_assert_ptr_null(f->data.block);
        ck_assert_uint_eq(f->data.len, 0);
        if (f->rc < 0)
            CO_RETURN(f->rc);
        f->total += (size_t)f->n;
        bump(&echo_sends);
    }
    if (f->n < 0)
        CO_RETURN(f->n);
    if (f->shut)
        ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_RETURN((int)f->total);
    CO_FINALLY
    co_bytes_free(&f->data);
    CO_END;
}

/* sendall pat[off .. off + len) (an ordinary send: not from the pool),
 * then shutdown(SHUT_WR) if `shut`.  0 or the error. */
struct writer_frame {
    co_frame co;
    co_socket *s;
    size_t off, len, sent;
    int shut, rc;
};

static co_status writer_task(co_task *t, void *arg)
{
    struct writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, pat + f->off, f->len,
                                      &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    if (f->shut)
        ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_END;
}

/*
 * Read `want` bytes (SIZE_MAX: until end of stream) into an ordinary
 * buffer, checking each against pat[off ..].  0 with the count in `got`;
 * -EPROTO (noted) at the first wrong byte; -EPIPE if the stream ended
 * before `want`; or the error.
 */
struct verify_frame {
    co_frame co;
    co_socket *s;
    size_t off, want, got;
    size_t ask;                 /* this receive's length */
    int rc;
    unsigned char buf[16384];
};

static co_status read_verify(co_task *t, void *arg)
{
    struct verify_frame *f = arg;
    CO_BEGIN(t, f);
    f->got = 0;
    while (f->got < f->want) {
        f->ask = f->want - f->got;
        if (f->ask > sizeof f->buf)
            f->ask = sizeof f->buf;
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, f->ask, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0)
            CO_RETURN(f->want == SIZE_MAX ? 0 : -EPIPE);
        ck_assert_uint_le(f->off + f->got + (size_t)f->rc, pat_len);
        if (memcmp(f->buf, pat + f->off + f->got, (size_t)f->rc) != 0) {
            for (int i = 0; i < f->rc; i++)
                if (f->buf[i] != pat[f->off + f->got + (size_t)i]) {
                    note("byte %zu of the stream at %zu is wrong",
                         f->got + (size_t)i, f->off);
                    break;
                }
            CO_RETURN(-EPROTO);
        }
        f->got += (size_t)f->rc;
    }
    CO_END;
}

/*
 * One recv_bytes of at most 64 bytes, optionally inside a timeout region;
 * logs "<name>=<n>:<data>" or "<name>=<error>".  With `go`, it then keeps
 * the bytes until the event is set (someone else may free them meanwhile:
 * that is what they are in the frame for).  The count, or the error.
 */
struct take_frame {
    co_frame co;
    co_socket *s;
    const char *name;
    double timeout;             /* > 0: a region around the receive */
    co_event *go;               /* non-NULL: hold the bytes until set */
    co_timeout to;
    co_bytes data;
    int rc, rc2;
};

static co_status take_task(co_task *t, void *arg)
{
    struct take_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        ck_assert_int_eq(co_timeout_after(t, &f->to, f->timeout), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->s, &f->data, 64));
    if (f->timeout > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    if (f->rc > 0) {
        ck_assert_uint_eq(f->data.len, (size_t)f->rc);
        note("%s=%d:%.*s", f->name, f->rc, f->rc, (const char *)f->data.data);
    } else {
        ck_assert_ptr_null(f->data.block);
        note("%s=%s", f->name, rcs(f->rc));
    }
    if (f->rc > 0 && f->go)
        CO_AWAIT(f->rc2, co_event_wait(t, f->go));
    CO_RETURN(f->rc);
    CO_FINALLY
    co_bytes_free(&f->data);
    CO_END;
}

/* readline once from a stream; logs "<name>:<line without its newline>"
 * or "<name>:<error>"; the result. */
struct liner_frame {
    co_frame co;
    co_stream *st;
    const char *name;
    int rc;
    char buf[256];
};

static co_status liner(co_task *t, void *arg)
{
    struct liner_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    if (f->rc > 0)
        note("%s:%.*s", f->name, f->rc - (f->buf[f->rc - 1] == '\n'),
             f->buf);
    else
        note("%s:%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

/* ------------------------------------------------------------ round trip */

static const size_t trip_sizes[] = { 1, 100, 64 * KIB, 200 * KIB };
#define NTRIPS (sizeof trip_sizes / sizeof *trip_sizes)

struct trip_frame {
    co_frame co;
    co_socket *p[2];            /* p[0]: the peer; p[1]: the echo's */
    co_task *echo, *writer;
    size_t off, total;
    unsigned long recvs_before;
    unsigned long rounds[NTRIPS];   /* receives each message took */
    int rc, i;
    struct verify_frame v;
};

static co_status round_trip_main(co_task *t, void *arg)
{
    struct trip_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        /* asks for more than a chunk: a receive still takes at most one */
        struct echo_frame e = { .s = f->p[1], .maxlen = 1u << 20,
                                .shut = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->echo, echo_task, e), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    /* blocked in recv_bytes on an idle socket: it holds nothing */
    ck_assert_str_eq(co_task_state(f->echo), "blocked");
    ck_assert_uint_eq(in_use(), 0);
    for (f->i = 0; f->i < (int)NTRIPS; f->i++) {
        f->recvs_before = echo_recvs;
        {
            struct writer_frame w = { .s = f->p[0], .off = f->off,
                                      .len = trip_sizes[f->i] };
            ck_assert_int_gt(CO_SPAWN(t, &f->writer, writer_task, w), 0);
        }
        f->v.s = f->p[0];
        f->v.off = f->off;
        f->v.want = trip_sizes[f->i];
        CO_AWAIT_CALL(f->rc, read_verify, &f->v);
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->v.got, trip_sizes[f->i]);
        AWAIT_JOIN(f->rc, t, f->writer);
        ck_assert_int_eq(f->rc, 0);
        /* every byte came back, so the echo's last send has returned and
         * the echo waits again on an idle socket, holding nothing */
        ck_assert_uint_eq(echo_sends, echo_recvs);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");
        ck_assert_uint_eq(in_use(), 0);
        f->rounds[f->i] = echo_recvs - f->recvs_before;
        f->off += trip_sizes[f->i];
    }
    /* one send of 1 or 100 bytes comes in one receive; 200 KiB needs at
     * least four receives of at most a chunk (checked in the echo) */
    ck_assert_uint_eq(f->rounds[0], 1);
    ck_assert_uint_eq(f->rounds[1], 1);
    ck_assert_uint_ge(f->rounds[2], 1);
    ck_assert_uint_ge(f->rounds[3], 4);
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->echo);
    ck_assert_int_eq(f->rc, (int)f->off);
    ck_assert_uint_ge(stats().peak, CHUNK);     /* chunks were lent */
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_round_trip)
{
    struct trip_frame m = { 0 };
    pat_alloc(1u << 20);
    RUN(round_trip_main, m);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ short sends */

/*
 * The echo's send side (p[1]) is filled first, so its send takes nothing
 * and the remainder is the whole message: its size is exactly what we
 * chose.  Up to CO_POOL_CHUNK / 2 it moves to a block of its own size;
 * one byte more and the chunk is kept.
 */
static const size_t short_sizes[] = { 1000, CO_POOL_CHUNK / 2,
                                      CO_POOL_CHUNK / 2 + 1 };
#define NSHORT (sizeof short_sizes / sizeof *short_sizes)

struct short_frame {
    co_frame co;
    co_socket *p[2];            /* p[0]: the peer; p[1]: the echo's */
    co_task *echo;
    struct echo_frame *ef;      /* the echo's frame, to look at */
    size_t off, fill, m, sent, total;
    unsigned long recvs_before, sends_before;
    int rc, i;
    struct verify_frame v;
};

static co_status short_send_main(co_task *t, void *arg)
{
    struct short_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    shrink_sndbuf(f->p[1], 4096);
    {
        struct echo_frame e = { .s = f->p[1], .maxlen = CHUNK, .shut = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->echo, echo_task, e), 0);
    }
    f->ef = co_task_frame(f->echo);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(in_use(), 0);

    /* The bytes from p[1] to p[0] are pat[0 ..] in order: the filling,
     * then the echo of the message, which p[0] sends from right after
     * the filling. */
    for (f->i = 0; f->i < (int)NSHORT; f->i++) {
        f->m = short_sizes[f->i];
        f->fill = fill_send_side(f->p[1], f->off);
        ck_assert_uint_gt(f->fill, 0);
        f->recvs_before = echo_recvs;
        f->sends_before = echo_sends;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], pat + f->off + f->fill,
                                          f->m, &f->sent));
        ck_assert_int_eq(f->rc, 0);
        AWAIT_COUNT(f->rc, t, echo_recvs, f->recvs_before + 1);
        /* it received the whole message in one go, and is suspended in
         * sendall_bytes with all of it unsent */
        ck_assert_int_eq(f->ef->n, (int)f->m);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");
        ck_assert_uint_eq(echo_sends, f->sends_before);
        ck_assert_uint_eq(f->ef->data.len, f->m);
        if (f->m <= CHUNK / 2) {
            /* moved to a block of its own size: the chunk went back */
            ck_assert_uint_eq(in_use(), f->m);
            ck_assert_ptr_eq(f->ef->data.data, f->ef->data.block);
        } else {
            ck_assert_uint_eq(in_use(), CHUNK);
        }
        /* the peer reads the filling and the echo, byte by byte */
        f->v.s = f->p[0];
        f->v.off = f->off;
        f->v.want = f->fill + f->m;
        CO_AWAIT_CALL(f->rc, read_verify, &f->v);
        ck_assert_int_eq(f->rc, 0);
        AWAIT_COUNT(f->rc, t, echo_sends, f->sends_before + 1);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");  /* idle */
        ck_assert_uint_eq(in_use(), 0);
        f->off += f->fill + f->m;
        f->total += f->m;
    }

    /*
     * A partial send.  p[1]'s send buffer is 8 KiB (Linux doubles the 4096
     * asked for): an empty buffer takes at least one segment of a 30,000
     * byte message, and at most about the buffer's size plus one segment,
     * so the send falls short with some bytes gone.  The remainder is
     * below CO_POOL_CHUNK / 2 whatever it is, so it has moved to a block
     * of exactly its size.
     */
    f->m = 30000;
    f->recvs_before = echo_recvs;
    f->sends_before = echo_sends;
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], pat + f->off, f->m,
                                      &f->sent));
    ck_assert_int_eq(f->rc, 0);
    AWAIT_COUNT(f->rc, t, echo_recvs, f->recvs_before + 1);
    ck_assert_str_eq(co_task_state(f->echo), "blocked");
    ck_assert_uint_eq(echo_sends, f->sends_before);
    ck_assert_uint_gt(f->ef->data.len, 0);
    ck_assert_uint_lt(f->ef->data.len, (size_t)f->ef->n);
    ck_assert_uint_eq(in_use(), f->ef->data.len);
    f->v.s = f->p[0];
    f->v.off = f->off;
    f->v.want = f->m;
    CO_AWAIT_CALL(f->rc, read_verify, &f->v);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(echo_sends, echo_recvs);
    ck_assert_uint_eq(in_use(), 0);
    f->total += f->m;

    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->echo);
    ck_assert_int_eq(f->rc, (int)f->total);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_short_send_keeps_remainder)
{
    struct short_frame m = { 0 };
    pat_alloc(4u << 20);
    RUN(short_send_main, m);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ many */

#define MANY_MAX 1000
#define STRIDE 4099                 /* pair k sends pat[k * STRIDE ..] */

static size_t many_n;               /* bytes each pair sends */
static int many_pairs;

struct many_frame {
    co_frame co;
    co_socket *a[MANY_MAX], *b[MANY_MAX];   /* a: the echo's end */
    co_task *echo[MANY_MAX], *writer[MANY_MAX], *reader[MANY_MAX];
    co_timeout to;
    co_pool_stats st;
    int rc, i, bad;
};

static co_status many_main(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    /* a safety net: a lost wake fails the test instead of hanging it */
    co_timeout_after(t, &f->to, 120.0);
    for (f->i = 0; f->i < many_pairs; f->i++) {
        co_socket *p[2];
        open_socketpair(p);
        f->a[f->i] = p[0];
        f->b[f->i] = p[1];
        /* A send buffer smaller than a chunk: an echo that received a
         * full chunk cannot send it at once, and suspends holding it (at
         * the minimum bound its remainder cannot move to a block of its
         * own), so the echoes whose data came meanwhile must wait for
         * room. */
        shrink_sndbuf(p[0], 16384);
        struct echo_frame e = { .s = p[0], .maxlen = CHUNK, .shut = 1 };
        struct writer_frame w = { .s = p[1], .off = (size_t)f->i * STRIDE,
                                  .len = many_n, .shut = 1 };
        struct verify_frame r = { .s = p[1], .off = (size_t)f->i * STRIDE,
                                  .want = SIZE_MAX };
        ck_assert_int_gt(CO_SPAWN(t, &f->echo[f->i], echo_task, e), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->writer[f->i], writer_task, w), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->reader[f->i], read_verify, r), 0);
    }
    for (f->i = 0; f->i < many_pairs; f->i++) {
        /* the reader's count is in its frame: wait, look, then join */
        CO_AWAIT(f->rc, co_task_wait(t, f->reader[f->i]));
        ck_assert_int_eq(f->rc, 0);
        if (co_task_result(f->reader[f->i]) != 0 ||
            ((struct verify_frame *)co_task_frame(f->reader[f->i]))->got !=
                many_n) {
            note("pair %d: reader %s", f->i,
                 rcs(co_task_result(f->reader[f->i])));
            f->bad++;
        }
        AWAIT_JOIN(f->rc, t, f->reader[f->i]);
        AWAIT_JOIN(f->rc, t, f->writer[f->i]);
        if (f->rc != 0) {
            note("pair %d: writer %s", f->i, rcs(f->rc));
            f->bad++;
        }
        AWAIT_JOIN(f->rc, t, f->echo[f->i]);
        if (f->rc != (int)many_n) {
            note("pair %d: echo %s", f->i, rcs(f->rc));
            f->bad++;
        }
    }
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    f->st = stats();
    ck_assert_uint_eq(f->st.limit, CHUNK);
    ck_assert_uint_le(f->st.peak, f->st.limit);
    ck_assert_uint_eq(f->st.peak, CHUNK);
    ck_assert_uint_gt(f->st.waits, 0);
    ck_assert_uint_eq(f->st.in_use, 0);
    for (f->i = 0; f->i < many_pairs; f->i++) {
        ck_assert_int_eq(co_socket_close(&f->a[f->i]), 0);
        ck_assert_int_eq(co_socket_close(&f->b[f->i]), 0);
    }
    ck_assert_int_eq(f->bad, 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_many_short_at_the_bound)
{
    rlim_t hard = raise_fd_limit();
    ck_assert_uint_gt(hard, 202);
    many_pairs = hard < 2200 ? (int)((hard - 200) / 2) : MANY_MAX;
    many_n = 256 * KIB;
    ck_assert_int_gt(many_pairs, 0);
    pat_alloc((size_t)many_pairs * STRIDE + many_n);
    struct many_frame *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    int before = count_fds();
    int rc = co_run(many_main, m, sizeof *m);
    int after = count_fds();
    free(m);
    restore_fd_limit();
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(after, before);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ cancel */

/* A remainder kept in a block of its own, and one kept in the chunk. */
static const size_t cancel_sizes[] = { 1000, 40000 };

struct cancel_frame {
    co_frame co;
    co_socket *p[2];
    co_task *echo;
    size_t off, fill, sent;
    unsigned long recvs_before;
    int rc, i;
    struct verify_frame v;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 2; f->i++) {
        open_socketpair(f->p);
        shrink_sndbuf(f->p[1], 4096);
        {
            struct echo_frame e = { .s = f->p[1], .maxlen = CHUNK };
            ck_assert_int_gt(CO_SPAWN(t, &f->echo, echo_task, e), 0);
        }
        CO_AWAIT(f->rc, co_yield(t));
        f->fill = fill_send_side(f->p[1], f->off);
        f->recvs_before = echo_recvs;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], pat + f->off + f->fill,
                                          cancel_sizes[f->i], &f->sent));
        ck_assert_int_eq(f->rc, 0);
        AWAIT_COUNT(f->rc, t, echo_recvs, f->recvs_before + 1);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");
        ck_assert_uint_eq(in_use(), cancel_sizes[f->i] <= CHUNK / 2
                                        ? cancel_sizes[f->i] : CHUNK);
        note("in_use=%zu", in_use());
        CO_AWAIT(f->rc, co_task_cancel(t, f->echo));
        ck_assert_int_eq(f->rc, 1);
        AWAIT_JOIN(f->rc, t, f->echo);
        note("echo=%s in_use=%zu", rcs(f->rc), in_use());
        /* the unsent bytes were dropped, not sent later: the peer gets
         * the filling and then the end of stream */
        ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
        f->v.s = f->p[0];
        f->v.off = f->off;
        f->v.want = SIZE_MAX;
        CO_AWAIT_CALL(f->rc, read_verify, &f->v);
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->v.got, f->fill);
        ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
        f->off += f->fill + cancel_sizes[f->i];
    }
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_cancel_returns_remainder)
{
    struct cancel_frame m = { 0 };
    pat_alloc(4u << 20);
    RUN(cancel_main, m);
    ck_assert_str_eq(lg, "in_use=1000 echo=CANCEL in_use=0 "
                         "in_use=65536 echo=CANCEL in_use=0");
}
END_TEST

/* ------------------------------------------------------------ room */

struct room_frame {
    co_frame co;
    co_socket *ph[2], *p1[2], *p2[2], *p3[2], *p4[2], *p5[2], *p6[2];
    co_task *h, *w1, *w2, *w3, *w4, *w5, *w6;
    struct take_frame *hf;
    co_event go;
    co_bytes held;
    co_pool_stats st;
    int rc;
    char buf[64];
};

static void send_now(co_socket *s, const char *msg)
{
    ck_assert_int_eq(co_socket_try_send(s, msg, strlen(msg), 0),
                     (int)strlen(msg));
}

/* Spawn take_task on s as `name` (it runs in the next cycle). */
#define SPAWN_TAKER(t, out, s_, name_, timeout_)                             \
    do {                                                                     \
        struct take_frame tf_ = { .s = (s_), .name = (name_),                \
                                  .timeout = (timeout_) };                   \
        ck_assert_int_gt(CO_SPAWN((t), (out), take_task, tf_), 0);           \
    } while (0)

static co_status room_main(co_task *t, void *arg)
{
    struct room_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    open_socketpair(f->ph);
    open_socketpair(f->p1);
    open_socketpair(f->p2);
    open_socketpair(f->p3);
    open_socketpair(f->p4);
    open_socketpair(f->p5);
    open_socketpair(f->p6);
    send_now(f->ph[0], "hold");
    send_now(f->p1[0], "one");
    send_now(f->p2[0], "two");
    send_now(f->p3[0], "three");
    send_now(f->p4[0], "four");
    send_now(f->p5[0], "five");
    send_now(f->p6[0], "six");

    /* H takes the only chunk and keeps it */
    {
        struct take_frame h = { .s = f->ph[1], .name = "H", .go = &f->go };
        ck_assert_int_gt(CO_SPAWN(t, &f->h, take_task, h), 0);
    }
    f->hf = co_task_frame(f->h);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(in_use(), CHUNK);
    ck_assert_uint_eq(stats().waits, 0);
    /* W1, then W2: their sockets have data, the pool has no room */
    SPAWN_TAKER(t, &f->w1, f->p1[1], "W1", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_uint_eq(stats().waits, 1);
    SPAWN_TAKER(t, &f->w2, f->p2[1], "W2", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w2), "blocked");
    f->st = stats();
    ck_assert_uint_eq(f->st.waits, 2);
    ck_assert_uint_eq(f->st.in_use, CHUNK);
    ck_assert_uint_eq(f->st.peak, CHUNK);
    /* W1 gives its turn up */
    note("cancel W1");
    CO_AWAIT(f->rc, co_task_cancel(t, f->w1));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_uint_eq(in_use(), CHUNK);
    /* H's chunk goes back: it is W2's at once, reserved before W2 runs */
    note("free H");
    co_bytes_free(&f->hf->data);
    ck_assert_ptr_null(f->hf->data.data);
    ck_assert_uint_eq(f->hf->data.len, 0);
    ck_assert_str_eq(co_task_state(f->w2), "ready");
    ck_assert_uint_eq(in_use(), CHUNK);
    AWAIT_JOIN(f->rc, t, f->w2);
    ck_assert_int_eq(f->rc, 3);
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_event_set(&f->go), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 4);
    /* W1 read nothing while it waited: its data is still there */
    CO_AWAIT(f->rc, co_socket_recv(t, f->p1[1], f->buf, sizeof f->buf, 0));
    note("p1=%.*s", f->rc, f->buf);
    ck_assert_uint_eq(stats().waits, 2);

    /* Closing the socket of a task waiting for room wakes it with -EBADF;
     * the room it waited for is not reserved for it afterwards. */
    send_now(f->ph[0], "again");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 5);
    ck_assert_uint_eq(in_use(), CHUNK);
    SPAWN_TAKER(t, &f->w3, f->p3[1], "W3", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w3), "blocked");
    ck_assert_uint_eq(stats().waits, 3);
    note("close p3");
    ck_assert_int_eq(co_socket_close(&f->p3[1]), 0);
    AWAIT_JOIN(f->rc, t, f->w3);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_eq(in_use(), CHUNK);
    co_bytes_free(&f->held);
    ck_assert_uint_eq(in_use(), 0);

    /* A timeout region expiring while waiting for room: -ETIMEDOUT, and
     * the socket's data is left for a later receive. */
    send_now(f->ph[0], "again");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 5);
    SPAWN_TAKER(t, &f->w4, f->p4[1], "W4", 0.02);
    AWAIT_JOIN(f->rc, t, f->w4);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_eq(stats().waits, 4);
    ck_assert_uint_eq(in_use(), CHUNK);
    co_bytes_free(&f->held);
    ck_assert_uint_eq(in_use(), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p4[1], &f->held, 64));
    note("p4=%.*s", f->rc, (const char *)f->held.data);
    co_bytes_free(&f->held);

    /* Two waiters: the first to come is served first.  Each gives its
     * chunk back when it ends, and the next one gets it. */
    send_now(f->ph[0], "again");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 5);
    SPAWN_TAKER(t, &f->w5, f->p5[1], "W5", 0);
    CO_AWAIT(f->rc, co_yield(t));
    SPAWN_TAKER(t, &f->w6, f->p6[1], "W6", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(stats().waits, 6);
    note("free");
    co_bytes_free(&f->held);
    ck_assert_str_eq(co_task_state(f->w5), "ready");
    ck_assert_str_eq(co_task_state(f->w6), "blocked");
    AWAIT_JOIN(f->rc, t, f->w6);
    ck_assert_int_eq(f->rc, 3);
    AWAIT_JOIN(f->rc, t, f->w5);
    ck_assert_int_eq(f->rc, 4);

    co_socket_close(&f->ph[0]);
    co_socket_close(&f->ph[1]);
    co_socket_close(&f->p1[0]);
    co_socket_close(&f->p1[1]);
    co_socket_close(&f->p2[0]);
    co_socket_close(&f->p2[1]);
    co_socket_close(&f->p3[0]);
    co_socket_close(&f->p4[0]);
    co_socket_close(&f->p4[1]);
    co_socket_close(&f->p5[0]);
    co_socket_close(&f->p5[1]);
    co_socket_close(&f->p6[0]);
    co_socket_close(&f->p6[1]);
    f->st = stats();
    ck_assert_uint_eq(f->st.in_use, 0);
    ck_assert_uint_le(f->st.peak, CHUNK);
    CO_END;
}

START_TEST(test_waiting_for_room)
{
    struct room_frame m = { 0 };
    RUN(room_main, m);
    ck_assert_str_eq(lg, "H=4:hold cancel W1 W1=CANCEL free H W2=3:two "
                         "p1=one close p3 W3=EBADF W4=TIMEOUT p4=four "
                         "free W5=4:five W6=3:six");
}
END_TEST

/*
 * An idle socket's receive waits for data, not for room: with the pool at
 * its bound, a receive on a socket that has no data neither queues for
 * room nor gets room reserved for it (pool.h: a receive "borrows a chunk
 * ... only once the socket has data").  The socket is fresh, so its
 * readiness hint still says "may be ready".
 */
struct idle_frame {
    co_frame co;
    co_socket *ph[2], *q[2];
    co_task *w;
    co_bytes held;
    co_pool_stats st;
    int rc;
};

static co_status idle_at_bound_main(co_task *t, void *arg)
{
    struct idle_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    open_socketpair(f->ph);
    open_socketpair(f->q);
    send_now(f->ph[0], "hold");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 4);
    SPAWN_TAKER(t, &f->w, f->q[1], "W", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w), "blocked");
    f->st = stats();
    note("waits=%lu", f->st.waits);
    co_bytes_free(&f->held);
    note("in_use=%zu", in_use());             /* nothing reserved for W */
    note("send");
    send_now(f->q[0], "data");
    AWAIT_JOIN(f->rc, t, f->w);
    ck_assert_int_eq(f->rc, 4);
    co_socket_close(&f->ph[0]);
    co_socket_close(&f->ph[1]);
    co_socket_close(&f->q[0]);
    co_socket_close(&f->q[1]);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_idle_receive_does_not_wait_for_room)
{
    struct idle_frame m = { 0 };
    RUN(idle_at_bound_main, m);
    ck_assert_str_eq(lg, "waits=0 in_use=0 send W=4:data");
}
END_TEST

/*
 * One reader per socket holds while the reader waits for room too
 * (socket.h: "a task that would wait to read ... while another task
 * already waits to read ... the same socket gets -EBUSY").  A second
 * receive on the socket -- plain or through the pool -- is refused, and
 * takes none of the data the first one waits to read.  Both fail at once
 * instead of hanging if the second receive is not refused.
 */
struct busy_frame {
    co_frame co;
    co_socket *ph[2], *q[2];
    co_task *w1, *w2;
    co_bytes held;
    int rc;
    char buf[16];
};

/* The pool at its bound (held by main), W1 waiting for room on q[1],
 * whose peer has sent "data". */
#define BUSY_SETUP(t, f)                                                     \
    do {                                                                     \
        ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);                       \
        open_socketpair((f)->ph);                                            \
        open_socketpair((f)->q);                                             \
        send_now((f)->ph[0], "hold");                                        \
        CO_AWAIT((f)->rc, co_socket_recv_bytes((t), (f)->ph[1], &(f)->held,  \
                                               64));                         \
        ck_assert_int_eq((f)->rc, 4);                                        \
        send_now((f)->q[0], "data");                                         \
        SPAWN_TAKER((t), &(f)->w1, (f)->q[1], "W1", 0);                      \
    } while (0)

static void busy_close(struct busy_frame *f)
{
    co_socket_close(&f->ph[0]);
    co_socket_close(&f->ph[1]);
    co_socket_close(&f->q[0]);
    co_socket_close(&f->q[1]);
}

static co_status busy_plain_main(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    BUSY_SETUP(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_uint_eq(stats().waits, 1);
    CO_AWAIT(f->rc, co_socket_recv(t, f->q[1], f->buf, sizeof f->buf, 0));
    ck_assert_msg(f->rc == -EBUSY, "a plain receive on a socket whose "
                  "reader waits for room gave %s (%.*s), not -EBUSY",
                  rcs(f->rc), f->rc > 0 ? f->rc : 0, f->buf);
    note("free");
    co_bytes_free(&f->held);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, 4);
    busy_close(f);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_plain_receive_while_one_waits_for_room)
{
    struct busy_frame m = { 0 };
    RUN(busy_plain_main, m);
    ck_assert_str_eq(lg, "free W1=4:data");
}
END_TEST

static co_status busy_pool_main(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    BUSY_SETUP(t, f);
    SPAWN_TAKER(t, &f->w2, f->q[1], "W2", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_msg(co_task_done(f->w2), "a second receive through the pool "
                  "on a socket whose reader waits for room was not refused: "
                  "it is %s, and %lu tasks waited for room",
                  co_task_state(f->w2), stats().waits);
    ck_assert_uint_eq(stats().waits, 1);
    note("free");
    co_bytes_free(&f->held);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, 4);
    AWAIT_JOIN(f->rc, t, f->w2);
    ck_assert_int_eq(f->rc, -EBUSY);
    busy_close(f);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_pool_receive_while_one_waits_for_room)
{
    struct busy_frame m = { 0 };
    RUN(busy_pool_main, m);
    ck_assert_str_eq(lg, "W2=EBUSY free W1=4:data");
}
END_TEST

/* ------------------------------------------------------------ bad input */

struct bad_frame {
    co_frame co;
    co_socket *p[2];
    co_bytes b, fake, empty;
    co_timeout to;
    co_pool_stats st;
    int rc;
    char buf[16];
};

static co_status bad_input_main(co_task *t, void *arg)
{
    struct bad_frame *f = arg;
    CO_BEGIN(t, f);
    f->st = stats();
    ck_assert_uint_eq(f->st.limit, CO_POOL_DEFAULT_LIMIT);
    open_socketpair(f->p);

    /* receiving: checked before anything is read or waited for */
    send_now(f->p[0], "xyz");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->b, 2));
    ck_assert_int_eq(f->rc, 2);                 /* maxlen is respected */
    ck_assert_int_eq(memcmp(f->b.data, "xy", 2), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->b, 100));
    note("nonempty=%s", rcs(f->rc));
    ck_assert_uint_eq(f->b.len, 2);             /* untouched */
    ck_assert_int_eq(memcmp(f->b.data, "xy", 2), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->empty, 0));
    note("maxlen0=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], NULL, 100));
    note("null=%s", rcs(f->rc));
    ck_assert_uint_eq(in_use(), CHUNK);         /* only b's */
    /* the byte after them was not consumed by the refused calls */
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->empty, 100));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_int_eq(f->empty.data[0], 'z');
    co_bytes_free(&f->empty);

    /* sending */
    f->fake = (co_bytes){ .data = (unsigned char *)f->buf, .len = 3 };
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], &f->fake));
    note("noblock=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], NULL));
    note("sendnull=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], &f->empty));
    note("sendempty=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], &f->b));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_ptr_null(f->b.block);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("peer=%.*s", f->rc, f->buf);             /* only b's bytes */
    ck_assert_uint_eq(in_use(), 0);

    /* refused even when the readiness hint says the receive would wait */
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->b, 100));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_socket_recv_bytes(t, f->p[1], &f->b, 0);
    note("drained=%s", rcs(f->rc));

    /* the pool's own calls */
    ck_assert_int_eq(co_pool_set_limit(CHUNK - 1), -EINVAL);
    ck_assert_int_eq(co_pool_set_limit(0), -EINVAL);
    ck_assert_uint_eq(stats().limit, CO_POOL_DEFAULT_LIMIT);    /* kept */
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    ck_assert_uint_eq(stats().limit, CHUNK);
    ck_assert_int_eq(co_pool_get_stats(NULL), -EINVAL);
    co_bytes_free(NULL);
    co_bytes_free(&f->empty);
    ck_assert_ptr_null(f->empty.data);
    f->st = stats();
    ck_assert_uint_eq(f->st.in_use, 0);
    ck_assert_uint_eq(f->st.waits, 0);
    ck_assert_uint_eq(f->st.peak, 2 * CHUNK);  /* b's and the 'z' */
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

/* A new kernel's pool starts afresh: the bound set in another kernel was
 * that kernel's. */
struct fresh_frame {
    co_frame co;
    co_pool_stats st;
};

static co_status fresh_kernel_main(co_task *t, void *arg)
{
    struct fresh_frame *f = arg;
    CO_BEGIN(t, f);
    f->st = stats();
    ck_assert_uint_eq(f->st.limit, CO_POOL_DEFAULT_LIMIT);
    ck_assert_uint_eq(f->st.in_use, 0);
    ck_assert_uint_eq(f->st.peak, 0);
    ck_assert_uint_eq(f->st.waits, 0);
    CO_END;
}

START_TEST(test_bad_input)
{
    co_pool_stats s = { .in_use = 12345 };
    co_bytes empty = { 0 };
    /* no kernel in this thread */
    ck_assert_int_eq(co_pool_set_limit(CHUNK), -ESRCH);
    ck_assert_int_eq(co_pool_get_stats(&s), -ESRCH);
    ck_assert_uint_eq(s.in_use, 12345);
    co_bytes_free(NULL);
    co_bytes_free(&empty);
    ck_assert_ptr_null(empty.data);

    struct bad_frame m = { 0 };
    RUN(bad_input_main, m);
    ck_assert_str_eq(lg, "nonempty=EINVAL maxlen0=EINVAL null=EINVAL "
                         "noblock=EINVAL sendnull=EINVAL sendempty=0 "
                         "peer=xy drained=EINVAL");
    struct fresh_frame m2 = { 0 };
    RUN(fresh_kernel_main, m2);
    ck_assert_int_eq(co_pool_get_stats(&s), -ESRCH);
}
END_TEST

/* ------------------------------------------------------------ streams */

struct stream_frame {
    co_frame co;
    co_socket *p[2], *q[2], *ph[2];
    co_stream *st;
    co_task *r;
    co_bytes held;
    int rc, i;
    char buf[64];
};

/* p[1] wrapped in f->st; p[0] is the peer. */
static void open_stream(struct stream_frame *f)
{
    open_socketpair(f->p);
    ck_assert_int_eq(co_stream_new(&f->st, f->p[1], 0), 0);
    f->p[1] = NULL;                 /* the stream's now */
}

#define SPAWN_LINER(t, f, name_)                                             \
    do {                                                                     \
        struct liner_frame l_ = { .st = (f)->st, .name = (name_) };          \
        ck_assert_int_gt(CO_SPAWN((t), &(f)->r, liner, l_), 0);              \
    } while (0)

static co_status stream_main(co_task *t, void *arg)
{
    struct stream_frame *f = arg;
    CO_BEGIN(t, f);
    open_stream(f);
    send_now(f->p[0], "a\nb\nc");
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    note("%.*s", f->rc - 1, f->buf);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), CHUNK);         /* "b\nc" is buffered */
    ck_assert_uint_eq(co_stream_buffered(f->st), 3);
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    note("%.*s", f->rc - 1, f->buf);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), CHUNK);         /* "c" */
    ck_assert_uint_eq(co_stream_buffered(f->st), 1);
    /* a reader blocked on the partial line: the "c" stays buffered */
    SPAWN_LINER(t, f, "r");
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(in_use(), CHUNK);
    ck_assert_uint_eq(co_stream_buffered(f->st), 1);
    note("send");
    send_now(f->p[0], "\n");
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), 0);             /* nothing buffered */
    ck_assert_uint_eq(co_stream_buffered(f->st), 0);

    /* a reader on the idle stream holds nothing; a close wakes it */
    SPAWN_LINER(t, f, "idle");
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(in_use(), 0);
    note("close");
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);

    /* closing a stream with bytes buffered gives its block back */
    open_stream(f);
    send_now(f->p[0], "p\nq");
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), CHUNK);
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);

    /* A stream reader waiting for room in the pool: it gets its line once
     * room comes; closed while it waits, it gets -EBADF. */
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    open_socketpair(f->ph);
    send_now(f->ph[0], "hold");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 4);
    open_stream(f);
    send_now(f->p[0], "x\n");
    SPAWN_LINER(t, f, "room");
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(stats().waits, 1);
    note("free");
    co_bytes_free(&f->held);
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), 0);
    send_now(f->ph[0], "hold");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 4);
    send_now(f->p[0], "y\n");
    SPAWN_LINER(t, f, "room");
    /* The last receive on this socket drained it, so the reader first
     * waits for readiness, which the kernel polls for between runs of
     * ready tasks; then it waits for room. */
    for (f->i = 0; f->i < 1000000 && stats().waits < 2; f->i++)
        CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(stats().waits, 2);
    note("close");
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_eq(in_use(), CHUNK);         /* the held bytes only */
    co_bytes_free(&f->held);
    ck_assert_uint_eq(in_use(), 0);             /* nothing reserved */
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->ph[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->ph[1]), 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_stream_holds_only_buffered)
{
    struct stream_frame m = { 0 };
    RUN(stream_main, m);
    ck_assert_str_eq(lg, "a b send r:c close idle:EBADF "
                         "free room:x close room:EBADF");
}
END_TEST

/* ------------------------------------------------------------ a burst */

#define BURST 1000
#define BURST_MSG 100

/* The server's handler: an echo through the pool. */
struct burst_handler_frame {
    CO_CLIENT_HEADER;
    co_bytes data;
    int n, rc;
};

static co_status burst_handler(co_task *t, void *arg)
{
    struct burst_handler_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv_bytes(t, f->client, &f->data, 100000));
        if (f->n <= 0)
            CO_RETURN(f->n);
        CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->client, &f->data));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_FINALLY
    co_bytes_free(&f->data);
    if (CO_RESULT() < 0)
        handler_failures++;
    bump(&handlers_ended);
    CO_END;
}

/* Connect, send pat[idx * BURST_MSG ..] (100 bytes no other client
 * sends), read the echo, compare, close.  0, -EPROTO, or the error. */
struct burst_client_frame {
    co_frame co;
    int port, idx, rc;
    co_socket *sock;
    size_t sent, got;
    unsigned char echo[BURST_MSG];
};

static co_status burst_client(co_task *t, void *arg)
{
    struct burst_client_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1", f->port));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->sock,
                                      pat + (size_t)f->idx * BURST_MSG,
                                      BURST_MSG, &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->got = 0; f->got < BURST_MSG; f->got += (size_t)f->rc) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->echo + f->got,
                                       BURST_MSG - f->got, 0));
        if (f->rc <= 0)
            CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
    }
    CO_RETURN(memcmp(f->echo, pat + (size_t)f->idx * BURST_MSG,
                     BURST_MSG) == 0 ? 0 : -EPROTO);
    CO_FINALLY
    co_socket_close(&f->sock);
    CO_END;
}

struct burst_frame {
    co_frame co;
    co_task *server;
    co_server_frame *srv;
    co_task *client[BURST];
    co_timeout to;
    int port, rc, i, ok;
};

/* The listen backlog of a server's socket.  There is no public way to the
 * listening socket, so this reads the server's private priv.listener; on
 * Linux, TCP_INFO on a listening socket reports its backlog in
 * tcpi_sacked (and the connections queued now in tcpi_unacked). */
static unsigned listen_backlog(co_server_frame *srv)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    ck_assert_int_eq(co_socket_getsockopt(srv->priv.listener, IPPROTO_TCP,
                                          TCP_INFO, &ti, &len), 0);
    ck_assert_int_eq(ti.tcpi_state, TCP_LISTEN);
    return ti.tcpi_sacked;
}

static int somaxconn(void)
{
    FILE *fp = fopen("/proc/sys/net/core/somaxconn", "r");
    int n = -1;
    if (fp) {
        if (fscanf(fp, "%d", &n) != 1)
            n = -1;
        fclose(fp);
    }
    return n;
}

static co_status burst_main(co_task *t, void *arg)
{
    struct burst_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, burst_handler,
                                           struct burst_handler_frame);
    struct burst_client_frame c = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);
    /* the default backlog is the system's maximum */
    if (somaxconn() > 0)
        ck_assert_uint_eq(listen_backlog(f->srv), (unsigned)somaxconn());
    /* a safety net: a lost wake fails the test instead of hanging it */
    co_timeout_after(t, &f->to, 60.0);
    for (f->i = 0; f->i < BURST; f->i++) {
        c.port = f->port;
        c.idx = f->i;
        ck_assert_int_gt(CO_SPAWN(t, &f->client[f->i], burst_client, c), 0);
    }
    for (f->i = 0; f->i < BURST; f->i++) {
        AWAIT_JOIN(f->rc, t, f->client[f->i]);
        if (f->rc == 0)
            f->ok++;
        else
            note("client %d: %s", f->i, rcs(f->rc));
    }
    ck_assert_int_eq(f->ok, BURST);
    /* each handler sees its client's end of stream and ends; the server's
     * count drops as each handler's task ends, right after it */
    AWAIT_COUNT(f->rc, t, handlers_ended, BURST);
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    ck_assert_uint_eq(handler_failures, 0);
    ck_assert_uint_eq(f->srv->accepted, BURST);
    ck_assert_uint_eq(f->srv->active, 0);
    ck_assert_uint_eq(f->srv->backoffs, 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_burst_of_connects)
{
    rlim_t hard = raise_fd_limit();
    if (hard < 2300) {
        restore_fd_limit();
        fprintf(stderr, "test_pool: burst of %d connects skipped: the "
                        "descriptor hard limit is %llu (< 2300)\n", BURST,
                (unsigned long long)hard);
        return;
    }
    pat_alloc((size_t)BURST * BURST_MSG);
    struct burst_frame *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    int before = count_fds();
    int rc = co_run(burst_main, m, sizeof *m);
    int after = count_fds();
    free(m);
    restore_fd_limit();
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(after, before);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* A user's backlog is the one the listening socket gets. */
struct backlog_frame {
    co_frame co;
    co_task *server;
    co_server_frame *srv;
    int port, rc;
};

static co_status backlog_main(co_task *t, void *arg)
{
    struct backlog_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, burst_handler,
                                           struct burst_handler_frame);
    CO_BEGIN(t, f);
    s.backlog = 3;
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);
    ck_assert_uint_eq(listen_backlog(f->srv), 3);
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_server_backlog)
{
    struct backlog_frame m = { 0 };
    RUN(backlog_main, m);
}
END_TEST

/* ------------------------------------------------------------ sparse spawn */

struct big_frame {
    co_frame co;
    int marker;
    unsigned char big[1 << 20];
};

/* Templates are static: 1 MiB does not belong on a stack. */
static struct big_frame big_template;

/* What the task checks (set by the test). */
static int check_residency;         /* 0: THP "always" */
static int sparse_checked;

/* Residency of the pages of [lo, lo + len) (page-aligned) into vec; the
 * count resident. */
static size_t resident_pages(uintptr_t lo, size_t len, unsigned char *vec)
{
    ck_assert_int_eq(mincore((void *)lo, len, vec), 0);
    size_t n = 0, pg = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < len / pg; i++)
        n += vec[i] & 1;
    return n;
}

static co_status sparse_task(co_task *t, void *arg)
{
    struct big_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(f->marker, 0x5eed);
    {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        uintptr_t lo = ((uintptr_t)f->big + pg - 1) / pg * pg;
        uintptr_t hi = ((uintptr_t)(f->big + sizeof f->big)) / pg * pg;
        size_t npages = (hi - lo) / pg;
        unsigned char *vec = calloc(npages + 1, 1);
        unsigned char one = 0;
        ck_assert_ptr_nonnull(vec);
        ck_assert_uint_ge(npages, (sizeof f->big) / pg - 1);
        size_t at = ((uintptr_t)&f->big[500000] - lo) / pg;
        size_t before = resident_pages(lo, hi - lo, vec);
        if (check_residency) {
            ck_assert_msg(before <= 2, "%zu of %zu pages of an all-zero "
                          "template are resident", before, npages);
            ck_assert_int_eq(vec[at] & 1, 0);
        }
        /* writing makes exactly those pages resident */
        f->big[0] = 1;
        f->big[500000] = 1;
        size_t after = resident_pages(lo, hi - lo, vec);
        ck_assert_int_eq(vec[at] & 1, 1);
        ck_assert_int_eq(mincore((void *)((uintptr_t)f->big / pg * pg), pg,
                                 &one), 0);
        ck_assert_int_eq(one & 1, 1);
        if (check_residency)
            ck_assert_uint_le(after, before + 2);
        free(vec);
    }
    /* the frame came zeroed where the template was skipped */
    for (size_t i = 0; i < sizeof f->big; i++)
        if (f->big[i] != (i == 0 || i == 500000))
            ck_abort_msg("big[%zu] = %u", i, f->big[i]);
    sparse_checked++;
    CO_END;
}

/* A template with non-zero bytes among zero pieces: all copied. */
static co_status copied_task(co_task *t, void *arg)
{
    struct big_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(f->marker, 0x5eed);
    for (size_t i = 0; i < sizeof f->big; i++) {
        unsigned want = i == 600000 ? 0xab : i == sizeof f->big - 1 ? 0xcd
                                                                   : 0;
        if (f->big[i] != want)
            ck_abort_msg("big[%zu] = %u, want %u", i, f->big[i], want);
    }
    sparse_checked++;
    CO_END;
}

struct sparse_frame {
    co_frame co;
    co_task *a;
    int rc;
};

static co_status sparse_main(co_task *t, void *arg)
{
    struct sparse_frame *f = arg;
    CO_BEGIN(t, f);
    memset(&big_template, 0, sizeof big_template);
    big_template.marker = 0x5eed;
    ck_assert_int_gt(co_spawn(t, &f->a, sparse_task, &big_template,
                              sizeof big_template, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    big_template.big[600000] = 0xab;
    big_template.big[sizeof big_template.big - 1] = 0xcd;  /* the last,
                                                               short piece */
    ck_assert_int_gt(co_spawn(t, &f->a, copied_task, &big_template,
                              sizeof big_template, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(sparse_checked, 2);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

/* Whether a page's residency says what spawn did.  (It does under
 * AddressSanitizer and Valgrind too: neither touches a program's own
 * anonymous mappings.)  With transparent huge pages "always", though, the
 * system may back the task's mapping -- merged with neighbouring ones --
 * by a huge page at the first touch, making untouched pages resident. */
static int residency_meaningful(const char **why)
{
    char mode[128] = "";
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (fp) {
        if (!fgets(mode, sizeof mode, fp))
            mode[0] = '\0';
        fclose(fp);
    }
    if (strstr(mode, "[always]")) {
        *why = "transparent huge pages \"always\"";
        return 0;
    }
    return 1;
}

START_TEST(test_spawn_leaves_zero_pages_untouched)
{
    const char *why = NULL;
    check_residency = residency_meaningful(&why);
    if (!check_residency)
        fprintf(stderr, "test_pool: page residency bound not asserted "
                        "under %s\n", why);
    sparse_checked = 0;
    struct sparse_frame m = { 0 };
    RUN(sparse_main, m);
}
END_TEST

/* ------------------------------------------------------------ the suite */

Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_short_send_keeps_remainder);
    tcase_add_test(tc, test_cancel_returns_remainder);
    tcase_add_test(tc, test_waiting_for_room);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_stream_holds_only_buffered);
    tcase_add_test(tc, test_server_backlog);
    tcase_add_test(tc, test_spawn_leaves_zero_pages_untouched);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_many_short_at_the_bound);
    tcase_add_test(tc, test_burst_of_connects);
    suite_add_tcase(s, tc);

    /* Who waits for room, and who may not. */
    tc = tcase_create("waiters");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_idle_receive_does_not_wait_for_room);
    tcase_add_test(tc, test_plain_receive_while_one_waits_for_room);
    tcase_add_test(tc, test_pool_receive_while_one_waits_for_room);
    suite_add_tcase(s, tc);
    return s;
}
