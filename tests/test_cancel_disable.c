/*
 * test_cancel_disable.c -- regions where cancellation is held back: they
 * defer it, nest, refuse an unbalanced enable; the explicit check (enabled,
 * disabled, a held-back timeout, a cancel before a timeout); cleanup that
 * blocks inside such a region.
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
    CO_AWAIT(f->rc, wait_on(t, &cancel_wq));
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

/* ------------------------------------------------------------ suite */

Suite *cancel_disable_suite(void)
{
    Suite *s = suite_create("cancel_disable");
    TCase *tc;

    tc = tcase_create("disable");
    tcase_add_checked_fixture(tc, cancel_setup, NULL);
    tcase_add_test(tc, test_disabled_region_defers_cancel);
    tcase_add_test(tc, test_disable_nests);
    tcase_add_test(tc, test_enable_without_disable);
    tcase_add_test(tc, test_check_cancellation_enabled);
    tcase_add_test(tc, test_check_cancellation_disabled);
    tcase_add_test(tc, test_check_cancellation_reports_held_back_timeout);
    tcase_add_test(tc, test_check_cancellation_cancel_before_timeout);
    tcase_add_test(tc, test_cleanup_blocks_in_disabled_region);
    suite_add_tcase(s, tc);
    return s;
}
