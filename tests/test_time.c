/*
 * test_time.c -- the clock, sleep, deadline-ordered wakeups, and timeout
 * regions (timeout_after, timeout_at, ignore_after) nesting as in Curio.
 *
 * Sleeps here are the subject of the test; they are short (10-50 ms) and
 * no test asserts how fast anything ran.
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
#include "suites.h"

/* ------------------------------------------------------------ the log */

static co_waitq wq;

static void setup(void)
{
    lg[0] = '\0';
    co_waitq_init(&wq);
}

/* Blocks on q (may be NULL) until woken or until `deadline` passes. */
static co_status wait_until(co_task *t, co_waitq *q, int64_t deadline)
{
    int rc;
    if (co_wait_enter(t, &rc)) return rc;
    return co_block(t, q, deadline);
}

/* For the tests that run one scenario in main. */
struct scene_frame {
    co_frame co;
    co_timeout outer, inner;
    co_task *h;
    double t0, t1;
    int64_t n0;
    int rc;
};

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
    CO_AWAIT(f->rc, wait_on(t, &wq));
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
    ck_assert_int_eq(co_waitq_wake_all(&wq, 0), MOVERS);
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
    ck_assert_int_eq(co_waitq_wake_all(&wq, 0), MOVERS);
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
    CO_AWAIT(f->rc, wait_until(t, &wq, f->n0 + 10000000));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(co_waitq_empty(&wq));
    ck_assert_ptr_null(co_waitq_wake_one(&wq, 1));
    /* a timeout region shorter than the primitive's deadline wins */
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, wait_until(t, &wq, co_now_ns() + 5000000000));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_waitq_empty(&wq));
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

/* ------------------------------------------------------------ timeouts */

static co_status inner_expires_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->outer, 5.0), 0);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->inner));
    ck_assert(!co_timeout_expired(&f->outer));
    /* the outer region is unaffected */
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    ck_assert_int_eq(f->rc, 0);
    ck_assert(!co_timeout_expired(&f->outer));
    CO_END;
}

START_TEST(test_timeout_inner_expires)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(inner_expires_main, &m, sizeof m), 0);
}
END_TEST

static co_status outer_expires_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->outer, 0.01), 0);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 5.0), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    /* not the inner region's own timeout: passed through */
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(!co_timeout_expired(&f->inner));
    /* still inside the expired outer region: every blocking call fails */
    f->t1 = co_clock();
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_msg(co_clock() - f->t1 < 1.0, "the 5 s sleep was not refused");
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->outer));
    /* outside every region, blocking works again */
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_timeout_outer_expires_inside_inner)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(outer_expires_main, &m, sizeof m), 0);
}
END_TEST

/* The same, with the regions in a child coroutine awaited two levels down. */
struct region_child_frame {
    co_frame co;
    co_timeout region;
    int rc;
};

static co_status region_child(co_task *t, void *arg)
{
    struct region_child_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->region, 5.0), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    note("child=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    CO_RETURN(co_timeout_end(t, &f->region, CO_RESULT()));
    CO_END;
}

struct region_parent_frame {
    co_frame co;
    co_timeout region;
    struct region_child_frame child;
    int rc;
};

static co_status region_parent(co_task *t, void *arg)
{
    struct region_parent_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->region, 0.01), 0);
    CO_AWAIT_CALL(f->rc, region_child, &f->child);
    note("parent=%s", rcs(f->rc));
    ck_assert(!co_timeout_expired(&f->child.region));
    f->rc = co_timeout_end(t, &f->region, f->rc);
    note("end=%s", rcs(f->rc));
    ck_assert(co_timeout_expired(&f->region));
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_timeout_through_child_coroutine)
{
    struct region_parent_frame m = { 0 };
    ck_assert_int_eq(co_run(region_parent, &m, sizeof m), -ETIMEDOUT);
    ck_assert_str_eq(lg, "child=TIMEOUT parent=TIMEOUT end=TIMEOUT");
}
END_TEST

