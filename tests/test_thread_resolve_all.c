/*
 * test_thread_resolve_all.c -- every address of a name: co_open_connection
 * tries them in turn, co_sockaddr_resolve_all hands them out, and a TCP
 * server listens on the first it can.
 *
 * "localhost" stands for 127.0.0.1 then ::1 with no lookup; other names go
 * to getaddrinfo on the worker threads, or, where a test needs answers in
 * an order of its choosing, to a stand-in resolver (co__resolve_set_lookup)
 * that gives a scripted list of numeric addresses.  The peers are plain
 * sockets made here; every scenario runs under RUN, which checks that it
 * leaves as many fds open as it found.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "net/server.h"
#include "net/socket_impl.h"
#include "suites.h"

/* ------------------------------------------------------------ the scene */

/* The stand-in resolver's script: the addresses every name has (a NULL
 * ends it), or an error.  Read on the worker threads; set before co_run. */
static const char *script[16];
static int script_rc;
static char script_asked[64];   /* the last name it was asked for */

static int scripted(const char *host, int family, co_sockaddr *out, int max)
{
    snprintf(script_asked, sizeof script_asked, "%s", host);
    if (script_rc)
        return script_rc;
    int n = 0;
    for (int i = 0; script[i] && n < max; i++)
        if (co_sockaddr_inet(&out[n], family, script[i], 0) == 0)
            n++;
    return n;
}

static void play(const char *a, const char *b, const char *c)
{
    memset(script, 0, sizeof script);
    script[0] = a;
    script[1] = b;
    script[2] = c;
    script_rc = 0;
    script_asked[0] = '\0';
    co__resolve_set_lookup(scripted);
}

static void setup(void)
{
    log_reset();
}

static void teardown(void)
{
    co__resolve_set_lookup(NULL);
}

/* Errors by name, for the log (log.c names the common ones). */
static const char *err(int rc)
{
    switch (rc) {
    case -ENXIO: return "ENXIO";
    case -EAGAIN: return "EAGAIN";
    case -ENETUNREACH: return "ENETUNREACH";
    case -EADDRINUSE: return "EADDRINUSE";
    default: return rcs(rc);
    }
}

static const char *family_name(const co_sockaddr *a)
{
    return a->ss.ss_family == AF_INET ? "v4"
         : a->ss.ss_family == AF_INET6 ? "v6" : "?";
}

/* A plain socket of `family` on its loopback address: bound to `port` (0:
 * any), listening with `backlog` unless that is negative.  -1 if the
 * address is not available (no IPv6, the port taken). */
