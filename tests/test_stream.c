/*
 * test_stream.c -- net/stream.h: lines across arbitrary segment
 * boundaries, the line limit (-EMSGSIZE) leaving data readable, exact
 * reads reaching the end of stream, reads served from the buffer with no
 * system call, a 1 MiB echo through two streams, timeouts and cancellation
 * that lose nothing, close while tasks wait, closing twice through one
 * handle, EPIPE without SIGPIPE, gathered writes and their progress count,
 * pipes, readlines (every line, its limits, what a timeout or a
 * cancellation hands over), lending the fd to blocking code, bad input.
 *
 * Orders of events come from the scheduler: a spawned task runs in the
 * next cycle, and a co_yield lets every ready task run (and block) first.
 * Timeouts appear only where a timeout is what is tested.  Every test
 * counts the entries of /proc/self/fd before and after its kernel ran.
 */
#define _GNU_SOURCE                 /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "net/stream.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

#define MIB ((size_t)1 << 20)

/* ------------------------------------------------------------ helpers */

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}
#define FNV_SEED 14695981039346656037u

/* xorshift32: a deterministic stream of chunk sizes; state in the frame */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Buffers for the bulk tests, made before co_run. */
static unsigned char *big, *sink;
static size_t big_len;

static void big_alloc(size_t len)
{
    big = pattern_alloc(len);
    sink = calloc(1, len + 1);
    ck_assert_ptr_nonnull(sink);
    big_len = len;
}

static void big_free(void)
{
    free(big);
    free(sink);
    big = sink = NULL;
    big_len = 0;
}

static void setup(void)
{
    log_reset();
}

/* Main's frame for most scenarios. */
struct scene {
    co_frame co;
    co_socket *pair[2];
    co_stream *a, *b;          /* streams over pair[0] / pair[1] */
    co_task *t1, *t2;
    co_timeout to;
    size_t got, sent, off, nlines;
    uint32_t rng;
    int rc, i;
    size_t bufsize;            /* for the b stream */
    char buf[1024];
};

/* A socketpair with a stream over each end (b with f->bufsize). */
static void open_pair(struct scene *f)
{
    open_socketpair(f->pair);
    ck_assert_int_eq(co_stream_new(&f->a, f->pair[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->b, f->pair[1], f->bufsize), 0);
}

static void close_pair(struct scene *f)
{
    if (f->a)
        ck_assert_int_eq(co_stream_close(&f->a), 0);
    if (f->b)
        ck_assert_int_eq(co_stream_close(&f->b), 0);
}

/* ------------------------------------------------------------ tasks */

/* readline once; logs "<name>:<line without its newline>" or
 * "<name>:<error>", returns the result. */
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

/* Write buf in one co_stream_write; logs "<name>:<result>"; the count
 * that went is stored in *sent_out. */
struct writer_frame {
    co_frame co;
    co_stream *st;
    const char *name;
    const void *buf;
    size_t len, sent;
    size_t *sent_out;
    int rc;
};

static co_status writer(co_task *t, void *arg)
{
    struct writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_write(t, f->st, f->buf, f->len, &f->sent));
    *f->sent_out = f->sent;
    note("%s:%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

/* ------------------------------------------------------------ readline */

/* A text of lines 0..22 bytes long (some empty), one of 500 bytes, and a
 * last line without a newline. */
static char text[4096];
static size_t text_len;
#define LONG_LINE 500

static void make_text(void)
{
    text_len = 0;
    for (int i = 0; i < 60; i++) {
        int len = i == 30 ? LONG_LINE : (i * 7) % 23;
        for (int j = 0; j < len; j++)
            text[text_len++] = (char)('a' + (i + j) % 26);
        text[text_len++] = '\n';
    }
    memcpy(text + text_len, "tail-no-newline", 15);
    text_len += 15;
    ck_assert_uint_lt(text_len, sizeof text);
}

/* Sends text in chunks of 1..7 bytes with a yield after each, then shuts
 * its side down. */
struct dribble_frame {
    co_frame co;
    co_stream *st;
    size_t off, n, sent;
    uint32_t rng;
    int rc;
};

static co_status dribbler(co_task *t, void *arg)
{
    struct dribble_frame *f = arg;
    CO_BEGIN(t, f);
    while (f->off < text_len) {
        f->n = 1 + next_rand(&f->rng) % 7;
        if (f->n > text_len - f->off)
            f->n = text_len - f->off;
        CO_AWAIT(f->rc, co_stream_write(t, f->st, text + f->off, f->n,
                                        &f->sent));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->sent, f->n);
        f->off += f->n;
        CO_AWAIT(f->rc, co_yield(t));
    }
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_END;
}

static co_status readline_chunks_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct dribble_frame d = { .rng = 12345 };
    CO_BEGIN(t, f);
    open_pair(f);
    d.st = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, dribbler, d), 0);
    f->off = 0;
    for (f->i = 0;; f->i++) {
        CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
        if (f->rc <= 0)
            break;
        {
            const char *nl = memchr(text + f->off, '\n', text_len - f->off);
            size_t want = nl ? (size_t)(nl - text - f->off) + 1
                             : text_len - f->off;
            ck_assert_int_eq(f->rc, (int)want);
            ck_assert(memcmp(f->buf, text + f->off, want) == 0);
            f->off += want;
        }
    }
    ck_assert_int_eq(f->rc, 0);             /* end of stream */
    ck_assert_uint_eq(f->off, text_len);    /* every line, the last too */
    ck_assert_int_eq(f->i, 61);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);             /* and it stays ended */
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

