/*
 * test_thread_pool.c -- co_run_in_thread / co_block_in_thread: the loop
 * runs on while a thread works, cancellation and timeouts release the
 * caller at once, results and errors come back, nothing leaks, and
 * block_in_thread holds one thread however many callers.
 *
 * The 2 s sleep is 0.6 s here (keeps the suite fast; the ticker
 * still has six ticks to make meanwhile).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "curio.h"
#include "core/thread_pool_impl.h"
#include "log.h"
#include "suites.h"

static int count_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void nap(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Thread functions: sleep `ms` (the arg) and return it. */
static intptr_t sleep_ms(void *arg)
{
    intptr_t ms = (intptr_t)arg;
    nap(ms / 1000.0);
    return ms;
}

static atomic_int cleanups;
static atomic_long cleanup_result;

static void count_cleanup(void *arg, intptr_t result)
{
    (void)arg;
    atomic_fetch_add(&cleanups, 1);
    atomic_store(&cleanup_result, (long)result);
}

static void *no_op(void *arg)
{
    return arg;
}

static void thread_setup(void)
{
    /* ThreadSanitizer starts a thread of its own with the first
     * pthread_create: have it before the tests count threads. */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, no_op, NULL), 0);
    pthread_join(th, NULL);
    log_reset();
    atomic_store(&cleanups, 0);
    atomic_store(&cleanup_result, 0);
}

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

struct caller_frame {
    co_frame co;
    co_thread_call call;
    intptr_t ms;
    double within;             /* > 0: under a timeout region */
    co_timeout to;
    int rc;
};

/* Runs sleep_ms(ms) in a thread (counting cleanups); notes the outcome. */
static co_status caller(co_task *t, void *arg)
{
    struct caller_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, sleep_ms, (void *)f->ms, count_cleanup);
    if (f->within > 0)
        co_timeout_after(t, &f->to, f->within);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    if (f->within > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    note("call=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static int ticks_at_end, threads_at_end;  /* co_run runs a copy of the frame */

struct main_frame {
    co_frame co;
    int ticks, ticks_at_end;
    co_task *tk, *w;
    struct ticker_frame tf;
    struct caller_frame cf;
    int rc;
};

/* A thread sleeps 0.6 s; the ticker ticks meanwhile. */
static co_status tick_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    f->tf = (struct ticker_frame){ .ticks = &f->ticks };
    CO_SPAWN(t, &f->tk, ticker, f->tf);
    co_thread_call_init(&f->cf.call, sleep_ms, (void *)600, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->cf.call));
    note("rc=%s result=%ld", rcs(f->rc), (long)f->cf.call.result);
    ticks_at_end = f->ticks;
    CO_AWAIT(f->rc, co_task_cancel(t, f->tk));
    CO_END;
}

START_TEST(test_ticker_runs_while_thread_sleeps)
{
    int before = count_threads();
    struct main_frame f = { 0 };
    ck_assert_int_eq(co_run(tick_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "rc=0 result=600");
    /* six ticks are due in 0.6 s: one may fall either side of the end */
    ck_assert_int_ge(ticks_at_end, 5);
    ck_assert_int_le(ticks_at_end, 6);
    ck_assert_int_eq(count_threads(), before);
}
END_TEST

/* A caller whose thread sleeps 1 s is cancelled (or times out) at 0.55 s:
 * it returns at once, at the ticker's fifth tick; the pool serves the
 * next call; the abandoned result reaches the cleanup callback. */
static co_status cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    f->tf = (struct ticker_frame){ .ticks = &f->ticks };
    CO_SPAWN(t, &f->tk, ticker, f->tf);
    f->cf.ms = 1000;
    CO_SPAWN(t, &f->w, caller, f->cf);
    if (f->cf.within > 0) {
        AWAIT_JOIN(f->rc, t, f->w);
    } else {
        CO_AWAIT(f->rc, co_sleep(t, 0.55));
        CO_AWAIT(f->rc, co_task_cancel(t, f->w));
    }
    note("ticks=%d", f->ticks);
    /* the pool still works (its one thread is busy: a second one runs) */
    co_thread_call_init(&f->cf.call, sleep_ms, (void *)7, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->cf.call));
    note("again=%s/%ld cleanups=%d", rcs(f->rc), (long)f->cf.call.result,
         atomic_load(&cleanups));
    CO_AWAIT(f->rc, co_sleep(t, 0.6));      /* the 1 s sleep ends */
    note("cleanups=%d result=%ld", atomic_load(&cleanups),
         atomic_load(&cleanup_result));
    CO_AWAIT(f->rc, co_task_cancel(t, f->tk));
    CO_END;
}