static int loopback_socket(int family, int port, int backlog, int *bound)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        v6->sin6_addr = in6addr_loopback;
        len = sizeof *v6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        (backlog >= 0 && listen(fd, backlog) < 0)) {
        close(fd);
        return -1;
    }
    if (bound) {
        getsockname(fd, (struct sockaddr *)&ss, &len);
        *bound = ntohs(family == AF_INET
                           ? ((struct sockaddr_in *)&ss)->sin_port
                           : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

/* Whether this machine has ::1 (a socket can be bound there). */
static int have_ipv6_loopback(void)
{
    int fd = loopback_socket(AF_INET6, 0, -1, NULL);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* A listener on the loopback of `family` and, on the other loopback at
 * the same port, a socket that is bound but does not listen: connecting
 * there is refused, and nothing else can listen there meanwhile (no such
 * socket, fds[1] = -1, for ::1 on a machine without IPv6).  The port;
 * fds[0] listens. */
static int only_port(int family, int backlog, int fds[2])
{
    int other = family == AF_INET ? AF_INET6 : AF_INET;
    int need_other = other == AF_INET || have_ipv6_loopback();
    for (int tries = 0; tries < 50; tries++) {
        int port;
        fds[0] = loopback_socket(family, 0, backlog, &port);
        ck_assert_int_ge(fds[0], 0);
        fds[1] = loopback_socket(other, port, -1, NULL);
        if (fds[1] >= 0 || !need_other)
            return port;
        close(fds[0]);
    }
    ck_abort_msg("no port free on both loopbacks");
    return 0;
}

static int v6_only_port(int backlog, int fds[2])
{
    return only_port(AF_INET6, backlog, fds);
}

static void close_pair(int fds[2])
{
    close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
}

/* A port on 127.0.0.1 that refuses connections (bound, not listening). */
static int refusing_port(int *fd)
{
    int port;
    *fd = loopback_socket(AF_INET, 0, -1, &port);
    ck_assert_int_ge(*fd, 0);
    return port;
}

static void skip(const char *test, const char *why)
{
    fprintf(stderr, "%s: skipped: %s\n", test, why);
}

/* ------------------------------------------------------------ connecting */

/* One co_open_connection, inside a timeout region if `limit` is set:
 * notes "v4"/"v6" (the peer's family) or the error and whether *sock was
 * left NULL, and whether it took less than a second. */
struct conn_frame {
    co_frame co;
    const char *host;
    int port;
    double limit, t0;
    co_socket *sock;
    co_sockaddr peer;
    co_timeout to;
    int rc;
};

static co_status conn_main(co_task *t, void *arg)
{
    struct conn_frame *f = arg;
    CO_BEGIN(t, f);
    f->t0 = co_clock();
    if (f->limit > 0)
        co_timeout_after(t, &f->to, f->limit);
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, f->host, f->port));
    if (f->limit > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    if (f->rc == 0) {
        ck_assert_int_eq(co_socket_getpeername(f->sock, &f->peer), 0);
        ck_assert_int_eq(co_sockaddr_port(&f->peer), f->port);
        note("%s", family_name(&f->peer));
    } else {
        note("%s sock=%d", err(f->rc), f->sock != NULL);
    }
    if (f->limit > 0)
        note("fast=%d", co_clock() - f->t0 < 1.0);
    co_socket_close(&f->sock);
    CO_END;
}

static void connect_to(const char *host, int port, double limit)
{
    struct conn_frame f = { .host = host, .port = port, .limit = limit };
    RUN(conn_main, f);
}

/* "localhost" reaches a server that listens on 127.0.0.1 only. */
START_TEST(test_localhost_v4_only)
{
    int port, fd = loopback_socket(AF_INET, 0, 8, &port);
    ck_assert_int_ge(fd, 0);
    connect_to("localhost", port, 0);
    ck_assert_str_eq(lg, "v4");
    close(fd);
}
END_TEST

/* ... and one on ::1 only: 127.0.0.1 refuses, ::1 is tried next. */
START_TEST(test_localhost_v6_only)
{
    if (!have_ipv6_loopback()) {
        skip("test_localhost_v6_only", "no IPv6 loopback (::1)");
        return;
    }
    int fds[2], port = v6_only_port(8, fds);
    connect_to("localhost", port, 0);
    ck_assert_str_eq(lg, "v6");
    close_pair(fds);
}
END_TEST

/* A name's addresses are tried in the resolver's order, whichever comes
 * first: the first that takes wins. */
START_TEST(test_name_in_either_order)
{
    int fds[2], port = only_port(AF_INET, 8, fds);
    play("::1", "127.0.0.1", NULL);            /* v4 listens: second */
    connect_to("two.test", port, 0);
    ck_assert_str_eq(script_asked, "two.test");
    play("127.0.0.1", "::1", NULL);            /* v4 first */
    connect_to("two.test", port, 0);
    ck_assert_str_eq(lg, "v4 v4");
    close_pair(fds);
    if (!have_ipv6_loopback()) {
        skip("test_name_in_either_order", "no IPv6 loopback: v6 half");
        return;
    }
    port = v6_only_port(8, fds);
    log_reset();
    play("127.0.0.1", "::1", NULL);            /* v6 listens: second */
    connect_to("two.test", port, 0);
    play("::1", "127.0.0.1", NULL);
    connect_to("two.test", port, 0);
    ck_assert_str_eq(lg, "v6 v6");
    close_pair(fds);
}
END_TEST

/* When no address takes: the last one's error, unless it only says that
 * kind of address is unusable from here (a TCP connect to a multicast
 * address: -ENETUNREACH on Linux) and an earlier one said more. */
static int multicast_unreachable(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_port = htons(9) };
    inet_pton(AF_INET, "224.0.0.1", &sin.sin_addr);
    int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
    int e = errno;
    close(fd);
    return rc < 0 && e == ENETUNREACH;
}

START_TEST(test_which_error)
{
    int fd, port = refusing_port(&fd);
    play("127.0.0.1", "127.0.0.1", NULL);
    connect_to("refused.test", port, 0);
    ck_assert_str_eq(lg, "ECONNREFUSED sock=0");
    if (!multicast_unreachable()) {
        skip("test_which_error", "a connect to 224.0.0.1 is not "
                                 "-ENETUNREACH here");
        close(fd);
        return;
    }
    log_reset();
    play("127.0.0.1", "224.0.0.1", NULL);      /* the earlier error */
    connect_to("mixed.test", port, 0);
    play("224.0.0.1", "127.0.0.1", NULL);      /* the last error */
    connect_to("mixed.test", port, 0);
    play("224.0.0.1", NULL, NULL);             /* the only one */
    connect_to("mixed.test", port, 0);
    ck_assert_str_eq(lg, "ECONNREFUSED sock=0 ECONNREFUSED sock=0 "
                         "ENETUNREACH sock=0");
    close(fd);
}
END_TEST

/* A name under .invalid (RFC 6761) never exists: -ENXIO, or -EAGAIN where
 * the resolver cannot be reached at all. */
static void expect_no_such_name(const char *test)
{
    if (strcmp(lg, "EAGAIN sock=0") == 0 || strcmp(lg, "EAGAIN") == 0)
        skip(test, "the resolver failed for now (EAGAIN), not ENXIO");
    else
        ck_assert_msg(strcmp(lg, "ENXIO sock=0") == 0 ||
                      strcmp(lg, "ENXIO") == 0, "%s", lg);
}

START_TEST(test_client_bad_name)
{
    connect_to("no-such-host.invalid", 80, 0);
    expect_no_such_name("test_client_bad_name");
    log_reset();
    play(NULL, NULL, NULL);
    script_rc = -ENXIO;
    connect_to("gone.test", 80, 0);
    play(NULL, NULL, NULL);                    /* no address at all */
    connect_to("empty.test", 80, 0);
    ck_assert_str_eq(lg, "ENXIO sock=0 ENXIO sock=0");
}
END_TEST

/* ------------------------------------------------------------ cancelling */

/*
 * A cancellation or a timeout during an attempt ends the call at once:
 * with 127.0.0.1 refusing and ::1 listening with its accept queue full
 * (the kernel drops the SYNs, so that connect waits), "localhost" is
 * still connecting to its second address when the region expires or the
 * task is cancelled; nothing is left open.
 */
struct cancel_frame {
    co_frame co;
    co_task *opener;
    struct conn_frame c;
    int port, rc;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    f->c = (struct conn_frame){ .host = "localhost", .port = f->port };
    CO_SPAWN(t, &f->opener, conn_main, f->c);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    note("running=%d", !co_task_done(f->opener));
    CO_AWAIT(f->rc, co_task_cancel(t, f->opener));
    AWAIT_JOIN(f->rc, t, f->opener);
    note("joined=%s", rcs(f->rc));
    CO_END;
}

/* Fill ::1's one-place accept queue; 1 if a further connect then hangs. */
static int queue_full(int port, int *held)
{
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
                                 .sin6_port = htons((uint16_t)port),
                                 .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    *held = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(*held, (struct sockaddr *)&sin6, sizeof sin6);
    struct pollfd p = { .fd = *held, .events = POLLOUT };
    if (poll(&p, 1, 1000) != 1)
        return 0;
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(probe, (struct sockaddr *)&sin6, sizeof sin6);
    p = (struct pollfd){ .fd = probe, .events = POLLOUT };
    int hangs = poll(&p, 1, 100) == 0;
    close(probe);
    return hangs;
}

START_TEST(test_cancel_during_second_attempt)
{
    if (!have_ipv6_loopback()) {
        skip("test_cancel_during_second_attempt", "no IPv6 loopback");
        return;
    }
    int fds[2], held, port = v6_only_port(0, fds);
    if (!queue_full(port, &held)) {
        skip("test_cancel_during_second_attempt",
             "a full accept queue does not hold connects back here");
    } else {
        connect_to("localhost", port, 0.1);
        ck_assert_str_eq(lg, "TIMEOUT sock=0 fast=1");
        log_reset();
        struct cancel_frame f = { .port = port };
        RUN(cancel_main, f);
        ck_assert_str_eq(lg, "running=1 CANCEL sock=0 joined=0");
    }
    close(held);
    close_pair(fds);
}
END_TEST

/* The addresses left are not tried once the region has expired: ::1 is
 * stuck, 127.0.0.1 would take, and nobody connects to it. */
START_TEST(test_timeout_stops_the_list)
{
    if (!have_ipv6_loopback()) {
        skip("test_timeout_stops_the_list", "no IPv6 loopback");
        return;
    }
    int fds[2], held, port = v6_only_port(0, fds);
    if (!queue_full(port, &held)) {
        skip("test_timeout_stops_the_list",
             "a full accept queue does not hold connects back here");
    } else {
        ck_assert_int_eq(listen(fds[1], 8), 0);  /* 127.0.0.1 takes now */
        play("::1", "127.0.0.1", NULL);
        connect_to("stuck.test", port, 0.1);
        ck_assert_str_eq(lg, "TIMEOUT sock=0 fast=1");
        struct pollfd p = { .fd = fds[1], .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 0), 0);   /* no connection came */
    }
    close(held);
    close_pair(fds);
}
END_TEST