/* The default buffer; an odd size that makes the buffer wrap often; a
 * buffer exactly as big as the longest line. */
static const size_t chunk_bufsizes[] = { 0, 509, LONG_LINE + 1 };

START_TEST(test_readline_chunk_boundaries)
{
    make_text();
    struct scene m = { .bufsize = chunk_bufsizes[_i] };
    RUN(readline_chunks_main, m);
}
END_TEST

static co_status readline_limit_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static const char data[] = "0123456789abcdefXYZ\nshort\n";
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 16 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, data, strlen(data), &f->sent));
    ck_assert_int_eq(f->rc, 0);
    /* 10 bytes without a newline */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, 10));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(co_stream_buffered(f->b), 16);   /* one full buffer */
    /* a generous maxlen: the stream's buffer is the limit */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(co_stream_buffered(f->b), 16);
    /* nothing was lost */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 10, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 10);
    ck_assert(memcmp(f->buf, "0123456789", 10) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 10);
    ck_assert(memcmp(f->buf, "abcdefXYZ\n", 10) == 0);
    /* a line of exactly maxlen bytes, newline included, fits */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, 6));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "short\n", 6) == 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_limit)
{
    struct scene m = { .bufsize = 16 };
    RUN(readline_limit_main, m);
}
END_TEST

/* A buffer bigger than the pool's chunk grows as a long line needs (a
 * block of the pool's, twice as big each time, up to bufsize), and a line
 * longer than bufsize still gives -EMSGSIZE with bufsize bytes kept. */
#define GROW_BUFSIZE 200000u
#define GROW_LINE 150000u
static unsigned char grow_text[GROW_LINE + GROW_BUFSIZE + 10];
static unsigned char grow_out[GROW_BUFSIZE + 10];

struct grow_writer_frame {
    co_frame co;
    co_stream *st;
    size_t sent;
    int rc;
};

static co_status grow_writer(co_task *t, void *arg)
{
    struct grow_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_write(t, f->st, grow_text, sizeof grow_text,
                                    &f->sent));
    CO_END;
}

static co_status readline_grows_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 200,000 */
    {
        struct grow_writer_frame w = { .st = f->a };
        ck_assert_int_ge(CO_SPAWN(t, &f->t1, grow_writer, w), 0);
    }
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, grow_out, sizeof grow_out));
    ck_assert_int_eq(f->rc, (int)GROW_LINE);
    ck_assert(memcmp(grow_out, grow_text, GROW_LINE) == 0);
    /* the next "line" has no newline within the buffer's size */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, grow_out, sizeof grow_out));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(co_stream_buffered(f->b), GROW_BUFSIZE);
    /* nothing was lost: read the rest exactly */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, grow_out, GROW_BUFSIZE + 10,
                                           &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(grow_out, grow_text + GROW_LINE, GROW_BUFSIZE + 10) == 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_buffer_grows)
{
    for (size_t i = 0; i < sizeof grow_text; i++)
        grow_text[i] = (unsigned char)('a' + i % 26);
    grow_text[GROW_LINE - 1] = '\n';
    struct scene m = { .bufsize = GROW_BUFSIZE };
    RUN(readline_grows_main, m);
}
END_TEST

/* ------------------------------------------------------------ exact reads */

static co_status read_exactly_eof_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 4 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "0123456789ab", 12, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    /* bigger than the stream's buffer: received straight into buf */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 10, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 10);
    ck_assert(memcmp(f->buf, "0123456789", 10) == 0);
    /* 2 bytes left, then the end: they are kept and counted */
    memset(f->buf, 0, sizeof f->buf);
    f->got = 99;                                    /* reset by the call */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 5, &f->got));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->got, 2);
    ck_assert(memcmp(f->buf, "ab", 3) == 0);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 3, &f->got));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->got, 0);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 0, &f->got));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_read_exactly_eof)
{
    struct scene m = { .bufsize = 4 };
    RUN(read_exactly_eof_main, m);
}
END_TEST

/* The end comes while the reader waits, with 3 of 8 bytes buffered. */
struct exact_frame {
    co_frame co;
    co_stream *st;
    size_t got;
    int rc;
    char buf[16];
};

static co_status exact_reader(co_task *t, void *arg)
{
    struct exact_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->st, f->buf, 8, &f->got));
    note("exact=%s got=%zu %.*s", rcs(f->rc), f->got, (int)f->got, f->buf);
    CO_END;
}

static co_status read_exactly_wait_eof_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct exact_frame e = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    e.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, exact_reader, e), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "xyz", 3, &f->sent));
    CO_AWAIT(f->rc, co_yield(t));            /* it takes xyz and waits */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_str_eq(lg, "exact=EPIPE got=3 xyz");
    close_pair(f);
    CO_END;
}

START_TEST(test_read_exactly_eof_while_waiting)
{
    struct scene m = { 0 };
    RUN(read_exactly_wait_eof_main, m);
}
END_TEST

/* ------------------------------------------------------------ buffered */

