/*
 * test_cancel.c -- cancellation: co_task_cancel / co_task_cancel_nowait, delivery at
 * blocking points, stickiness, nested awaits, cleanup, regions where it is
 * disabled, the explicit check, and wakes that must not be lost.
 *
 * Orders of events come from the scheduler (spawn order, yields); sleeps
 * only stand for "blocked for a long time" and are cut short by the cancel.
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
#include "suites.h"

/* ------------------------------------------------------------ the log */

static co_waitq wq;

static void setup(void)
{
    lg[0] = '\0';
    co_waitq_init(&wq);
}

/* Main's frame for most scenarios. */
struct scene_frame {
    co_frame co;
    co_task *a, *b, *c;
    int rc;
};

/* ------------------------------------------------------------ tasks */

/* Logs "<name>:start", sleeps long, logs the sleep's result, returns it;
 * its cleanup logs "<name>:fin=<result>". */
struct sleeper_frame {
    co_frame co;
    const char *name;
    int rc;
};

static co_status long_sleeper(co_task *t, void *arg)
{
    struct sleeper_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s:start", f->name);
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    note("%s:sleep=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("%s:fin=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}

/* ------------------------------------------------------------ co_task_cancel */

static co_status cancel_sleeping_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sleeper_frame s = { .name = "T" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, long_sleeper, s), 0);
    CO_AWAIT(f->rc, co_yield(t));       /* T blocks in its sleep */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert(!co_task_cancelled(f->a));
    note("cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%s", rcs(f->rc));
    /* co_task_cancel waited for the task to end */
    ck_assert(co_task_done(f->a));
    ck_assert(co_task_cancelled(f->a));
    ck_assert_int_eq(co_task_result(f->a), -ECANCELED);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_sleeping_task)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_sleeping_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start cancel T:sleep=CANCEL T:fin=CANCEL "
                         "cancel=1");
}
END_TEST

static co_status cancel_ready_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sleeper_frame s = { .name = "T" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, long_sleeper, s), 0);
    /* not run yet: it starts, and its first blocking call is refused */
    ck_assert_str_eq(co_task_state(f->a), "ready");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_ready_task)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_ready_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start T:sleep=CANCEL T:fin=CANCEL cancel=1");
}
END_TEST

/* Blocked two awaits deep: -ECANCELED comes back up through each level. */
struct level2_frame {
    co_frame co;
    int rc;
};

static co_status level2(co_task *t, void *arg)
{
    struct level2_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    note("l2=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("l2:fin");
    CO_END;
}

struct level1_frame {
    co_frame co;
    struct level2_frame child;
    int rc;
};

static co_status level1(co_task *t, void *arg)
{
    struct level1_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT_CALL(f->rc, level2, &f->child);
    note("l1=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

struct level0_frame {
    co_frame co;
    struct level1_frame child;
    int rc;
};

static co_status level0(co_task *t, void *arg)
{
    struct level0_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT_CALL(f->rc, level1, &f->child);
    note("l0=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("l0:fin");
    CO_END;
}

static co_status cancel_nested_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct level0_frame l0 = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, level0, l0), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_nested_await)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_nested_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "l2=CANCEL l2:fin l1=CANCEL l0=CANCEL l0:fin "
                         "cancel=1");
}
END_TEST

static co_status cancel_twice_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sleeper_frame s = { .name = "T" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, long_sleeper, s), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 1);
    /* already ended (and cancelled): 0, nothing happens */
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 0);
    ck_assert_int_eq(co_task_result(f->a), -ECANCELED);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cancel_twice)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_twice_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "T:start T:sleep=CANCEL T:fin=CANCEL");
}
END_TEST

/* Returns 5 at once. */
struct five_frame {
    co_frame co;
};

static co_status five(co_task *t, void *arg)
{
    struct five_frame *f = arg;
    CO_BEGIN(t, f);
    note("five");
    CO_RETURN(5);
    CO_END;
}

static co_status cancel_finished_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct five_frame ff = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, five, ff), 0);
    CO_AWAIT(f->rc, co_task_wait(t, f->a));
    ck_assert(co_task_done(f->a));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 0);
    ck_assert(!co_task_cancelled(f->a));
    ck_assert_int_eq(co_task_result(f->a), 5);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 5);
    CO_END;
}

