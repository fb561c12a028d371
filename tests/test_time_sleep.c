/*
 * test_time_sleep.c -- co_sleep: sleepers wake in deadline order (also
 * when the timer heap reorders them, FIFO for equal durations), the
 * kernel's clock advances, NaN is refused, a negative or zero sleep is a
 * yield, an infinite one never wakes, a wait with a deadline.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "log.h"
#include "time_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ sleep */

struct zero_frame {
    co_frame co;
    const char *name;
    int i, rc;
};

struct sleeper_frame {
    co_frame co;
    const char *name;
    double secs;
    int rc;
};

static co_status sleeper(co_task *t, void *arg)
{
    struct sleeper_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, f->secs));
    if (f->rc == 0) note("%s", f->name);
    else note("%s=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

#define MAX_SLEEPERS 16

struct sleepers_main_frame {
    co_frame co;
    co_task *h[MAX_SLEEPERS];
    struct sleeper_frame s;
    const char **names;
    const double *secs;
    int n, i, rc;
};

static co_status sleepers_main(co_task *t, void *arg)
{
    struct sleepers_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->s.name = f->names[f->i];
        f->s.secs = f->secs[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], sleeper, f->s), 0);
    }
    for (f->i = 0; f->i < f->n; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

START_TEST(test_sleep_deadline_order)
{
    static const char *names[] = { "A", "B", "C" };
    static const double secs[] = { 0.03, 0.01, 0.02 };
    struct sleepers_main_frame m = { .names = names, .secs = secs, .n = 3 };
    ck_assert_int_eq(co_run(sleepers_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B C A");
}
END_TEST

START_TEST(test_sleep_heap_order)
{
    /* a permutation of 0..14, 3 ms apart: exercises the timer heap */
    static const int perm[15] = { 7, 3, 11, 0, 14, 5, 9, 1, 12, 6, 2, 13, 8,
                                  4, 10 };
    static const char *names[15];
    static double secs[15];
    static char namebuf[15][4];
    char expect[128] = "";
    for (int i = 0; i < 15; i++) {
        snprintf(namebuf[i], sizeof namebuf[i], "%d", perm[i]);
        names[i] = namebuf[i];
        secs[i] = 0.005 + perm[i] * 0.003;
    }
    for (int v = 0; v < 15; v++) {
        char one[8];
        snprintf(one, sizeof one, v ? " %d" : "%d", v);
        strcat(expect, one);
    }
    struct sleepers_main_frame m = { .names = names, .secs = secs, .n = 15 };
    ck_assert_int_eq(co_run(sleepers_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, expect);
}
END_TEST

START_TEST(test_sleep_same_duration_fifo)
{
    static const char *names[] = { "0", "1", "2", "3", "4", "5" };
    static const double secs[] = { 0.01, 0.01, 0.01, 0.01, 0.01, 0.01 };
    struct sleepers_main_frame m = { .names = names, .secs = secs, .n = 6 };
    ck_assert_int_eq(co_run(sleepers_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "0 1 2 3 4 5");
}
END_TEST

/* Sleepers whose registry slots move while they sleep: fillers spawned
 * before them end and are freed once the sleepers are asleep, and the
 * kernel fills each freed slot with its last entry -- a sleeper.  Their
 * timer entries must follow them, or the wrong task would be woken: new
 * tasks take the slots they left. */
struct filler_frame {
    co_frame co;
    int rc;
};

static co_status filler(co_task *t, void *arg)
{
    struct filler_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &time_wq));
    CO_END;
}

#define MOVERS 8

struct moved_main_frame {
    co_frame co;
    co_task *fillers[MOVERS], *sleepers[MOVERS];
    struct sleeper_frame s;
    struct filler_frame fl;
    char names[MOVERS][4];
    int i, rc;
};

static co_status moved_main(co_task *t, void *arg)
{
    static const int order[MOVERS] = { 5, 2, 7, 0, 3, 6, 1, 4 };
    struct moved_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < MOVERS; f->i++)
        ck_assert_int_gt(CO_SPAWN(t, &f->fillers[f->i], filler, f->fl), 0);
    for (f->i = 0; f->i < MOVERS; f->i++) {
        snprintf(f->names[f->i], sizeof f->names[f->i], "%d", order[f->i]);
        f->s.name = f->names[f->i];
        f->s.secs = 0.004 + 0.003 * order[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->sleepers[f->i], sleeper, f->s), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));           /* everyone blocks */
    ck_assert_int_eq(co_waitq_wake_all(&time_wq, 0), MOVERS);
    for (f->i = 0; f->i < MOVERS; f->i++) {  /* freed: the sleepers move */
        AWAIT_JOIN(f->rc, t, f->fillers[f->i]);
        ck_assert_int_eq(f->rc, 0);
        ck_assert_str_eq(co_task_state(f->sleepers[MOVERS - 1 - f->i]),
                         "blocked");
    }
    /* New tasks take the slots the sleepers left. */
    for (f->i = 0; f->i < MOVERS; f->i++)
        ck_assert_int_gt(CO_SPAWN(t, &f->fillers[f->i], filler, f->fl), 0);
    note("|");
    for (f->i = 0; f->i < MOVERS; f->i++) {
        AWAIT_JOIN(f->rc, t, f->sleepers[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    note("|");
    ck_assert_int_eq(co_waitq_wake_all(&time_wq, 0), MOVERS);
    for (f->i = 0; f->i < MOVERS; f->i++) {
        AWAIT_JOIN(f->rc, t, f->fillers[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

START_TEST(test_sleepers_moved_in_registry_wake_in_order)
{
    struct moved_main_frame m = { 0 };
    ck_assert_int_eq(co_run(moved_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "| 0 1 2 3 4 5 6 7 |");
}
END_TEST

static co_status clock_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->t0 = co_clock();
    f->n0 = co_now_ns();
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    ck_assert_int_eq(f->rc, 0);
    f->t1 = co_clock();
    /* 1 us of slack for rounding between ns and double seconds */
    ck_assert_msg(f->t1 - f->t0 >= 0.02 - 1e-6, "slept %.9f s",
                  f->t1 - f->t0);
    ck_assert_msg(co_now_ns() - f->n0 >= 20000000 - 1000, "slept %lld ns",
                  (long long)(co_now_ns() - f->n0));
    /* a zero sleep never moves the clock backwards */
    CO_AWAIT(f->rc, co_sleep(t, 0));
    ck_assert(co_clock() >= f->t1);
    CO_END;
}

START_TEST(test_clock_advances)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(clock_main, &m, sizeof m), 0);
}
END_TEST

static co_status badsleep_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, NAN));
    ck_assert_int_eq(f->rc, -EINVAL);
    /* the task can still sleep */
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    ck_assert_int_eq(f->rc, 0);
    CO_RETURN(2);
    CO_END;
}

START_TEST(test_sleep_nan)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(badsleep_main, &m, sizeof m), 2);
}
END_TEST

/* A negative sleep is a yield (a deadline already passed is no error). */
static co_status negsleep_task(co_task *t, void *arg)
{
    struct zero_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s", f->name);
    CO_AWAIT(f->rc, co_sleep(t, -0.5));
    ck_assert_int_eq(f->rc, 0);
    note("%s", f->name);
    CO_END;
}

static co_status negsleep_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct zero_frame z = { .name = "T" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, negsleep_task, z), 0);
    note("M");
    CO_AWAIT(f->rc, co_sleep(t, -1.0));
    ck_assert_int_eq(f->rc, 0);
    note("M");
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_sleep_negative_is_yield)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(negsleep_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "M T M T");
}
END_TEST

