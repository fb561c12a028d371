/*
 * test_server.c -- co_tcp_server / co_unix_server and opening connections:
 * the order of events of one exchange, many clients at once, a handler that
 * fails, cancellation, port 0, Unix sockets, refused and timed-out
 * connections, running out of file descriptors, setup errors, shutdown.
 *
 * Loopback only.  Every test checks that it leaves as many file descriptors
 * open as it found.
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
#include "net/server.h"
#include "suites.h"

/* ------------------------------------------------------------ helpers */

static int fds_before;
static int logging;                 /* echo_handler notes its steps */

/* Handlers count their starts and ends here, and wake `progress`. */
static int started, ended;
static co_waitq progress;

static void setup(void)
{
    log_reset();
    logging = 0;
    started = ended = 0;
    co_waitq_init(&progress);
    fds_before = count_fds();
}

static void teardown(void)
{
    ck_assert_int_eq(count_fds(), fds_before);
}

/* Blocking: wait until *counter >= n. */
static co_status wait_count(co_task *t, const int *counter, int n)
{
    int rc;
    if (co_wait_enter(t, &rc))
        return rc;
    if (*counter >= n)
        return 0;
    return co_block(t, &progress, CO_NO_DEADLINE);
}

/* Wait (in a coroutine) until *counter >= n. */
#define AWAIT_COUNT(rc, t, counter, n)                                       \
    do {                                                                     \
        CO_AWAIT(rc, wait_count((t), &(counter), (n)));                      \
        ck_assert_int_eq(rc, 0);                                             \
    } while ((counter) < (n))

/* ------------------------------------------------------------ handlers */

/* Echoes until end of stream; with `logging`, notes each step.  A message
 * "crash" makes it fail with -EPROTO. */
struct echo_frame {
    CO_CLIENT_HEADER;
    int n, rc;
    size_t sent;
    char buf[2048];
};