/* ------------------------------------------------------------ the list */

/* co_sockaddr_resolve_all: notes the count and the addresses, or the
 * error. */
struct all_frame {
    co_frame co;
    co_sockaddr addrs[12];
    const char *host;
    int max, family, n, i;
    int first;                      /* co_sockaddr_resolve instead */
};

static co_status all_main(co_task *t, void *arg)
{
    struct all_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->first) {
        CO_AWAIT(f->n, co_sockaddr_resolve(t, f->addrs, f->family, f->host,
                                           80));
        if (f->n == 0)
            f->n = 1;
    } else {
        CO_AWAIT(f->n, co_sockaddr_resolve_all(t, f->max ? f->addrs : NULL,
                                               f->max, f->family, f->host,
                                               80));
    }
    if (f->n < 0) {
        note("%s", err(f->n));
        CO_RETURN(0);
    }
    note("%d:", f->n);
    for (f->i = 0; f->i < f->n; f->i++) {
        char buf[CO_SOCKADDR_STRLEN];
        co_sockaddr_format(&f->addrs[f->i], buf, sizeof buf);
        note("%s", buf);
    }
    CO_END;
}

static void resolve_all(const char *host, int family, int max, int first)
{
    struct all_frame f = { .host = host, .family = family, .max = max,
                           .first = first };
    RUN(all_main, f);
}