START_TEST(test_cancel_finished_task)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_finished_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "five");
}
END_TEST

/* Once delivered, -ECANCELED is sticky: every later blocking call fails at
 * once. The task may still return a value of its own. */
struct sticky_frame {
    co_frame co;
    int rc;
};

static co_status sticky_task(co_task *t, void *arg)
{
    struct sticky_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    note("sleep=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    note("sleep=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_sleep(t, 0));
    note("sleep0=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("yield=%s", rcs(f->rc));
    CO_AWAIT(f->rc, wait_on(t, &wq));
    note("wait=%s", rcs(f->rc));
    note("check=%s", rcs(co_check_cancellation(t)));
    ck_assert(co_waitq_empty(&wq));
    CO_RETURN(77);
    CO_END;
}

static co_status sticky_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct sticky_frame s = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, sticky_task, s), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 1);
    ck_assert(co_task_cancelled(f->a));
    /* it caught the cancellation and returned normally */
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 77);
    CO_END;
}

START_TEST(test_cancel_is_sticky)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(sticky_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "sleep=CANCEL sleep=CANCEL sleep0=CANCEL "
                         "yield=CANCEL wait=CANCEL check=CANCEL");
}
END_TEST

/* A task that catches the cancellation and returns its own value. */
struct catcher_frame {
    co_frame co;
    int rc;
};

static co_status catcher(co_task *t, void *arg)
{
    struct catcher_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    if (f->rc == -ECANCELED) CO_RETURN(99);
    CO_RETURN(-1);
    CO_END;
}

static co_status catcher_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct catcher_frame c = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, catcher, c), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_int_eq(co_task_result(f->a), 99);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 99);
    CO_END;
}

START_TEST(test_caught_cancel_returns_value)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(catcher_main, &m, sizeof m), 0);
}
END_TEST

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
struct qwaiter_frame {
    co_frame co;
    const char *name;
    int rc;
};

static co_status qwaiter(co_task *t, void *arg)
{
    struct qwaiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &wq));
    note("%s=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

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
    ck_assert_ptr_eq(co_waitq_wake_one(&wq, 9), f->b);
    ck_assert(co_waitq_empty(&wq));
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

/* ------------------------------------------------------------ disabled */

struct shielded_frame {
    co_frame co;
    int rc;
};

static co_status shielded(co_task *t, void *arg)
{
    struct shielded_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));     /* cancelled meanwhile */
    note("s1=%s", rcs(f->rc));
    ck_assert(co_task_cancelled(t));
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("s2=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("y1=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));           /* delivered here */
    note("y2=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    note("s3=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status shielded_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct shielded_frame s = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, shielded, s), 0);
    CO_AWAIT(f->rc, co_yield(t));       /* it blocks in the region */
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_disabled_region_defers_cancel)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(shielded_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "s1=0 s2=0 y1=0 y2=CANCEL s3=CANCEL cancel=1");
}
END_TEST

static co_status nesting_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    /* one level still disabled */
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("s=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    /* more enables than disables */
    ck_assert_int_eq(co_enable_cancellation(t), -EINVAL);
    CO_RETURN(8);
    CO_END;
}

START_TEST(test_disable_nests)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(nesting_main, &m, sizeof m), 8);
    ck_assert_str_eq(lg, "s=0 y=0 y=CANCEL");
}
END_TEST

static co_status enable_unbalanced_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_enable_cancellation(t), -EINVAL);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    ck_assert_int_eq(co_enable_cancellation(t), -EINVAL);
    ck_assert_int_eq(co_disable_cancellation(NULL), -EINVAL);
    ck_assert_int_eq(co_enable_cancellation(NULL), -EINVAL);
    /* none of that left the task disabled or cancelled */
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_enable_without_disable)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(enable_unbalanced_main, &m, sizeof m), 0);
}
END_TEST

static co_status check_enabled_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_check_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_check_cancellation(t), 0);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    ck_assert_int_eq(co_check_cancellation(t), -ECANCELED);
    /* delivered: every blocking call from now on fails */
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("s=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    ck_assert_int_eq(co_check_cancellation(t), -ECANCELED);
    CO_END;
}

START_TEST(test_check_cancellation_enabled)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(check_enabled_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "s=CANCEL y=CANCEL");
}
END_TEST

