/*
 * test_time_races.c -- a sleep's deadline and its region's expiry in the
 * same cycle (and the expiry reaching the next call), a tie, yields
 * inside a region going round robin, and scoped regions that cannot stay
 * open.
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
        snprintf(want, sizeof want, "%s:%d", __FILE__, f->line);
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

/* ------------------------------------------------------------ suite */

Suite *time_races_suite(void)
{
    Suite *s = suite_create("time_races");
    TCase *tc;

    tc = tcase_create("timeout");
    tcase_add_checked_fixture(tc, time_setup, NULL);
    tcase_add_test(tc, test_sleep_deadline_beats_region_expiry);
    tcase_add_test(tc, test_undelivered_expiry_reaches_next_call);
    tcase_add_test(tc, test_sleep_tie_goes_to_region);
    tcase_add_test(tc, test_yield_inside_region_round_robin);
    tcase_add_test(tc, test_scoped_timeout_cannot_stay_open);
    suite_add_tcase(s, tc);
    return s;
}