/* After the first line, the rest is buffered: with the socket's fd
 * replaced by /dev/null (where recv(2) fails with ENOTSOCK), reads still
 * return it -- they made no system call. */
static co_status buffered_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    int fd, saved, devnull;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "one\ntwo\nthree", 13,
                                    &f->sent));
    ck_assert_int_eq(co_stream_close(&f->a), 0);        /* the peer is gone */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "one\n", 4) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 9);

    fd = co_socket_fd(co_stream_socket(f->b));
    saved = dup(fd);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(devnull, 0);
    ck_assert_int_eq(dup2(devnull, fd), fd);
    close(devnull);
    f->i = saved;

    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "two\n", 4) == 0);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 5);
    ck_assert(memcmp(f->buf, "three", 5) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 0);

    /* the socket back: now the end of stream comes from recv(2) */
    fd = co_socket_fd(co_stream_socket(f->b));
    ck_assert_int_eq(dup2(f->i, fd), fd);
    close(f->i);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_read_buffered_without_syscall)
{
    struct scene m = { 0 };
    RUN(buffered_main, m);
}
END_TEST

/* ------------------------------------------------------------ bulk echo */

/* Writes big[] in chunks of 1..65536 bytes, alternating co_stream_write
 * and a co_stream_writelines of the chunk cut in three, then shuts its
 * side down. */
struct producer_frame {
    co_frame co;
    co_stream *st;
    size_t off, n, sent;
    uint32_t rng;
    struct iovec iov[3];
    int rc, round;
};

static co_status producer(co_task *t, void *arg)
{
    struct producer_frame *f = arg;
    CO_BEGIN(t, f);
    while (f->off < big_len) {
        f->n = 1 + next_rand(&f->rng) % 65536;
        if (f->n > big_len - f->off)
            f->n = big_len - f->off;
        if (f->round++ % 2 == 0) {
            CO_AWAIT(f->rc, co_stream_write(t, f->st, big + f->off, f->n,
                                            &f->sent));
        } else {
            size_t cut1 = next_rand(&f->rng) % (f->n + 1);
            size_t cut2 = cut1 + next_rand(&f->rng) % (f->n - cut1 + 1);
            f->iov[0] = (struct iovec){ big + f->off, cut1 };
            f->iov[1] = (struct iovec){ big + f->off + cut1, cut2 - cut1 };
            f->iov[2] = (struct iovec){ big + f->off + cut2, f->n - cut2 };
            CO_AWAIT(f->rc, co_stream_writelines(t, f->st, f->iov, 3,
                                                 &f->sent));
        }
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->sent, f->n);
        f->off += f->n;
    }
    CO_AWAIT(f->rc, co_stream_flush(t, f->st));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_END;
}

/* Reads with maxlen 1..8192 and writes back what came, until the end;
 * then shuts its side down.  The count. */
struct echo_frame {
    co_frame co;
    co_stream *st;
    size_t total, sent;
    uint32_t rng;
    int rc, n;
    unsigned char buf[8192];
};

static co_status echoer(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_stream_read(t, f->st, f->buf,
                                      1 + next_rand(&f->rng) % sizeof f->buf));
        ck_assert_int_ge(f->n, 0);
        if (f->n == 0)
            break;
        CO_AWAIT(f->rc, co_stream_write(t, f->st, f->buf, (size_t)f->n,
                                        &f->sent));
        ck_assert_int_eq(f->rc, 0);
        f->total += (size_t)f->n;
    }
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_RETURN((int)f->total);
    CO_END;
}

static co_status echo_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct producer_frame p = { .rng = 777 };
    struct echo_frame e = { .rng = 4242 };
    CO_BEGIN(t, f);
    open_pair(f);
    p.st = f->a;
    e.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, producer, p), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->t2, echoer, e), 0);
    f->rng = 99;
    while (f->off < big_len) {
        {
            size_t n = 1 + next_rand(&f->rng) % 70000;
            f->sent = n < big_len - f->off ? n : big_len - f->off;
        }
        CO_AWAIT(f->rc, co_stream_read_exactly(t, f->a, sink + f->off,
                                               f->sent, &f->got));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->got, f->sent);
        f->off += f->got;
    }
    CO_AWAIT(f->rc, co_stream_read(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);                         /* nothing extra */
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->t2);
    ck_assert_int_eq(f->rc, (int)big_len);
    close_pair(f);
    CO_END;
}

START_TEST(test_echo_1mib)
{
    big_alloc(MIB);
    struct scene m = { .bufsize = chunk_bufsizes[_i] };
    RUN(echo_main, m);
    ck_assert(fnv1a(FNV_SEED, sink, big_len) == fnv1a(FNV_SEED, big, big_len));
    ck_assert(memcmp(sink, big, big_len) == 0);
    big_free();
}
END_TEST

/* ------------------------------------------------------------ timeouts */

