/*
 * test_socket.c -- net/socket.h: bulk echo over socketpairs, TCP (IPv4 and
 * IPv6), Unix-domain and UDP sockets on loopback; one waiter per direction
 * (-EBUSY); timeouts and cancellation of blocked I/O leaving the socket
 * usable; close or cancellation after readiness woke a task but before it
 * ran; closing twice through one handle; sendall's progress count, also
 * kept in a local; deadlock detection after socket waits that ended;
 * refused connections, EOF, EPIPE without SIGPIPE, close while other tasks
 * are blocked; wrapping an fd, options, the blocking escape hatch; address
 * helpers; bad input (also when the readiness hint says "wait"); eager I/O
 * and the drained hint.
 *
 * Orders of events come from the scheduler: a spawned task runs in the next
 * cycle, and a co_yield lets every ready task run (and block) first.  Every
 * test counts the entries of /proc/self/fd before and after its kernel ran:
 * a socket must give its fd back.
 */
#define _GNU_SOURCE                 /* pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

#define MIB ((size_t)1 << 20)

/* ------------------------------------------------------------ helpers */

/* A patterned source buffer for the bulk tests (set up before co_run). */
static unsigned char *big;
static size_t big_len;

static void big_alloc(size_t len)
{
    big = pattern_alloc(len);
    big_len = len;
}

static void big_free(void)
{
    free(big);
    big = NULL;
    big_len = 0;
}

/* Set by the tasks, read by the tests. */
static co_task *writer_task;      /* the bulk writer, for the reader to see */
static int writer_seen_blocked;   /* times the reader saw it blocked */
static co_sockaddr peer_seen;     /* what accept reported */

static void setup(void)
{
    log_reset();
    writer_task = NULL;
    writer_seen_blocked = 0;
    memset(&peer_seen, 0, sizeof peer_seen);
}

/* A bound (and, for streams, listening) socket on host:0; its address with
 * the port the system chose goes to *bound. */
static co_socket *bound_socket(int family, int type, const char *host,
                               co_sockaddr *bound)
{
    co_socket *s = NULL;
    co_sockaddr a;
    ck_assert_int_eq(co_socket_new(&s, family, type, 0), 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(co_sockaddr_inet(&a, family, host, 0), 0);
    ck_assert_int_eq(co_socket_bind(s, &a), 0);
    if (type == SOCK_STREAM)
        ck_assert_int_eq(co_socket_listen(s, 16), 0);
    ck_assert_int_eq(co_socket_getsockname(s, bound), 0);
    ck_assert_int_eq(bound->ss.ss_family, family);
    ck_assert_int_gt(co_sockaddr_port(bound), 0);
    return s;
}

/* ------------------------------------------------------------ tasks */

/* sendall(buf, len); then shutdown(SHUT_WR) if `shut`.  Returns the count
 * sent, or the error (with the count in *sent_out, if set). */
struct sendall_frame {
    co_frame co;
    co_socket *s;
    const unsigned char *buf;
    size_t len, sent;
    size_t *sent_out;
    int shut, rc;
};

static co_status sendall_task(co_task *t, void *arg)
{
    struct sendall_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, f->buf, f->len, &f->sent));
    if (f->sent_out)
        *f->sent_out = f->sent;
    if (f->rc < 0)
        CO_RETURN(f->rc);
    ck_assert_uint_eq(f->sent, f->len);
    if (f->shut)
        ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_RETURN((int)f->sent);
    CO_END;
}

/* Echo everything back until EOF, then shutdown(SHUT_WR); the count. */
struct echo_frame {
    co_frame co;
    co_socket *s;
    size_t total, sent;
    int rc, n;
    unsigned char buf[16384];
};

static co_status echo_task(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0)
            break;
        ck_assert_int_le(f->rc, (int)sizeof f->buf);
        f->n = f->rc;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->s, f->buf, (size_t)f->n,
                                          &f->sent));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_uint_eq(f->sent, (size_t)f->n);
        f->total += (size_t)f->n;
    }
    ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_RETURN((int)f->total);
    CO_END;
}

/* Accept one connection (its peer address goes to peer_seen), echo on it
 * until EOF, close it; the count echoed. */
struct acceptor_frame {
    co_frame co;
    co_socket *l, *c;
    co_sockaddr peer;
    int rc;
    struct echo_frame echo;
};

static co_status acceptor_echo(co_task *t, void *arg)
{
    struct acceptor_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, &f->peer));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    ck_assert_ptr_nonnull(f->c);
    peer_seen = f->peer;
    f->echo.s = f->c;
    CO_AWAIT_CALL(f->rc, echo_task, &f->echo);
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->c)
        ck_assert_int_eq(co_socket_close(&f->c), 0);
    CO_END;
}

/* Accept one connection and close it at once; logs "<name>=<result>". */
struct accept_frame {
    co_frame co;
    co_socket *l, *c;
    const char *name;
    int rc;
};

static co_status accept_task(co_task *t, void *arg)
{
    struct accept_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    if (f->rc >= 0) {
        ck_assert_ptr_nonnull(f->c);
        ck_assert_int_eq(co_socket_close(&f->c), 0);
        note("%s=ok", f->name);
    } else {
        note("%s=%s", f->name, rcs(f->rc));
    }
    CO_RETURN(f->rc);
    CO_END;
}

/* Read until EOF, checking every byte against pattern_byte(); optionally
 * pausing between reads (a slow peer).  Returns the count. */
struct reader_frame {
    co_frame co;
    co_socket *s;
    size_t chunk, got;
    double pause;
    int rc;
    unsigned char buf[65536];
};

static co_status reader_task(co_task *t, void *arg)
{
    struct reader_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->chunk == 0 || f->chunk > sizeof f->buf)
        f->chunk = sizeof f->buf;
    for (;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, f->chunk, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0)
            break;
        ck_assert_int_le(f->rc, (int)f->chunk);
        for (int i = 0; i < f->rc; i++)
            if (f->buf[i] != pattern_byte(f->got + (size_t)i))
                ck_abort_msg("byte %zu: got %u, expected %u",
                             f->got + (size_t)i, f->buf[i],
                             pattern_byte(f->got + (size_t)i));
        f->got += (size_t)f->rc;
        if (writer_task && !co_task_done(writer_task)
            && strcmp(co_task_state(writer_task), "blocked") == 0)
            writer_seen_blocked++;
        if (f->pause > 0) {
            CO_AWAIT(f->rc, co_sleep(t, f->pause));
            ck_assert_int_eq(f->rc, 0);
        }
    }
    CO_RETURN((int)f->got);
    CO_END;
}

/* One recv of at most 63 bytes; logs "<name>=<n>:<data>" or the error. */
struct recv_frame {
    co_frame co;
    co_socket *s;
    const char *name;
    int rc;
    char buf[64];
};