/* +inf sleeps until cancelled or timed out. */
struct forever_frame {
    co_frame co;
    int rc;
};

static co_status forever_task(co_task *t, void *arg)
{
    struct forever_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, INFINITY));
    note("inf=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status forever_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct forever_frame ff = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, forever_task, ff), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    ck_assert_str_eq(co_task_state(f->h), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->h));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, co_sleep(t, INFINITY));
    note("inf=%s", rcs(f->rc));
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    CO_END;
}

START_TEST(test_sleep_infinite)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(forever_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "inf=CANCEL inf=TIMEOUT");
}
END_TEST

/* Three tasks logging and sleeping 0 take turns, like co_yield. */

static co_status zero_sleeper(co_task *t, void *arg)
{
    struct zero_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        note("%s", f->name);
        CO_AWAIT(f->rc, co_sleep(t, 0));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

struct zero_main_frame {
    co_frame co;
    co_task *h[3];
    struct zero_frame z;
    int i, rc;
};

static co_status zero_main(co_task *t, void *arg)
{
    static const char *names[3] = { "A", "B", "C" };
    struct zero_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        f->z.name = names[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], zero_sleeper, f->z), 0);
    }
    /* main's own sleep(0) goes behind the three */
    CO_AWAIT(f->rc, co_sleep(t, 0));
    ck_assert_int_eq(f->rc, 0);
    note("M");
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

START_TEST(test_sleep_zero_is_yield)
{
    struct zero_main_frame m = { 0 };
    ck_assert_int_eq(co_run(zero_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A B C M A B C A B C");
}
END_TEST

/* co_block with a deadline of its own: woken with 0 when it passes. */
static co_status block_deadline_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->n0 = co_now_ns();
    CO_AWAIT(f->rc, wait_until(t, NULL, f->n0 + 10000000));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(co_now_ns() >= f->n0 + 10000000);
    /* on a wait queue too; afterwards the queue no longer holds us */
    f->n0 = co_now_ns();
    CO_AWAIT(f->rc, wait_until(t, &time_wq, f->n0 + 10000000));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(co_waitq_empty(&time_wq));
    ck_assert_ptr_null(co_waitq_wake_one(&time_wq, 1));
    /* a timeout region shorter than the primitive's deadline wins */
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, wait_until(t, &time_wq, co_now_ns() + 5000000000));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_waitq_empty(&time_wq));
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    CO_END;
}

START_TEST(test_block_with_deadline)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(block_deadline_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *time_sleep_suite(void)
{
    Suite *s = suite_create("time_sleep");
    TCase *tc;

    tc = tcase_create("sleep");
    tcase_add_checked_fixture(tc, time_setup, NULL);
    tcase_add_test(tc, test_sleep_deadline_order);
    tcase_add_test(tc, test_sleep_heap_order);
    tcase_add_test(tc, test_sleep_same_duration_fifo);
    tcase_add_test(tc, test_sleepers_moved_in_registry_wake_in_order);
    tcase_add_test(tc, test_clock_advances);
    tcase_add_test(tc, test_sleep_nan);
    tcase_add_test(tc, test_sleep_negative_is_yield);
    tcase_add_test(tc, test_sleep_infinite);
    tcase_add_test(tc, test_sleep_zero_is_yield);
    tcase_add_test(tc, test_block_with_deadline);
    suite_add_tcase(s, tc);
    return s;
}