static co_status timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "hel", 3, &f->sent));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->to));
    ck_assert_uint_eq(co_stream_buffered(f->b), 3);     /* kept */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "lo\n", 3, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "hello\n", 6) == 0);

    /* read_exactly hands over what came, counted in got */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "abc", 3, &f->sent));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 6, &f->got));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_eq(f->got, 3);
    ck_assert(memcmp(f->buf, "abc", 3) == 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "def", 3, &f->sent));
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf + 3, 3, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(f->buf, "abcdef", 6) == 0);

    /* a blocking point even when the buffer could serve it */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x\ny\n", 4, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);                         /* y\n buffered */
    co_timeout_after(t, &f->to, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->to, f->rc);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert(memcmp(f->buf, "y\n", 2) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_timeout_loses_nothing)
{
    struct scene m = { 0 };
    RUN(timeout_main, m);
}
END_TEST

/* A write to a peer that does not read, under a timeout: *sent says how
 * much went, and exactly that much arrives. */
static co_status write_timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, big, big_len, &f->sent));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, big_len, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, f->sent);
    ck_assert(memcmp(sink, big, f->got) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_write_timeout_counts_progress)
{
    big_alloc(16 * MIB);
    struct scene m = { 0 };
    RUN(write_timeout_main, m);
    big_free();
}
END_TEST

/* ------------------------------------------------------------ cancel */

static co_status cancel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct liner_frame l = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "hel", 3, &f->sent));
    l.st = f->b;
    l.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));                    /* A waits mid-line */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_uint_eq(co_stream_buffered(f->b), 3);
    CO_AWAIT(f->rc, co_task_cancel(t, f->t1));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -ECANCELED);

    /* B gets the whole line */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "lo\nwor", 6, &f->sent));
    l.st = f->b;
    l.name = "B";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, liner, l), 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 6);

    /* C is woken by data, and cancelled before it runs: the data stays.
     * The kernel polls for I/O after a budget of task switches; when it
     * does, C is woken behind us, who are still ready. */
    l.st = f->b;                      /* l is a local: set it again */
    l.name = "C";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));                    /* C waits */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "ld\n", 3, &f->sent));
    for (f->i = 0; f->i < 1000000; f->i++) {
        if (strcmp(co_task_state(f->t1), "blocked") != 0)
            break;
        CO_AWAIT(f->rc, co_yield(t));
    }
    ck_assert_str_eq(co_task_state(f->t1), "ready");  /* woken, not run */
    ck_assert_int_eq(co_task_cancel_nowait(f->t1), 1);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "world\n", 6) == 0);
    ck_assert_str_eq(lg, "A:CANCEL B:hello C:CANCEL");
    close_pair(f);
    CO_END;
}

START_TEST(test_cancel_reader_mid_line)
{
    struct scene m = { 0 };
    RUN(cancel_main, m);
}
END_TEST

/* A cancelled task's stream calls fail, even those the buffer could
 * serve (cancellation is sticky). */
struct sticky_frame {
    co_frame co;
    co_stream *st;
    int rc;
    char buf[16];
};

static co_status sticky(co_task *t, void *arg)
{
    struct sticky_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 30));
    note("sleep:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    note("readline:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_read(t, f->st, f->buf, sizeof f->buf));
    note("read:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_flush(t, f->st));
    note("flush:%s", rcs(f->rc));
    CO_END;
}

static co_status sticky_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct sticky_frame s = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "a\nb\n", 4, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);                     /* "b\n" is buffered */
    s.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, sticky, s), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->t1));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_str_eq(lg, "sleep:CANCEL readline:CANCEL read:CANCEL "
                         "flush:CANCEL");
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert(memcmp(f->buf, "b\n", 2) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_cancelled_task_gets_no_buffered_data)
{
    struct scene m = { 0 };
    RUN(sticky_main, m);
}
END_TEST

/* One reader at a time: a second one that would wait gets -EBUSY. */
static co_status busy_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct liner_frame l = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    l.st = f->b;
    l.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    note("main:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "first\n", 6, &f->sent));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 6);
    ck_assert_str_eq(lg, "main:EBUSY A:first");
    close_pair(f);
    CO_END;
}

START_TEST(test_second_reader_busy)
{
    struct scene m = { 0 };
    RUN(busy_main, m);
}
END_TEST

/* ------------------------------------------------------------ close */

/* Closing a stream a reader and a writer wait on wakes both with -EBADF;
 * the stream is freed once they have returned (ASan checks the order). */
static co_status close_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct liner_frame l = { .name = "R" };
    struct writer_frame w = { .name = "W" };
    CO_BEGIN(t, f);
    open_pair(f);
    l.st = w.st = f->b;
    w.buf = big;
    w.len = big_len;
    w.sent_out = &f->sent;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, liner, l), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->t2, writer, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_str_eq(co_task_state(f->t2), "blocked");   /* nobody reads */
    {
        co_stream *copy = f->b;
        ck_assert_int_eq(co_stream_close(&f->b), 0);
        ck_assert_ptr_null(f->b);
        /* a copy lives while the woken tasks have not returned: -EBADF,
         * and no new buffer for the closed stream */
        ck_assert_int_eq(co_stream_read(t, copy, f->buf, 1), -EBADF);
        ck_assert_int_eq(co_stream_readline(t, copy, f->buf, 10), -EBADF);
        ck_assert_int_eq(co_stream_blocking_begin(copy), -EBADF);
    }
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -EBADF);
    AWAIT_JOIN(f->rc, t, f->t2);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    ck_assert_str_eq(lg, "R:EBADF W:EBADF");
    close_pair(f);
    CO_END;
}