static co_status echo_handler(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    started++;
    co_waitq_wake_all(&progress, 0);
    if (logging)
        note("handler:start accepted=%lu", f->server->accepted);
    for (;;) {
        if (logging)
            note("handler:recv");
        CO_AWAIT(f->n, co_socket_recv(t, f->client, f->buf, sizeof f->buf,
                                      0));
        if (logging)
            note("handler:got=%d", f->n);
        if (f->n <= 0)
            CO_RETURN(f->n);
        if (f->n == 5 && memcmp(f->buf, "crash", 5) == 0)
            CO_RETURN(-EPROTO);
        CO_AWAIT(f->rc, co_socket_sendall(t, f->client, f->buf,
                                          (size_t)f->n, &f->sent));
        if (logging)
            note("handler:sent=%s", rcs(f->rc));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_FINALLY
    ended++;
    co_waitq_wake_all(&progress, 0);
    if (logging)
        note("handler:end=%s", rcs(CO_RESULT()));
    CO_END;
}

/* ------------------------------------------------------------ a client */

/* Connects (TCP to port, or Unix to path), sends msg, reads the echo back
 * into `echo`, closes.  Returns 0 if the echo matched, -EPROTO if not. */
struct client_frame {
    co_frame co;
    const char *name;               /* non-NULL: log the steps */
    int port;
    const char *path;
    const char *msg;
    size_t len, got, sent;
    co_socket *sock;
    int rc;
    char echo[2048];
};

static co_status echo_client(co_task *t, void *arg)
{
    struct client_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->name)
        note("%s:start", f->name);
    if (f->path)
        CO_AWAIT(f->rc, co_open_unix_connection(t, &f->sock, f->path));
    else
        CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1",
                                           f->port));
    if (f->name)
        note("%s:connect=%s", f->name, rcs(f->rc));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->len = strlen(f->msg);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->sock, f->msg, f->len, &f->sent));
    if (f->name)
        note("%s:sent=%s", f->name, rcs(f->rc));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->got = 0; f->got < f->len; f->got += (size_t)f->rc) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->echo + f->got,
                                       sizeof f->echo - 1 - f->got, 0));
        if (f->name)
            note("%s:got=%d", f->name, f->rc);
        if (f->rc <= 0)
            CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
    }
    f->echo[f->got] = '\0';
    CO_RETURN(strcmp(f->echo, f->msg) == 0 ? 0 : -EPROTO);
    CO_FINALLY
    co_socket_close(&f->sock);
    if (f->name)
        note("%s:end=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}

/* Most scenarios' main frame. */
struct scene_frame {
    co_frame co;
    co_task *server, *a, *b, *c;
    co_server_frame *srv;
    co_socket *s1, *s2, *s3;
    co_timeout to;
    int port, rc, i, flag;
    size_t sent;
    char buf[256];
    co_task *many[200];
    co_server_frame inline_srv;
};

/* Spawn an echo server on 127.0.0.1, port 0, and wait until it listens. */
#define START_ECHO_SERVER(t, f)                                              \
    do {                                                                     \
        co_server_frame s_ = CO_TCP_SERVER_INIT("127.0.0.1", 0,              \
                                                echo_handler,                \
                                                struct echo_frame);          \
        ck_assert_int_gt(CO_SPAWN((t), &(f)->server, co_tcp_server, s_), 0); \
        (f)->srv = co_task_frame((f)->server);                               \
        CO_AWAIT((f)->port, co_server_wait_ready((t), (f)->srv));            \
        ck_assert_int_gt((f)->port, 0);                                      \
    } while (0)

/* Cancel the server and check it ended with -ECANCELED. */
#define STOP_SERVER(t, f)                                                    \
    do {                                                                     \
        CO_AWAIT((f)->rc, co_task_cancel((t), (f)->server));                      \
        ck_assert_int_eq((f)->rc, 1);                                        \
        AWAIT_JOIN((f)->rc, (t), (f)->server);                               \
        ck_assert_int_eq((f)->rc, -ECANCELED);                               \
    } while (0)

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
    ck_assert_ptr_nonnull(strstr(captured, "test_server.c:"));
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
    co_waitq_wake_all(&progress, 0);
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

/* ------------------------------------------------------------ connecting */

static co_status refused_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_sockaddr a;
    CO_BEGIN(t, f);
    /* a port that is bound but not listening: nobody else can take it */
    ck_assert_int_eq(co_socket_new(&f->s2, AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_socket_bind(f->s2, &a), 0);
    ck_assert_int_eq(co_socket_getsockname(f->s2, &a), 0);
    f->port = co_sockaddr_port(&a);
    f->s1 = (co_socket *)&a;        /* overwritten: NULL on failure */
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, -ECONNREFUSED);
    ck_assert_ptr_null(f->s1);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "localhost", f->port));
    ck_assert_int_eq(f->rc, -ECONNREFUSED);
    co_socket_close(&f->s2);
    /* names are not resolved; "any address" is no destination */
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "example.com", 80));
    ck_assert_int_eq(f->rc, -ENOTSUP);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "", 80));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "127.0.0.1", 70000));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_open_connection(t, NULL, "127.0.0.1", 80));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_open_unix_connection(t, &f->s1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_ptr_null(f->s1);
    /* a cancelled task does not even make the socket */
    co_task_cancel_nowait(t);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_ptr_null(f->s1);
    CO_END;
}

START_TEST(test_connect_refused)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(refused_main, &m, sizeof m), 0);
}
END_TEST

/* A listener with a full queue that never accepts: the kernel drops the
 * next SYN, so that connect hangs until the timeout. */
static co_status connect_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_sockaddr a;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_socket_new(&f->s3, AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_socket_bind(f->s3, &a), 0);
    ck_assert_int_eq(co_socket_listen(f->s3, 0), 0);
    ck_assert_int_eq(co_socket_getsockname(f->s3, &a), 0);
    f->port = co_sockaddr_port(&a);
    /* the queue holds one connection */
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    co_timeout_after(t, &f->to, 0.2);
    CO_AWAIT(f->rc, co_open_connection(t, &f->s2, "127.0.0.1", f->port));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("connect=%s", rcs(f->rc));
    ck_assert_ptr_null(f->s2);
    co_socket_close(&f->s1);
    co_socket_close(&f->s3);
    CO_END;
}

