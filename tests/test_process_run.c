/*
 * test_process_run.c -- co_run_in_process: the loop runs on while a worker
 * computes, results, bytes and errors come back, calls beyond the pool's
 * bound wait their turn, the bound can move, and no worker process (nor
 * zombie) outlives the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "process_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ ticker */

struct ticker_frame { co_frame co; int *ticks; int rc; };

static co_status ticker(co_task *t, void *arg)
{
    struct ticker_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_sleep(t, 0.1));
        if (f->rc < 0)
            break;
        (*f->ticks)++;
    }
    CO_END;
}

static int ticks_during, max_seen;
static double call_took;

struct tick_main {
    co_frame co;
    co_task *ticker;
    struct ticker_frame tf;
    struct call_frame c;
    double secs, start;
    int ticks, rc;
};

static co_status tick_main(co_task *t, void *arg)
{
    struct tick_main *f = arg;
    CO_BEGIN(t, f);
    f->tf = (struct ticker_frame){ .ticks = &f->ticks };
    CO_SPAWN(t, &f->ticker, ticker, f->tf);
    f->secs = 1.2;
    f->c = (struct call_frame){ .name = "spin", .fn = spin, .in = &f->secs,
                                .in_len = sizeof f->secs };
    f->start = now_s();
    CO_AWAIT_CALL(f->rc, one_call, &f->c);
    call_took = now_s() - f->start;
    ticks_during = f->ticks;
    note("worker=%d", f->c.result > 0 && f->c.result != getpid());
    CO_AWAIT(f->rc, co_task_cancel(t, f->ticker));
    CO_END;
}