static co_status recv_task(co_task *t, void *arg)
{
    struct recv_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf - 1, 0));
    if (f->rc > 0)
        note("%s=%d:%.*s", f->name, f->rc, f->rc, f->buf);
    else
        note("%s=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

/* Logs "send", then sends a string (it fits: one send). */
struct send_frame {
    co_frame co;
    co_socket *s;
    const char *msg;
    int rc;
};

static co_status send_task(co_task *t, void *arg)
{
    struct send_frame *f = arg;
    CO_BEGIN(t, f);
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->s, f->msg, strlen(f->msg), 0));
    ck_assert_int_eq(f->rc, (int)strlen(f->msg));
    CO_END;
}

/* Logs "<name>" when it runs. */
struct mark_frame {
    co_frame co;
    const char *name;
};

static co_status mark_task(co_task *t, void *arg)
{
    struct mark_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s", f->name);
    CO_END;
}

/* Main's frame for most scenarios. */
struct scene_frame {
    co_frame co;
    co_socket *p[2], *l, *c;
    co_task *a, *b, *d;
    co_sockaddr addr, addr2;
    co_timeout to;
    size_t sent, sent2;
    int rc, i;
    char buf[256];
};

/* ------------------------------------------------------------ echo */

/* writer --1 MiB--> p[0] ~~ p[1] (echo) ~~ p[0] --> reader */
static co_status pair_echo_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_ptr_nonnull(f->p[0]);
    ck_assert_ptr_nonnull(f->p[1]);
    ck_assert_int_ne(co_socket_fd(f->p[0]), co_socket_fd(f->p[1]));
    {
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .shut = 1 };
        struct echo_frame e = { .s = f->p[1] };
        struct reader_frame r = { .s = f->p[0] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, sendall_task, w), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, echo_task, e), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->d, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    note("sent=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->b);
    note("echoed=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->d);
    note("got=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_socketpair_echo_1mib)
{
    struct scene_frame m = { 0 };
    big_alloc(MIB);
    RUN(pair_echo_main, m);
    big_free();
    ck_assert_str_eq(lg, "sent=1048576 echoed=1048576 got=1048576");
}
END_TEST

/* The same over TCP: accept in one task, connect in main. */
static co_status tcp_echo_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    {
        struct acceptor_frame a = { .l = f->l };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, acceptor_echo, a), 0);
    }
    ck_assert_int_eq(co_socket_new(&f->c, AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->c, &f->addr));
    note("connect=%s", rcs(f->rc));
    ck_assert_int_eq(co_socket_getpeername(f->c, &f->addr2), 0);
    ck_assert_int_eq(co_sockaddr_port(&f->addr2), co_sockaddr_port(&f->addr));
    {
        struct sendall_frame w = { .s = f->c, .buf = big, .len = big_len,
                                   .shut = 1 };
        struct reader_frame r = { .s = f->c };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, sendall_task, w), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->d, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->b);
    note("sent=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->a);
    note("echoed=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->d);
    note("got=%d", f->rc);
    /* accept's peer is our client's own address */
    ck_assert_int_eq(co_socket_getsockname(f->c, &f->addr2), 0);
    ck_assert_int_eq(peer_seen.ss.ss_family, AF_INET);
    ck_assert_int_eq(co_sockaddr_port(&peer_seen), co_sockaddr_port(&f->addr2));
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_tcp_echo_1mib)
{
    struct scene_frame m = { 0 };
    big_alloc(MIB);
    RUN(tcp_echo_main, m);
    big_free();
    ck_assert_str_eq(lg, "connect=0 sent=1048576 echoed=1048576 "
                         "got=1048576");
}
END_TEST

/* ------------------------------------------------------------ busy */

static co_status busy_reader_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r1" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));             /* r1 blocks in recv */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    /* nor can the fd be made blocking under it */
    ck_assert_int_eq(co_socket_set_blocking(f->p[0], 1), -EBUSY);
    ck_assert_int_eq(co_socket_set_blocking(f->p[0], 0), 0);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r2" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));             /* r2 runs once: refused */
    ck_assert(co_task_done(f->b));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, -EBUSY);
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "hello", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 5);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_second_reader_busy)
{
    struct scene_frame m = { 0 };
    RUN(busy_reader_main, m);
    ck_assert_str_eq(lg, "r2=EBUSY send r1=5:hello");
}
END_TEST

/* A reader and a writer both blocked on p[0]: allowed.  A second writer is
 * refused with -EBUSY and nothing sent. */
static co_status reader_and_writer_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .shut = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, sendall_task, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));         /* both block: nothing to read, */
    ck_assert_str_eq(co_task_state(f->a), "blocked");   /* buffer full */
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    {
        struct sendall_frame w2 = { .s = f->p[0], .buf = big, .len = 10,
                                    .sent_out = &f->sent };
        f->sent = 99;
        ck_assert_int_gt(CO_SPAWN(t, &f->d, sendall_task, w2), 0);
    }
    AWAIT_JOIN(f->rc, t, f->d);
    note("w2=%s:%zu", rcs(f->rc), f->sent);
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "world", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->a);             /* logs r=5:world */
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->d, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->b);
    note("w=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->d);
    note("drained=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_one_reader_one_writer)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(reader_and_writer_main, m);
    big_free();
    ck_assert_str_eq(lg, "w2=EBUSY:0 r=5:world w=4194304 drained=4194304");
}
END_TEST

/* ------------------------------------------------------------ timeouts */

static co_status recv_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    /* still usable: a recv that blocks again gets data sent later */
    {
        struct send_frame s = { .s = f->p[1], .msg = "later" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, send_task, s), 0);
    }
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    if (f->rc > 0)
        note("recv=%d:%.*s", f->rc, f->rc, f->buf);
    else
        note("recv=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_recv_timeout)
{
    struct scene_frame m = { 0 };
    RUN(recv_timeout_main, m);
    ck_assert_str_eq(lg, "recv=TIMEOUT end=TIMEOUT send recv=5:later");
}
END_TEST

static co_status accept_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    note("accept=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    /* the listener still works */
    ck_assert_int_eq(co_socket_new(&f->p[0], AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->p[0], &f->addr));
    note("connect=%s", rcs(f->rc));
    f->c = NULL;
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    ck_assert_int_ge(f->rc, 0);
    ck_assert_ptr_nonnull(f->c);
    note("accept=ok");
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_accept_timeout)
{
    struct scene_frame m = { 0 };
    RUN(accept_timeout_main, m);
    ck_assert_str_eq(lg, "accept=TIMEOUT end=TIMEOUT connect=0 accept=ok");
}
END_TEST

static co_status recvfrom_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &f->addr);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_recvfrom(t, f->l, f->buf, sizeof f->buf, 0,
                                       &f->addr2));
    note("recvfrom=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    /* still usable: a datagram to ourselves */
    CO_AWAIT(f->rc, co_socket_sendto(t, f->l, "dg", 2, 0, &f->addr));
    ck_assert_int_eq(f->rc, 2);
    CO_AWAIT(f->rc, co_socket_recvfrom(t, f->l, f->buf, sizeof f->buf, 0,
                                       &f->addr2));
    note("recvfrom=%d", f->rc);
    ck_assert_int_eq(co_sockaddr_port(&f->addr2), co_sockaddr_port(&f->addr));
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_recvfrom_timeout)
{
    struct scene_frame m = { 0 };
    RUN(recvfrom_timeout_main, m);
    ck_assert_str_eq(lg, "recvfrom=TIMEOUT end=TIMEOUT recvfrom=2");
}
END_TEST