START_TEST(test_close_while_waiting)
{
    big_alloc(16 * MIB);
    struct scene m = { 0 };
    RUN(close_main, m);
    big_free();
}
END_TEST

/* Closing clears the caller's handle: closing through it again is -EBADF
 * and touches nothing -- not the stream made since, which may have the
 * closed one's memory. */
struct double_close_frame {
    co_frame co;
    co_socket *p[2], *q[2];
    co_stream *a, *b, *c, *d;
    size_t sent;
    int rc;
    char buf[16];
};

static co_status double_close_main(co_task *t, void *arg)
{
    struct double_close_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_int_eq(co_stream_new(&f->a, f->p[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->b, f->p[1], 0), 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    ck_assert_ptr_null(f->a);
    open_socketpair(f->q);
    ck_assert_int_eq(co_stream_new(&f->c, f->q[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->d, f->q[1], 0), 0);
    ck_assert_int_eq(co_stream_close(&f->a), -EBADF);
    ck_assert_int_eq(co_stream_close(NULL), -EINVAL);
    CO_AWAIT(f->rc, co_stream_read(t, f->a, f->buf, 1));   /* NULL now */
    note("closed:read=%s", rcs(f->rc));
    /* c and d still work, both ways */
    CO_AWAIT(f->rc, co_stream_write(t, f->c, "to d\n", 5, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->d, f->buf, sizeof f->buf));
    note("d=%.*s", f->rc > 0 ? f->rc - 1 : 0, f->buf);
    CO_AWAIT(f->rc, co_stream_write(t, f->d, "to c\n", 5, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->c, f->buf, sizeof f->buf));
    note("c=%.*s", f->rc > 0 ? f->rc - 1 : 0, f->buf);
    /* the closed stream's peer sees the end */
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    note("b=%d", f->rc);
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    ck_assert_int_eq(co_stream_close(&f->b), -EBADF);
    ck_assert_int_eq(co_stream_close(&f->c), 0);
    ck_assert_int_eq(co_stream_close(&f->d), 0);
    CO_END;
}

START_TEST(test_double_close)
{
    struct double_close_frame m = { .rc = 0 };
    RUN(double_close_main, m);
    ck_assert_str_eq(lg, "closed:read=EINVAL d=to d c=to c b=0");
}
END_TEST

/* ------------------------------------------------------------ EPIPE */

static co_status epipe_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct writer_frame w = { .name = "W" };
    static struct iovec iov[2] = { { "a", 1 }, { "b", 1 } };
    CO_BEGIN(t, f);
    open_pair(f);
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x", 1, &f->sent));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->sent, 0);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, iov, 2, &f->sent));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->sent, 0);
    close_pair(f);

    /* the peer reads a little, then goes away while the writer waits */
    f->pair[0] = f->pair[1] = NULL;
    open_pair(f);
    w.st = f->a;
    w.buf = big;
    w.len = big_len;
    w.sent_out = &f->sent;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, writer, w), 0);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 1000, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(f->buf, big, 1000) == 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    /* Linux says ECONNRESET when the peer closed with data unread */
    ck_assert_msg(f->rc == -EPIPE || f->rc == -ECONNRESET, "rc %d", f->rc);
    ck_assert_uint_ge(f->sent, 1000);
    ck_assert_uint_lt(f->sent, big_len);
    close_pair(f);
    CO_END;
}

START_TEST(test_write_closed_peer_epipe)
{
    /* SIGPIPE at its default: if it fired, it would kill the test */
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    big_alloc(16 * MIB);
    struct scene m = { 0 };
    RUN(epipe_main, m);
    big_free();
    signal(SIGPIPE, old);
}
END_TEST

/* ------------------------------------------------------------ writelines */

/* writelines(iov, iovcnt), then shutdown; the count sent, or the error. */
struct lines_frame {
    co_frame co;
    co_stream *st;
    const struct iovec *iov;
    int iovcnt, rc;
    size_t sent;
};

static co_status lines_writer(co_task *t, void *arg)
{
    struct lines_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->st, f->iov, f->iovcnt,
                                         &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_RETURN((int)f->sent);
    CO_END;
}

static co_status writelines_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static struct iovec iov[7];
    struct lines_frame w = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    iov[0] = (struct iovec){ "GET / HTTP/1.0\r\n", 16 };
    iov[1] = (struct iovec){ "Host: x\r\n", 9 };
    iov[2] = (struct iovec){ NULL, 0 };             /* empty pieces count */
    iov[3] = (struct iovec){ "\r\n", 2 };
    iov[4] = (struct iovec){ big, 100000 };
    iov[5] = (struct iovec){ "\n", 1 };
    iov[6] = (struct iovec){ big + 100000, 300 };
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, iov, 0, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->sent, 0);
    w.st = f->a;
    w.iov = iov;
    w.iovcnt = 7;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, lines_writer, w), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 16);
    ck_assert(memcmp(f->buf, "GET / HTTP/1.0\r\n", 16) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 9);
    ck_assert(memcmp(f->buf, "Host: x\r\n", 9) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, big_len, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 100301);
    ck_assert(memcmp(sink, big, 100000) == 0);
    ck_assert_int_eq(sink[100000], '\n');
    ck_assert(memcmp(sink + 100001, big + 100000, 300) == 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 16 + 9 + 2 + 100000 + 1 + 300);
    close_pair(f);
    CO_END;
}

