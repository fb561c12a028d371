/*
 * test_server_connect.c -- opening connections: refused and timed out;
 * a server running out of file descriptors backs off and recovers.
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
    /* a name that does not exist (the resolver may also be unreachable);
     * "any address" is no destination */
    CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "no-such-host.invalid", 80));
    ck_assert(f->rc == -ENXIO || f->rc == -EAGAIN);
    ck_assert_ptr_null(f->s1);
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

/* ------------------------------------------------------------ suite */

Suite *server_connect_suite(void)
{
    Suite *s = suite_create("server_connect");
    TCase *tc;

    tc = tcase_create("server");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_open_connection_timeout);
    tcase_add_test(tc, test_emfile_backs_off_and_recovers);
    suite_add_tcase(s, tc);
    return s;
}
