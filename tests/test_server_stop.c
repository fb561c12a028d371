/*
 * test_server_stop.c -- cancelling a server (its handlers too) and
 * shutting it down; port 0 (the port chosen is reported; waiting for
 * ready before the start and after the end); co_unix_server.
 */
#define _DEFAULT_SOURCE             /* setrlimit, dirent */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "server_tasks.h"
#include "net/server.h"
#include "suites.h"

/* ------------------------------------------------------------ cancelling */

/* A handler blocked in recv, a client waiting for a reply that never
 * comes: cancelling the server cancels the handler, closes the client's
 * connection and the listening socket. */
static co_status cancel_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    logging = 1;
    START_ECHO_SERVER(t, f);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s2, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    AWAIT_COUNT(f->rc, t, started, 2);
    CO_AWAIT(f->rc, co_yield(t));   /* both wait in recv */
    ck_assert_uint_eq(f->srv->active, 2);
    note("cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    note("cancel=%s", rcs(f->rc));
    ck_assert_int_eq(ended, 2);
    ck_assert_uint_eq(f->srv->active, 0);
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    /* the server closed both connections */
    CO_AWAIT(f->rc, co_socket_recv(t, f->s1, f->buf, sizeof f->buf, 0));
    note("recv1=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_recv(t, f->s2, f->buf, sizeof f->buf, 0));
    note("recv2=%s", rcs(f->rc));
    co_socket_close(&f->s1);
    co_socket_close(&f->s2);
    /* and stopped listening */
    CO_AWAIT(f->rc, co_open_connection(t, &f->s3, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, -ECONNREFUSED);
    ck_assert_ptr_null(f->s3);
    CO_END;
}

START_TEST(test_cancel_server_cancels_handlers)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "handler:start accepted=2 handler:recv "
                         "handler:start accepted=2 handler:recv "
                         "cancel "
                         "handler:got=-125 handler:end=CANCEL "
                         "handler:got=-125 handler:end=CANCEL "
                         "cancel=1 recv1=0 recv2=0");
}
END_TEST

/* The kernel's shutdown cancels a server nobody stopped, and its handlers,
 * newest first: every socket is closed, nothing is reported. */
static co_status shutdown_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    logging = 1;
    START_ECHO_SERVER(t, f);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    AWAIT_COUNT(f->rc, t, started, 1);
    CO_AWAIT(f->rc, co_yield(t));
    co_socket_close(&f->s1);        /* the handler will not see it in time */
    note("main:return");
    CO_END;
}

START_TEST(test_shutdown_stops_server)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(run_capturing_stderr(shutdown_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "handler:start accepted=1 handler:recv main:return "
                         "handler:got=-125 handler:end=CANCEL");
    ck_assert_str_eq(captured, "");
}
END_TEST

/* ------------------------------------------------------------ port 0 */

static co_status port0_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct client_frame c = { .msg = "port zero" };
    CO_BEGIN(t, f);
    START_ECHO_SERVER(t, f);
    ck_assert_int_eq(f->port, f->srv->bound_port);
    ck_assert_int_eq(f->port, co_sockaddr_port(&f->srv->address));
    ck_assert_int_eq(f->srv->address.ss.ss_family, AF_INET);
    ck_assert_int_eq(f->srv->port, 0);    /* the configuration is kept */
    /* asking again, once listening, answers at once */
    CO_AWAIT(f->rc, co_server_wait_ready(t, f->srv));
    ck_assert_int_eq(f->rc, f->port);
    {
        char where[CO_SOCKADDR_STRLEN], want[CO_SOCKADDR_STRLEN];
        snprintf(want, sizeof want, "127.0.0.1:%d", f->port);
        ck_assert_int_eq(co_sockaddr_format(&f->srv->address, where,
                                            sizeof where),
                         (int)strlen(want));
        ck_assert_str_eq(where, want);
    }
    c.port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, echo_client, c), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_port_zero_reports_port)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(port0_main, &m, sizeof m), 0);
}
END_TEST

/* A waiter that comes before the server has even started; then the ready
 * state after the server has ended. */
static co_status early_waiter_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, echo_handler,
                                           struct echo_frame);
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    ck_assert_str_eq(co_task_state(f->server), "ready");  /* not run yet */
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    ck_assert_int_eq(f->rc, 1);
    CO_AWAIT(f->rc, co_server_wait_ready(t, f->srv));
    ck_assert_int_eq(f->rc, -ECANCELED);
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_wait_ready_before_start_and_after_end)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(early_waiter_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ Unix */

static char unix_path[108];

static co_status unix_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_server_frame s = CO_UNIX_SERVER_INIT(unix_path, echo_handler,
                                            struct echo_frame);
    struct client_frame c = { .name = "C", .path = unix_path,
                              .msg = "over a Unix socket" };
    struct stat st;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_unix_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_eq(f->port, 0);
    ck_assert_int_eq(stat(unix_path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(f->srv->address.ss.ss_family, AF_UNIX);
    {
        char where[CO_SOCKADDR_STRLEN];
        co_sockaddr_format(&f->srv->address, where, sizeof where);
        ck_assert_str_eq(where, unix_path);
    }
    ck_assert_int_gt(CO_SPAWN(t, &f->a, echo_client, c), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    /* a second server on the same path: the path is taken */
    ck_assert_int_gt(CO_SPAWN(t, &f->b, co_unix_server, s), 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, -EADDRINUSE);
    ck_assert_int_eq(stat(unix_path, &st), 0);  /* and left alone */
    STOP_SERVER(t, f);
    /* the server removed its socket file */
    ck_assert_int_eq(stat(unix_path, &st), -1);
    CO_AWAIT(f->rc, co_open_unix_connection(t, &f->s1, unix_path));
    ck_assert_int_eq(f->rc, -ENOENT);
    ck_assert_ptr_null(f->s1);
    CO_END;
}

START_TEST(test_unix_server_echo)
{
    snprintf(unix_path, sizeof unix_path, "/tmp/curio-test-server-%d.sock",
             (int)getpid());
    unlink(unix_path);
    struct scene_frame m = { 0 };
    int rc = co_run(unix_main, &m, sizeof m);
    unlink(unix_path);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(lg, "C:start C:connect=0 C:sent=0 C:got=18 C:end=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *server_stop_suite(void)
{
    Suite *s = suite_create("server_stop");
    TCase *tc;

    tc = tcase_create("server");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_cancel_server_cancels_handlers);
    tcase_add_test(tc, test_shutdown_stops_server);
    tcase_add_test(tc, test_port_zero_reports_port);
    tcase_add_test(tc, test_wait_ready_before_start_and_after_end);
    tcase_add_test(tc, test_unix_server_echo);
    suite_add_tcase(s, tc);
    return s;
}