/* ------------------------------------------------------------ cancel */

static co_status recv_cancel_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r1" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    /* another task can wait to read now (no -EBUSY left behind) */
    {
        struct recv_frame r = { .s = f->p[0], .name = "r2" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "again", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 5);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_recv_cancel)
{
    struct scene_frame m = { 0 };
    RUN(recv_cancel_main, m);
    ck_assert_str_eq(lg, "r1=CANCEL cancel=1 send r2=5:again");
}
END_TEST

static co_status accept_cancel_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    {
        struct accept_frame a = { .l = f->l, .name = "a1" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, accept_task, a), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    {
        struct accept_frame a = { .l = f->l, .name = "a2" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, accept_task, a), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    note("connect");
    ck_assert_int_eq(co_socket_new(&f->c, AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->c, &f->addr));
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_ge(f->rc, 0);
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_accept_cancel)
{
    struct scene_frame m = { 0 };
    RUN(accept_cancel_main, m);
    ck_assert_str_eq(lg, "a1=CANCEL cancel=1 connect a2=ok");
}
END_TEST

/* Let the loop poll until task a has been woken (state "ready") but has
 * not run yet: yield while it is not; the kernel polls for I/O between
 * bounded runs of ready tasks. */
#define YIELD_UNTIL_READY(t, f)                                             \
    do {                                                                    \
        for ((f)->i = 0; (f)->i < 1000000                                   \
             && strcmp(co_task_state((f)->a), "ready") != 0; (f)->i++)      \
            CO_AWAIT((f)->rc, co_yield(t));                                 \
        ck_assert_str_eq(co_task_state((f)->a), "ready");                   \
    } while (0)

/* Closed after readiness woke the reader but before it ran: it finds the
 * socket closed (-EBADF) and does not touch the freed socket. */
static co_status close_woken_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "hello", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    YIELD_UNTIL_READY(t, f);
    note("close");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_close_woken_reader)
{
    struct scene_frame m = { 0 };
    RUN(close_woken_main, m);
    ck_assert_str_eq(lg, "close r=EBADF");
}
END_TEST

/* Cancelled after readiness woke it: the wake is not lost (the data is
 * received), the cancellation comes at the next blocking call. */
static co_status recv_then_sleep(co_task *t, void *arg)
{
    struct recv_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf - 1, 0));
    if (f->rc > 0)
        note("%s=%d:%.*s", f->name, f->rc, f->rc, f->buf);
    else
        note("%s=%s", f->name, rcs(f->rc));
    CO_AWAIT(f->rc, co_sleep(t, 10));
    note("%s:sleep=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status cancel_woken_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_then_sleep, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "hello", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    YIELD_UNTIL_READY(t, f);
    note("cancel");
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_cancel_woken_reader)
{
    struct scene_frame m = { 0 };
    RUN(cancel_woken_main, m);
    ck_assert_str_eq(lg, "cancel r=5:hello r:sleep=CANCEL");
}
END_TEST

/* Bad arguments are refused at once even when the readiness hint says the
 * call would have to wait first (after a recv / accept that timed out). */
static co_status bad_input_drained_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    /* the read side is drained now */
    f->rc = co_socket_recv(t, f->p[0], NULL, 5, 0);
    note("recv=%s", rcs(f->rc));
    ck_assert_int_ne(f->rc, CO_WOULDBLOCK);

    /* and the write side, once a sendall has filled the buffer */
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &f->sent));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_socket_send(t, f->p[0], NULL, 5, 0);
    note("send=%s", rcs(f->rc));
    ck_assert_int_ne(f->rc, CO_WOULDBLOCK);

    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_socket_accept(t, f->l, NULL, NULL);
    note("accept=%s", rcs(f->rc));
    ck_assert_int_ne(f->rc, CO_WOULDBLOCK);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_bad_input_when_drained)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(bad_input_drained_main, m);
    big_free();
    ck_assert_str_eq(lg, "recv=EINVAL send=EINVAL accept=EINVAL");
}
END_TEST

/* ------------------------------------------------------------ sendall */

/* 10 MiB to a peer that reads 64 KiB at a time with a 1 ms pause. */
static co_status slow_reader_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .shut = 1 };
        struct reader_frame r = { .s = f->p[1], .chunk = 65536,
                                  .pause = 0.001 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, sendall_task, w), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, reader_task, r), 0);
        writer_task = f->a;
    }
    AWAIT_JOIN(f->rc, t, f->a);
    writer_task = NULL;
    note("sent=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->b);
    note("got=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_sendall_slow_reader)
{
    struct scene_frame m = { 0 };
    big_alloc(10 * MIB);
    RUN(slow_reader_main, m);
    big_free();
    ck_assert_str_eq(lg, "sent=10485760 got=10485760");
    /* the writer really had to wait for the reader */
    ck_assert_int_gt(writer_seen_blocked, 0);
}
END_TEST

/* A timeout cuts sendall short: *sent says exactly how much the peer gets. */
static co_status sendall_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    f->sent = 12345;
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &f->sent));
    note("sendall=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, f->sent);
    note("peer got sent");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

/* co_socket_try_send: sends at once what the socket takes, -EAGAIN when it
 * takes nothing, -EBUSY while a task is blocked sending (its bytes go
 * first), every byte arrives in order, and -EBADF once closed. */
struct bulk_writer_frame {
    co_frame co;
    co_socket *s;
    size_t off, len, sent;
    int rc;
};

static co_status bulk_writer(co_task *t, void *arg)
{
    struct bulk_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, big + f->off, f->len,
                                      &f->sent));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status try_send_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_int_eq(co_socket_try_send(NULL, big, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_try_send(f->p[0], NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_try_send(f->p[0], big, 0, 0), 0);
    /* fill the socket without blocking */
    f->sent = 0;
    for (;;) {
        f->rc = co_socket_try_send(f->p[0], big + f->sent, 4096, 0);
        if (f->rc == -EAGAIN)
            break;
        ck_assert_int_gt(f->rc, 0);
        f->sent += (size_t)f->rc;
        ck_assert_uint_lt(f->sent, big_len - 4096);
    }
    note("full");
    /* a blocked sender's bytes go first */
    {
        struct bulk_writer_frame w = { .s = f->p[0], .off = f->sent,
                                       .len = 8192 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, bulk_writer, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));          /* the writer blocks */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert_int_eq(co_socket_try_send(f->p[0], big, 1, 0), -EBUSY);
    note("busy");
    /* the reader drains; the writer finishes; then ours goes at once */
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_RD), 0);
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    f->sent += 8192;
    f->rc = co_socket_try_send(f->p[0], big + f->sent, 100, 0);
    ck_assert_int_eq(f->rc, 100);
    f->sent += 100;
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->b);            /* every byte, in order */
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, f->sent);
    note("got all");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    /* closed: -EBADF through a copy of the pointer (usable while a reader
     * the close woke with -EBADF has not yet returned) */
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));          /* the reader blocks */
    f->c = f->p[0];
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_try_send(f->c, "x", 1, 0), -EBADF);
    f->c = NULL;                           /* dead once the reader is out */
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_try_send)
{
    struct scene_frame m = { 0 };
    big_alloc(16 * MIB);
    RUN(try_send_main, m);
    big_free();
    ck_assert_str_eq(lg, "full busy got all r=EBADF");
}
END_TEST

