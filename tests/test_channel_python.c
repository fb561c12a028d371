/*
 * test_channel_python.c -- talking to Python's own multiprocessing.connection
 * (tests/channel_peer.py, run as a child process): a Python Listener with
 * a C client, and a C channel with a Python Client, with the key right and
 * wrong, over Unix and TCP sockets; messages of 0, 5 and 10 MB bytes echoed
 * through Python.  The interpreter is $CHANNEL_PYTHON (default python3):
 * its module speaks the legacy handshake up to 3.11, the {sha256} one from
 * 3.12.  The "modern" tests ask the peer for the 3.12 handshake, which it
 * emulates on an older Python; $CHANNEL_PYTHON_MODERN names an interpreter
 * (3.12 or later) to run them against the real thing.  Without python3
 * the tests say so on stderr and pass.
 */
#define _GNU_SOURCE                 /* environ */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel_tasks.h"
#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

extern char **environ;

#define KEY "secret"

/* ------------------------------------------------------------ the peer */

struct peer {
    pid_t pid;
    int out;                    /* its stdout (listen), else -1 */
};

static const char *interpreter(int modern)
{
    const char *py = modern ? getenv("CHANNEL_PYTHON_MODERN") : NULL;
    if (!py || !*py)
        py = getenv("CHANNEL_PYTHON");
    return py && *py ? py : "python3";
}

/* tests/channel_peer.py, from the directory make check runs in (the
 * project's), else beside this file. */
static const char *script(void)
{
    static char path[512];
    if (access("tests/channel_peer.py", R_OK) == 0)
        return "tests/channel_peer.py";
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path,
             sizeof path - (size_t)(slash ? slash + 1 - path : 0),
             "channel_peer.py");
    return path;
}

static int have_python(void)
{
    static int known = -1;
    if (known < 0) {
        pid_t pid;
        char *argv[] = { (char *)interpreter(0), "-c", "pass", NULL };
        int status;
        known = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) == 0 &&
                waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                WEXITSTATUS(status) == 0;
        if (!known)
            fprintf(stderr, "channel_python: no %s: the tests with a Python "
                            "peer are skipped\n", argv[0]);
    }
    return known;
}