static void check_release(double within, const char *want)
{
    int before = count_threads();
    struct main_frame f = { .cf.within = within };
    ck_assert_int_eq(co_run(cancel_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, want);
    ck_assert_int_eq(count_threads(), before);
}

START_TEST(test_cancel_releases_at_once)
{
    check_release(0, "call=CANCEL ticks=5 again=0/7 cleanups=0 "
                     "cleanups=1 result=1000");
}
END_TEST

START_TEST(test_timeout_releases_at_once)
{
    check_release(0.55, "call=TIMEOUT ticks=5 again=0/7 cleanups=0 "
                        "cleanups=1 result=1000");
}
END_TEST

/* ------------------------------------------------------------ results */

static intptr_t fail_eio(void *arg) { (void)arg; return -EIO; }
static intptr_t big(void *arg) { (void)arg; return (intptr_t)1 << 40; }
static intptr_t give_arg(void *arg) { return (intptr_t)arg; }

struct result_frame { co_frame co; co_thread_call call; int rc; };

static co_status result_main(co_task *t, void *arg)
{
    struct result_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, fail_eio, NULL, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("eio=%d/%ld", f->rc, (long)f->call.result);
    co_thread_call_init(&f->call, big, NULL, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("big=%d/%d", f->rc, f->call.result == ((intptr_t)1 << 40));
    co_thread_call_init(&f->call, give_arg, f, NULL);
    CO_AWAIT(f->rc, co_block_in_thread(t, &f->call));
    note("ptr=%d", f->rc == 0 && (void *)f->call.result == f);
    /* bad arguments: no thread involved */
    note("null=%s", rcs(co_run_in_thread(t, NULL)));
    co_thread_call_init(&f->call, NULL, NULL, NULL);
    note("nofn=%s", rcs(co_block_in_thread(t, &f->call)));
    note("max0=%s", rcs(co_kernel_set_max_threads(co_current_kernel(), 0)));
    note("maxnull=%s", rcs(co_kernel_set_max_threads(NULL, 4)));
    CO_END;
}

START_TEST(test_results_and_errors)
{
    struct result_frame f = { 0 };
    ck_assert_int_eq(co_run(result_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "eio=-5/-5 big=0/1 ptr=1 null=EINVAL nofn=EINVAL "
                         "max0=EINVAL maxnull=EINVAL");
}
END_TEST

/* ------------------------------------------------------------ ownership */

struct own_frame { co_frame co; co_thread_call call; co_timeout to;
                   int x, rc; };

/* After the await, call.arg says who owns arg: the caller (completed) or
 * the cleanup (released early, or refused at once). */
static co_status own_main(co_task *t, void *arg)
{
    struct own_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, give_arg, &f->x, count_cleanup);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("done=%s mine=%d cleanups=%d", rcs(f->rc), f->call.arg == &f->x,
         atomic_load(&cleanups));
    co_thread_call_init(&f->call, sleep_ms, (void *)100, count_cleanup);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("released=%s mine=%d cleanups=%d", rcs(f->rc), f->call.arg != NULL,
         atomic_load(&cleanups));
    co_task_cancel_nowait(t);                   /* due at the next call */
    co_thread_call_init(&f->call, give_arg, &f->x, count_cleanup);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("refused=%s mine=%d cleanups=%d result=%ld", rcs(f->rc),
         f->call.arg != NULL, atomic_load(&cleanups),
         atomic_load(&cleanup_result));
    CO_END;
}

START_TEST(test_who_owns_arg)
{
    struct own_frame f = { 0 };
    ck_assert_int_eq(co_run(own_main, &f, sizeof f), 0);
    /* the released call's cleanup comes once its 100 ms are over: after
     * the refused one's, at the latest in co_kernel_free */
    ck_assert_str_eq(lg, "done=0 mine=1 cleanups=0 "
                         "released=TIMEOUT mine=0 cleanups=0 "
                         "refused=CANCEL mine=0 cleanups=1 result=-125");
    ck_assert_int_eq(atomic_load(&cleanups), 2);
}
END_TEST

/* ------------------------------------------------------------ limits */

static atomic_int running_now, running_max, calls_made;
static int call_order[100];

/* Records how many calls run at once, and in which order they came. */
static intptr_t busy(void *arg)
{
    int now = atomic_fetch_add(&running_now, 1) + 1;
    int seen = atomic_load(&running_max);
    while (now > seen && !atomic_compare_exchange_weak(&running_max, &seen, now)) {
    }
    int i = atomic_fetch_add(&calls_made, 1);
    if (i < 100)
        call_order[i] = (int)(intptr_t)arg;
    nap(0.002);
    atomic_fetch_sub(&running_now, 1);
    return (intptr_t)arg;
}

struct busy_frame { co_frame co; co_thread_call call; int i, serial, rc; };

static co_status busy_caller(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, busy, (void *)(intptr_t)f->i, NULL);
    if (f->serial)
        CO_AWAIT(f->rc, co_block_in_thread(t, &f->call));
    else
        CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    CO_RETURN(f->rc == 0 && f->call.result == f->i ? 0 : -EPROTO);
    CO_END;
}

static int bad_calls;

struct many_frame {
    co_frame co;
    int n, serial, max, i, rc, bad, threads;
    co_task *tasks[100];
    struct busy_frame bf;
};

static co_status many_main(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->max)
        ck_assert_int_eq(co_kernel_set_max_threads(co_current_kernel(),
                                                   f->max), 0);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->bf = (struct busy_frame){ .i = f->i, .serial = f->serial };
        CO_SPAWN(t, &f->tasks[f->i], busy_caller, f->bf);
    }
    for (f->i = 0; f->i < f->n; f->i++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);
        if (f->rc != 0)
            bad_calls++;
    }
    threads_at_end = co_kernel_thread_count(co_current_kernel());
    CO_END;
}

