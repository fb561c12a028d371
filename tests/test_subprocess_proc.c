/*
 * test_subprocess_proc.c -- the process object: a child's stdout read as
 * a stream, one child's stdout feeding another's stdin, -EPIPE from a
 * child that closed its stdin, what fds a child gets, waiting (cancelled,
 * twice, from a kernel in another thread), signals, closing a running
 * child, and bad arguments.  No child is ever left behind, and no fd.
 */
#define _GNU_SOURCE                 /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

static int children_left(void)
{
    errno = 0;
    return !(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Run fn as the main task (RUN: result 0, no fd left), then: no child. */
#define RUN_NO_CHILD(fn, frame)                                              \
    do {                                                                     \
        RUN(fn, frame);                                                      \
        ck_assert_int_eq(children_left(), 0);                                \
    } while (0)

/* ------------------------------------------------------------ stdout */

struct lines_frame {
    co_frame co;
    co_process *p;
    int n, rc;
    char line[64];
};

static co_status lines_main(co_task *t, void *arg)
{
    struct lines_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("sh", "-c", "for i in 1 2 3 4; do echo line$i; done"),
        .out = CO_PROC_PIPE }), 0);
    ck_assert_int_gt(co_process_pid(f->p), 0);
    ck_assert_ptr_null(co_process_stream(f->p, 0));
    ck_assert_ptr_null(co_process_stream(f->p, 2));
    for (;;) {
        CO_AWAIT(f->n, co_stream_readline(t, co_process_stream(f->p, 1),
                                          f->line, sizeof f->line));
        if (f->n <= 0)
            break;
        note("%.*s", f->n - 1, f->line);
    }
    note("end=%d", f->n);
    CO_AWAIT(f->rc, co_process_wait(t, f->p));
    note("wait=%d returncode=%d", f->rc, co_process_returncode(f->p));
    CO_AWAIT(f->rc, co_process_wait(t, f->p));      /* reaped: at once */
    note("again=%d", f->rc);
CO_FINALLY
    co_process_close(&f->p);
    CO_END;
}

START_TEST(test_stdout_as_stream)
{
    struct lines_frame f = { 0 };
    RUN_NO_CHILD(lines_main, f);
    ck_assert_str_eq(lg, "line1 line2 line3 line4 end=0 wait=0 "
                         "returncode=0 again=0");
}
END_TEST

/* ------------------------------------------------------------ pipelines */

struct pipeline_frame {
    co_frame co;
    co_process *a, *b;
    co_communicate_frame comm;
    int rc;
};

/* printf | sort: the parent's copy of the pipe is closed once sort has
 * it.  Then yes | head -n 2: head ends first, and yes dies of SIGPIPE
 * (the default action again in the child, and nobody else holds the
 * pipe's read end). */
static co_status pipeline_main(co_task *t, void *arg)
{
    struct pipeline_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_process_spawn(&f->a, &(co_process_opts){
        .argv = ARGV("printf", "pear\\napple\\nfig\\n"),
        .out = CO_PROC_PIPE }), 0);
    ck_assert_int_eq(co_process_spawn(&f->b, &(co_process_opts){
        .argv = ARGV("sort"), .in = CO_PROC_FROM, .in_from = f->a,
        .out = CO_PROC_PIPE }), 0);
    note("moved=%d", co_process_stream(f->a, 1) == NULL);
    f->comm = (co_communicate_frame){ .proc = f->b };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("sort=%d:%s", f->rc, f->comm.result.out);
    co_process_result_free(&f->comm.result);
    CO_AWAIT(f->rc, co_process_wait(t, f->a));
    note("printf=%d", co_process_returncode(f->a));
    co_process_close(&f->a);
    co_process_close(&f->b);

    ck_assert_int_eq(co_process_spawn(&f->a, &(co_process_opts){
        .argv = ARGV("yes"), .out = CO_PROC_PIPE }), 0);
    ck_assert_int_eq(co_process_spawn(&f->b, &(co_process_opts){
        .argv = ARGV("head", "-n", "2"), .in = CO_PROC_FROM,
        .in_from = f->a, .out = CO_PROC_PIPE }), 0);
    f->comm = (co_communicate_frame){ .proc = f->b };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("head=%d:%s", f->rc, f->comm.result.out);
    co_process_result_free(&f->comm.result);
    CO_AWAIT(f->rc, co_process_wait(t, f->a));
    note("yes=%d", co_process_returncode(f->a));
    /* a process without a stdout pipe cannot feed another */
    note("no_pipe=%s", rcs(co_process_spawn(&f->b, &(co_process_opts){
        .argv = ARGV("cat"), .in = CO_PROC_FROM, .in_from = f->a })));