START_TEST(test_writelines)
{
    big_alloc(MIB);
    struct scene m = { 0 };
    RUN(writelines_main, m);
    big_free();
}
END_TEST

/* ------------------------------------------------------------ readall */

static co_status readall_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 8 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, big, 100, &f->sent));
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    /* more than maxlen: -EMSGSIZE, the rest stays readable */
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, 60, &f->got));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(f->got, 60);
    ck_assert(memcmp(sink, big, 60) == 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink + 60, 40, &f->got));
    ck_assert_int_eq(f->rc, 0);              /* exactly maxlen, then end */
    ck_assert_uint_eq(f->got, 40);
    ck_assert(memcmp(sink, big, 100) == 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, 10, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 0);
    close_pair(f);

    /* room to spare */
    f->pair[0] = f->pair[1] = NULL;
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, big, 100, &f->sent));
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, 1000, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 100);
    ck_assert(memcmp(sink, big, 100) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readall)
{
    big_alloc(4096);
    struct scene m = { .bufsize = 8 };
    RUN(readall_main, m);
    big_free();
}
END_TEST

/* ------------------------------------------------------------ pipes */

struct pipe_writer_frame {
    co_frame co;
    co_stream *st;
    size_t sent;
    int rc;
};

static co_status pipe_writer(co_task *t, void *arg)
{
    static struct iovec iov[4] = {
        { "first line\n", 11 }, { "second ", 7 }, { "line\n", 5 },
        { "third", 5 },
    };
    struct pipe_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->st, iov, 4, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->sent, 28);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_stream_write(t, f->st, "!\n", 2, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    CO_END;
}

static co_status pipe_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct pipe_writer_frame w = { 0 };
    int fds[2];
    CO_BEGIN(t, f);
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[0], fds[0]), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[1], fds[1]), 0);
    ck_assert_int_eq(co_stream_new(&f->a, f->pair[0], 0), 0);  /* read */
    ck_assert_int_eq(co_stream_new(&f->b, f->pair[1], 0), 0);  /* write */
    w.st = f->b;
    f->b = NULL;                                        /* the writer's */
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, pipe_writer, w), 0);
    for (;;) {
        CO_AWAIT(f->rc, co_stream_readline(t, f->a, f->buf, sizeof f->buf));
        ck_assert_int_ge(f->rc, 0);
        if (f->rc == 0)
            break;
        note("%.*s", f->rc - (f->buf[f->rc - 1] == '\n'), f->buf);
    }
    ck_assert_str_eq(lg, "first line second line third!");
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);

    /* writing to a pipe nobody reads: -EPIPE */
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[0], fds[0]), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[1], fds[1]), 0);
    ck_assert_int_eq(co_stream_new(&f->a, f->pair[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->b, f->pair[1], 0), 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->b, "x", 1, &f->sent));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->sent, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_pipe)
{
    struct scene m = { 0 };
    RUN(pipe_main, m);
}
END_TEST

/* ------------------------------------------------------------ readlines */

static char lines_out[sizeof text];

/* Every line of the dribbled text until the end, in one call resumed
 * across many suspensions, the last line without its newline too. */
static co_status readlines_chunks_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct dribble_frame d = { .rng = 54321 };
    CO_BEGIN(t, f);
    open_pair(f);
    d.st = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, dribbler, d), 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, lines_out, sizeof lines_out,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, text_len);
    ck_assert(memcmp(lines_out, text, text_len) == 0);
    ck_assert_uint_eq(f->nlines, 61);
    /* ended: nothing more, and the counters are reset */
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, lines_out, sizeof lines_out,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 0);
    ck_assert_uint_eq(f->nlines, 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_chunk_boundaries)
{
    make_text();
    struct scene m = { .bufsize = chunk_bufsizes[_i] };
    RUN(readlines_chunks_main, m);
}
END_TEST

/* A line longer than the stream's buffer: -EMSGSIZE as readline gives;
 * a line that does not fit in what is left of buf: -ENOSPC.  Either way
 * the lines before are handed over and the rest stays readable. */
static co_status readlines_limits_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static const char data[] = "ab\ncd\n0123456789abcdefXYZ\n";
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 16 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, data, strlen(data), &f->sent));
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(f->got, 6);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "ab\ncd\n", 6) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 16);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 16, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(f->buf, "0123456789abcdef", 16) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "XYZ\n", 4) == 0);

    /* 10 bytes of room: two lines fit, the third does not */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "one\ntwo\nthree\n", 14,
                                    &f->sent));
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 10, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -ENOSPC);
    ck_assert_uint_eq(f->got, 8);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "one\ntwo\n", 8) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 6);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "three\n", 6) == 0);

    /* a last line without newline that fills the room exactly fits */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x\nlast", 6, &f->sent));
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 6, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 6);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "x\nlast", 6) == 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, NULL, 0, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, 0);                         /* ended, empty */
    ck_assert_uint_eq(f->nlines, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_limits)
{
    struct scene m = { .bufsize = 16 };
    RUN(readlines_limits_main, m);
}
END_TEST

/* Under a timeout, the whole lines that came are handed over; the part
 * of a line that came stays buffered for the next read. */