static void run_many(struct many_frame *f)
{
    bad_calls = 0;
    atomic_store(&running_now, 0);
    atomic_store(&running_max, 0);
    atomic_store(&calls_made, 0);
    int before = count_threads();
    ck_assert_int_eq(co_run(many_main, f, sizeof *f), 0);
    ck_assert_int_eq(bad_calls, 0);
    ck_assert_int_eq(atomic_load(&calls_made), f->n);
    ck_assert_int_eq(count_threads(), before);
}

/* 100 callers blocked in the same function: one thread, in their order. */
START_TEST(test_block_in_thread_one_thread)
{
    struct many_frame f = { .n = 100, .serial = 1 };
    run_many(&f);
    ck_assert_int_eq(atomic_load(&running_max), 1);
    ck_assert_int_eq(threads_at_end, 1);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(call_order[i], i);
}
END_TEST

/* More callers than threads: the pool never grows past its bound and the
 * rest wait their turn. */
START_TEST(test_pool_bound)
{
    struct many_frame f = { .n = 12, .max = 3 };
    run_many(&f);
    ck_assert_int_le(atomic_load(&running_max), 3);
    ck_assert_int_le(threads_at_end, 3);
    ck_assert_int_ge(threads_at_end, 1);
}
END_TEST

/* A call still queued (the one thread busy) is dropped when cancelled:
 * its function never runs, and cleanup is told so (-ECANCELED). */