CO_FINALLY
    co_process_close(&f->a);
    co_process_close(&f->b);
    CO_END;
}

START_TEST(test_pipeline)
{
    struct pipeline_frame f = { 0 };
    RUN_NO_CHILD(pipeline_main, f);
    ck_assert_str_eq(lg, "moved=1 sort=0:apple\nfig\npear\n printf=0 "
                         "head=0:y\ny\n yes=-13 no_pipe=EINVAL");
}
END_TEST

/* ------------------------------------------------------------ EPIPE */

struct epipe_frame {
    co_frame co;
    co_process *p;
    size_t sent;
    int rc;
};

/* The child closes its stdin and says so; a write then fails with -EPIPE
 * (no SIGPIPE), and so does one after the child has exited. */
static co_status epipe_main(co_task *t, void *arg)
{
    struct epipe_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("sh", "-c", "exec 0<&-; echo closed; exec sleep 30"),
        .in = CO_PROC_PIPE, .out = CO_PROC_PIPE }), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, co_process_stream(f->p, 1),
                                       (char[16]){ 0 }, 16));
    CO_AWAIT(f->rc, co_stream_write(t, co_process_stream(f->p, 0), "data", 4,
                                    &f->sent));
    note("write=%s sent=%zu", rcs(f->rc), f->sent);
    note("kill=%d", co_process_kill(f->p));
    CO_AWAIT(f->rc, co_process_wait(t, f->p));
    note("returncode=%d", co_process_returncode(f->p));
    CO_AWAIT(f->rc, co_stream_write(t, co_process_stream(f->p, 0), "data", 4,
                                    &f->sent));
    note("after=%s", rcs(f->rc));
    note("signal=%s", rcs(co_process_terminate(f->p)));  /* reaped */
CO_FINALLY
    co_process_close(&f->p);
    CO_END;
}

START_TEST(test_epipe)
{
    struct epipe_frame f = { 0 };
    RUN_NO_CHILD(epipe_main, f);
    ck_assert_str_eq(lg, "write=EPIPE sent=0 kill=0 returncode=-9 "
                         "after=EPIPE signal=ESRCH");
}
END_TEST

/* ------------------------------------------------------------ fds */

struct fds_frame {
    co_frame co;
    co_subprocess_frame *run;       /* the test's (co_run copies frames) */
    int rc;
};

static co_status fds_main(co_task *t, void *arg)
{
    struct fds_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT_CALL(f->rc, co_subprocess_check_output, f->run);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

/* The child lists its fds (ls's own directory is 3): nothing but 0, 1
 * and 2 came with it, though the parent holds pipes, a pidfd, libev's
 * fds, and an fd opened without close-on-exec. */
START_TEST(test_child_gets_only_stdio)
{
    int leaky = fcntl(2, F_DUPFD, 20);          /* no O_CLOEXEC */
    ck_assert_int_ge(leaky, 20);
    co_subprocess_frame run = { .opts = {
        .argv = ARGV("ls", "/proc/self/fd"), .in = CO_PROC_PIPE,
        .err = CO_PROC_PIPE } };
    struct fds_frame f = { .run = &run };
    RUN_NO_CHILD(fds_main, f);
    ck_assert_str_eq(run.result.out, "0\n1\n2\n3\n");
    ck_assert_str_eq(run.result.err, "");
    co_process_result_free(&run.result);
    close(leaky);
}
END_TEST

struct stdio_frame {
    co_frame co;
    co_process *p;
    co_communicate_frame comm;
    int fd, rc;
};

/* /dev/null as stdin; the caller's own fd as stdout (it stays open). */
static co_status stdio_main(co_task *t, void *arg)
{
    struct stdio_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("cat"), .in = CO_PROC_DEVNULL, .out = CO_PROC_PIPE }),
        0);
    f->comm = (co_communicate_frame){ .proc = f->p };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("devnull=%d:%zu", f->rc, f->comm.result.out_len);
    co_process_result_free(&f->comm.result);
    co_process_close(&f->p);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("sh", "-c", "echo to-fd; echo to-err >&2"),
        .out = CO_PROC_FD, .out_fd = f->fd, .err = CO_PROC_STDOUT }), 0);
    CO_AWAIT(f->rc, co_process_wait(t, f->p));
    note("fd=%d still_open=%d", co_process_returncode(f->p),
         fcntl(f->fd, F_GETFD) >= 0);
