/*
 * test_time_cancel.c -- nested deadlines both passed (the outermost
 * region takes the timeout), cancellation against timeouts (a cancel
 * disarms them, beats a held-back one), timeouts in a join and on a wait
 * queue.
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
    CO_AWAIT(f->rc, wait_until(t, &time_wq, CO_NO_DEADLINE));
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
    ck_assert_ptr_eq(co_waitq_wake_one(&time_wq, 4), f->h);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 4);

    /* a timeout on a wait queue removes the waiter from the queue */
    ck_assert_int_eq(co_timeout_after(t, &f->inner, 0.01), 0);
    CO_AWAIT(f->rc, wait_until(t, &time_wq, CO_NO_DEADLINE));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_int_eq(co_timeout_end(t, &f->inner, f->rc), -ETIMEDOUT);
    ck_assert(co_waitq_empty(&time_wq));
    ck_assert_ptr_null(co_waitq_wake_one(&time_wq, 1));
    CO_END;
}

START_TEST(test_timeout_in_join_and_waitq)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(join_timeout_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *time_cancel_suite(void)
{
    Suite *s = suite_create("time_cancel");
    TCase *tc;

    tc = tcase_create("timeout");
    tcase_add_checked_fixture(tc, time_setup, NULL);
    tcase_add_test(tc, test_timeout_outermost_expired_wins);
    tcase_add_test(tc, test_cancel_disarms_timeouts);
    tcase_add_test(tc, test_cancel_beats_held_back_timeout);
    tcase_add_test(tc, test_timeout_in_join_and_waitq);
    suite_add_tcase(s, tc);
    return s;
}