START_TEST(test_sendall_timeout_counts)
{
    struct scene_frame m = { 0 };
    big_alloc(10 * MIB);
    RUN(sendall_timeout_main, m);
    big_free();
    ck_assert_str_eq(lg, "sendall=TIMEOUT end=TIMEOUT peer got sent");
}
END_TEST

/* ------------------------------------------------------------ errors */

static co_status refused_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    /* a port that was free a moment ago and has nobody listening */
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    ck_assert_int_eq(co_socket_new(&f->c, AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->c, &f->addr));
    note("connect=%s", rcs(f->rc));
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    CO_END;
}

START_TEST(test_connect_refused)
{
    struct scene_frame m = { 0 };
    RUN(refused_main, m);
    ck_assert_str_eq(lg, "connect=ECONNREFUSED");
}
END_TEST

/* EOF, then EPIPE on a socketpair (deterministic); SIGPIPE is left at its
 * default action, so a send without MSG_NOSIGNAL would kill the test. */
static co_status pair_closed_peer_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "last", 4, 0));
    ck_assert_int_eq(f->rc, 4);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    /* data sent before the close is still delivered, then EOF */
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%d", f->rc);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%d", f->rc);
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "x", 1, 0));
    ck_assert(f->rc == -EPIPE || f->rc == -ECONNRESET);
    note("send=err");
    f->sent = 999;
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], "xyz", 3, &f->sent));
    ck_assert(f->rc == -EPIPE || f->rc == -ECONNRESET);
    note("sendall=err:%zu", f->sent);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    CO_END;
}

START_TEST(test_pair_closed_peer)
{
    struct scene_frame m = { 0 };
    signal(SIGPIPE, SIG_DFL);
    RUN(pair_closed_peer_main, m);
    ck_assert_str_eq(lg, "recv=4 recv=0 send=err sendall=err:0");
}
END_TEST

/* The same over TCP: the first send after the peer closed may still
 * succeed (it provokes the RST); a later one fails. */
static co_status tcp_closed_peer_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    ck_assert_int_eq(co_socket_new(&f->c, AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->c, &f->addr));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->p[0], NULL));
    ck_assert_int_ge(f->rc, 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    CO_AWAIT(f->rc, co_socket_recv(t, f->c, f->buf, sizeof f->buf, 0));
    note("recv=%d", f->rc);
    for (f->i = 0; f->i < 1000; f->i++) {
        CO_AWAIT(f->rc, co_socket_send(t, f->c, f->buf, 100, 0));
        if (f->rc < 0)
            break;
        ck_assert_int_eq(f->rc, 100);
        CO_AWAIT(f->rc, co_yield(t));
    }
    ck_assert_msg(f->rc == -EPIPE || f->rc == -ECONNRESET,
                  "send after the peer closed: %d after %d sends", f->rc,
                  f->i);
    note("send=err");
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_tcp_closed_peer)
{
    struct scene_frame m = { 0 };
    signal(SIGPIPE, SIG_DFL);
    RUN(tcp_closed_peer_main, m);
    ck_assert_str_eq(lg, "recv=0 send=err");
}
END_TEST

/* Closing a socket while other tasks are blocked reading and writing it:
 * both are woken with -EBADF; the writer's count says what went. */
static co_status close_while_blocked_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .sent_out = &f->sent };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, sendall_task, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    note("close");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_ptr_null(f->p[0]);            /* the handle is cleared */
    AWAIT_JOIN(f->rc, t, f->a);             /* logs r=EBADF */
    ck_assert_int_eq(f->rc, -EBADF);
    AWAIT_JOIN(f->rc, t, f->b);
    note("w=%s", rcs(f->rc));
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    /* the peer sees EOF after what was sent */
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, f->sent);
    note("peer got sent");
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_close_while_blocked)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(close_while_blocked_main, m);
    big_free();
    ck_assert_str_eq(lg, "close r=EBADF w=EBADF peer got sent");
}
END_TEST

/* ------------------------------------------------------------ families */

struct udp_echo_frame {
    co_frame co;
    co_socket *s;
    co_sockaddr from;
    int i, rc, n;
    unsigned char buf[2048];
};

static co_status udp_echo_task(co_task *t, void *arg)
{
    struct udp_echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        memset(&f->from, 0, sizeof f->from);
        CO_AWAIT(f->rc, co_socket_recvfrom(t, f->s, f->buf, sizeof f->buf, 0,
                                           &f->from));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_int_eq(f->from.ss.ss_family, AF_INET);
        peer_seen = f->from;
        f->n = f->rc;
        CO_AWAIT(f->rc, co_socket_sendto(t, f->s, f->buf, (size_t)f->n, 0,
                                         &f->from));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_int_eq(f->rc, f->n);
    }
    CO_RETURN(f->i);
    CO_END;
}

static const int dgram_sizes[3] = { 1, 100, 1000 };
static unsigned char dgram_buf[2048];

static co_status udp_echo_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &f->addr);
    f->c = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &f->addr2);
    {
        struct udp_echo_frame e = { .s = f->l };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, udp_echo_task, e), 0);
    }
    for (f->i = 0; f->i < 3; f->i++) {
        CO_AWAIT(f->rc, co_socket_sendto(t, f->c, big, (size_t)dgram_sizes[f->i],
                                         0, &f->addr));
        ck_assert_int_eq(f->rc, dgram_sizes[f->i]);
    }
    for (f->i = 0; f->i < 3; f->i++) {
        memset(&f->addr2, 0, sizeof f->addr2);
        memset(dgram_buf, 0, sizeof dgram_buf);
        CO_AWAIT(f->rc, co_socket_recvfrom(t, f->c, dgram_buf,
                                           sizeof dgram_buf, 0, &f->addr2));
        note("dgram=%d", f->rc);
        ck_assert_int_ge(f->rc, 0);
        ck_assert_mem_eq(dgram_buf, big, (size_t)f->rc);
        /* from the echo server, 127.0.0.1:its port */
        ck_assert_int_eq(f->addr2.ss.ss_family, AF_INET);
        ck_assert_int_eq(co_sockaddr_port(&f->addr2),
                         co_sockaddr_port(&f->addr));
        ck_assert_uint_eq(((struct sockaddr_in *)&f->addr2.ss)->sin_addr.s_addr,
                          htonl(INADDR_LOOPBACK));
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 3);
    /* the server saw our client's port */
    ck_assert_int_eq(co_socket_getsockname(f->c, &f->addr2), 0);
    ck_assert_int_eq(co_sockaddr_port(&peer_seen), co_sockaddr_port(&f->addr2));
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_udp_echo)
{
    struct scene_frame m = { 0 };
    big_alloc(2048);
    RUN(udp_echo_main, m);
    big_free();
    ck_assert_str_eq(lg, "dgram=1 dgram=100 dgram=1000");
}
END_TEST