static co_status ignore_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_ignore_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    ck_assert_int_eq(f->rc, 0);
    ck_assert(co_timeout_expired(&f->inner));
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    ck_assert_int_eq(f->rc, 0);

    /* an ignore_after region does not swallow an outer region's expiry */
    ck_assert_int_eq(co_timeout_after(t, &f->outer, 0.01), 0);
    ck_assert_int_eq(co_ignore_after(t, &f->inner, 5.0), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(!co_timeout_expired(&f->inner));
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->outer));
    CO_END;
}

START_TEST(test_ignore_after)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(ignore_main, &m, sizeof m), 0);
}
END_TEST

static co_status in_time_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.03), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, 42), 42);
    ck_assert(!co_timeout_expired(&f->inner));
    /* an error from the body passes unchanged */
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.03), 0);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, -EIO), -EIO);
    ck_assert_int_eq(co_ignore_after(t, &f->inner, 0.03), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, 5), 5);
    ck_assert(!co_timeout_expired(&f->inner));
    /* ended regions are disarmed: sleeping past their deadlines is fine */
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    ck_assert_int_eq(f->rc, 0);
    CO_RETURN(3);
    CO_END;
}

START_TEST(test_timeout_body_in_time)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(in_time_main, &m, sizeof m), 3);
}
END_TEST

static co_status timeout_at_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->t0 = co_clock();
    ck_assert_int_eq(co_timeout_at(t, &f->inner, f->t0 + 0.01), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_clock() >= f->t0 + 0.01 - 1e-6);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->inner));
    /* a deadline already passed: the first blocking call times out */
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->inner));
    ck_assert_int_eq(co_timeout_after(t, &f->inner, -1.0), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_at(t, &f->inner, co_clock() - 1.0), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    CO_END;
}

START_TEST(test_timeout_at_and_past_deadlines)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(timeout_at_main, &m, sizeof m), 0);
}
END_TEST

static co_status timeout_invalid_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, NAN), -EINVAL);
    ck_assert_int_eq(co_timeout_after(t, NULL, 1.0), -EINVAL);
    ck_assert_int_eq(co_ignore_after(t, &f->inner, NAN), -EINVAL);
    ck_assert_int_eq(co_ignore_after(t, NULL, 1.0), -EINVAL);
    ck_assert_int_eq(co_timeout_at(t, &f->inner, NAN), -EINVAL);
    ck_assert_int_eq(co_timeout_at(t, NULL, 1.0), -EINVAL);
    /* no region was begun: nothing times out */
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_timeout_invalid)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(timeout_invalid_main, &m, sizeof m), 0);
}
END_TEST

static co_status held_back_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.03));     /* the deadline passes here */
    note("s1=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("y1=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));           /* delivered here */
    note("y2=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    note("end=%s", rcs(f->rc));
    ck_assert(co_timeout_expired(&f->inner));
    CO_END;
}

START_TEST(test_timeout_held_back_while_disabled)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(held_back_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "s1=0 y1=0 y2=TIMEOUT end=TIMEOUT");
}
END_TEST

/* When both nested deadlines have passed by the time the timeout is
 * delivered, the outermost region takes it (as Curio does): the inner one
 * passes -ETIMEDOUT through. */
static co_status both_expired_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->outer, 0.02), 0);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.04));     /* both deadlines pass */
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(!co_timeout_expired(&f->inner));
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->outer));
    CO_END;
}

START_TEST(test_timeout_outermost_expired_wins)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(both_expired_main, &m, sizeof m), 0);
}
END_TEST

/* A cancelled task's cleanup, in a disabled region, sleeps across its
 * timeout's deadline without being interrupted. */
struct disarm_frame {
    co_frame co;
    co_timeout region;
    int rc;
};

static co_status disarm_task(co_task *t, void *arg)
{
    struct disarm_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->region, 0.02), 0);
    CO_AWAIT(f->rc, co_sleep(t, 5.0));
    note("body=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    note("cleanup=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    f->rc = co_timeout_end(t, &f->region, CO_RESULT());
    note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->region));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status disarm_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct disarm_frame d = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, disarm_task, d), 0);
    CO_AWAIT(f->rc, co_yield(t));       /* it blocks in its sleep */
    CO_AWAIT(f->rc, co_task_cancel(t, f->h));
    ck_assert_int_eq(f->rc, 1);
    note("cancelled");
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_disarms_timeouts)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(disarm_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "body=CANCEL cleanup=0 end=CANCEL expired=0 "
                         "cancelled");
}
END_TEST