static co_status readlines_timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "a\nb\npar", 7, &f->sent));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_eq(f->got, 4);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "a\nb\n", 4) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 3);     /* "par" kept */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "tial\nend", 8, &f->sent));
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 11);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "partial\nend", 11) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_timeout_hands_over_lines)
{
    struct scene m = { 0 };
    RUN(readlines_timeout_main, m);
}
END_TEST

/* readlines in a task of its own; logs what it was handed. */
struct lines_reader_frame {
    co_frame co;
    co_stream *st;
    size_t got, nlines;
    int rc;
    char buf[64];
};

static co_status lines_reader(co_task *t, void *arg)
{
    struct lines_reader_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->st, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    note("readlines=%s got=%zu lines=%zu [%.*s]", rcs(f->rc), f->got,
         f->nlines, (int)f->got, f->buf);
    CO_RETURN(f->rc);
    CO_END;
}

static co_status readlines_cancel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct lines_reader_frame r = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    r.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, lines_reader, r), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x\ny\nz", 5, &f->sent));
    CO_AWAIT(f->rc, co_yield(t));           /* it takes x, y and waits */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->t1));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_str_eq(lg, "readlines=CANCEL got=4 lines=2 [x\ny\n]");
    ck_assert_uint_eq(co_stream_buffered(f->b), 1);     /* "z" kept */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "\n", 1, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert(memcmp(f->buf, "z\n", 2) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_cancel_hands_over_lines)
{
    struct scene m = { 0 };
    RUN(readlines_cancel_main, m);
}
END_TEST

/* ------------------------------------------------------------ blocking */

static int fd_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    ck_assert_int_ge(flags, 0);
    return (flags & O_NONBLOCK) != 0;
}

/* Every stream operation refuses while the fd is lent.  None suspends,
 * so they are called without CO_AWAIT. */
static void assert_stream_refused(co_task *t, struct scene *f, co_stream *st)
{
    static struct iovec iov[1] = { { "x", 1 } };
    ck_assert_int_eq(co_stream_read(t, st, f->buf, 1), -EBUSY);
    ck_assert_int_eq(co_stream_readline(t, st, f->buf, sizeof f->buf),
                     -EBUSY);
    ck_assert_int_eq(co_stream_read_exactly(t, st, f->buf, 1, &f->got),
                     -EBUSY);
    ck_assert_int_eq(co_stream_readall(t, st, f->buf, sizeof f->buf,
                                       &f->got), -EBUSY);
    ck_assert_int_eq(co_stream_readlines(t, st, f->buf, sizeof f->buf,
                                         &f->got, &f->nlines), -EBUSY);
    ck_assert_int_eq(co_stream_write(t, st, "x", 1, &f->sent), -EBUSY);
    ck_assert_int_eq(co_stream_writelines(t, st, iov, 1, &f->sent), -EBUSY);
    ck_assert_int_eq(co_stream_flush(t, st), -EBUSY);
}

/* With bytes buffered the fd is not lent (they would be lost to the
 * blocking code), and the bytes stay readable; lent once they are read. */
static co_status blocking_buffered_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "one\ntwo\n", 8, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert_uint_eq(co_stream_buffered(f->b), 4);
    f->i = co_socket_fd(f->pair[1]);
    ck_assert_int_eq(co_stream_blocking_begin(f->b), -EBUSY);
    ck_assert(fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);  /* not lent */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "two\n", 4) == 0);
    ck_assert_int_eq(co_stream_blocking_begin(f->b), f->i);
    ck_assert(!fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    ck_assert(fd_nonblocking(f->i));
    close_pair(f);
    CO_END;
}

START_TEST(test_blocking_refused_with_buffered_data)
{
    struct scene m = { 0 };
    RUN(blocking_buffered_main, m);
}
END_TEST

/* The lent fd is blocking and read(2)/write(2) use it; meanwhile the
 * stream refuses its operations.  Given back, it is non-blocking and the
 * stream reads on from what the blocking code left -- waiting, not
 * blocking the thread, when the blocking code took everything (the
 * socket's hint still says "ready" from before). */
static co_status blocking_lend_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct writer_frame w = { .name = "W", .buf = "def\n", .len = 4 };
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "abc\n", 4, &f->sent));
    f->i = co_stream_blocking_begin(f->b);
    ck_assert_int_eq(f->i, co_socket_fd(f->pair[1]));
    ck_assert(!fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_begin(f->b), -EBUSY);  /* lent */
    assert_stream_refused(t, f, f->b);
    ck_assert_int_eq(read(f->i, f->buf, sizeof f->buf), 4);     /* all */
    ck_assert(memcmp(f->buf, "abc\n", 4) == 0);
    ck_assert_int_eq(write(f->i, "pong\n", 5), 5);
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    ck_assert(fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);

    /* the fd is empty: the stream waits for the writer, who runs only
     * once we wait */
    w.st = f->a;
    w.sent_out = &f->sent;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, writer, w), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    note("main:%.*s", f->rc > 0 ? f->rc - 1 : 0, f->buf);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_str_eq(lg, "W:0 main:def");
    CO_AWAIT(f->rc, co_stream_readline(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 5);                     /* the blocking write */
    ck_assert(memcmp(f->buf, "pong\n", 5) == 0);

    /* the blocking code reads part: the stream reads the rest */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "ghi\njkl\n", 8, &f->sent));
    f->i = co_stream_blocking_begin(f->b);
    ck_assert_int_ge(f->i, 0);
    ck_assert_int_eq(read(f->i, f->buf, 4), 4);
    ck_assert(memcmp(f->buf, "ghi\n", 4) == 0);
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "jkl\n", 4) == 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->b, "ok\n", 3, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 3);

    /* closing while lent: the stream and its fd go */
    ck_assert_int_ge(co_stream_blocking_begin(f->b), 0);
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);  /* NULL */
    CO_AWAIT(f->rc, co_stream_read(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);                     /* the peer sees it */
    close_pair(f);
    CO_END;
}

