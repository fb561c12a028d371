/*
 * test_socket_errors.c -- net/socket.h's errors and bad input: refused
 * connections, EOF then EPIPE (without SIGPIPE) from a closed peer, bad
 * arguments (also when the readiness hint says "wait"), no kernel; and
 * wrapping an existing fd, options, waiting for readable/writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "socket_tasks.h"
#include "suites.h"

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

/* ------------------------------------------------------------ drained */

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

/* ------------------------------------------------------------ suite */

Suite *socket_errors_suite(void)
{
    Suite *s = suite_create("socket_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_pair_closed_peer);
    tcase_add_test(tc, test_tcp_closed_peer);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_bad_input_when_drained);
    tcase_add_test(tc, test_new_without_kernel);
    tcase_add_test(tc, test_from_fd);
    tcase_add_test(tc, test_wait_readable_writable);
    suite_add_tcase(s, tc);
    return s;
}