START_TEST(test_resolve_all_at_once)
{
    resolve_all("10.1.2.3", AF_UNSPEC, 8, 0);
    resolve_all("localhost", AF_UNSPEC, 8, 0);
    resolve_all("localhost", AF_INET6, 8, 0);
    resolve_all("localhost", AF_INET, 8, 0);
    resolve_all("localhost", AF_UNSPEC, 1, 0);
    resolve_all("localhost", AF_UNSPEC, 0, 1);  /* co_sockaddr_resolve */
    ck_assert_str_eq(lg, "1: 10.1.2.3:80 "
                         "2: 127.0.0.1:80 [::1]:80 "
                         "1: [::1]:80 "
                         "1: 127.0.0.1:80 "
                         "1: 127.0.0.1:80 "
                         "1: 127.0.0.1:80");
    log_reset();
    resolve_all("localhost", AF_UNSPEC, 0, 0);  /* addrs NULL */
    resolve_all("localhost", AF_UNSPEC, -1, 0);
    resolve_all("1.2.3", AF_UNSPEC, 8, 0);
    resolve_all("a.test", 12345, 8, 0);         /* no such family */
    ck_assert_str_eq(lg, "EINVAL EINVAL EINVAL EINVAL");
}
END_TEST

START_TEST(test_resolve_all_scripted)
{
    play("10.0.0.1", "fe80::1", "10.0.0.3");
    resolve_all("mixed.test", AF_UNSPEC, 8, 0);
    ck_assert_str_eq(script_asked, "mixed.test");
    resolve_all("mixed.test", AF_INET6, 8, 0);
    resolve_all("mixed.test", AF_UNSPEC, 2, 0);
    resolve_all("mixed.test", AF_UNSPEC, 0, 1);
    ck_assert_str_eq(lg, "3: 10.0.0.1:80 [fe80::1]:80 10.0.0.3:80 "
                         "1: [fe80::1]:80 "
                         "2: 10.0.0.1:80 [fe80::1]:80 "
                         "1: 10.0.0.1:80");
    /* More than CO_SOCKADDR_RESOLVE_MAX: the first ones. */
    static const char *many[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3",
                                  "10.0.0.4", "10.0.0.5", "10.0.0.6",
                                  "10.0.0.7", "10.0.0.8", "10.0.0.9",
                                  "10.0.0.10", NULL };
    play(NULL, NULL, NULL);
    memcpy(script, many, sizeof many);
    log_reset();
    resolve_all("many.test", AF_UNSPEC, 12, 0);
    ck_assert_str_eq(lg, "8: 10.0.0.1:80 10.0.0.2:80 10.0.0.3:80 "
                         "10.0.0.4:80 10.0.0.5:80 10.0.0.6:80 10.0.0.7:80 "
                         "10.0.0.8:80");
    log_reset();
    play(NULL, NULL, NULL);
    script_rc = -EAGAIN;
    resolve_all("flaky.test", AF_UNSPEC, 8, 0);
    ck_assert_str_eq(lg, "EAGAIN");
}
END_TEST