START_TEST(test_ticker_runs_while_worker_computes)
{
    struct tick_main f = { 0 };
    RUN(tick_main, f);
    ck_assert_str_eq(lg, "spin=0 worker=1");
    ck_assert_double_ge(call_took, 1.2);
    /* eleven or twelve ticks are due in 1.2 s; a loaded machine may lose a
     * few, a stalled loop would have none */
    ck_assert_int_ge(ticks_during, 6);
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ bytes */

#define MIB ((size_t)1 << 20)

/* Whether out is the patterned megabyte reversed. */
static int reversed(const unsigned char *out, size_t len)
{
    if (len != MIB)
        return 0;
    for (size_t i = 0; i < MIB; i++)
        if (out[i] != pattern_byte(MIB - 1 - i))
            return 0;
    return 1;
}

struct bytes_main {
    co_frame co;
    co_process_call call;
    unsigned char *big;
    int rc;
};

static co_status bytes_main(co_task *t, void *arg)
{
    struct bytes_main *f = arg;
    CO_BEGIN(t, f);
    co_process_call_init(&f->call, reverse, "hello", 5);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("small=%s/%lld/%.*s", rcs(f->rc), (long long)f->call.result,
         (int)f->call.out_len, (char *)f->call.out);
    free(f->call.out);

    co_process_call_init(&f->call, reverse, NULL, 0);   /* no input */
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("empty=%s/%lld/%d", rcs(f->rc), (long long)f->call.result,
         f->call.out == NULL && f->call.out_len == 0);

    /* a megabyte each way: many pipefuls, both ends waiting in turn */
    co_process_call_init(&f->call, reverse, f->big, MIB);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("big=%s/%d", rcs(f->rc), reversed(f->call.out, f->call.out_len));
    free(f->call.out);
    note("workers=%d", co_kernel_process_count(co_current_kernel()));
    CO_END;
}

START_TEST(test_bytes_round_trip)
{
    struct bytes_main f = { .big = pattern_alloc(MIB) };
    RUN(bytes_main, f);
    free(f.big);
    ck_assert_str_eq(lg, "small=0/5/olleh empty=0/0/1 big=0/1 workers=1");
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ errors */

struct errors_main {
    co_frame co;
    co_process_call call;
    int64_t err;
    int rc;
};

static co_status errors_main(co_task *t, void *arg)
{
    struct errors_main *f = arg;
    CO_BEGIN(t, f);
    /* bad arguments: refused before any worker starts */
    CO_AWAIT(f->rc, co_run_in_process(t, NULL));
    note("null=%s", rcs(f->rc));
    co_process_call_init(&f->call, NULL, "x", 1);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("nofn=%s", rcs(f->rc));
    co_process_call_init(&f->call, reverse, NULL, 1);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("noin=%s workers=%d", rcs(f->rc),
         co_kernel_process_count(co_current_kernel()));

    /* the function's own error, and no bytes with it */
    f->err = -EDOM;
    co_process_call_init(&f->call, fail_with, &f->err, sizeof f->err);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("edom=%s/%lld out=%d", rcs(f->rc), (long long)f->call.result,
         f->call.out == NULL && f->call.out_len == 0);
    f->err = INT64_MIN;
    co_process_call_init(&f->call, fail_with, &f->err, sizeof f->err);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("min=%s", rcs(f->rc));

    /* a cancellation already due: no call made */
    co_task_cancel_nowait(t);
    co_process_call_init(&f->call, reverse, "x", 1);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("cancelled=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_run_in_process(t, NULL));
    note("then_null=%s workers=%d", rcs(f->rc),
         co_kernel_process_count(co_current_kernel()));
    CO_END;
}

START_TEST(test_errors)
{
    struct errors_main f = { 0 };
    int before = count_fds();
    ck_assert_int_eq(co_run(errors_main, &f, sizeof f), 0);
    ck_assert_int_eq(count_fds(), before);
    ck_assert_str_eq(lg, "null=EINVAL nofn=EINVAL noin=EINVAL workers=0 "
                         "edom=-33/-33 out=1 min=-34 "
                         "cancelled=CANCEL then_null=EINVAL workers=1");
    assert_no_workers_left();
}
END_TEST

/* No descriptor for the pipes: the call fails with -EMFILE, and the next
 * one, with descriptors again, works. */
/* Room for one more descriptor: not for a pipe. */
static void limit_to_one_more(const struct rlimit *old)
{
    int fd = open("/dev/null", O_RDONLY);   /* the lowest free number */
    close(fd);
    struct rlimit low = { (rlim_t)fd + 1, old->rlim_max };
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
}

struct nofd_main {
    co_frame co;
    co_process_call call;
    struct rlimit old;
    int rc;
};

static co_status nofd_main(co_task *t, void *arg)
{
    struct nofd_main *f = arg;
    CO_BEGIN(t, f);
    getrlimit(RLIMIT_NOFILE, &f->old);
    limit_to_one_more(&f->old);
    co_process_call_init(&f->call, whoami, NULL, 0);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    setrlimit(RLIMIT_NOFILE, &f->old);
    note("nofd=%s workers=%d", rcs(f->rc),
         co_kernel_process_count(co_current_kernel()));
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    note("then=%s", rcs(f->rc));
    remember_pid((pid_t)f->call.result);
    CO_END;
}

START_TEST(test_no_descriptors)
{
    struct nofd_main f = { 0 };
    RUN(nofd_main, f);
    ck_assert_str_eq(lg, "nofd=-24 workers=0 then=0");   /* -EMFILE */
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ the bound */

struct sampler_frame { co_frame co; int rc; };

/* Notes the most workers ever seen, every 10 ms. */
static co_status sampler(co_task *t, void *arg)
{
    struct sampler_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        int n = co_kernel_process_count(co_current_kernel());
        if (n > max_seen)
            max_seen = n;
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
        if (f->rc < 0)
            break;
    }
    CO_END;
}

#define NCALLS 6

struct many_main {
    co_frame co;
    co_task *tasks[NCALLS], *sampler;
    struct call_frame proto;
    double secs, start;
    int i, rc, result[NCALLS];
    pid_t pids[NCALLS];
};

static double many_took;
static int distinct;

static co_status many_main(co_task *t, void *arg)
{
    struct many_main *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_processes(co_current_kernel(), 2);
    CO_SPAWN(t, &f->sampler, sampler, (struct sampler_frame){ 0 });
    f->secs = 0.2;
    f->start = now_s();
    for (f->i = 0; f->i < NCALLS; f->i++)
        SPAWN_CALL(t, &f->tasks[f->i], f->proto, .name = "c", .fn = spin,
                   .in = &f->secs, .in_len = sizeof f->secs);
    for (f->i = 0; f->i < NCALLS; f->i++) {
        CO_AWAIT(f->rc, co_task_wait(t, f->tasks[f->i]));
        f->pids[f->i] = (pid_t)((struct call_frame *)
                                    co_task_frame(f->tasks[f->i]))->result;
        CO_AWAIT(f->rc, co_task_join(t, f->tasks[f->i], &f->result[f->i]));
    }
    many_took = now_s() - f->start;
    distinct = 0;
    for (int i = 0; i < NCALLS; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= f->pids[j] == f->pids[i];
        distinct += !seen;
    }
    CO_AWAIT(f->rc, co_task_cancel(t, f->sampler));
    CO_END;
}

START_TEST(test_more_calls_than_workers)
{
    max_seen = 0;
    struct many_main f = { 0 };
    RUN(many_main, f);
    ck_assert_str_eq(lg, "c=0 c=0 c=0 c=0 c=0 c=0");
    ck_assert_int_eq(distinct, 2);
    ck_assert_int_eq(max_seen, 2);
    ck_assert_double_ge(many_took, 0.6);   /* three rounds of two */
    assert_no_workers_left();
}
END_TEST

/* Raising the bound lets waiting calls start workers at once; lowering it
 * ends the idle workers over it. */
struct bound_main {
    co_frame co;
    co_task *tasks[3];
    struct call_frame proto;
    struct gone_frame gone;
    double secs;
    int i, rc, result;
    pid_t pids[3];
};

static co_status bound_main(co_task *t, void *arg)
{
    struct bound_main *f = arg;
    CO_BEGIN(t, f);
    note("bad=%s/%s", rcs(co_kernel_set_max_processes(co_current_kernel(), 0)),
         rcs(co_kernel_set_max_processes(NULL, 2)));
    co_kernel_set_max_processes(co_current_kernel(), 1);
    f->secs = 0.3;
    for (f->i = 0; f->i < 3; f->i++)
        SPAWN_CALL(t, &f->tasks[f->i], f->proto, .name = "c", .fn = spin,
                   .in = &f->secs, .in_len = sizeof f->secs);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));     /* one runs, two wait */
    note("before=%d", co_kernel_process_count(co_current_kernel()));
    co_kernel_set_max_processes(co_current_kernel(), 3);
    CO_AWAIT(f->rc, co_sleep(t, 0));        /* the two start theirs */
    note("raised=%d", co_kernel_process_count(co_current_kernel()));
    for (f->i = 0; f->i < 3; f->i++) {
        CO_AWAIT(f->rc, co_task_wait(t, f->tasks[f->i]));
        f->pids[f->i] = (pid_t)((struct call_frame *)
                                    co_task_frame(f->tasks[f->i]))->result;
        CO_AWAIT(f->rc, co_task_join(t, f->tasks[f->i], &f->result));
    }
    note("distinct=%d", (f->pids[0] != f->pids[1]) + (f->pids[1] != f->pids[2])
                            + (f->pids[0] != f->pids[2]));
    co_kernel_set_max_processes(co_current_kernel(), 1);       /* two idle ones end */
    note("lowered=%d", co_kernel_process_count(co_current_kernel()));
    /* the idle stack is LIFO: the first worker freed is the one kept */
    for (f->i = 0; f->i < 3; f->i++) {
        f->gone = (struct gone_frame){ .pid = f->pids[f->i] };
        f->rc = 0;
        if (f->i > 0)
            CO_AWAIT_CALL(f->rc, wait_gone, &f->gone);
        note("gone=%d", f->rc);
    }
    CO_END;
}

START_TEST(test_bound_moves)
{
    struct bound_main f = { 0 };
    RUN(bound_main, f);
    ck_assert_str_eq(lg, "bad=EINVAL/EINVAL before=1 raised=3 c=0 c=0 c=0 "
                         "distinct=3 lowered=1 gone=0 gone=1 gone=1");
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ the end */

/* The kernel ends with an idle worker and a busy one (its caller is
 * cancelled by the shutdown, so the worker is being killed): both gone,
 * reaped, when co_run returns. */
struct end_main {
    co_frame co;
    co_task *busy;
    struct call_frame c, proto;
    double secs;
    int rc;
};

static co_status end_main(co_task *t, void *arg)
{
    struct end_main *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_processes(co_current_kernel(), 2);
    f->c = (struct call_frame){ .name = "who", .fn = whoami };
    CO_AWAIT_CALL(f->rc, one_call, &f->c);
    f->secs = 30;
    SPAWN_CALL(t, &f->busy, f->proto, .name = "busy", .fn = spin_stubborn,
               .in = &f->secs, .in_len = sizeof f->secs);
    CO_AWAIT(f->rc, co_sleep(t, 0.1));
    CO_AWAIT_CALL(f->rc, one_call, &f->c);      /* a second worker */
    note("workers=%d", co_kernel_process_count(co_current_kernel()));
    CO_END;                             /* busy: cancelled by the shutdown */
}

START_TEST(test_no_worker_outlives_kernel)
{
    struct end_main f = { 0 };
    double start = now_s();
    RUN(end_main, f);
    /* the stubborn worker ignores SIGTERM: co_kernel_free's SIGKILL did it,
     * without waiting for the grace */
    ck_assert_double_lt(now_s() - start, 5.0);
    ck_assert_str_eq(lg, "who=0 who=0 workers=2 busy=CANCEL");
    assert_no_workers_left();
    /* the busy worker: its pid is not known here, but it was a child */
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *process_run_suite(void)
{
    Suite *s = suite_create("process_run");
    TCase *tc = tcase_create("process_run");
    tcase_add_checked_fixture(tc, process_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ticker_runs_while_worker_computes);
    tcase_add_test(tc, test_bytes_round_trip);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_no_descriptors);
    tcase_add_test(tc, test_more_calls_than_workers);
    tcase_add_test(tc, test_bound_moves);
    tcase_add_test(tc, test_no_worker_outlives_kernel);
    suite_add_tcase(s, tc);
    return s;
}
