/*
 * test_cancel_task.c -- co_task_cancel: delivery at blocking points (a
 * sleeping task, a ready one, a nested await), cancelling twice or a
 * finished task, stickiness (every later blocking call fails too), and a
 * task that catches the cancellation and returns a value.
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
    CO_AWAIT(f->rc, wait_on(t, &cancel_wq));
    note("wait=%s", rcs(f->rc));
    note("check=%s", rcs(co_check_cancellation(t)));
    ck_assert(co_waitq_empty(&cancel_wq));
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

/* ------------------------------------------------------------ suite */

Suite *cancel_task_suite(void)
{
    Suite *s = suite_create("cancel_task");
    TCase *tc;

    tc = tcase_create("cancel");
    tcase_add_checked_fixture(tc, cancel_setup, NULL);
    tcase_add_test(tc, test_cancel_sleeping_task);
    tcase_add_test(tc, test_cancel_ready_task);
    tcase_add_test(tc, test_cancel_nested_await);
    tcase_add_test(tc, test_cancel_twice);
    tcase_add_test(tc, test_cancel_finished_task);
    tcase_add_test(tc, test_cancel_is_sticky);
    tcase_add_test(tc, test_caught_cancel_returns_value);
    suite_add_tcase(s, tc);
    return s;
}
