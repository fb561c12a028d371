/*
 * test_subprocess_run.c -- the round trip with a child: run and
 * check_output (the output of a child, a failing command under check, a
 * timeout with the output so far and the child killed and reaped, input
 * to a child) and communicate (10 MB to a child that never reads,
 * cancelled).  Every test also checks that no child is left, zombie or
 * running, and no fd (RUN).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* Whether this process has a child, running or a zombie. */
static int children_left(void)
{
    errno = 0;
    return !(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

#define SH(script) ((const char *const[]){ "sh", "-c", (script), NULL })

/* ------------------------------------------------------------ run */

/* What the last run() gave, and how long it took. */
static int last_rc;
static double last_took;

struct run_frame {
    co_frame co;
    co_subprocess_frame *run;       /* the test's: co_run copies frames */
    co_func fn;                     /* run or check_output */
    int64_t t0;
};

static co_status run_main(co_task *t, void *arg)
{
    struct run_frame *f = arg;
    CO_BEGIN(t, f);
    f->t0 = co_now_ns();
    CO_AWAIT_CALL(last_rc, f->fn, f->run);
    last_took = (double)(co_now_ns() - f->t0) / 1e9;
    CO_END;
}

/* Run r's command with fn; what came back is in r->result and last_rc. */
static void run(co_subprocess_frame *r, co_func fn)
{
    struct run_frame f = { .run = r, .fn = fn };
    int before = count_fds();
    last_rc = CO_WOULDBLOCK;
    ck_assert_int_eq(co_run(run_main, &f, sizeof f), 0);
    ck_assert_int_eq(count_fds(), before);
    ck_assert_int_eq(children_left(), 0);
}

START_TEST(test_output_of_four_lines)
{
    co_subprocess_frame f = { .opts.argv = (const char *const[]){
        "printf", "one\\ntwo\\nthree\\nfour\\n", NULL } };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_int_eq(f.result.returncode, 0);
    ck_assert_str_eq(f.result.out, "one\ntwo\nthree\nfour\n");
    ck_assert_uint_eq(f.result.out_len, 19);
    ck_assert_ptr_null(f.result.err);          /* not captured */
    co_process_result_free(&f.result);
    ck_assert_ptr_null(f.result.out);
}
END_TEST

START_TEST(test_failing_command_checked)
{
    co_subprocess_frame f = {
        .opts = { .argv = SH("echo out; echo err >&2; exit 3"),
                  .out = CO_PROC_PIPE, .err = CO_PROC_PIPE },
        .check = 1 };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, CO_CALLED_PROCESS_ERROR);
    ck_assert_int_eq(last_rc, -EPROTO);
    ck_assert_int_eq(f.result.returncode, 3);  /* filled in all the same */
    ck_assert_str_eq(f.result.out, "out\n");
    ck_assert_str_eq(f.result.err, "err\n");
    co_process_result_free(&f.result);

    /* unchecked, the same exit is no error */
    f.check = 0;
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_int_eq(f.result.returncode, 3);
    co_process_result_free(&f.result);

    /* killed by a signal: -N, an error under check */
    f = (co_subprocess_frame){ .opts.argv = SH("kill -TERM $$") };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, CO_CALLED_PROCESS_ERROR);
    ck_assert_int_eq(f.result.returncode, -SIGTERM);
    ck_assert_str_eq(f.result.out, "");
    co_process_result_free(&f.result);
}
END_TEST

/* The child prints a line, then sleeps (exec: no grandchild holds the
 * pipe).  At the timeout it is killed at once and reaped, and the line is
 * there. */
START_TEST(test_timeout_partial_output)
{
    co_subprocess_frame f = {
        .opts = { .argv = SH("printf 'partial\\n'; exec sleep 30"),
                  .out = CO_PROC_PIPE },
        .timeout = 0.3 };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, -ETIMEDOUT);
    ck_assert_str_eq(f.result.out, "partial\n");
    ck_assert_int_eq(f.result.returncode, -SIGKILL);
    ck_assert(last_took >= 0.29 && last_took < 3);
    co_process_result_free(&f.result);
}
END_TEST

/* With a grace period: SIGTERM first; a child that ignores it gets
 * SIGKILL once the grace is over, one that does not dies of SIGTERM. */