START_TEST(test_open_connection_timeout)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(connect_timeout_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "connect=TIMEOUT");
}
END_TEST

/* ------------------------------------------------------------ EMFILE */

static struct rlimit saved_limit;

/* Lower the soft limit so that exactly `n` more descriptors can be made. */
static void allow_fds(int n)
{
    char open_fd[4096] = { 0 };
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int dfd = dirfd(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dfd && fd < (int)sizeof open_fd)
            open_fd[fd] = 1;
    }
    closedir(d);
    int limit = 0;
    for (int free_seen = 0; free_seen < n; limit++)
        free_seen += !open_fd[limit];
    struct rlimit r = saved_limit;
    r.rlim_cur = (rlim_t)limit;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
}

/* Send msg on s and expect it back (in f->buf). */
struct ping_frame {
    co_frame co;
    co_socket *s;
    const char *msg;
    size_t sent, got;
    int rc;
    char buf[64];
};

static co_status ping(co_task *t, void *arg)
{
    struct ping_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, f->msg, strlen(f->msg),
                                      &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->got = 0; f->got < strlen(f->msg); f->got += (size_t)f->rc) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf + f->got,
                                       sizeof f->buf - 1 - f->got, 0));
        if (f->rc <= 0)
            CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
    }
    f->buf[f->got] = '\0';
    CO_RETURN(strcmp(f->buf, f->msg) == 0 ? 0 : -EPROTO);
    CO_END;
}

struct emfile_frame {
    co_frame co;
    co_task *server;
    co_server_frame *srv;
    co_socket *c1, *c2, *c3, *c4;
    struct ping_frame ping;
    co_timeout to;
    int port, rc;
    unsigned long backoffs_before;
    size_t sent;
    char buf[64];
};