/* THE RULE (core/waits.h): bad arguments are refused before a pending
 * cancellation is delivered; the first good call delivers it, a name's
 * or "localhost"'s included, leaving nothing open. */
struct rule_frame {
    co_frame co;
    co_sockaddr addrs[2];
    co_socket *sock;
    int rc;
};

static co_status rule_main(co_task *t, void *arg)
{
    struct rule_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    note("%s", rcs(co_sockaddr_resolve_all(t, NULL, 2, AF_UNSPEC,
                                           "a.test", 80)));
    note("%s", rcs(co_sockaddr_resolve_all(t, f->addrs, 0, AF_UNSPEC,
                                           "a.test", 80)));
    note("%s", rcs(co_sockaddr_resolve(t, f->addrs, AF_UNSPEC, "a.test",
                                       -1)));
    CO_AWAIT(f->rc, co_sockaddr_resolve_all(t, f->addrs, 2, AF_UNSPEC,
                                            "a.test", 80));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_sockaddr_resolve_all(t, f->addrs, 2, AF_UNSPEC,
                                            "localhost", 80));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "localhost", 80));
    note("%s sock=%d", rcs(f->rc), f->sock != NULL);
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "a.test", 80));
    note("%s sock=%d", rcs(f->rc), f->sock != NULL);
    CO_END;
}

START_TEST(test_bad_arguments_first)
{
    play("127.0.0.1", NULL, NULL);
    struct rule_frame f = { .rc = 0 };
    RUN(rule_main, f);
    ck_assert_str_eq(lg, "EINVAL EINVAL EINVAL CANCEL CANCEL CANCEL sock=0 "
                         "CANCEL sock=0");
    ck_assert_str_eq(script_asked, "");        /* no lookup was made */
}
END_TEST

/* ------------------------------------------------------------ servers */

/* Says "hi" and hangs up. */
struct hi_frame {
    CO_CLIENT_HEADER;
    size_t sent;
    int rc;
};

static co_status hi_handler(co_task *t, void *arg)
{
    struct hi_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->client, "hi", 2, &f->sent));
    CO_END;
}

/* A server on `host` (port `port`): notes what waiting for it gave (the
 * family it listens on, or the error), then, if it listens, what a client
 * connecting to `client_host` reads; cancels the server and notes how it
 * ended. */
struct srv_frame {
    co_frame co;
    const char *host, *client_host;
    int port, rc, got;
    co_task *server;
    co_server_frame *srv;
    co_socket *sock;
    char buf[8];
};

static co_status srv_main(co_task *t, void *arg)
{
    struct srv_frame *f = arg;
    CO_BEGIN(t, f);
    {
        co_server_frame s = CO_TCP_SERVER_INIT(f->host, f->port, hi_handler,
                                               struct hi_frame);
        ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    }
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->rc, co_server_task_wait_ready(t, f->server));
    if (f->rc < 0) {
        note("ready=%s", err(f->rc));
    } else {
        note("ready=%s", family_name(&f->srv->address));
        CO_AWAIT(f->rc, co_open_connection(t, &f->sock, f->client_host,
                                           f->srv->bound_port));
        ck_assert_int_eq(f->rc, 0);
        for (f->got = 0;; f->got += f->rc) {
            CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->buf + f->got,
                                           sizeof f->buf - 1 - f->got, 0));
            ck_assert_int_ge(f->rc, 0);
            if (f->rc == 0)
                break;
        }
        f->buf[f->got] = '\0';
        note("read=%s", f->buf);
        co_socket_close(&f->sock);
        CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    }
    AWAIT_JOIN(f->rc, t, f->server);
    note("server=%s", err(f->rc));
    CO_END;
}

static void serve_on(const char *host, int port, const char *client_host)
{
    struct srv_frame f = { .host = host, .port = port,
                           .client_host = client_host };
    RUN(srv_main, f);
}

START_TEST(test_server_on_localhost)
{
    serve_on("localhost", 0, "localhost");
    ck_assert_str_eq(lg, "ready=v4 read=hi server=CANCEL");
}
END_TEST

/* A name: resolved during setup; addresses this machine cannot listen on
 * (192.0.2.1 and 2001:db8::1 are documentation addresses, nobody's) are
 * skipped. */