/* A short message over a stream socket to an acceptor_echo task on l:
 * connect c to addr, sendall, shutdown(SHUT_WR), read until EOF; closes
 * both sockets. */
struct roundtrip_frame {
    co_frame co;
    co_socket *l, *c;
    co_sockaddr addr;
    co_task *a;
    size_t sent;
    int rc, n;
    char buf[64];
};

static co_status roundtrip(co_task *t, void *arg)
{
    struct roundtrip_frame *f = arg;
    CO_BEGIN(t, f);
    {
        struct acceptor_frame a = { .l = f->l };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, acceptor_echo, a), 0);
    }
    CO_AWAIT(f->rc, co_socket_connect(t, f->c, &f->addr));
    note("connect=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall(t, f->c, "hello, echo", 11, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->sent, 11);
    ck_assert_int_eq(co_socket_shutdown(f->c, SHUT_WR), 0);
    for (f->n = 0;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->c, f->buf + f->n,
                                       sizeof f->buf - 1 - (size_t)f->n, 0));
        ck_assert_int_ge(f->rc, 0);
        if (f->rc == 0)
            break;
        f->n += f->rc;
    }
    note("echo=%.*s", f->n, f->buf);
    AWAIT_JOIN(f->rc, t, f->a);
    note("echoed=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

struct family_frame {
    co_frame co;
    struct roundtrip_frame rt;
    int rc;
};

static char unix_path[108];

static co_status unix_echo_main(co_task *t, void *arg)
{
    struct family_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_sockaddr_unix(&f->rt.addr, unix_path), 0);
    ck_assert_int_eq(co_socket_new(&f->rt.l, AF_UNIX, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(co_socket_bind(f->rt.l, &f->rt.addr), 0);
    ck_assert_int_eq(co_socket_listen(f->rt.l, 4), 0);
    ck_assert_int_eq(co_socket_new(&f->rt.c, AF_UNIX, SOCK_STREAM, 0), 0);
    CO_AWAIT_CALL(f->rc, roundtrip, &f->rt);
    CO_END;
}

START_TEST(test_unix_echo)
{
    struct family_frame m = { 0 };
    snprintf(unix_path, sizeof unix_path, "/tmp/curio-test-socket-%d.sock",
             (int)getpid());
    unlink(unix_path);
    RUN(unix_echo_main, m);
    /* bind made the socket file; it is ours to remove */
    ck_assert_int_eq(unlink(unix_path), 0);
    ck_assert_str_eq(lg, "connect=0 echo=hello, echo echoed=11");
    ck_assert_int_eq(peer_seen.ss.ss_family, AF_UNIX);
}
END_TEST

static co_status ipv6_echo_main(co_task *t, void *arg)
{
    struct family_frame *f = arg;
    CO_BEGIN(t, f);
    f->rc = co_socket_new(&f->rt.l, AF_INET6, SOCK_STREAM, 0);
    if (f->rc == -EAFNOSUPPORT) {
        note("skip: no IPv6 sockets");
        CO_RETURN(0);
    }
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_sockaddr_inet(&f->rt.addr, AF_INET6, "::1", 0), 0);
    f->rc = co_socket_bind(f->rt.l, &f->rt.addr);
    if (f->rc == -EADDRNOTAVAIL || f->rc == -EAFNOSUPPORT) {
        ck_assert_int_eq(co_socket_close(&f->rt.l), 0);
        note("skip: no ::1");
        CO_RETURN(0);
    }
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_socket_listen(f->rt.l, 4), 0);
    ck_assert_int_eq(co_socket_getsockname(f->rt.l, &f->rt.addr), 0);
    ck_assert_int_eq(f->rt.addr.ss.ss_family, AF_INET6);
    ck_assert_int_gt(co_sockaddr_port(&f->rt.addr), 0);
    ck_assert_int_eq(co_socket_new(&f->rt.c, AF_INET6, SOCK_STREAM, 0), 0);
    CO_AWAIT_CALL(f->rc, roundtrip, &f->rt);
    CO_END;
}

START_TEST(test_ipv6_echo)
{
    struct family_frame m = { 0 };
    RUN(ipv6_echo_main, m);
    if (strncmp(lg, "skip", 4) == 0) {
        fprintf(stderr, "test_ipv6_echo: %s\n", lg);
        return;
    }
    ck_assert_str_eq(lg, "connect=0 echo=hello, echo echoed=11");
    ck_assert_int_eq(peer_seen.ss.ss_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_LOOPBACK(
        &((struct sockaddr_in6 *)&peer_seen.ss)->sin6_addr));
}
END_TEST

/* ------------------------------------------------------------ addresses */

static const struct sockaddr_in *sin4(const co_sockaddr *a)
{
    return (const struct sockaddr_in *)(const void *)&a->ss;
}

static const struct sockaddr_in6 *sin6(const co_sockaddr *a)
{
    return (const struct sockaddr_in6 *)(const void *)&a->ss;
}

