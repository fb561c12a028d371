/*
 * test_cancel_wait.c -- co_task_cancel_nowait, cancelling oneself,
 * cancelling a joiner or a wait-queue waiter (the target is kept, the
 * waiter removed), and co_task_join's two outcomes: the target's result
 * kept apart from the join's own failure (cancelled, timed out).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "log.h"
#include "cancel_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ nowait, waiters */

static co_status nowait_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sleeper_frame s = { .name = "T" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, long_sleeper, s), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    note("requested");
    /* returned at once: the target has not run its cleanup yet */
    ck_assert(!co_task_done(f->a));
    ck_assert(co_task_cancelled(f->a));
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 0);
    ck_assert_int_eq(co_task_cancel_nowait(NULL), -EINVAL);
    CO_AWAIT(f->rc, co_task_cancel(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));    /* already requested */
    note("cancel=%s", rcs(f->rc));
    ck_assert(co_task_done(f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_nowait)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(nowait_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start requested T:sleep=CANCEL T:fin=CANCEL "
                         "cancel=0");
}
END_TEST

static co_status cancel_self_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_task_cancel(t, t));
    ck_assert_int_eq(f->rc, -EDEADLK);
    /* refused: the task was not cancelled */
    ck_assert(!co_task_cancelled(t));
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    /* cancelling yourself without waiting is allowed */
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    ck_assert(co_task_cancelled(t));
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_RETURN(6);
    CO_END;
}

START_TEST(test_cancel_self)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_self_main, &m, sizeof m), 6);
}
END_TEST

/* Cancelling a task blocked in co_task_join does not consume the target. */
struct joiner_frame {
    co_frame co;
    co_task *target;
    int rc;
};

static co_status joiner(co_task *t, void *arg)
{
    struct joiner_frame *f = arg;
    CO_BEGIN(t, f);
    AWAIT_JOIN(f->rc, t, f->target);
    note("join=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status cancel_joiner_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sleeper_frame s = { .name = "A" };
    struct joiner_frame j = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, long_sleeper, s), 0);
    j.target = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, joiner, j), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->b));
    ck_assert_int_eq(f->rc, 1);
    ck_assert(!co_task_done(f->a));
    ck_assert(!co_task_cancelled(f->a));
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, -ECANCELED);
    note("cancel A");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_joiner_keeps_target)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_joiner_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A:start join=CANCEL cancel A A:sleep=CANCEL "
                         "A:fin=CANCEL");
}
END_TEST

/* Cancelling one waiter takes it off the queue; the next wake goes to the
 * other one. */

static co_status cancel_waiter_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct qwaiter_frame q = { 0 };
    CO_BEGIN(t, f);
    q.name = "X";
    ck_assert_int_gt(CO_SPAWN(t, &f->a, qwaiter, q), 0);
    q.name = "Y";
    ck_assert_int_gt(CO_SPAWN(t, &f->b, qwaiter, q), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_ptr_eq(co_waitq_wake_one(&cancel_wq, 9), f->b);
    ck_assert(co_waitq_empty(&cancel_wq));
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 9);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_removes_waiter)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_waiter_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "X=CANCEL Y=9");
}
END_TEST

/* ------------------------------------------------- co_task_join's two outcomes */

/* co_task_join keeps the target's result (in *result) apart from its own
 * failure (the return value): after a cancelled or timed-out join the
 * target is still the caller's to join. */
struct outcome_joiner_frame {
    co_frame co;
    co_task *target;
    int timeout;            /* join under a 10 ms timeout region */
    co_timeout to;
    int rc, result;
};

static co_status outcome_joiner(co_task *t, void *arg)
{
    struct outcome_joiner_frame *f = arg;
    CO_BEGIN(t, f);
    f->result = 12345;                  /* must stay untouched on failure */
    if (f->timeout)
        ck_assert_int_eq(co_timeout_after(t, &f->to, 0.01), 0);
    CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
    if (f->timeout)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    note("J:join=%s result=%s", rcs(f->rc), rcs(f->result));
    CO_RETURN(f->rc);
    CO_END;
}

struct join_outcome_frame {
    co_frame co;
    int mode;               /* 0: cancel the joiner, 1: cancel the target,
                               2: the joiner times out */
    co_task *target, *joiner;
    int rc, result;
};

static co_status join_outcome_main(co_task *t, void *arg)
{
    struct join_outcome_frame *f = arg;
    struct sleeper_frame s = { .name = "T" };
    struct outcome_joiner_frame j = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->target, long_sleeper, s), 0);
    j.target = f->target;
    j.timeout = f->mode == 2;
    ck_assert_int_gt(CO_SPAWN(t, &f->joiner, outcome_joiner, j), 0);
    CO_AWAIT(f->rc, co_yield(t));       /* T sleeps, J waits in co_task_join */
    if (f->mode == 0) {
        CO_AWAIT(f->rc, co_task_cancel(t, f->joiner));
        note("cancelJ=%s", rcs(f->rc));
    } else if (f->mode == 1) {
        ck_assert_int_eq(co_task_cancel_nowait(f->target), 1);
    }
    CO_AWAIT(f->rc, co_task_join(t, f->joiner, &f->result));
    ck_assert_int_eq(f->rc, 0);
    if (f->mode != 1) {
        /* the failed join left T alive and joinable */
        ck_assert(!co_task_done(f->target));
        ck_assert_int_eq(co_task_cancel_nowait(f->target), 1);
        CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
        note("M:join=%s result=%s", rcs(f->rc), rcs(f->result));
    }
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

START_TEST(test_join_cancelled_joiner_keeps_target)
{
    struct join_outcome_frame m = { .mode = 0 };
    ck_assert_int_eq(co_run(join_outcome_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start J:join=CANCEL result=12345 cancelJ=1 "
                         "T:sleep=CANCEL T:fin=CANCEL M:join=0 result=CANCEL");
}
END_TEST

START_TEST(test_join_of_cancelled_target_succeeds)
{
    struct join_outcome_frame m = { .mode = 1 };
    ck_assert_int_eq(co_run(join_outcome_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start T:sleep=CANCEL T:fin=CANCEL "
                         "J:join=0 result=CANCEL");
}
END_TEST

START_TEST(test_join_timed_out_keeps_target)
{
    struct join_outcome_frame m = { .mode = 2 };
    ck_assert_int_eq(co_run(join_outcome_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start J:join=TIMEOUT result=12345 "
                         "T:sleep=CANCEL T:fin=CANCEL M:join=0 result=CANCEL");
}
END_TEST

static co_status join_null_result_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sleeper_frame s = { .name = "T" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, long_sleeper, s), 0);
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    CO_AWAIT(f->rc, co_task_join(t, f->a, NULL));
    note("join=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_join_null_result)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(join_null_result_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start T:sleep=CANCEL T:fin=CANCEL join=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *cancel_wait_suite(void)
{
    Suite *s = suite_create("cancel_wait");
    TCase *tc;

    tc = tcase_create("cancel");
    tcase_add_checked_fixture(tc, cancel_setup, NULL);
    tcase_add_test(tc, test_join_cancelled_joiner_keeps_target);
    tcase_add_test(tc, test_join_of_cancelled_target_succeeds);
    tcase_add_test(tc, test_join_timed_out_keeps_target);
    tcase_add_test(tc, test_join_null_result);
    tcase_add_test(tc, test_cancel_nowait);
    tcase_add_test(tc, test_cancel_self);
    tcase_add_test(tc, test_cancel_joiner_keeps_target);
    tcase_add_test(tc, test_cancel_removes_waiter);
    suite_add_tcase(s, tc);
    return s;
}
