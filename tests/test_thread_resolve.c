/*
 * test_thread_resolve.c -- host names: co_sockaddr_resolve and
 * co_open_connection resolve them on the worker threads.
 */
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curio.h"
#include "log.h"
#include "suites.h"

static void resolve_setup(void)
{
    log_reset();
}

static co_sockaddr resolved;
static int resolved_rc;       /* co_run runs a copy of the frame */

struct res_frame {
    co_frame co;
    const char *host;
    int family;
    co_sockaddr addr;
    co_timeout to;
    int rc;
};

static co_status res_main(co_task *t, void *arg)
{
    struct res_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sockaddr_resolve(t, &f->addr, f->family, f->host, 80));
    note("%s", rcs(f->rc));
    resolved = f->addr;
    resolved_rc = f->rc;
    CO_END;
}

static int resolve(const char *host, int family, co_sockaddr *out)
{
    struct res_frame f = { .host = host, .family = family };
    log_reset();
    ck_assert_int_eq(co_run(res_main, &f, sizeof f), 0);
    if (out)
        *out = resolved;
    return resolved_rc;
}

START_TEST(test_resolve_numeric_and_localhost)
{
    co_sockaddr a;
    ck_assert_int_eq(resolve("localhost", AF_UNSPEC, &a), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_int_eq(co_sockaddr_port(&a), 80);
    ck_assert_int_eq(resolve("::1", AF_UNSPEC, &a), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert_int_eq(resolve("localhost", AF_INET6, &a), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert_int_eq(resolve("1.2.3", AF_INET6, NULL), -EINVAL);
}
END_TEST

/* The machine's own name, through getaddrinfo on a thread: the same first
 * address as getaddrinfo gives here (when it gives one at all). */
START_TEST(test_resolve_own_name)
{
    char name[256];
    ck_assert_int_eq(gethostname(name, sizeof name), 0);
    struct addrinfo hints = { .ai_family = AF_INET,
                              .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return;                        /* not resolvable on this machine */
    co_sockaddr a;
    ck_assert_int_eq(resolve(name, AF_INET, &a), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_int_eq(co_sockaddr_port(&a), 80);
    ck_assert(memcmp(&((struct sockaddr_in *)&a.ss)->sin_addr,
                     &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4) == 0);
    freeaddrinfo(res);
}
END_TEST

/* A name under .invalid (RFC 6761) never exists. */
START_TEST(test_resolve_bad_name)
{
    int rc = resolve("no-such-host.invalid", AF_UNSPEC, NULL);
    ck_assert_msg(rc == -ENXIO || rc == -EAGAIN, "rc=%s", rcs(rc));
}
END_TEST

/* co_open_connection to "localhost" and to the machine's name, to a
 * listener of our own; a bad name fails with nothing left open. */
struct conn_frame {
    co_frame co;
    const char *host;
    int port;
    co_socket *sock;
    int rc;
};

static co_status conn_main(co_task *t, void *arg)
{
    struct conn_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, f->host, f->port));
    note("%d sock=%d", f->rc, f->sock != NULL);
    co_socket_close(&f->sock);
    CO_END;
}

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

START_TEST(test_open_connection_names)
{
    int port, fd = listener(&port);
    struct conn_frame f = { .host = "localhost", .port = port };
    ck_assert_int_eq(co_run(conn_main, &f, sizeof f), 0);
    f = (struct conn_frame){ .host = "no-such-host.invalid", .port = port };
    ck_assert_int_eq(co_run(conn_main, &f, sizeof f), 0);
    char nxio[64], again[64];
    snprintf(nxio, sizeof nxio, "0 sock=1 %d sock=0", -ENXIO);
    snprintf(again, sizeof again, "0 sock=1 %d sock=0", -EAGAIN);
    ck_assert_msg(strcmp(lg, nxio) == 0 || strcmp(lg, again) == 0, "%s", lg);
    char name[256];
    gethostname(name, sizeof name);
    struct addrinfo hints = { .ai_family = AF_INET,
                              .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(name, NULL, &hints, &res) == 0) {
        int loop = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr ==
                   htonl(INADDR_LOOPBACK);
        freeaddrinfo(res);
        if (loop) {                    /* our listener is on 127.0.0.1 */
            log_reset();
            f = (struct conn_frame){ .host = name, .port = port };
            ck_assert_int_eq(co_run(conn_main, &f, sizeof f), 0);
            ck_assert_str_eq(lg, "0 sock=1");
        }
    }
    close(fd);
}
END_TEST

/* A lookup is cancelled at once even while the resolver is stuck: with
 * the pool's one thread busy, the lookup is still queued when its region
 * expires. */
static intptr_t stuck(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 300000000L };
    nanosleep(&ts, NULL);
    return 0;
}

struct stuck_frame {
    co_frame co;
    co_thread_call call;
    int rc;
};

static co_status stuck_task(co_task *t, void *arg)
{
    struct stuck_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, stuck, NULL, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    CO_END;
}

struct cancel_frame {
    co_frame co;
    co_task *s;
    struct stuck_frame sf;
    co_sockaddr addr;
    co_socket *sock;
    co_timeout to;
    double t0;
    int rc;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_threads(co_current_kernel(), 1);
    CO_SPAWN(t, &f->s, stuck_task, f->sf);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    f->t0 = co_clock();
    co_timeout_after(t, &f->to, 0.05);
    CO_AWAIT(f->rc, co_sockaddr_resolve(t, &f->addr, AF_INET, "vm-x.invalid", 1));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("resolve=%s", rcs(f->rc));
    co_timeout_after(t, &f->to, 0.05);
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "vm-x.invalid", 1));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("open=%s sock=%d fast=%d", rcs(f->rc), f->sock != NULL,
         co_clock() - f->t0 < 0.25);
    AWAIT_JOIN(f->rc, t, f->s);
    CO_END;
}

START_TEST(test_cancel_lookup)
{
    struct cancel_frame f = { 0 };
    ck_assert_int_eq(co_run(cancel_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "resolve=TIMEOUT open=TIMEOUT sock=0 fast=1");
}
END_TEST

Suite *thread_resolve_suite(void)
{
    Suite *s = suite_create("thread_resolve");
    TCase *tc = tcase_create("resolve");
    tcase_add_checked_fixture(tc, resolve_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_resolve_numeric_and_localhost);
    tcase_add_test(tc, test_resolve_own_name);
    tcase_add_test(tc, test_resolve_bad_name);
    tcase_add_test(tc, test_open_connection_names);
    tcase_add_test(tc, test_cancel_lookup);
    suite_add_tcase(s, tc);
    return s;
}