/* A timeout held back in a disabled region, then a cancellation: once
 * cancelled, the task's timeouts are disarmed, so what it gets after the
 * region is -ECANCELED, and its region did not expire. */
struct late_cancel_frame {
    co_frame co;
    co_timeout region;
    int rc;
};

static co_status late_cancel_task(co_task *t, void *arg)
{
    struct late_cancel_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->region, 0.01), 0);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.04));     /* deadline, then the cancel */
    note("sleep=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));
    note("yield=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->region, f->rc);
    note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->region));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status late_cancel_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct late_cancel_frame l = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, late_cancel_task, l), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    ck_assert_int_eq(co_task_cancel_nowait(f->h), 1);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_beats_held_back_timeout)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(late_cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "sleep=0 yield=CANCEL end=CANCEL expired=0");
}
END_TEST

/* A timeout while blocked in co_task_join leaves the target joinable. */
struct qwaiter_frame {
    co_frame co;
    int rc;
};

static co_status qwaiter(co_task *t, void *arg)
{
    struct qwaiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_until(t, &wq, CO_NO_DEADLINE));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status join_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct qwaiter_frame q = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, qwaiter, q), 0);
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    ck_assert_str_eq(co_task_state(f->h), "blocked");
    ck_assert_ptr_eq(co_waitq_wake_one(&wq, 4), f->h);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 4);

    /* a timeout on a wait queue removes the waiter from the queue */
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, wait_until(t, &wq, CO_NO_DEADLINE));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    ck_assert(co_waitq_empty(&wq));
    ck_assert_ptr_null(co_waitq_wake_one(&wq, 1));
    CO_END;
}

START_TEST(test_timeout_in_join_and_waitq)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(join_timeout_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ suite */

/* ------------------------------------------------------------ races */

/* Hold the kernel's thread for `secs` without yielding: the kernel is
 * "held up", as by a slow callback or a loaded machine. */
static void stall(double secs)
{
    struct timespec ts = { 0, (long)(secs * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* A sleep inside a region, both due by the time the kernel gets round to
 * them: the sleep's own deadline came first, so it completes (0); the
 * region's expiry was never delivered, so it is discarded when the region
 * ends at once -- or delivered to the next blocking call if the region
 * goes on. */
struct race_sleeper_frame {
    co_frame co;
    co_timeout to;
    int more, rc;
};

static co_status race_sleeper(co_task *t, void *arg)
{
    struct race_sleeper_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, 0.04);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    note("sleep=%s", rcs(f->rc));
    if (f->more) {
        CO_AWAIT(f->rc, co_yield(t));
        note("next=%s", rcs(f->rc));
    }
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    CO_END;
}

static co_status sleep_race_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct race_sleeper_frame s = { .more = f->n0 != 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, race_sleeper, s), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* it sleeps */
    stall(0.08);                           /* past both deadlines */
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_sleep_deadline_beats_region_expiry)
{
    struct scene_frame m = { .n0 = 0 };
    ck_assert_int_eq(co_run(sleep_race_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "sleep=0 end=0 expired=0");
}
END_TEST

START_TEST(test_undelivered_expiry_reaches_next_call)
{
    struct scene_frame m = { .n0 = 1 };
    ck_assert_int_eq(co_run(sleep_race_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "sleep=0 next=TIMEOUT end=TIMEOUT expired=1");
}
END_TEST

/* The same deadline for the sleep and its region: the region was there
 * first, so it wins (as in Curio). */
static co_status sleep_tie_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->outer, 0.02);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));    /* same cycle: same clock */
    note("sleep=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    note("end=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_sleep_tie_goes_to_region)
{
    struct scene_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(sleep_tie_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "sleep=TIMEOUT end=TIMEOUT");
}
END_TEST

/* Yielding inside a timeout region takes the slow path of co_yield; two
 * such tasks still alternate, and neither's region fires. */
struct region_yielder_frame {
    co_frame co;
    co_timeout to;
    const char *name;
    int i, rc;
};

static co_status region_yielder(co_task *t, void *arg)
{
    struct region_yielder_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, 10.0);
    for (f->i = 0; f->i < 3; f->i++) {
        note("%s%d", f->name, f->i);
        CO_AWAIT(f->rc, co_yield(t));
        ck_assert_int_eq(f->rc, 0);
    }
    f->rc = co_timeout_end(t, &f->to, f->rc);
    CO_RETURN(f->rc);
    CO_END;
}