static co_status emfile_main(co_task *t, void *arg)
{
    struct emfile_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, echo_handler,
                                           struct echo_frame);
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);

    /* room for: client 1, its accepted socket, client 2 -- and no more */
    allow_fds(3);
    CO_AWAIT(f->rc, co_open_connection(t, &f->c1, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    f->ping.s = f->c1;
    f->ping.msg = "one";
    CO_AWAIT_CALL(f->rc, ping, &f->ping);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->srv->accepted, 1);
    /* client 2 connects (the kernel completes the handshake) and sends, but
     * the server cannot accept it: it backs off and retries */
    CO_AWAIT(f->rc, co_open_connection(t, &f->c2, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->c2, "two", 3, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.35));
    ck_assert_uint_eq(f->srv->accepted, 1);
    ck_assert_uint_ge(f->srv->backoffs, 1);   /* ~3: once per 0.1 s */
    ck_assert_str_eq(co_task_state(f->server), "blocked");  /* no spin */
    /* ... while still serving client 1 */
    f->ping.msg = "three";
    CO_AWAIT_CALL(f->rc, ping, &f->ping);
    ck_assert_int_eq(f->rc, 0);
    /* no echo for client 2 yet */
    co_timeout_after(t, &f->to, 0.05);
    CO_AWAIT(f->rc, co_socket_recv(t, f->c2, f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(co_timeout_end(t, &f->to, f->rc), -ETIMEDOUT);
    /* client 1 leaves: two descriptors come free, client 2 is accepted */
    co_socket_close(&f->c1);
    co_timeout_after(t, &f->to, 5.0);
    CO_AWAIT(f->rc, co_socket_recv(t, f->c2, f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(co_timeout_end(t, &f->to, f->rc), 3);
    ck_assert_int_eq(memcmp(f->buf, "two", 3), 0);
    ck_assert_uint_eq(f->srv->accepted, 2);
    /* with the limit back, everything is as before */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
    CO_AWAIT(f->rc, co_open_connection(t, &f->c3, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    f->ping.s = f->c3;
    f->ping.msg = "four";
    CO_AWAIT_CALL(f->rc, ping, &f->ping);
    ck_assert_int_eq(f->rc, 0);
    /* a shortage long after the last one is a new episode, said again */
    CO_AWAIT(f->rc, co_sleep(t, 0.25));
    f->backoffs_before = f->srv->backoffs;
    allow_fds(1);                      /* room for client 4 alone */
    CO_AWAIT(f->rc, co_open_connection(t, &f->c4, "127.0.0.1", f->port));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    ck_assert_uint_gt(f->srv->backoffs, f->backoffs_before);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
    co_socket_close(&f->c4);
    co_socket_close(&f->c2);
    co_socket_close(&f->c3);
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

/* Valgrind enforces the descriptor limit itself, by closing a descriptor
 * the system gave beyond it: an accepted connection is reset, not left in
 * the queue.  It sets LD_PRELOAD for the programs it runs. */
static int under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload && strstr(preload, "vgpreload");
}

START_TEST(test_emfile_backs_off_and_recovers)
{
    if (under_valgrind())
        return;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved_limit), 0);
    struct emfile_frame m = { 0 };
    int rc = run_capturing_stderr(emfile_main, &m, sizeof m);
    setrlimit(RLIMIT_NOFILE, &saved_limit);
    ck_assert_int_eq(rc, 0);
    /* said once per episode, not at every retry: two episodes */
    const char *said = strstr(captured, "Too many open files;");
    ck_assert_msg(said, "stderr: <<%s>>", captured);
    said = strstr(said + 1, "Too many open files;");
    ck_assert_msg(said && !strstr(said + 1, "Too many open files;"),
                  "stderr: <<%s>>", captured);
}
END_TEST

/* ------------------------------------------------------------ setup errors */

struct noop_frame {
    CO_CLIENT_HEADER;
};

static co_status noop_handler(co_task *t, void *arg)
{
    struct noop_frame *f = arg;
    CO_BEGIN(t, f);
    CO_END;
}

static int run_server_alone(co_server_frame s)
{
    return co_run(s.path ? co_unix_server : co_tcp_server, &s, sizeof s);
}

START_TEST(test_setup_errors)
{
    co_server_frame ok = CO_TCP_SERVER_INIT("127.0.0.1", 0, noop_handler,
                                            struct noop_frame);
    co_server_frame s = ok;
    s.handler = NULL;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.handler_frame_size = sizeof(co_frame);
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.backlog = -1;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.flags = 1u << 7;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.host = "no.such.host";
    ck_assert_int_eq(run_server_alone(s), -ENOTSUP);
    s = ok;
    s.host = "1.2.3";
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.port = 65536;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.family = AF_INET6;            /* an IPv4 host in IPv6 */
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    co_server_frame u = CO_UNIX_SERVER_INIT(NULL, noop_handler,
                                            struct noop_frame);
    ck_assert_int_eq(co_run(co_unix_server, &u, sizeof u), -EINVAL);
    u.path = "/nonexistent-dir/x.sock";
    ck_assert_int_eq(run_server_alone(u), -ENOENT);
}
END_TEST

/* Two servers on one port: refused, unless both ask for SO_REUSEPORT. */
static co_status reuse_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_server_frame *s = &f->inline_srv;    /* survives the awaits */
    CO_BEGIN(t, f);
    *s = (co_server_frame)CO_TCP_SERVER_INIT("127.0.0.1", 0, noop_handler,
                                             struct noop_frame);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, *s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    s->port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, co_tcp_server, *s), 0);
    CO_AWAIT(f->rc, co_server_wait_ready(t, co_task_frame(f->a)));
    ck_assert_int_eq(f->rc, -EADDRINUSE);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -EADDRINUSE);
    STOP_SERVER(t, f);

    s->flags = CO_SERVER_REUSEPORT;
    s->port = 0;
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, *s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    s->port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, co_tcp_server, *s), 0);
    CO_AWAIT(f->rc, co_server_wait_ready(t, co_task_frame(f->a)));
    ck_assert_int_eq(f->rc, f->port);
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_reuse_port)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(reuse_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ handler frames */

/* A template frame: its own fields reach every handler, its header is
 * replaced.  The handler closes the connection itself and says so. */
struct greeter_frame {
    CO_CLIENT_HEADER;
    const char *greeting;
    size_t sent;
    int rc;
};

static co_status greeter(co_task *t, void *arg)
{
    struct greeter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->client, f->greeting,
                                      strlen(f->greeting), &f->sent));
    co_socket_close(&f->client);    /* NULL now: the server must not */
    CO_RETURN(f->rc);
    CO_END;
}

