/*
 * test_time_timeout.c -- timeout regions as in Curio: an inner region
 * expires; an outer one expires inside an inner one (the inner can tell it
 * is not its own); through a child coroutine; ignore_after; a body in
 * time; absolute and past deadlines; bad input; held back while
 * cancellation is disabled.
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

/* ------------------------------------------------------------ suite */

Suite *time_timeout_suite(void)
{
    Suite *s = suite_create("time_timeout");
    TCase *tc;

    tc = tcase_create("timeout");
    tcase_add_checked_fixture(tc, time_setup, NULL);
    tcase_add_test(tc, test_timeout_inner_expires);
    tcase_add_test(tc, test_timeout_outer_expires_inside_inner);
    tcase_add_test(tc, test_timeout_through_child_coroutine);
    tcase_add_test(tc, test_ignore_after);
    tcase_add_test(tc, test_timeout_body_in_time);
    tcase_add_test(tc, test_timeout_at_and_past_deadlines);
    tcase_add_test(tc, test_timeout_invalid);
    tcase_add_test(tc, test_timeout_held_back_while_disabled);
    suite_add_tcase(s, tc);
    return s;
}