START_TEST(test_timeout_kill_grace)
{
    co_subprocess_frame f = {
        .opts = { .argv = SH("trap '' TERM; printf 'x\\n'; exec sleep 30"),
                  .out = CO_PROC_PIPE },
        .timeout = 0.2, .kill_grace = 0.3 };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, -ETIMEDOUT);
    ck_assert_str_eq(f.result.out, "x\n");
    ck_assert_int_eq(f.result.returncode, -SIGKILL);
    ck_assert(last_took >= 0.49 && last_took < 3);
    co_process_result_free(&f.result);

    f = (co_subprocess_frame){
        .opts = { .argv = (const char *const[]){ "sleep", "30", NULL } },
        .timeout = 0.2, .kill_grace = 5 };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, -ETIMEDOUT);
    ck_assert_int_eq(f.result.returncode, -SIGTERM);
    ck_assert(last_took < 3);                  /* not the grace period */
    co_process_result_free(&f.result);
}
END_TEST

START_TEST(test_input_to_child)
{
    co_subprocess_frame f = {
        .opts.argv = (const char *const[]){ "tr", "a-z", "A-Z", NULL },
        .input = "hello world\n", .input_len = 12 };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_str_eq(f.result.out, "HELLO WORLD\n");
    ck_assert_uint_eq(f.result.in_sent, 12);
    co_process_result_free(&f.result);
}
END_TEST

/* 4 MiB through cat: it writes while we still write, so the input and
 * the output must go at once; every byte comes back in order. */
START_TEST(test_input_and_output_concurrently)
{
    enum { N = 4 << 20 };
    unsigned char *data = pattern_alloc(N);
    co_subprocess_frame f = {
        .opts.argv = (const char *const[]){ "cat", NULL },
        .input = data, .input_len = N };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_uint_eq(f.result.in_sent, N);
    ck_assert_uint_eq(f.result.out_len, N);
    ck_assert_int_eq(memcmp(f.result.out, data, N), 0);
    co_process_result_free(&f.result);
    free(data);
}
END_TEST

/* A child that reads nothing and exits: the input it refused is no error
 * of communicate's (in_sent says how much went). */
START_TEST(test_child_ignores_input)
{
    enum { N = 1 << 20 };
    unsigned char *data = pattern_alloc(N);
    co_subprocess_frame f = {
        .opts.argv = (const char *const[]){ "true", NULL },
        .input = data, .input_len = N, .check = 1 };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_int_eq(f.result.returncode, 0);
    ck_assert_uint_lt(f.result.in_sent, N);
    co_process_result_free(&f.result);
    free(data);
}
END_TEST

START_TEST(test_stderr_into_stdout)
{
    co_subprocess_frame f = { .opts = {
        .argv = SH("echo a; echo b >&2; echo c"),
        .out = CO_PROC_PIPE, .err = CO_PROC_STDOUT } };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_str_eq(f.result.out, "a\nb\nc\n");
    ck_assert_ptr_null(f.result.err);
    co_process_result_free(&f.result);
}
END_TEST

START_TEST(test_run_errors)
{
    /* input, and stdin other than a pipe */
    co_subprocess_frame f = {
        .opts = { .argv = (const char *const[]){ "cat", NULL },
                  .in = CO_PROC_DEVNULL },
        .input = "x", .input_len = 1 };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, -EINVAL);
    ck_assert_ptr_null(f.result.out);
    f = (co_subprocess_frame){ .timeout = -1 };
    f.opts.argv = (const char *const[]){ "true", NULL };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, -EINVAL);
    f = (co_subprocess_frame){ 0 };                 /* no argv */
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, -EINVAL);
    /* no such program: spawn's own error, synchronously */
    f = (co_subprocess_frame){ .opts.argv = (const char *const[]){
        "/nonexistent/program", NULL } };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, -ENOENT);
    ck_assert_int_eq(f.result.returncode, CO_PROC_RUNNING);
    f = (co_subprocess_frame){ .opts = {
        .argv = (const char *const[]){ "true", NULL },
        .cwd = "/nonexistent/dir" } };
    run(&f, co_subprocess_run);
    ck_assert_int_eq(last_rc, -ENOENT);
}
END_TEST