struct queued_frame {
    co_frame co;
    co_task *a, *b;
    struct caller_frame af, bf;
    int rc;
};

static co_status queued_main(co_task *t, void *arg)
{
    struct queued_frame *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_threads(co_current_kernel(), 1);
    f->af.ms = 200;
    CO_SPAWN(t, &f->a, caller, f->af);
    f->bf.ms = 300;
    CO_SPAWN(t, &f->b, caller, f->bf);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    CO_AWAIT(f->rc, co_task_cancel(t, f->b));
    note("cleanups=%d result=%s", atomic_load(&cleanups),
         rcs((int)atomic_load(&cleanup_result)));
    AWAIT_JOIN(f->rc, t, f->a);
    note("a=%d", f->rc);
    CO_END;
}

START_TEST(test_cancel_queued_call)
{
    struct queued_frame f = { 0 };
    ck_assert_int_eq(co_run(queued_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=CANCEL cleanups=1 result=CANCEL call=0 a=0");
}
END_TEST

/* A caller still blocked when its kernel is freed: co_kernel_free joins
 * the thread and hands the result to cleanup. */
struct leftover_frame { co_frame co; co_task *w; struct caller_frame cf; int rc; };

static co_status leftover_main(co_task *t, void *arg)
{
    struct leftover_frame *f = arg;
    CO_BEGIN(t, f);
    f->cf.ms = 100;
    CO_SPAWN(t, &f->w, caller, f->cf);
    co_task_detach(f->w);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_END;
}

START_TEST(test_free_joins_threads)
{
    int before = count_threads();
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    struct leftover_frame f = { 0 };
    co_kernel_run(k, leftover_main, &f, sizeof f);
    co_kernel_free(k);
    ck_assert_int_eq(count_threads(), before);
    ck_assert_int_eq(atomic_load(&cleanups), 1);
    ck_assert_int_eq(atomic_load(&cleanup_result), 100);
}
END_TEST

/* Idle threads end after a while (here 0.05 s), and the pool makes new
 * ones for the next calls. */
static int threads_before;

struct idle_frame { co_frame co; co_thread_call call; int rc; };

static co_status idle_main(co_task *t, void *arg)
{
    struct idle_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co__thread_pool_set_idle(co_current_kernel(), 0.05), 0);
    co_thread_call_init(&f->call, sleep_ms, (void *)1, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("first=%d threads=%d", f->rc,
         co_kernel_thread_count(co_current_kernel()));
    CO_AWAIT(f->rc, co_sleep(t, 0.3));
    note("idle=%d gone=%d", co_kernel_thread_count(co_current_kernel()),
         count_threads() == threads_before);
    co_thread_call_init(&f->call, sleep_ms, (void *)2, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    note("again=%d/%ld threads=%d", f->rc, (long)f->call.result,
         co_kernel_thread_count(co_current_kernel()));
    CO_END;
}

START_TEST(test_idle_threads_end)
{
    threads_before = count_threads();
    struct idle_frame f = { 0 };
    ck_assert_int_eq(co_run(idle_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "first=0 threads=1 idle=0 gone=1 again=0/2 threads=1");
    ck_assert_int_eq(count_threads(), threads_before);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *thread_pool_suite(void)
{
    Suite *s = suite_create("thread_pool");
    TCase *tc = tcase_create("thread_pool");
    tcase_add_checked_fixture(tc, thread_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ticker_runs_while_thread_sleeps);
    tcase_add_test(tc, test_cancel_releases_at_once);
    tcase_add_test(tc, test_timeout_releases_at_once);
    tcase_add_test(tc, test_results_and_errors);
    tcase_add_test(tc, test_who_owns_arg);
    tcase_add_test(tc, test_block_in_thread_one_thread);
    tcase_add_test(tc, test_pool_bound);
    tcase_add_test(tc, test_cancel_queued_call);
    tcase_add_test(tc, test_free_joins_threads);
    tcase_add_test(tc, test_idle_threads_end);
    suite_add_tcase(s, tc);
    return s;
}