static const struct greeter_frame greeter_template = {
    .client = (co_socket *)&greeter_template,   /* garbage, overwritten */
    .greeting = "hello from the template",
};

static co_status template_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->inline_srv = (co_server_frame)CO_TCP_SERVER_INIT(
        "localhost", 0, greeter, struct greeter_frame);
    f->inline_srv.handler_frame = &greeter_template;
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, f->inline_srv),
                     0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    for (f->i = 0; f->i < 2; f->i++) {
        CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "localhost", f->port));
        ck_assert_int_eq(f->rc, 0);
        for (f->flag = 0;; f->flag += f->rc) {
            CO_AWAIT(f->rc, co_socket_recv(t, f->s1, f->buf + f->flag,
                                           sizeof f->buf - 1 - f->flag, 0));
            ck_assert_int_ge(f->rc, 0);
            if (f->rc == 0)
                break;
        }
        f->buf[f->flag] = '\0';
        note("%s", f->buf);
        co_socket_close(&f->s1);
    }
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_handler_frame_template)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(template_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "hello from the template hello from the template");
}
END_TEST

/* ------------------------------------------------------------ awaited */

/* The server awaited inside a timeout region: it serves a client, then the
 * timeout ends it like a cancellation would. */
struct timed_client_frame {
    co_frame co;
    co_server_frame *srv;
    struct client_frame c;
    int rc;
};

static co_status timed_client(co_task *t, void *arg)
{
    struct timed_client_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_server_wait_ready(t, f->srv));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->c.port = f->rc;
    f->c.msg = "timed";
    CO_AWAIT_CALL(f->rc, echo_client, &f->c);
    note("client=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status awaited_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct timed_client_frame c = { 0 };
    CO_BEGIN(t, f);
    f->inline_srv = (co_server_frame)CO_TCP_SERVER_INIT(
        "127.0.0.1", 0, echo_handler, struct echo_frame);
    c.srv = &f->inline_srv;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, timed_client, c), 0);
    co_timeout_after(t, &f->to, 0.2);
    CO_AWAIT_CALL(f->rc, co_tcp_server, &f->inline_srv);
    note("server=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("region=%s", rcs(f->rc));
    ck_assert_uint_eq(f->inline_srv.accepted, 1);
    ck_assert_ptr_eq(f->inline_srv.task, t);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_server_in_timeout_region)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(awaited_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "client=0 server=TIMEOUT region=TIMEOUT");
}
END_TEST

/* ------------------------------------------------------------ the suite */

Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_order_of_events);
    tcase_add_test(tc, test_many_clients);
    tcase_add_test(tc, test_handler_crash_is_reported_and_server_goes_on);
    tcase_add_test(tc, test_routine_handler_errors_are_not_reported);
    tcase_add_test(tc, test_cancel_server_cancels_handlers);
    tcase_add_test(tc, test_shutdown_stops_server);
    tcase_add_test(tc, test_port_zero_reports_port);
    tcase_add_test(tc, test_wait_ready_before_start_and_after_end);
    tcase_add_test(tc, test_unix_server_echo);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_open_connection_timeout);
    tcase_add_test(tc, test_emfile_backs_off_and_recovers);
    tcase_add_test(tc, test_setup_errors);
    tcase_add_test(tc, test_reuse_port);
    tcase_add_test(tc, test_handler_frame_template);
    tcase_add_test(tc, test_server_in_timeout_region);
    suite_add_tcase(s, tc);
    return s;
}