START_TEST(test_cwd_and_environment)
{
    co_subprocess_frame f = { .opts = {
        .argv = (const char *const[]){ "pwd", NULL }, .cwd = "/" } };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_str_eq(f.result.out, "/\n");
    co_process_result_free(&f.result);
    f = (co_subprocess_frame){ .opts = {
        .argv = SH("echo \"$FOO:$HOME\""),
        .envp = (const char *const[]){ "FOO=bar", NULL } } };
    run(&f, co_subprocess_check_output);
    ck_assert_int_eq(last_rc, 0);
    ck_assert_str_eq(f.result.out, "bar:\n");
    co_process_result_free(&f.result);
}
END_TEST

/* ------------------------------------------------------------ communicate */

#define TEN_MB (10u << 20)

struct talker_frame {
    co_frame co;
    co_process *p;
    co_communicate_frame comm;
    const unsigned char *data;
    int rc;
};

/* Starts `sleep 30` with stdin and stdout pipes and communicates 10 MB
 * to it: the child never reads, so the write blocks once the pipe is
 * full. */
static co_status talker(co_task *t, void *arg)
{
    struct talker_frame *f = arg;
    CO_BEGIN(t, f);
    f->rc = co_process_spawn(&f->p, &(co_process_opts){
        .argv = (const char *const[]){ "sleep", "30", NULL },
        .in = CO_PROC_PIPE, .out = CO_PROC_PIPE });
    ck_assert_int_eq(f->rc, 0);
    f->comm = (co_communicate_frame){ .proc = f->p, .input = f->data,
                                      .input_len = TEN_MB };
    CO_AWAIT_CALL(f->rc, co_process_communicate, &f->comm);
    note("communicate=%s sent=%d returncode=%d out=%zu", rcs(f->rc),
         f->comm.result.in_sent > 0 && f->comm.result.in_sent < TEN_MB,
         f->comm.result.returncode, f->comm.result.out_len);
    note("reaped=%d streams=%d", children_left() == 0,
         !co_process_stream(f->p, 0) && !co_process_stream(f->p, 1));
    CO_RETURN(f->rc);
CO_FINALLY
    co_process_result_free(&f->comm.result);
    co_process_close(&f->p);
    CO_END;
}

struct cancel_frame {
    co_frame co;
    co_task *talker;
    struct talker_frame tf;
    int64_t t0;
    int rc;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->talker, talker, f->tf);
    CO_AWAIT(f->rc, co_sleep(t, 0.2));
    f->t0 = co_now_ns();
    CO_AWAIT(f->rc, co_task_cancel(t, f->talker));
    note("cancelled=%d prompt=%d", f->rc,
         co_now_ns() - f->t0 < 1000000000);
    AWAIT_JOIN(f->rc, t, f->talker);
    CO_END;
}

START_TEST(test_cancel_communicate_10mb)
{
    struct cancel_frame f = { .tf.data = pattern_alloc(TEN_MB) };
    RUN(cancel_main, f);
    ck_assert_int_eq(children_left(), 0);
    ck_assert_str_eq(lg, "communicate=CANCEL sent=1 returncode=-9 out=0 "
                         "reaped=1 streams=1 cancelled=1 prompt=1");
    free((void *)f.tf.data);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *subprocess_run_suite(void)
{
    Suite *s = suite_create("subprocess_run");
    TCase *tc = tcase_create("subprocess_run");
    tcase_add_checked_fixture(tc, log_reset, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_output_of_four_lines);
    tcase_add_test(tc, test_failing_command_checked);
    tcase_add_test(tc, test_timeout_partial_output);
    tcase_add_test(tc, test_timeout_kill_grace);
    tcase_add_test(tc, test_input_to_child);
    tcase_add_test(tc, test_input_and_output_concurrently);
    tcase_add_test(tc, test_child_ignores_input);
    tcase_add_test(tc, test_stderr_into_stdout);
    tcase_add_test(tc, test_run_errors);
    tcase_add_test(tc, test_cwd_and_environment);
    tcase_add_test(tc, test_cancel_communicate_10mb);
    suite_add_tcase(s, tc);
    return s;
}