START_TEST(test_blocking_lends_fd)
{
    struct scene m = { 0 };
    RUN(blocking_lend_main, m);
}
END_TEST

/* A task waiting on the stream would find the fd blocking: refused. */
static co_status blocking_waiter_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct liner_frame l = { .name = "R" };
    CO_BEGIN(t, f);
    open_pair(f);
    l.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_int_eq(co_stream_blocking_begin(f->b), -EBUSY);
    ck_assert(fd_nonblocking(co_socket_fd(f->pair[1])));
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "go\n", 3, &f->sent));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 3);
    ck_assert_str_eq(lg, "R:go");
    ck_assert_int_ge(co_stream_blocking_begin(f->b), 0);   /* now it may */
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_blocking_refused_while_task_waits)
{
    struct scene m = { 0 };
    RUN(blocking_waiter_main, m);
}
END_TEST

/* ------------------------------------------------------------ bad input */

static co_status bad_input_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static struct iovec bad_iov[1] = { { NULL, 5 } };
    CO_BEGIN(t, f);
    open_pair(f);
    {
        co_stream *st = NULL;
        ck_assert_int_eq(co_stream_new(NULL, f->pair[0], 0), -EINVAL);
        ck_assert_int_eq(co_stream_new(&st, NULL, 0), -EINVAL);
        ck_assert_int_eq(co_stream_new(&st, f->pair[0], (size_t)INT_MAX + 1),
                         -EINVAL);
        ck_assert_ptr_null(st);
    }
    ck_assert_int_eq(co_stream_close(NULL), -EINVAL);
    ck_assert_ptr_null(co_stream_socket(NULL));
    ck_assert_ptr_eq(co_stream_socket(f->a), f->pair[0]);
    ck_assert_uint_eq(co_stream_buffered(NULL), 0);
    CO_AWAIT(f->rc, co_stream_read(t, NULL, f->buf, 1));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, NULL, 1));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, 0));   /* as read(2) */
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, 0));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, NULL, 10));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, NULL, 1, &f->got));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, f->buf, 1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x", 1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, NULL, 1, &f->sent));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, bad_iov, -1, &f->sent));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, bad_iov, 1, &f->sent));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_flush(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, NULL, f->buf, 1, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, NULL, 1, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 1, NULL,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 1, &f->got, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_stream_blocking_begin(NULL), -EINVAL);
    ck_assert_int_eq(co_stream_blocking_end(NULL), -EINVAL);
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);  /* not lent */
    /* nothing was sent by any of that */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "ok\n", 3, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 3);
    close_pair(f);
    CO_END;
}

START_TEST(test_bad_input)
{
    struct scene m = { 0 };
    RUN(bad_input_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, test_readline_chunk_boundaries, 0, 3);
    tcase_add_test(tc, test_readline_limit);
    tcase_add_test(tc, test_readline_buffer_grows);
    tcase_add_test(tc, test_read_exactly_eof);
    tcase_add_test(tc, test_read_exactly_eof_while_waiting);
    tcase_add_test(tc, test_read_buffered_without_syscall);
    tcase_add_test(tc, test_readall);
    tcase_add_test(tc, test_pipe);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("readlines");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, test_readlines_chunk_boundaries, 0, 3);
    tcase_add_test(tc, test_readlines_limits);
    tcase_add_test(tc, test_readlines_timeout_hands_over_lines);
    tcase_add_test(tc, test_readlines_cancel_hands_over_lines);
    suite_add_tcase(s, tc);

    tc = tcase_create("blocking");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_blocking_refused_with_buffered_data);
    tcase_add_test(tc, test_blocking_lends_fd);
    tcase_add_test(tc, test_blocking_refused_while_task_waits);
    suite_add_tcase(s, tc);

    tc = tcase_create("bulk");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_echo_1mib, 0, 3);
    tcase_add_test(tc, test_writelines);
    suite_add_tcase(s, tc);

    tc = tcase_create("interrupt");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_readline_timeout_loses_nothing);
    tcase_add_test(tc, test_write_timeout_counts_progress);
    tcase_add_test(tc, test_cancel_reader_mid_line);
    tcase_add_test(tc, test_cancelled_task_gets_no_buffered_data);
    tcase_add_test(tc, test_second_reader_busy);
    tcase_add_test(tc, test_close_while_waiting);
    tcase_add_test(tc, test_double_close);
    tcase_add_test(tc, test_write_closed_peer_epipe);
    suite_add_tcase(s, tc);
    return s;
}
