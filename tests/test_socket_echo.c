/*
 * test_socket_echo.c -- net/socket.h moving data: a megabyte echoed over a
 * socketpair and over TCP, and one round trip over UDP (datagrams of
 * several sizes), a Unix-domain socket and IPv6 loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "socket_tasks.h"
#include "suites.h"

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

/* ------------------------------------------------------------ suite */

Suite *socket_echo_suite(void)
{
    Suite *s = suite_create("socket_echo");
    TCase *tc = tcase_create("echo");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_socketpair_echo_1mib);
    tcase_add_test(tc, test_tcp_echo_1mib);
    tcase_add_test(tc, test_udp_echo);
    tcase_add_test(tc, test_unix_echo);
    tcase_add_test(tc, test_ipv6_echo);
    suite_add_tcase(s, tc);
    return s;
}