static co_status check_disabled_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    ck_assert_int_eq(co_check_cancellation(t), 0);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    ck_assert_int_eq(co_check_cancellation(t), -ECANCELED);
    /* it only reports: blocking still works in the region */
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("s=%s", rcs(f->rc));
    ck_assert_int_eq(co_check_cancellation(t), -ECANCELED);
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_check_cancellation_disabled)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(check_disabled_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "s=0 y=0 y=CANCEL");
}
END_TEST

/* A timeout region's expiry held back in a disabled region is what
 * co_check_cancellation reports there (-ETIMEDOUT), without delivering it:
 * blocking still works, and the region counts as expired only once a
 * blocking call after the enable receives it.  With cancellation enabled,
 * the check delivers it like a blocking call would. */
struct check_timeout_frame {
    co_frame co;
    co_timeout to;
    int rc;
};

static co_status check_timeout_main(co_task *t, void *arg)
{
    struct check_timeout_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->to, 0.01), 0);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    ck_assert_int_eq(co_check_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.03));       /* past the region's deadline */
    note("s=%s", rcs(f->rc));
    note("check=%s", rcs(co_check_cancellation(t)));
    ck_assert_int_eq(co_timeout_expired(&f->to), 0);   /* only reported */
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    /* a cancellation, once requested, is what is pending first */
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    note("check=%s", rcs(co_check_cancellation(t)));   /* delivers it */
    ck_assert_int_eq(co_timeout_expired(&f->to), 1);
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    note("end=%s", rcs(co_timeout_end(t, &f->to, 0)));
    ck_assert_int_eq(co_check_cancellation(t), 0);     /* region gone */
    CO_END;
}

START_TEST(test_check_cancellation_reports_held_back_timeout)
{
    struct check_timeout_frame m = { 0 };
    ck_assert_int_eq(co_run(check_timeout_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "s=0 check=TIMEOUT y=0 check=TIMEOUT y=TIMEOUT "
                         "end=TIMEOUT");
}
END_TEST

static co_status check_cancel_beats_timeout_main(co_task *t, void *arg)
{
    struct check_timeout_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->to, 0.01), 0);
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.03));
    ck_assert_int_eq(co_check_cancellation(t), -ETIMEDOUT);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    ck_assert_int_eq(co_check_cancellation(t), -ECANCELED);
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_yield(t));
    note("y=%s", rcs(f->rc));
    note("end=%s", rcs(co_timeout_end(t, &f->to, f->rc)));
    CO_END;
}

START_TEST(test_check_cancellation_cancel_before_timeout)
{
    struct check_timeout_frame m = { 0 };
    ck_assert_int_eq(co_run(check_cancel_beats_timeout_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "y=CANCEL end=CANCEL");
}
END_TEST

/* Cleanup in a disabled region can block even though the task has been
 * cancelled. */
struct cleanup_frame {
    co_frame co;
    int rc;
};

static co_status blocking_cleanup(co_task *t, void *arg)
{
    struct cleanup_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &wq));
    note("body=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    ck_assert_int_eq(co_disable_cancellation(t), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("fin-sleep=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("fin-yield=%s", rcs(f->rc));
    ck_assert_int_eq(co_enable_cancellation(t), 0);
    CO_END;
}

static co_status blocking_cleanup_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct cleanup_frame c = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, blocking_cleanup, c), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_cleanup_blocks_in_disabled_region)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(blocking_cleanup_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "body=CANCEL fin-sleep=0 fin-yield=0 cancel=1");
}
END_TEST

/* ------------------------------------------------------------ lost wakes */

/*
 * B is blocked in co_task_join(A).  A ends, which wakes B with A's result; in
 * the same cycle, before B runs, C cancels B.  B's join still returns A's
 * result, and B's next blocking call returns -ECANCELED.
 *
 *   cycle 1: A yields; B blocks in join(A); C yields
 *   cycle 2: A returns 42 (B woken); C cancels B; B runs
 */
static co_task *lw_a, *lw_b;

struct lw_a_frame {
    co_frame co;
    int rc;
};

static co_status lw_a_fn(co_task *t, void *arg)
{
    struct lw_a_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    note("A:end");
    CO_RETURN(42);
    CO_END;
}