CO_FINALLY
    co_process_close(&f->p);
    CO_END;
}

START_TEST(test_devnull_and_given_fd)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    struct stdio_frame f = { .fd = p[1] };
    RUN_NO_CHILD(stdio_main, f);
    close(p[1]);
    char buf[64] = { 0 };
    ck_assert_int_eq(read(p[0], buf, sizeof buf - 1), 13);
    close(p[0]);
    ck_assert_str_eq(buf, "to-fd\nto-err\n");
    ck_assert_str_eq(lg, "devnull=0:0 fd=0 still_open=1");
}
END_TEST

/* ------------------------------------------------------------ waiting */

struct waiter_frame { co_frame co; co_process *p; int rc; };

static co_status waiter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_process_wait(t, f->p));
    note("waiter=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

struct wait_frame {
    co_frame co;
    co_process *p;
    co_task *w;
    struct waiter_frame wf;
    co_timeout to;
    int rc;
};

/* A wait that times out leaves the child running; a second waiter gets
 * -EBUSY; SIGTERM ends it and the first waiter sees it. */
static co_status wait_main(co_task *t, void *arg)
{
    struct wait_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("sleep", "30") }), 0);
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.1, co_process_wait(t, f->p));
    note("wait=%s running=%d alive=%d", rcs(f->rc),
         co_process_returncode(f->p) == CO_PROC_RUNNING,
         kill(co_process_pid(f->p), 0) == 0);
    f->wf = (struct waiter_frame){ .p = f->p };
    CO_SPAWN(t, &f->w, waiter, f->wf);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    CO_AWAIT(f->rc, co_process_wait(t, f->p));
    note("second=%s", rcs(f->rc));
    note("term=%d", co_process_terminate(f->p));
    AWAIT_JOIN(f->rc, t, f->w);
    note("returncode=%d", co_process_returncode(f->p));
CO_FINALLY
    co_process_close(&f->p);
    CO_END;
}

START_TEST(test_wait_cancelled_keeps_child)
{
    struct wait_frame f = { 0 };
    RUN_NO_CHILD(wait_main, f);
    ck_assert_str_eq(lg, "wait=TIMEOUT running=1 alive=1 second=EBUSY "
                         "term=0 waiter=0 returncode=-15");
}
END_TEST

struct close_frame {
    co_frame co;
    co_process *p;
    co_task *w;
    struct waiter_frame wf;
    pid_t pid;
    int rc;
};

/* Closing a running child kills and reaps it; a task waiting for it is
 * woken with -EBADF. */
static co_status close_main(co_task *t, void *arg)
{
    struct close_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("sleep", "30"), .in = CO_PROC_PIPE,
        .out = CO_PROC_PIPE }), 0);
    f->pid = co_process_pid(f->p);
    f->wf = (struct waiter_frame){ .p = f->p };
    CO_SPAWN(t, &f->w, waiter, f->wf);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    f->rc = co_process_close(&f->p);
    note("close=%d null=%d", f->rc, f->p == NULL);
    errno = 0;
    note("gone=%d", waitpid(f->pid, NULL, WNOHANG) < 0 && errno == ECHILD);
    AWAIT_JOIN(f->rc, t, f->w);
    note("again=%s", rcs(co_process_close(&f->p)));
    CO_END;
}

START_TEST(test_close_kills_and_reaps)
{
    struct close_frame f = { 0 };
    RUN_NO_CHILD(close_main, f);
    ck_assert_str_eq(lg, "close=0 null=1 gone=1 waiter=EBADF again=EBADF");
}
END_TEST

/* A kernel in another thread: its own pidfd, its own loop. */
struct thread_frame { co_frame co; co_process *p; int *out; int rc; };

static co_status thread_main(co_task *t, void *arg)
{
    struct thread_frame *f = arg;
    CO_BEGIN(t, f);
    f->rc = co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("sh", "-c", "exit 7") });
    if (f->rc == 0)
        CO_AWAIT(f->rc, co_process_wait(t, f->p));
    *f->out = f->rc == 0 ? co_process_returncode(f->p) : f->rc;
    co_process_close(&f->p);
    CO_END;
}

static void *thread_kernel(void *arg)
{
    struct thread_frame *f = arg;
    intptr_t rc = co_run(thread_main, f, sizeof *f);
    return (void *)rc;
}