static int bindable(int family, const char *ip)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
        v4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &v4->sin_addr);
        len = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
        v6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &v6->sin6_addr);
        len = sizeof *v6;
    }
    int fd = socket(family, SOCK_STREAM, 0);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

START_TEST(test_server_on_name)
{
    if (bindable(AF_INET, "192.0.2.1") || bindable(AF_INET6, "2001:db8::1")) {
        skip("test_server_on_name", "this machine binds addresses that "
                                    "are not its own (ip_nonlocal_bind)");
        return;
    }
    play("192.0.2.1", "2001:db8::1", "127.0.0.1");
    serve_on("srv.test", 0, "127.0.0.1");
    ck_assert_str_eq(script_asked, "srv.test");
    ck_assert_str_eq(lg, "ready=v4 read=hi server=CANCEL");
}
END_TEST

/* A port in use is the server's answer: the next address is not tried
 * (it would hide the server from whoever finds the first). */
START_TEST(test_server_port_in_use)
{
    int port, fd = loopback_socket(AF_INET, 0, 8, &port);
    ck_assert_int_ge(fd, 0);
    play("127.0.0.1", "::1", NULL);
    serve_on("busy.test", port, NULL);
    ck_assert_str_eq(lg, "ready=EADDRINUSE server=EADDRINUSE");
    close(fd);
}
END_TEST

START_TEST(test_server_bad_name)
{
    serve_on("no-such-host.invalid", 0, NULL);
    if (strcmp(lg, "ready=EAGAIN server=EAGAIN") == 0)
        skip("test_server_bad_name", "the resolver failed for now");
    else
        ck_assert_str_eq(lg, "ready=ENXIO server=ENXIO");
    log_reset();
    play(NULL, NULL, NULL);
    script_rc = -ENXIO;
    serve_on("gone.test", 0, NULL);
    ck_assert_str_eq(lg, "ready=ENXIO server=ENXIO");
}
END_TEST

/* Cancelling a server while its name is being looked up ends it at once:
 * the pool's one thread is busy, so the lookup waits in the queue. */
static intptr_t busy(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 300000000L };
    nanosleep(&ts, NULL);
    return 0;
}

struct busy_frame {
    co_frame co;
    co_thread_call call;
    int rc;
};

static co_status busy_task(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, busy, NULL, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    CO_END;
}

struct lookup_cancel_frame {
    co_frame co;
    co_task *busy, *server;
    struct busy_frame bf;
    double t0;
    int rc;
};

static co_status lookup_cancel_main(co_task *t, void *arg)
{
    struct lookup_cancel_frame *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_threads(co_current_kernel(), 1);
    CO_SPAWN(t, &f->busy, busy_task, f->bf);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    {
        co_server_frame s = CO_TCP_SERVER_INIT("slow.test", 0, hi_handler,
                                               struct hi_frame);
        ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    f->t0 = co_clock();
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    AWAIT_JOIN(f->rc, t, f->server);
    note("server=%s fast=%d", rcs(f->rc), co_clock() - f->t0 < 0.2);
    AWAIT_JOIN(f->rc, t, f->busy);
    CO_END;
}

START_TEST(test_server_cancel_during_lookup)
{
    play("127.0.0.1", NULL, NULL);
    struct lookup_cancel_frame f = { 0 };
    RUN(lookup_cancel_main, f);
    ck_assert_str_eq(lg, "server=CANCEL fast=1");
}
END_TEST

Suite *thread_resolve_all_suite(void)
{
    Suite *s = suite_create("thread_resolve_all");
    TCase *tc = tcase_create("resolve_all");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_localhost_v4_only);
    tcase_add_test(tc, test_localhost_v6_only);
    tcase_add_test(tc, test_name_in_either_order);
    tcase_add_test(tc, test_which_error);
    tcase_add_test(tc, test_client_bad_name);
    tcase_add_test(tc, test_cancel_during_second_attempt);
    tcase_add_test(tc, test_timeout_stops_the_list);
    tcase_add_test(tc, test_resolve_all_at_once);
    tcase_add_test(tc, test_resolve_all_scripted);
    tcase_add_test(tc, test_bad_arguments_first);
    tcase_add_test(tc, test_server_on_localhost);
    tcase_add_test(tc, test_server_on_name);
    tcase_add_test(tc, test_server_port_in_use);
    tcase_add_test(tc, test_server_bad_name);
    tcase_add_test(tc, test_server_cancel_during_lookup);
    suite_add_tcase(s, tc);
    return s;
}