START_TEST(test_sockaddr_inet)
{
    co_sockaddr a;
    int fds = count_fds();

    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "127.0.0.1", 8080), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_uint_eq(sin4(&a)->sin_port, htons(8080));
    ck_assert_int_eq(co_sockaddr_port(&a), 8080);

    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_sockaddr_port(&a), 0);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "10.1.2.3", 65535), 0);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(0x0a010203));
    ck_assert_int_eq(co_sockaddr_port(&a), 65535);

    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "::1", 443), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));
    ck_assert_int_eq(co_sockaddr_port(&a), 443);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET6, "::1", 1), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);

    /* localhost: the loopback address of the family asked for */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "localhost", 25), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_int_eq(co_sockaddr_port(&a), 25);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET6, "localhost", 25), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "localhost", 25), 0);
    ck_assert(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6);
    if (a.ss.ss_family == AF_INET)
        ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    else
        ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));

    /* NULL and "": any address, IPv4 unless asked otherwise */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, NULL, 80), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_ANY));
    ck_assert_int_eq(co_sockaddr_port(&a), 80);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "", 81), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_ANY));
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET6, NULL, 82), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_UNSPECIFIED(&sin6(&a)->sin6_addr));
    ck_assert_int_eq(co_sockaddr_port(&a), 82);

    /* names are not resolved (yet) */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "example.com", 80),
                     -ENOTSUP);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "example.com", 80),
                     -ENOTSUP);

    /* bad ports, bad pointers */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", -1), -EINVAL);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 65536),
                     -EINVAL);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 70000),
                     -EINVAL);
    ck_assert_int_eq(co_sockaddr_inet(NULL, AF_INET, "127.0.0.1", 80),
                     -EINVAL);
    ck_assert_int_eq(co_sockaddr_port(NULL), -EINVAL);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_sockaddr_unix)
{
    co_sockaddr a;
    char path[300];
    int fds = count_fds();
    const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

    ck_assert_int_eq(co_sockaddr_unix(&a, "/tmp/x.sock"), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_UNIX);
    ck_assert_str_eq(((struct sockaddr_un *)(void *)&a.ss)->sun_path,
                     "/tmp/x.sock");
    ck_assert_uint_ge(a.len, offsetof(struct sockaddr_un, sun_path) + 11);
    ck_assert_uint_le(a.len, sizeof(struct sockaddr_un));
    ck_assert_int_eq(co_sockaddr_port(&a), -EINVAL);

    /* the longest path that fits with its NUL */
    memset(path, 'p', max);
    path[0] = '/';
    path[max] = '\0';
    ck_assert_int_eq(co_sockaddr_unix(&a, path), 0);
    ck_assert_str_eq(((struct sockaddr_un *)(void *)&a.ss)->sun_path, path);

    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[max + 2] = '\0';
    ck_assert_int_eq(co_sockaddr_unix(&a, path), -ENAMETOOLONG);
    path[max + 2] = 'p';
    path[sizeof path - 1] = '\0';
    ck_assert_int_eq(co_sockaddr_unix(&a, path), -ENAMETOOLONG);

    ck_assert_int_eq(co_sockaddr_unix(NULL, "/tmp/x.sock"), -EINVAL);
    ck_assert_int_eq(co_sockaddr_unix(&a, NULL), -EINVAL);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ------------------------------------------------------------ bad input */

static co_status bad_input_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    int v = 1;
    socklen_t vlen = sizeof v;
    co_socket *c = NULL;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_sockaddr_inet(&f->addr, AF_INET, "127.0.0.1", 9), 0);
    open_socketpair(f->p);

    /* creating */
    ck_assert_int_eq(co_socket_new(NULL, AF_INET, SOCK_STREAM, 0), -EINVAL);
    ck_assert_int_eq(co_socketpair(NULL, SOCK_STREAM), -EINVAL);
    ck_assert_int_eq(co_socket_from_fd(NULL, -1), -EINVAL);
    ck_assert_int_eq(co_socket_from_fd(&c, -1), -EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(co_socket_fd(NULL), -EINVAL);
    /* a family or type socket(2) rejects comes back as its errno */
    ck_assert_int_lt(co_socket_new(&c, 12345, SOCK_STREAM, 0), 0);
    ck_assert_int_lt(co_socket_new(&c, AF_INET, 12345, 0), 0);

    /* setup */
    ck_assert_int_eq(co_socket_bind(NULL, &f->addr), -EINVAL);
    ck_assert_int_eq(co_socket_bind(f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_socket_listen(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_socket_shutdown(NULL, SHUT_RDWR), -EINVAL);
    ck_assert_int_eq(co_socket_setsockopt(NULL, SOL_SOCKET, SO_REUSEADDR, &v,
                                          sizeof v), -EINVAL);
    ck_assert_int_eq(co_socket_getsockopt(NULL, SOL_SOCKET, SO_TYPE, &v,
                                          &vlen), -EINVAL);
    ck_assert_int_eq(co_socket_getsockname(NULL, &f->addr2), -EINVAL);
    ck_assert_int_eq(co_socket_getsockname(f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_socket_getpeername(NULL, &f->addr2), -EINVAL);
    ck_assert_int_eq(co_socket_getpeername(f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_socket_set_blocking(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_socket_close(NULL), -EINVAL);

    /* blocking: refused at once, never CO_WOULDBLOCK */
    ck_assert_int_eq(co_socket_accept(t, NULL, &c, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_accept(t, f->p[0], NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_connect(t, NULL, &f->addr), -EINVAL);
    ck_assert_int_eq(co_socket_connect(t, f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_socket_recv(t, NULL, f->buf, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_send(t, NULL, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_sendall(t, NULL, "x", 1, &f->sent), -EINVAL);
    ck_assert_int_eq(co_socket_sendall(t, f->p[0], "x", 1, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_recvfrom(t, NULL, f->buf, 1, 0, NULL),
                     -EINVAL);
    ck_assert_int_eq(co_socket_sendto(t, NULL, "x", 1, 0, &f->addr), -EINVAL);
    ck_assert_int_eq(co_socket_wait_readable(t, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_wait_writable(t, NULL), -EINVAL);

    /* none of that touched the good pair */
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "ok", 2, 0));
    ck_assert_int_eq(f->rc, 2);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(f->rc, 2);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    note("done");
    CO_END;
}

START_TEST(test_bad_input)
{
    struct scene_frame m = { 0 };
    RUN(bad_input_main, m);
    ck_assert_str_eq(lg, "done");
}
END_TEST

/* Sockets need a kernel running in this thread: refused, no fd leaked. */
START_TEST(test_new_without_kernel)
{
    co_socket *s = NULL, *pair[2] = { NULL, NULL };
    int fds = count_fds();
    ck_assert_int_eq(co_socket_new(&s, AF_INET, SOCK_STREAM, 0), -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(co_socketpair(pair, SOCK_STREAM), -EINVAL);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* Wrapping an fd: made non-blocking, owned (closed by co_socket_close);
 * the blocking escape hatch and socket options reach the fd. */
static co_status from_fd_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    int fds[2], v = 0;
    socklen_t vlen = sizeof v;
    CO_BEGIN(t, f);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(co_socket_from_fd(&f->p[0], fds[0]), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->p[1], fds[1]), 0);
    ck_assert_int_eq(co_socket_fd(f->p[0]), fds[0]);
    ck_assert_int_eq(co_socket_fd(f->p[1]), fds[1]);
    ck_assert_int_ne(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(co_socket_set_blocking(f->p[0], 1), 0);
    ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(co_socket_set_blocking(f->p[0], 0), 0);
    ck_assert_int_ne(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(co_socket_getsockopt(f->p[0], SOL_SOCKET, SO_TYPE, &v,
                                          &vlen), 0);
    ck_assert_int_eq(v, SOCK_STREAM);
    ck_assert_uint_eq(vlen, sizeof v);
    v = 1;
    ck_assert_int_eq(co_socket_setsockopt(f->p[0], SOL_SOCKET, SO_KEEPALIVE,
                                          &v, sizeof v), 0);
    v = 0;
    ck_assert_int_eq(co_socket_getsockopt(f->p[0], SOL_SOCKET, SO_KEEPALIVE,
                                          &v, &vlen), 0);
    ck_assert_int_ne(v, 0);
    /* a bad option is the system's errno */
    ck_assert_int_eq(co_socket_setsockopt(f->p[0], SOL_SOCKET, 123456, &v,
                                          sizeof v), -ENOPROTOOPT);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "fd", 2, 0));
    ck_assert_int_eq(f->rc, 2);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_from_fd)
{
    struct scene_frame m = { 0 };
    RUN(from_fd_main, m);
    ck_assert_str_eq(lg, "send r=2:fd");
}
END_TEST

/* wait_readable blocks until data arrives and consumes none of it. */
struct wait_frame {
    co_frame co;
    co_socket *s;
    int rc;
};

static co_status wait_readable_task(co_task *t, void *arg)
{
    struct wait_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_wait_readable(t, f->s));
    note("readable=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status wait_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    CO_AWAIT(f->rc, co_socket_wait_writable(t, f->p[0]));
    note("writable=%s", rcs(f->rc));
    {
        struct wait_frame w = { .s = f->p[0] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, wait_readable_task, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "zz", 2, 0));
    ck_assert_int_eq(f->rc, 2);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_wait_readable_writable)
{
    struct scene_frame m = { 0 };
    RUN(wait_main, m);
    ck_assert_str_eq(lg, "writable=0 send readable=0 recv=2");
}
END_TEST

/* ------------------------------------------------------------ eager I/O */

/* Data already there: send and recv complete without suspending, so the
 * task spawned before them has not run yet when they return.  A recv that
 * filled its buffer did not drain the fd, so the next one is eager too. */
static co_status eager_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    {
        struct mark_frame m = { .name = "other" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, mark_task, m), 0);
    }
    open_socketpair(f->p);
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "abcdef", 6, 0));
    note("send=%d", f->rc);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, 3, 0));
    note("recv=%.*s", f->rc, f->buf);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, 3, 0));
    note("recv=%.*s", f->rc, f->buf);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[1], "back", 4, &f->sent));
    note("sendall=%s:%zu", rcs(f->rc), f->sent);
    ck_assert_str_eq(co_task_state(f->a), "ready");
    CO_AWAIT(f->rc, co_yield(t));
    note("main");
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(f->rc, 4);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_eager_io)
{
    struct scene_frame m = { 0 };
    RUN(eager_main, m);
    ck_assert_str_eq(lg, "send=6 recv=abc recv=def sendall=0:4 other main");
}
END_TEST