START_TEST(test_wait_in_another_thread)
{
    int out[2] = { -1, -1 };
    struct thread_frame f[2] = { { .out = &out[0] }, { .out = &out[1] } };
    pthread_t th[2];
    void *res;
    int before = count_fds();
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_kernel, &f[i]),
                         0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(th[i], &res), 0);
        ck_assert_ptr_null(res);
        ck_assert_int_eq(out[i], 7);
    }
    ck_assert_int_eq(count_fds(), before);
    ck_assert_int_eq(children_left(), 0);
}
END_TEST

/* ------------------------------------------------------------ arguments */

struct args_frame {
    co_frame co;
    co_process *p;
    co_communicate_frame comm;
    int rc, closed;
};

static co_status args_main(co_task *t, void *arg)
{
    struct args_frame *f = arg;
    CO_BEGIN(t, f);
    note("null=%s", rcs(co_process_spawn(&f->p, NULL)));
    note("no_argv=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV(NULL) })));
    note("mode=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("true"), .out = 42 })));
    note("stdout_in=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("true"), .in = CO_PROC_STDOUT })));
    note("from_out=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("true"), .out = CO_PROC_FROM })));
    note("neg_fd=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("true"), .out = CO_PROC_FD, .out_fd = -1 })));
    note("closed_fd=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("true"), .out = CO_PROC_FD, .out_fd = f->closed })));
    note("missing=%s", rcs(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("no-such-program-here"), .in = CO_PROC_PIPE,
        .out = CO_PROC_PIPE, .err = CO_PROC_DEVNULL })));
    note("p=%d", f->p == NULL);
    CO_AWAIT(f->rc, co_process_wait(t, NULL));
    note("wait=%s", rcs(f->rc));
    note("pid=%s rc=%d stream=%d", rcs(co_process_pid(NULL)),
         co_process_returncode(NULL) == CO_PROC_RUNNING,
         co_process_stream(NULL, 1) == NULL);
    note("signal=%s close=%s", rcs(co_process_kill(NULL)),
         rcs(co_process_close(NULL)));
    co_process_result_free(NULL);
    ck_assert_int_eq(co_process_spawn(&f->p, &(co_process_opts){
        .argv = ARGV("true"), .out = CO_PROC_PIPE }), 0);
    note("badsig=%s stream=%s/%s/%s", rcs(co_process_send_signal(f->p, -1)),
         rcs(co_process_close_stream(f->p, 3)),
         rcs(co_process_close_stream(f->p, 0)),
         rcs(co_process_close_stream(f->p, 1)));
    /* input, but no stdin pipe: nothing started, nothing killed */
    f->comm = (co_communicate_frame){ .proc = f->p, .input = "x",
                                      .input_len = 1 };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("communicate=%s", rcs(f->rc));
    f->comm = (co_communicate_frame){ .proc = f->p, .kill_grace = -1 };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("grace=%s", rcs(f->rc));
    f->comm = (co_communicate_frame){ .proc = f->p };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("ok=%s/%d", rcs(f->rc), f->comm.result.returncode);
CO_FINALLY
    co_process_close(&f->p);
    CO_END;
}

START_TEST(test_bad_arguments)
{
    struct args_frame f = { .closed = 1000 };
    ck_assert_int_lt(fcntl(1000, F_GETFD), 0);
    RUN_NO_CHILD(args_main, f);
    ck_assert_str_eq(lg, "null=EINVAL no_argv=EINVAL mode=EINVAL "
                         "stdout_in=EINVAL from_out=EINVAL neg_fd=EINVAL "
                         "closed_fd=EBADF missing=ENOENT p=1 wait=EINVAL "
                         "pid=EINVAL rc=1 stream=1 signal=EINVAL "
                         "close=EINVAL badsig=EINVAL stream=EINVAL/EBADF/0 "
                         "communicate=EINVAL grace=EINVAL ok=0/0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *subprocess_proc_suite(void)
{
    Suite *s = suite_create("subprocess_proc");
    TCase *tc = tcase_create("subprocess_proc");
    tcase_add_checked_fixture(tc, log_reset, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_stdout_as_stream);
    tcase_add_test(tc, test_pipeline);
    tcase_add_test(tc, test_epipe);
    tcase_add_test(tc, test_child_gets_only_stdio);
    tcase_add_test(tc, test_devnull_and_given_fd);
    tcase_add_test(tc, test_wait_cancelled_keeps_child);
    tcase_add_test(tc, test_close_kills_and_reaps);
    tcase_add_test(tc, test_wait_in_another_thread);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