static co_status lw_b_fn(co_task *t, void *arg)
{
    struct lw_a_frame *f = arg;
    CO_BEGIN(t, f);
    AWAIT_JOIN(f->rc, t, lw_a);
    note("B:join=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("B:next=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status lw_c_fn(co_task *t, void *arg)
{
    struct lw_a_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(lw_b), "ready");     /* woken, not run */
    note("C:cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, lw_b));
    note("C:cancel=%s", rcs(f->rc));
    CO_END;
}

static co_status lost_join_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct lw_a_frame z = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, lw_a_fn, z), 0);
    lw_a = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, lw_b_fn, z), 0);
    lw_b = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->c, lw_c_fn, z), 0);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_woken_join_not_lost_to_cancel)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(lost_join_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A:end C:cancel B:join=42 B:next=CANCEL "
                         "C:cancel=1");
}
END_TEST

/* The same with a plain wait queue: the value handed over is kept. */
static co_status lost_wake_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct qwaiter_frame q = { .name = "X" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, qwaiter, q), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_ptr_eq(co_waitq_wake_one(&wq, 5), f->a);
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 5);
    CO_END;
}

START_TEST(test_woken_wait_not_lost_to_cancel)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(lost_wake_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "X=5");
}
END_TEST

/* ------------------------------------------------------------ suite */

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

/* ------------------------------------------------------------ completed elsewhere */

/* A primitive built the way the universal objects are: a record per wait
 * holding a queue that only its task waits on, and an operation that
 * someone else completes (sets `done`), whatever woke the task. */
struct record {
    co_waitq q;
    int done, value;
};

static co_status record_wait(co_task *t, struct record *r)
{
    int rc;
    if (co_wait_resumed(t)) {
        ck_assert_ptr_eq(co_wait_solo_queue(t), &r->q);   /* no search */
        if (r->done) {
            co_wait_completed(t);
            return r->value;
        }
        co_wait_enter(t, &rc);
        return rc;
    }
    ck_assert_ptr_null(co_wait_solo_queue(t));   /* a fresh call */
    if (co_wait_enter(t, &rc))
        return rc;
    co_waitq_init(&r->q);
    return co_block(t, &r->q, CO_NO_DEADLINE);
}

static struct record rec;

struct record_waiter_frame {
    co_frame co;
    co_timeout to;
    double region;                 /* 0: none */
    int rc;
};

static co_status record_waiter(co_task *t, void *arg)
{
    struct record_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->region > 0)
        co_timeout_after(t, &f->to, f->region);
    CO_AWAIT(f->rc, record_wait(t, &rec));
    note("wait=%s", rcs(f->rc));
    if (f->region > 0) {
        f->rc = co_timeout_end(t, &f->to, f->rc);
        note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    note("next=%s", rcs(f->rc));
    CO_END;
}