/* The drained hint (core/io.h): after a recv that came back short, the
 * next recv waits for readiness before trying, even though data has
 * arrived meanwhile -- so it suspends once, letting a ready task run. */
static co_status drained_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    {
        struct mark_frame m = { .name = "other" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, mark_task, m), 0);
    }
    open_socketpair(f->p);
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "abc", 3, 0));
    ck_assert_int_eq(f->rc, 3);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    note("recv=%.*s", f->rc, f->buf);           /* short: drained */
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "xyz", 3, 0));
    ck_assert_int_eq(f->rc, 3);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    note("recv=%.*s", f->rc, f->buf);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_drained_hint)
{
    struct scene_frame m = { 0 };
    RUN(drained_main, m);
    ck_assert_str_eq(lg, "recv=abc other recv=xyz");
}
END_TEST

/* ------------------------------------------------------------ close */

/* Closing clears the caller's handle: closing through it again is -EBADF
 * and touches nothing -- not the socket made since, which may have the
 * closed one's memory (closing by value closed that one instead). */
struct double_close_frame {
    co_frame co;
    co_socket *p[2], *q[2];
    int rc;
    char buf[8];
};

static co_status double_close_main(co_task *t, void *arg)
{
    struct double_close_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_ptr_null(f->p[0]);
    open_socketpair(f->q);
    ck_assert_int_eq(co_socket_close(&f->p[0]), -EBADF);
    ck_assert_int_eq(co_socket_close(NULL), -EINVAL);
    ck_assert_int_eq(co_socket_send(t, f->p[0], "x", 1, 0), -EINVAL);
    /* q works, both ways */
    CO_AWAIT(f->rc, co_socket_send(t, f->q[0], "a", 1, 0));
    ck_assert_int_eq(f->rc, 1);
    CO_AWAIT(f->rc, co_socket_recv(t, f->q[1], f->buf, sizeof f->buf, 0));
    note("q1=%d:%.*s", f->rc, f->rc, f->buf);
    CO_AWAIT(f->rc, co_socket_send(t, f->q[1], "b", 1, 0));
    ck_assert_int_eq(f->rc, 1);
    CO_AWAIT(f->rc, co_socket_recv(t, f->q[0], f->buf, sizeof f->buf, 0));
    note("q0=%d:%.*s", f->rc, f->rc, f->buf);
    /* the closed socket's peer sees the end */
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    note("p1=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), -EBADF);
    ck_assert_int_eq(co_socket_close(&f->q[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->q[1]), 0);
    CO_END;
}

START_TEST(test_double_close)
{
    struct double_close_frame m = { .rc = 0 };
    RUN(double_close_main, m);
    ck_assert_str_eq(lg, "q1=1:a q0=1:b p1=0");
}
END_TEST

/* ------------------------------------------------------------ deadlock */

/* A socket wait that has ended -- by timeout, cancellation or readiness --
 * leaves no watcher that keeps the loop alive (core/io.c): a task that then
 * waits for something that never comes is reported as deadlocked, and
 * co_run returns -EDEADLK instead of hanging. */
struct deadlock_frame {
    co_frame co;
    co_socket *p[2];
    co_task *a;
    co_timeout to;
    co_event never;                 /* nobody sets it */
    size_t sent;
    int rc;
    char buf[64];
};

/* Run fn as main: it must end in a deadlock and give its fds back. */
static void run_deadlocked(co_func fn)
{
    struct deadlock_frame m = { .rc = 0 };
    int fds_before = count_fds();
    ck_assert_int_eq(co_run(fn, &m, sizeof m), -EDEADLK);
    ck_assert_int_eq(count_fds(), fds_before);
}

static co_status recv_timeout_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("recv=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_recv_timeout)
{
    run_deadlocked(recv_timeout_deadlock_main);
    ck_assert_str_eq(lg, "recv=TIMEOUT wait=CANCEL");
}
END_TEST

static co_status recv_cancel_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_recv_cancel)
{
    run_deadlocked(recv_cancel_deadlock_main);
    ck_assert_str_eq(lg, "r=CANCEL wait=CANCEL");
}
END_TEST

static co_status send_timeout_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.01);      /* nobody reads: it fills up */
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &f->sent));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("sendall=%s", rcs(f->rc));
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_send_timeout)
{
    big_alloc(4 * MIB);
    run_deadlocked(send_timeout_deadlock_main);
    big_free();
    ck_assert_str_eq(lg, "sendall=TIMEOUT wait=CANCEL");
}
END_TEST

/* A wait that ended normally: the watcher stays started for the next wait
 * (no epoll_ctl per message) but does not keep the loop alive. */
