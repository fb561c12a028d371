/*
 * server_tasks.h -- what the test_server_*.c suites share (co_tcp_server,
 * co_unix_server): counters handlers report through, the fixture, an
 * echo handler, an echo client, and starting and stopping a server inside
 * the main task.
 *
 * Loopback only.  Every test checks that it leaves as many file descriptors
 * open as it found.
 */
#ifndef TESTS_SERVER_TASKS_H
#define TESTS_SERVER_TASKS_H

#include "curio.h"
#include "net/server.h"

extern int fds_before;
extern int logging;   /* echo_handler notes its steps */

/* Handlers count their starts and ends here, and wake `server_progress`. */
extern int started, ended;
extern co_waitq server_progress;

void server_setup(void);
void server_teardown(void);

/* Blocking: wait until *counter >= n. */
co_status server_wait_count(co_task *t, const int *counter, int n);

/* Wait (in a coroutine) until *counter >= n. */
#define AWAIT_COUNT(rc, t, counter, n)                                       \
    do {                                                                     \
        CO_AWAIT(rc, server_wait_count((t), &(counter), (n)));                      \
        ck_assert_int_eq(rc, 0);                                             \
    } while ((counter) < (n))

/* Echoes until end of stream; with `logging`, notes each step.  A message
 * "crash" makes it fail with -EPROTO. */
struct echo_frame {
    CO_CLIENT_HEADER;
    int n, rc;
    size_t sent;
    char buf[2048];
};

co_status echo_handler(co_task *t, void *arg);

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

co_status echo_client(co_task *t, void *arg);

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

#endif