/* Holds the kernel's thread without yielding, once it has run once. */
static co_status staller(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    {   /* a block: no local may be live across an await */
        struct timespec ts = { 0, 60 * 1000 * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
    CO_END;
}

struct record_main_frame {
    co_frame co;
    co_task *w;
    int how, rc;
};

enum { BY_WAKE, DURING_EXPIRY, DURING_CANCEL, EXPIRED };

static co_status record_main(co_task *t, void *arg)
{
    struct record_main_frame *f = arg;
    struct record_waiter_frame w = {
        .region = f->how == DURING_EXPIRY ? 0.02 : f->how == EXPIRED ? 0.01 : 0
    };
    struct { co_frame co; int rc; } s = { .rc = 0 };
    CO_BEGIN(t, f);
    rec = (struct record){ .done = 0 };
    ck_assert_int_gt(CO_SPAWN(t, &f->w, record_waiter, w), 0);
    if (f->how == DURING_EXPIRY)
        ck_assert_int_gt(CO_SPAWN(t, NULL, staller, s), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* the waiter blocks */
    switch (f->how) {
    case BY_WAKE:
        rec.done = 1, rec.value = 5;
        ck_assert_ptr_eq(co_waitq_wake_one(&rec.q, 0), f->w);
        break;
    case DURING_EXPIRY:
        /* the staller holds the kernel past this sleep's deadline and then
         * the waiter's region's: both come due in one pass, this one
         * first, and the waiter's operation is completed after its
         * expiry woke it, before it runs */
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
        ck_assert_str_eq(co_task_state(f->w), "ready");
        rec.done = 1, rec.value = 5;
        break;
    case DURING_CANCEL:
        co_task_cancel_nowait(f->w);
        rec.done = 1, rec.value = 5;
        break;
    case EXPIRED:
        break;
    }
    CO_AWAIT(f->rc, co_task_join(t, f->w, NULL));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

static void run_record(int how)
{
    struct record_main_frame m = { .how = how };
    ck_assert_int_eq(co_run(record_main, &m, sizeof m), 0);
}

START_TEST(test_record_completed_by_wake)
{
    run_record(BY_WAKE);
    ck_assert_str_eq(lg, "wait=5 next=0");
}
END_TEST

/* co_wait_completed discards the expiry that woke the task: the call
 * returns its result and the region ends clean. */
START_TEST(test_record_completed_during_expiry)
{
    run_record(DURING_EXPIRY);
    ck_assert_str_eq(lg, "wait=5 end=5 expired=0 next=0");
}
END_TEST

/* ... but keeps a cancellation for the next blocking point. */
START_TEST(test_record_completed_during_cancel)
{
    run_record(DURING_CANCEL);
    ck_assert_str_eq(lg, "wait=5 next=CANCEL");
}
END_TEST

/* Not completed: co_wait_enter delivers the expiry, which marks the
 * region. */
START_TEST(test_record_expired)
{
    run_record(EXPIRED);
    ck_assert_str_eq(lg, "wait=TIMEOUT end=TIMEOUT expired=1 next=0");
}
END_TEST

/* co_wait_completed is for the re-evaluation of the task's own wait. */
static co_status completes_fresh(co_task *t, void *arg)
{
    struct { co_frame co; } *f = arg;
    CO_BEGIN(t, f);
    co_wait_completed(t);
    CO_END;
}

START_TEST(test_wait_completed_outside_a_wake_aborts)
{
    struct { co_frame co; } m = { { 0 } };
    co_run(completes_fresh, &m, sizeof m);
}
END_TEST

Suite *cancel_suite(void)
{
    Suite *s = suite_create("cancel");
    TCase *tc = tcase_create("cancel");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_cancel_sleeping_task);
    tcase_add_test(tc, test_join_cancelled_joiner_keeps_target);
    tcase_add_test(tc, test_join_of_cancelled_target_succeeds);
    tcase_add_test(tc, test_join_timed_out_keeps_target);
    tcase_add_test(tc, test_join_null_result);
    tcase_add_test(tc, test_cancel_ready_task);
    tcase_add_test(tc, test_cancel_nested_await);
    tcase_add_test(tc, test_cancel_twice);
    tcase_add_test(tc, test_cancel_finished_task);
    tcase_add_test(tc, test_cancel_is_sticky);
    tcase_add_test(tc, test_caught_cancel_returns_value);
    tcase_add_test(tc, test_cancel_nowait);
    tcase_add_test(tc, test_cancel_self);
    tcase_add_test(tc, test_cancel_joiner_keeps_target);
    tcase_add_test(tc, test_cancel_removes_waiter);
    suite_add_tcase(s, tc);

    tc = tcase_create("disable");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_disabled_region_defers_cancel);
    tcase_add_test(tc, test_disable_nests);
    tcase_add_test(tc, test_enable_without_disable);
    tcase_add_test(tc, test_check_cancellation_enabled);
    tcase_add_test(tc, test_check_cancellation_disabled);
    tcase_add_test(tc, test_check_cancellation_reports_held_back_timeout);
    tcase_add_test(tc, test_check_cancellation_cancel_before_timeout);
    tcase_add_test(tc, test_cleanup_blocks_in_disabled_region);
    suite_add_tcase(s, tc);

    tc = tcase_create("wakes");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_woken_join_not_lost_to_cancel);
    tcase_add_test(tc, test_woken_wait_not_lost_to_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("completed elsewhere");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_record_completed_by_wake);
    tcase_add_test(tc, test_record_completed_during_expiry);
    tcase_add_test(tc, test_record_completed_during_cancel);
    tcase_add_test(tc, test_record_expired);
    const char *fork_mode = getenv("CK_FORK");
    if (!fork_mode || strcmp(fork_mode, "no") != 0)
        tcase_add_test_raise_signal(tc,
                                    test_wait_completed_outside_a_wake_aborts,
                                    SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}