static co_status recv_ok_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct send_frame s = { .s = f->p[1], .msg = "hi" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, send_task, s), 0);
    }
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%d:%.*s", f->rc, f->rc, f->buf);   /* after waiting */
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_recv_ok)
{
    run_deadlocked(recv_ok_deadlock_main);
    ck_assert_str_eq(lg, "send recv=2:hi wait=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ sendall */

/* sendall with its count in a local, which does not survive a suspension
 * (here: starts at SIZE_MAX on every evaluation, as garbage would): it
 * still finishes each wait it suspended in, sends every byte in order,
 * writes the count, and leaves no wake behind for the next primitive. */
static co_status sendall_local_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    size_t sent = SIZE_MAX;         /* a local: lost at every suspension */
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, reader_task, r), 0);
    }
    writer_task = t;                /* the reader counts our suspensions */
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &sent));
    writer_task = NULL;
    note("sendall=%s", rcs(f->rc));
    ck_assert_uint_eq(sent, big_len);
    ck_assert_int_gt(writer_seen_blocked, 0);
    /* no wake left over: the sleep really suspends, so `other` runs first */
    {
        struct mark_frame m = { .name = "other" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, mark_task, m), 0);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("sleep=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->a);             /* the pattern, checked */
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, big_len);
    note("got all");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_sendall_local_count)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(sendall_local_main, m);
    big_free();
    ck_assert_str_eq(lg, "sendall=0 other sleep=0 got all");
}
END_TEST

/* ------------------------------------------------------------ suite */

/* ------------------------------------------------------------ core/io */

/* co_io directly, on a pipe: a waiter blocks until the fd is readable, a
 * second waiter gets -EBUSY, a cancelled waiter leaves, and release runs
 * exactly once -- after close, and only when no task is inside. */
static int io_releases;
static void io_release(co_io *io)
{
    (void)io;
    io_releases++;
}

struct io_waiter_frame {
    co_frame co;
    co_io *io;
    const char *name;
    int rc;
};

static co_status io_waiter(co_task *t, void *arg)
{
    struct io_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_io_wait(t, f->io, CO_IO_READ));
    note("%s:%s releases=%d", f->name, rcs(f->rc), io_releases);
    CO_RETURN(f->rc);
    CO_END;
}

struct io_main_frame {
    co_frame co;
    int fds[2];
    co_io io;
    co_task *a, *b;
    int rc, result;
};

static co_status io_main(co_task *t, void *arg)
{
    struct io_main_frame *f = arg;
    struct io_waiter_frame w = { .io = &f->io };
    CO_BEGIN(t, f);
    io_releases = 0;
    ck_assert_int_eq(pipe2(f->fds, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(co_io_init(&f->io, -1, io_release), -EINVAL);
    ck_assert_int_eq(co_io_init(&f->io, f->fds[0], io_release), 0);
    /* a fresh io may be ready: the first wait returns at once */
    CO_AWAIT(f->rc, co_io_wait(t, &f->io, CO_IO_READ));
    note("fresh=%s", rcs(f->rc));
    co_io_attempted(&f->io, CO_IO_READ, 1);     /* drained: waits now */
    ck_assert_int_eq(co_io_wait(t, &f->io, 2), -EINVAL);

    w.name = "A";
    CO_SPAWN(t, &f->a, io_waiter, w);
    w.name = "B";
    CO_SPAWN(t, &f->b, io_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));               /* A blocks, B is busy */
    ck_assert_int_eq(write(f->fds[1], "x", 1), 1);
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->b, &f->result));

    /* cancelled while waiting: it leaves, the io stays usable */
    char c;
    ck_assert_int_eq(read(f->fds[0], &c, 1), 1);
    co_io_attempted(&f->io, CO_IO_READ, 1);
    w.name = "C";
    CO_SPAWN(t, &f->a, io_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));

    /* closed while a task waits: it gets -EBADF; release waits for it */
    w.name = "D";
    CO_SPAWN(t, &f->a, io_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));
    co_io_close(&f->io);
    note("closed releases=%d", io_releases);
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    co_io_close(&f->io);                        /* idempotent */
    note("end releases=%d", io_releases);
    close(f->fds[0]);
    close(f->fds[1]);
    CO_END;
}

START_TEST(test_io_wait_busy_cancel_close_release)
{
    struct io_main_frame m = { .rc = 0 };
    RUN(io_main, m);
    ck_assert_str_eq(lg, "fresh=0 B:EBUSY releases=0 A:0 releases=0 "
                         "C:CANCEL releases=0 closed releases=0 "
                         "D:EBADF releases=1 end releases=1");
}
END_TEST

Suite *socket_suite(void)
{
    Suite *s = suite_create("socket");
    TCase *tc = tcase_create("echo");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_socketpair_echo_1mib);
    tcase_add_test(tc, test_io_wait_busy_cancel_close_release);
    tcase_add_test(tc, test_tcp_echo_1mib);
    tcase_add_test(tc, test_udp_echo);
    tcase_add_test(tc, test_unix_echo);
    tcase_add_test(tc, test_ipv6_echo);
    suite_add_tcase(s, tc);

    tc = tcase_create("busy");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_second_reader_busy);
    tcase_add_test(tc, test_one_reader_one_writer);
    suite_add_tcase(s, tc);

    tc = tcase_create("interrupt");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_recv_timeout);
    tcase_add_test(tc, test_accept_timeout);
    tcase_add_test(tc, test_recvfrom_timeout);
    tcase_add_test(tc, test_recv_cancel);
    tcase_add_test(tc, test_accept_cancel);
    tcase_add_test(tc, test_close_while_blocked);
    tcase_add_test(tc, test_close_woken_reader);
    tcase_add_test(tc, test_double_close);
    tcase_add_test(tc, test_cancel_woken_reader);
    suite_add_tcase(s, tc);

    tc = tcase_create("sendall");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sendall_slow_reader);
    tcase_add_test(tc, test_sendall_timeout_counts);
    tcase_add_test(tc, test_try_send);
    tcase_add_test(tc, test_sendall_local_count);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadlock");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_deadlock_after_recv_timeout);
    tcase_add_test(tc, test_deadlock_after_recv_cancel);
    tcase_add_test(tc, test_deadlock_after_send_timeout);
    tcase_add_test(tc, test_deadlock_after_recv_ok);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_pair_closed_peer);
    tcase_add_test(tc, test_tcp_closed_peer);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_bad_input_when_drained);
    tcase_add_test(tc, test_new_without_kernel);
    tcase_add_test(tc, test_from_fd);
    tcase_add_test(tc, test_wait_readable_writable);
    suite_add_tcase(s, tc);

    tc = tcase_create("addresses");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_sockaddr_inet);
    tcase_add_test(tc, test_sockaddr_unix);
    suite_add_tcase(s, tc);

    tc = tcase_create("eager");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_eager_io);
    tcase_add_test(tc, test_drained_hint);
    suite_add_tcase(s, tc);
    return s;
}
