/*
 * test_signal_ctrlc.c -- what Ctrl-C (SIGINT) does to co_run: it cancels
 * the main task, whose cleanup runs, and co_run returns; a second one
 * during that cleanup ends the process by SIGINT; a program that watches
 * SIGINT itself gets it instead; the default can be turned off, is not
 * installed over an ignored SIGINT or in an embedded kernel, and the
 * disposition is put back when the run returns.
 *
 * The signals go to a child process (fork, whatever Check's fork mode),
 * which tells the test where it is through a pipe: "ready" once main
 * runs, "cleanup" from main's CO_FINALLY, "rc=N" once co_run returned.
 */
#define _DEFAULT_SOURCE             /* setenv */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curio.h"
#include "suites.h"

static void say(int fd, const char *text)
{
    ssize_t n = write(fd, text, strlen(text));
    (void)n;
}

static int is_default(int sig)
{
    struct sigaction sa;
    return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL;
}

static void set_disposition(int sig, void (*handler)(int))
{
    struct sigaction sa = { 0 };
    sa.sa_handler = handler;
    ck_assert_int_eq(sigaction(sig, &sa, NULL), 0);
}

/* --------------------------------------------------- the child's run */

struct child_frame {
    co_frame co;
    int fd;
    int slow_cleanup;               /* cleanup sleeps, cancellation off */
    int watch;                      /* main watches SIGINT itself */
    co_signal_event ev;
    int rc;
};

static co_status child_main(co_task *t, void *arg)
{
    struct child_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->watch &&
        co_signal_event_init(&f->ev, CO_SIGNALS(SIGINT)) < 0)
        CO_RETURN(-1);
    say(f->fd, "ready\n");
    if (f->watch) {
        CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
        CO_RETURN(f->rc);
    }
    CO_AWAIT(f->rc, co_sleep(t, 10));
    if (f->rc != -ECANCELED)
        say(f->fd, "slept\n");      /* not cancelled: the test fails */
    CO_RETURN(f->rc);
    CO_FINALLY;
    say(f->fd, "cleanup\n");
    if (f->slow_cleanup) {
        co_disable_cancellation(t);
        CO_AWAIT(f->rc, co_sleep(t, 10));
        co_enable_cancellation(t);
        say(f->fd, "cleanup done\n");
    }
    co_signal_event_free(&f->ev);
    CO_END;
}

/* Fork a child running child_main as co_run's main; *out is the read end
 * of its pipe. */
static pid_t start_child(struct child_frame f, int *out)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        /* as an interactive shell starts a program (a script's background
         * job would ignore SIGINT) */
        struct sigaction dfl = { 0 };
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        f.fd = fds[1];
        int rc = co_run(child_main, &f, sizeof f);
        char line[64];
        snprintf(line, sizeof line, "rc=%d %s\n", rc,
                 is_default(SIGINT) ? "dfl" : "not-dfl");
        say(fds[1], line);
        _exit(0);
    }
    close(fds[1]);
    *out = fds[0];
    return pid;
}

/* Read from fd into buf (NUL-terminated) until it holds `until` (NULL:
 * until the end of the stream); 10 s at most, then the test fails. */
static void read_until(int fd, char *buf, size_t cap, const char *until)
{
    size_t len = strlen(buf);
    while (!until || !strstr(buf, until)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, 10000);
        ck_assert_msg(n == 1, "the child said nothing for 10 s: <<%s>>", buf);
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        ck_assert_int_ge(got, 0);
        if (got == 0) {
            ck_assert_msg(!until, "no \"%s\" in <<%s>>", until, buf);
            return;
        }
        len += (size_t)got;
        buf[len] = '\0';
    }
}