static co_status region_yield_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct region_yielder_frame a = { .name = "A" }, b = { .name = "B" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->h, region_yielder, a), 0);
    ck_assert_int_gt(CO_SPAWN(t, NULL, region_yielder, b), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_yield_inside_region_round_robin)
{
    struct scene_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(region_yield_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A0 B0 A1 B1 A2 B2");
}
END_TEST

/* ------------------------------------------------------------ scoped regions */

struct scoped_frame {
    co_frame co;
    co_timeout to;
    int rc, line;
    double t0;
};

static co_status scoped_main(co_task *t, void *arg)
{
    struct scoped_frame *f = arg;
    CO_BEGIN(t, f);
    /* the region ends on the way out, whatever the call returned */
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.01, co_sleep(t, 10));
    note("timeout=%s", rcs(f->rc));
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 10, co_sleep(t, 0.001));
    note("in-time=%s", rcs(f->rc));
    CO_AWAIT_IGNORE(f->rc, &f->to, 0.01, co_sleep(t, 10));
    note("ignore=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    CO_AWAIT_TIMEOUT(f->rc, &f->to, NAN, co_sleep(t, 10));
    note("nan=%s", rcs(f->rc));
    /* no region is left behind: a later sleep is not timed out */
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    note("after=%s", rcs(f->rc));
    /* the region records where it began; the plain functions exist */
    f->line = __LINE__ + 1;
    co_timeout_after(t, &f->to, 10);
    {
        char want[64];
        snprintf(want, sizeof want, "tests/test_time.c:%d", f->line);
        ck_assert_str_eq(f->to.where, want);
    }
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    ck_assert_int_eq((co_timeout_after)(t, &f->to, 10), 0);
    ck_assert_ptr_null(f->to.where);
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    {
        int (*begin)(co_task *, co_timeout *, double) = co_ignore_after;
        ck_assert_int_eq(begin(t, &f->to, 10), 0);
    }
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    ck_assert_int_eq((co_timeout_at)(t, &f->to, co_clock() + 10), 0);
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    CO_END;
}

START_TEST(test_scoped_timeout_cannot_stay_open)
{
    struct scoped_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(scoped_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "timeout=TIMEOUT in-time=0 ignore=0 expired=1 "
                         "nan=EINVAL after=0");
}
END_TEST

Suite *time_suite(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase_create("sleep");
    tcase_add_checked_fixture(tc, setup, NULL);
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

    tc = tcase_create("timeout");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_timeout_inner_expires);
    tcase_add_test(tc, test_timeout_outer_expires_inside_inner);
    tcase_add_test(tc, test_timeout_through_child_coroutine);
    tcase_add_test(tc, test_ignore_after);
    tcase_add_test(tc, test_timeout_body_in_time);
    tcase_add_test(tc, test_timeout_at_and_past_deadlines);
    tcase_add_test(tc, test_timeout_invalid);
    tcase_add_test(tc, test_timeout_held_back_while_disabled);
    tcase_add_test(tc, test_timeout_outermost_expired_wins);
    tcase_add_test(tc, test_cancel_disarms_timeouts);
    tcase_add_test(tc, test_cancel_beats_held_back_timeout);
    tcase_add_test(tc, test_timeout_in_join_and_waitq);
    tcase_add_test(tc, test_sleep_deadline_beats_region_expiry);
    tcase_add_test(tc, test_undelivered_expiry_reaches_next_call);
    tcase_add_test(tc, test_sleep_tie_goes_to_region);
    tcase_add_test(tc, test_yield_inside_region_round_robin);
    tcase_add_test(tc, test_scoped_timeout_cannot_stay_open);
    suite_add_tcase(s, tc);
    return s;
}
