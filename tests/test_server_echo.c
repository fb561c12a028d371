/*
 * test_server_echo.c -- co_tcp_server serving: the order of events of one
 * exchange, many clients at once, a handler that crashes (reported, the
 * server goes on) and routine handler errors (not reported).
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

/* ------------------------------------------------------------ one exchange */

static co_status order_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct client_frame c = { .name = "client", .msg = "ping" };
    CO_BEGIN(t, f);
    logging = 1;
    START_ECHO_SERVER(t, f);
    /* listening, and already waiting in accept */
    note("ready server=%s", co_task_state(f->server));
    ck_assert_ptr_nonnull(strstr(co_task_where(f->server), "server.c"));
    c.port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, echo_client, c), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    note("joined=%s", rcs(f->rc));
    ck_assert_int_eq(f->rc, 0);
    /* the handler sees the end of stream and ends */
    AWAIT_COUNT(f->rc, t, ended, 1);
    note("ended");
    CO_AWAIT(f->rc, co_yield(t));   /* its task closes the socket */
    ck_assert_uint_eq(f->srv->accepted, 1);
    ck_assert_uint_eq(f->srv->active, 0);
    STOP_SERVER(t, f);
    note("stopped");
    CO_END;
}

START_TEST(test_order_of_events)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(order_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg,
        /* listening; the server waits in accept */
        "ready server=blocked "
        /* the connect completes at the handshake, before the accept; the
         * message waits in the socket buffer */
        "client:start client:connect=0 client:sent=0 "
        /* the accept spawned the handler: it starts in the next cycle and
         * finds the message at once (eager recv) */
        "handler:start accepted=1 handler:recv handler:got=4 "
        "handler:sent=0 handler:recv "
        /* the client gets the echo and closes */
        "client:got=4 client:end=0 joined=0 "
        /* the handler sees the end of stream */
        "handler:got=0 handler:end=0 ended "
        "stopped");
}
END_TEST

/* ------------------------------------------------------------ many clients */

#define MANY 200

static char many_msgs[MANY][64];

static co_status many_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, echo_handler,
                                           struct echo_frame);
    struct client_frame c = { 0 };
    CO_BEGIN(t, f);
    s.backlog = 2 * MANY;           /* all connect before one is accepted */
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);
    co_timeout_after(t, &f->to, 20.0);
    for (f->i = 0; f->i < MANY; f->i++) {
        snprintf(many_msgs[f->i], sizeof many_msgs[f->i],
                 "client %d of %d: my own echo", f->i, MANY);
        c.port = f->port;
        c.msg = many_msgs[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->many[f->i], echo_client, c), 0);
    }
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, f->many[f->i]);
        if (f->rc != 0)
            note("client %d: %s", f->i, rcs(f->rc));
    }
    AWAIT_COUNT(f->rc, t, ended, MANY);
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    ck_assert_uint_eq(f->srv->accepted, MANY);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(f->srv->active, 0);
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_many_clients)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(many_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "");       /* every client got its own echo */
    ck_assert_int_eq(started, MANY);
}
END_TEST

/* ------------------------------------------------------------ a crash */

static co_status crash_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct client_frame c = { .name = "A", .msg = "crash" };
    struct client_frame d = { .name = "B", .msg = "still there?" };
    CO_BEGIN(t, f);
    START_ECHO_SERVER(t, f);
    c.port = f->port;               /* locals: set them right before use */
    ck_assert_int_gt(CO_SPAWN(t, &f->a, echo_client, c), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    /* the handler failed: the connection was closed under the client */
    ck_assert_int_eq(f->rc, -ECONNRESET);
    AWAIT_COUNT(f->rc, t, ended, 1);
    ck_assert_str_eq(co_task_state(f->server), "blocked");
    d.port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, echo_client, d), 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->srv->accepted, 2);
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_handler_crash_is_reported_and_server_goes_on)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A:start A:connect=0 A:sent=0 A:got=0 "
                         "A:end=ECONNRESET "
                         "B:start B:connect=0 B:sent=0 B:got=12 B:end=0");
    /* reported once, named after the handler, where it returned */
    ck_assert_ptr_nonnull(strstr(captured, "Task Crash"));
    ck_assert_ptr_nonnull(strstr(captured, "'echo_handler' failed with -71"));
    ck_assert_ptr_nonnull(strstr(captured, "server_tasks.c:"));  /* handler */
    ck_assert_ptr_null(strstr(strstr(captured, "Task Crash") + 1,
                              "Task Crash"));
}
END_TEST

/* ------------------------------------------------------------ routine errors */

/* Fails at once with the error its client names: "reset" -ECONNRESET, any
 * other message -EIO. */
static co_status failing_handler(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->n, co_socket_recv(t, f->client, f->buf, sizeof f->buf, 0));
    CO_RETURN(f->n == 5 && memcmp(f->buf, "reset", 5) == 0 ? -ECONNRESET
                                                            : -EIO);
    CO_FINALLY
    ended++;
    co_waitq_wake_all(&server_progress, 0);
    CO_END;
}

static co_status routine_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct client_frame c = { .msg = "reset" };
    CO_BEGIN(t, f);
    f->inline_srv = (co_server_frame)CO_TCP_SERVER_INIT(
        "127.0.0.1", 0, failing_handler, struct echo_frame);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, f->inline_srv),
                     0);
    /* the frame spawned from is not the server's: said at once */
    CO_AWAIT(f->rc, co_server_wait_ready(t, &f->inline_srv));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_server_task_wait_ready(t, t));   /* not a server */
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->port, co_server_task_wait_ready(t, f->server));
    ck_assert_int_gt(f->port, 0);
    f->srv = co_task_frame(f->server);
    c.port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, echo_client, c), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_COUNT(f->rc, t, ended, 1);
    c.msg = "broken";               /* locals: set them right before use */
    c.port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, echo_client, c), 0);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_COUNT(f->rc, t, ended, 2);
    CO_AWAIT(f->rc, co_yield(t));   /* the client task ends after FINALLY */
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_routine_handler_errors_are_not_reported)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(run_capturing_stderr(routine_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "spawned from"), "stderr: <<%s>>",
                  captured);
    /* -EIO is reported, once; -ECONNRESET is not */
    const char *crash = strstr(captured, "Task Crash");
    ck_assert_msg(crash, "stderr: <<%s>>", captured);
    ck_assert_ptr_nonnull(strstr(captured, "'failing_handler' failed with -5"));
    ck_assert_ptr_null(strstr(crash + 1, "Task Crash"));
    ck_assert_ptr_null(strstr(captured, "-104"));
    ck_assert_int_eq(co_server_routine_error(-ECONNRESET), 1);
    ck_assert_int_eq(co_server_routine_error(-EPIPE), 1);
    ck_assert_int_eq(co_server_routine_error(-ETIMEDOUT), 1);
    ck_assert_int_eq(co_server_routine_error(-ECANCELED), 1);
    ck_assert_int_eq(co_server_routine_error(-EIO), 0);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *server_echo_suite(void)
{
    Suite *s = suite_create("server_echo");
    TCase *tc;

    tc = tcase_create("server");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_order_of_events);
    tcase_add_test(tc, test_many_clients);
    tcase_add_test(tc, test_handler_crash_is_reported_and_server_goes_on);
    tcase_add_test(tc, test_routine_handler_errors_are_not_reported);
    suite_add_tcase(s, tc);
    return s;
}