static int wait_child(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(test_ctrlc_cancels_main)
{
    char out[512] = "";
    int fd;
    pid_t pid = start_child((struct child_frame){ 0 }, &fd);
    read_until(fd, out, sizeof out, "ready\n");
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    read_until(fd, out, sizeof out, NULL);
    close(fd);
    int status = wait_child(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "status %#x: <<%s>>", status, out);
    /* cleanup ran, co_run returned main's -ECANCELED, SIGINT as before */
    char expect[64];
    snprintf(expect, sizeof expect, "ready\ncleanup\nrc=%d dfl\n",
             -ECANCELED);
    ck_assert_str_eq(out, expect);
}
END_TEST

START_TEST(test_second_ctrlc_ends_the_process)
{
    char out[512] = "";
    int fd;
    pid_t pid = start_child((struct child_frame){ .slow_cleanup = 1 }, &fd);
    read_until(fd, out, sizeof out, "ready\n");
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    read_until(fd, out, sizeof out, "cleanup\n");
    ck_assert_int_eq(kill(pid, SIGINT), 0);     /* impatient */
    read_until(fd, out, sizeof out, NULL);
    close(fd);
    int status = wait_child(pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
                  "status %#x: <<%s>>", status, out);
    ck_assert_str_eq(out, "ready\ncleanup\n");
}
END_TEST

START_TEST(test_watched_sigint_goes_to_the_program)
{
    char out[512] = "";
    int fd;
    pid_t pid = start_child((struct child_frame){ .watch = 1 }, &fd);
    read_until(fd, out, sizeof out, "ready\n");
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    read_until(fd, out, sizeof out, NULL);
    close(fd);
    int status = wait_child(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "status %#x: <<%s>>", status, out);
    /* main was not cancelled: it returned the signal it waited for */
    char expect[64];
    snprintf(expect, sizeof expect, "ready\ncleanup\nrc=%d dfl\n", SIGINT);
    ck_assert_str_eq(out, expect);
}
END_TEST

/* ------------------------------------- in this process: dispositions */

struct look_frame { co_frame co; int expect_default; int expect_ignored; };

/* Checks SIGINT's disposition while main runs. */
static co_status look_main(co_task *t, void *arg)
{
    struct look_frame *f = arg;
    struct sigaction sa;
    CO_BEGIN(t, f);
    ck_assert_int_eq(sigaction(SIGINT, NULL, &sa), 0);
    if (f->expect_ignored)
        ck_assert(sa.sa_handler == SIG_IGN);
    else if (f->expect_default)
        ck_assert(sa.sa_handler == SIG_DFL);
    else
        ck_assert(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
    CO_END;
}

START_TEST(test_default_installed_and_put_back)
{
    struct sigaction old;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &old), 0);
    set_disposition(SIGINT, SIG_DFL);
    struct look_frame f = { 0 };
    ck_assert_int_eq(co_run(look_main, &f, sizeof f), 0);
    ck_assert(is_default(SIGINT));
    /* an ignored SIGINT (a shell's background job) stays ignored */
    set_disposition(SIGINT, SIG_IGN);
    f.expect_ignored = 1;
    ck_assert_int_eq(co_run(look_main, &f, sizeof f), 0);
    struct sigaction now;
    ck_assert_int_eq(sigaction(SIGINT, &old, &now), 0);
    ck_assert(now.sa_handler == SIG_IGN);
}
END_TEST

/* Turned off: with co_kernel_set_sigint, and with CURIO_SIGINT=0. */
START_TEST(test_default_can_be_turned_off)
{
    struct sigaction old;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &old), 0);
    set_disposition(SIGINT, SIG_DFL);
    struct look_frame f = { .expect_default = 1 };
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(co_kernel_set_sigint(k, 0), 0);
    ck_assert_int_eq(co_kernel_run(k, look_main, &f, sizeof f), 0);
    ck_assert_int_eq(co_kernel_set_sigint(k, 1), 0);   /* back on */
    f.expect_default = 0;
    ck_assert_int_eq(co_kernel_run(k, look_main, &f, sizeof f), 0);
    co_kernel_free(k);
    setenv("CURIO_SIGINT", "0", 1);
    f.expect_default = 1;
    ck_assert_int_eq(co_run(look_main, &f, sizeof f), 0);
    unsetenv("CURIO_SIGINT");
    ck_assert(is_default(SIGINT));
    ck_assert_int_eq(sigaction(SIGINT, &old, NULL), 0);
}
END_TEST

/* From inside the run, at once. */
struct toggle_frame { co_frame co; };

static co_status toggle_main(co_task *t, void *arg)
{
    struct toggle_frame *f = arg;
    co_kernel *k = co_current_kernel();
    CO_BEGIN(t, f);
    ck_assert(!is_default(SIGINT));
    ck_assert_int_eq(co_kernel_set_sigint(k, 0), 0);
    ck_assert(is_default(SIGINT));
    ck_assert_int_eq(co_kernel_set_sigint(k, 0), 0);   /* twice: the same */
    ck_assert(is_default(SIGINT));
    ck_assert_int_eq(co_kernel_set_sigint(k, 1), 0);
    ck_assert(!is_default(SIGINT));
    CO_END;
}

START_TEST(test_default_toggled_inside_a_run)
{
    struct sigaction old;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &old), 0);
    set_disposition(SIGINT, SIG_DFL);
    struct toggle_frame f = { 0 };
    ck_assert_int_eq(co_run(toggle_main, &f, sizeof f), 0);
    ck_assert(is_default(SIGINT));
    ck_assert_int_eq(sigaction(SIGINT, &old, NULL), 0);
}
END_TEST

/* An embedded kernel leaves SIGINT to its host. */
START_TEST(test_embedded_kernel_leaves_sigint_alone)
{
    struct sigaction old;
    ck_assert_int_eq(sigaction(SIGINT, NULL, &old), 0);
    set_disposition(SIGINT, SIG_DFL);
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    struct look_frame f = { .expect_default = 1 };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, look_main, &f, sizeof f, NULL),
                     0);
    ck_assert_int_eq(co_kernel_advance(k, 0), 0);
    co_kernel_free(k);
    ck_assert_int_eq(sigaction(SIGINT, &old, NULL), 0);
}
END_TEST

Suite *signal_ctrlc_suite(void)
{
    Suite *s = suite_create("signal_ctrlc");
    TCase *tc = tcase_create("ctrlc");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ctrlc_cancels_main);
    tcase_add_test(tc, test_second_ctrlc_ends_the_process);
    tcase_add_test(tc, test_watched_sigint_goes_to_the_program);
    tcase_add_test(tc, test_default_installed_and_put_back);
    tcase_add_test(tc, test_default_can_be_turned_off);
    tcase_add_test(tc, test_default_toggled_inside_a_run);
    tcase_add_test(tc, test_embedded_kernel_leaves_sigint_alone);
    suite_add_tcase(s, tc);
    return s;
}