/* Start `channel_peer.py MODE ADDRESS KEY [--modern DIGEST]`. */
static void peer_start(struct peer *p, const char *mode, const char *address,
                       const char *key, const char *modern)
{
    int fds[2] = { -1, -1 };
    posix_spawn_file_actions_t fa;
    char *argv[] = { (char *)interpreter(modern != NULL), (char *)script(),
                     (char *)mode, (char *)address, (char *)key,
                     modern ? "--modern" : NULL, (char *)modern, NULL };
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    p->out = -1;
    if (strcmp(mode, "listen") == 0) {
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    }
    ck_assert_int_eq(posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    if (fds[1] >= 0) {
        close(fds[1]);
        p->out = fds[0];
    }
}

/* A listening peer's "ready PORT" line: the port (0 for Unix). */
static int peer_ready(struct peer *p)
{
    char line[64];
    size_t n = 0;
    struct pollfd pfd = { .fd = p->out, .events = POLLIN };
    while (n < sizeof line - 1 && (n == 0 || line[n - 1] != '\n')) {
        ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
        ssize_t r = read(p->out, line + n, sizeof line - 1 - n);
        ck_assert_int_gt(r, 0);
        n += (size_t)r;
    }
    line[n] = 0;
    ck_assert_int_eq(strncmp(line, "ready ", 6), 0);
    return atoi(line + 6);
}

/* Wait for the peer (killed if it takes more than 20 s) and reap it: its
 * exit status. */
static int peer_finish(struct peer *p)
{
    int status = 0;
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    for (int i = 0; i < 2000; i++) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid)
            goto reaped;
        nanosleep(&tick, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
reaped:
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static char unix_path[64];

static void make_path(void)
{
    char dir[] = "/tmp/curio-chpy-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(unix_path, sizeof unix_path, "%s/ch", dir);
}

static void remove_path(void)
{
    unlink(unix_path);          /* a Python Listener's, if it left it */
    *strrchr(unix_path, '/') = 0;
    ck_assert_int_eq(rmdir(unix_path), 0);
}

/* ------------------------------------------------------------ C client */

struct scene {
    co_frame co;
    co_conn *conn;
    co_socket *sock;
    co_channel *ch;
    struct peer *peer;
    co_task *task;
    co_thread_call call;
    const char *key, *modern;
    int port, legacy, rc;
    struct round_trips_frame trips;
};

/* Connect to the Python Listener (Unix, or TCP on `port`), and if the
 * handshake passes, the round trips through its echo. */
static co_status client_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    if (f->legacy) {            /* by hand, to deliver the legacy form */
        CO_AWAIT(f->rc, co_open_unix_connection(t, &f->sock, unix_path));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(co_conn_new(&f->conn, f->sock), 0);
        ck_assert_int_eq(co_conn_set_auth_digest(f->conn, NULL), 0);
        CO_AWAIT(f->rc, co_conn_auth_client(t, f->conn, f->key,
                                            strlen(f->key)));
    } else if (f->port) {
        CO_AWAIT(f->rc, co_channel_connect(t, &f->conn, "127.0.0.1", f->port,
                                           f->key, strlen(f->key)));
    } else {
        CO_AWAIT(f->rc, co_channel_connect_unix(t, &f->conn, unix_path,
                                                f->key, strlen(f->key)));
    }
    note("connect=%s", chan_rcs(f->rc));
    if (f->rc == 0) {
        f->trips.c = f->conn;
        CO_AWAIT_CALL(f->rc, round_trips, &f->trips);
        note("trips=%s", chan_rcs(f->rc));
    }
    co_conn_close(&f->conn);
    CO_END;
}

static void python_listener(const char *key, const char *modern, int tcp,
                            int legacy, const char *expected,
                            int expected_exit)
{
    struct peer p;
    struct scene m = { .key = key, .legacy = legacy };
    if (!have_python())
        return;
    make_path();
    peer_start(&p, "listen", tcp ? "127.0.0.1:0" : unix_path, KEY, modern);
    m.port = peer_ready(&p);
    ck_assert_int_eq(m.port > 0, tcp);
    RUN(client_main, m);
    ck_assert_int_eq(peer_finish(&p), expected_exit);
    remove_path();
    ck_assert_str_eq(lg, expected);
}

START_TEST(test_python_listener)
{
    python_listener(KEY, NULL, 0, 0, "connect=0 trips=0", 0);
}
END_TEST

START_TEST(test_python_listener_tcp)
{
    python_listener(KEY, NULL, 1, 0, "connect=0 trips=0", 0);
}
END_TEST

START_TEST(test_python_listener_legacy_both_ways)
{
    python_listener(KEY, NULL, 0, 1, "connect=0 trips=0", 0);
}
END_TEST

START_TEST(test_python_listener_wrong_key)
{
    python_listener("wrong", NULL, 0, 0, "connect=EACCES", 3);
}
END_TEST

START_TEST(test_python_listener_modern)
{
    python_listener(KEY, "sha256", 0, 0, "connect=0 trips=0", 0);
    log_reset();
    python_listener(KEY, "sha3_384", 1, 0, "connect=0 trips=0", 0);
}
END_TEST

START_TEST(test_python_listener_modern_wrong_key)
{
    python_listener("wrong", "sha256", 0, 0, "connect=EACCES", 3);
}
END_TEST

/* ------------------------------------------------------------ C channel */

/* Reap a peer on a worker thread: its exit status (pid 0 once reaped). */
static intptr_t reap(void *arg)
{
    struct peer *p = arg;
    int status;
    if (waitpid(p->pid, &status, 0) != p->pid)
        return -errno;
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct acceptor {
    co_frame co;
    co_channel *ch;
    co_conn **conn;
    int rc;
};

static co_status acceptor(co_task *t, void *arg)
{
    struct acceptor *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_channel_accept(t, f->ch, f->conn, KEY, strlen(KEY)));
    CO_RETURN(f->rc);
    CO_END;
}

/* A Python Client with the wrong key: refused (and Python exits 3), the
 * channel's accept going on; then one with the right key, served with
 * the round trips through its echo. */
static co_status channel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static char address[64];
    CO_BEGIN(t, f);
    if (f->port)
        ck_assert_int_eq(co_channel_tcp(&f->ch, "127.0.0.1", 0), 0);
    else
        ck_assert_int_eq(co_channel_unix(&f->ch, unix_path), 0);
    if (f->port)
        snprintf(address, sizeof address, "127.0.0.1:%d",
                 co_channel_port(f->ch));
    else
        snprintf(address, sizeof address, "%s", unix_path);
    {
        struct acceptor a = { .ch = f->ch, .conn = &f->conn };
        ck_assert_int_gt(CO_SPAWN(t, &f->task, acceptor, a), 0);
    }
    peer_start(&f->peer[0], "connect", address, "wrong", f->modern);
    co_thread_call_init(&f->call, reap, &f->peer[0], NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("wrong=%d refused=%lu", (int)f->call.result,
         co_channel_refused(f->ch));
    peer_start(&f->peer[1], "connect", address, KEY, f->modern);
    AWAIT_JOIN(f->rc, t, f->task);
    note("accept=%s", chan_rcs(f->rc));
    f->trips.c = f->conn;
    CO_AWAIT_CALL(f->rc, round_trips, &f->trips);
    note("trips=%s", chan_rcs(f->rc));
    co_conn_close(&f->conn);
    co_thread_call_init(&f->call, reap, &f->peer[1], NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("right=%d", (int)f->call.result);
    ck_assert_int_eq(co_channel_close(&f->ch), 0);
    CO_END;
}

static void python_clients(const char *modern, int tcp)
{
    struct peer p[2] = { { 0, -1 }, { 0, -1 } };
    struct scene m = { .peer = p, .modern = modern, .port = tcp };
    if (!have_python())
        return;
    make_path();
    RUN(channel_main, m);
    for (int i = 0; i < 2; i++)     /* left by a failure: no zombie */
        if (p[i].pid)
            peer_finish(&p[i]);
    remove_path();
    ck_assert_str_eq(lg, "wrong=3 refused=1 accept=0 trips=0 right=0");
}

START_TEST(test_python_client)
{
    python_clients(NULL, 0);
}
END_TEST

START_TEST(test_python_client_tcp)
{
    python_clients(NULL, 1);
}
END_TEST

START_TEST(test_python_client_modern)
{
    python_clients("sha256", 0);
}
END_TEST

Suite *channel_python_suite(void)
{
    Suite *s = suite_create("channel_python");
    TCase *tc = tcase_create("python");
    tcase_add_checked_fixture(tc, channel_setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_python_listener);
    tcase_add_test(tc, test_python_listener_tcp);
    tcase_add_test(tc, test_python_listener_legacy_both_ways);
    tcase_add_test(tc, test_python_listener_wrong_key);
    tcase_add_test(tc, test_python_listener_modern);
    tcase_add_test(tc, test_python_listener_modern_wrong_key);
    tcase_add_test(tc, test_python_client);
    tcase_add_test(tc, test_python_client_tcp);
    tcase_add_test(tc, test_python_client_modern);
    suite_add_tcase(s, tc);
    return s;
}
