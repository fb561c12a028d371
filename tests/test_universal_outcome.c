/*
 * test_universal_outcome.c -- a universal put, get, event wait or join
 * whose completion and timeout come due together reports one outcome, and
 * a call that timed out took nothing.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "core/async.h"
#include "sync/universal.h"
#include "log.h"
#include "universal_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ one outcome */

/* When a universal call completes (another thread hands it the item, takes
 * its item, sets the event) just as its enclosing region's deadline
 * passes, it reports one outcome, never both (issue 10): the call returns
 * 0 and the region does not count as expired.  To have both come due
 * together, a staller task holds the kernel thread past two deadlines:
 * main's sleep, then the racer's region.  Both are woken in that order in
 * one pass -- the racer by its region's expiry -- and main, running first,
 * has a thread complete the racer's call before the racer runs. */

static void stall_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

struct stall_frame { co_frame co; int rc; };

static co_status staller(co_task *t, void *arg)
{
    struct stall_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    stall_ms(100);                     /* past main's and the racer's */
    CO_END;
}

enum race_op { RACE_PUT, RACE_GET, RACE_WAIT, RACE_JOIN };

struct racer_frame {
    co_frame co;
    enum race_op op;
    double within;
    co_uqueue *q;
    co_uevent *e;
    co_timeout to;
    void *item;
    int rc;
};

/* The call under a region of `within` s; logs its result, the region's,
 * and whether the region counts as expired. */
static co_status racer(co_task *t, void *arg)
{
    struct racer_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, f->within);
    if (f->op == RACE_PUT)
        CO_AWAIT(f->rc, co_uqueue_put(t, f->q, (void *)"p"));
    else if (f->op == RACE_GET)
        CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
    else if (f->op == RACE_JOIN)
        CO_AWAIT(f->rc, co_uqueue_join(t, f->q));
    else
        CO_AWAIT(f->rc, co_uevent_wait(t, f->e));
    note("call=%s", rcs(f->rc));
    if (f->op == RACE_GET && f->rc == 0)
        note("item=%s", (const char *)f->item);
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    CO_END;
}

static void *get_one(void *arg)
{
    void *item = NULL;
    ck_assert_int_eq(co_uqueue_get_thread(arg, &item, -1), 0);
    note("thread=%s", (const char *)item);
    return NULL;
}

struct race_frame {
    co_frame co;
    enum race_op op;
    co_uqueue q;
    co_uevent e;
    co_task *r, *s;
    struct racer_frame rf;
    struct stall_frame sf;
    pthread_t th;
    void *item;
    int rc;
};

/* Queue of one: full for a put (holding "a"), empty for a get; for a
 * join, empty with one item ("j") taken and not yet done. */
static void race_setup(struct race_frame *f, double within)
{
    ck_assert_int_eq(co_uqueue_init(&f->q, 1), 0);
    ck_assert_int_eq(co_uevent_init(&f->e), 0);
    if (f->op == RACE_PUT)
        ck_assert_int_eq(co_uqueue_put_thread(&f->q, (void *)"a", 0), 0);
    if (f->op == RACE_JOIN) {
        ck_assert_int_eq(co_uqueue_put_thread(&f->q, (void *)"j", 0), 0);
        ck_assert_int_eq(co_uqueue_get_thread(&f->q, &f->item, 0), 0);
    }
    f->rf = (struct racer_frame){ .op = f->op, .within = within, .q = &f->q,
                                  .e = &f->e };
}

/* What is left: the queue's items, then free everything. */
static void race_teardown(struct race_frame *f)
{
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    while (co_uqueue_get_thread(&f->q, &f->item, 0) == 0)
        note("left=%s", (const char *)f->item);
    co_uevent_free(&f->e);
    co_uqueue_free(&f->q);
}

static void *task_done_one(void *arg)
{
    ck_assert_int_eq(co_uqueue_task_done(arg), 0);
    return NULL;
}

/* A thread does the racer's counterpart: takes, puts, sets, or marks the
 * item done. */
static void race_thread(struct race_frame *f)
{
    if (f->op == RACE_PUT)
        pthread_create(&f->th, NULL, get_one, &f->q);
    else if (f->op == RACE_GET)
        pthread_create(&f->th, NULL, put_one, &f->q);
    else if (f->op == RACE_JOIN)
        pthread_create(&f->th, NULL, task_done_one, &f->q);
    else
        pthread_create(&f->th, NULL, set_event, &f->e);
    pthread_join(f->th, NULL);
}

static co_status race_main(co_task *t, void *arg)
{
    struct race_frame *f = arg;
    CO_BEGIN(t, f);
    race_setup(f, 0.06);
    CO_SPAWN(t, &f->r, racer, f->rf);
    CO_SPAWN(t, &f->s, staller, f->sf);
    CO_AWAIT(f->rc, co_yield(t));      /* both block */
    CO_AWAIT(f->rc, co_sleep(t, 0.04));
    race_thread(f);                    /* racer already woken by expiry */
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->s);
    ck_assert_int_eq(f->rc, 0);
    race_teardown(f);
    CO_END;
}

START_TEST(test_put_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_PUT };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "thread=a call=0 end=0 expired=0 qsize=1 left=p");
}
END_TEST

START_TEST(test_get_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_GET };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=0 item=x end=0 expired=0 qsize=0");
}
END_TEST

START_TEST(test_event_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_WAIT };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=0 end=0 expired=0 qsize=0");
}
END_TEST

START_TEST(test_join_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_JOIN };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=0 end=0 expired=0 qsize=0");
}
END_TEST

/* The converse: a call whose region expires first, with nothing handed
 * over, times out -- both the call and the region say so -- and took
 * nothing: an item put afterwards stays queued for the next getter; a put
 * that timed out left the queue as it was. */
static co_status expire_main(co_task *t, void *arg)
{
    struct race_frame *f = arg;
    CO_BEGIN(t, f);
    race_setup(f, 0.02);
    CO_SPAWN(t, &f->r, racer, f->rf);
    AWAIT_JOIN(f->rc, t, f->r);        /* it timed out */
    ck_assert_int_eq(f->rc, 0);
    race_thread(f);                    /* nobody waits now */
    race_teardown(f);
    CO_END;
}

START_TEST(test_timed_out_calls_take_nothing)
{
    struct race_frame f = { .op = RACE_PUT };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    f = (struct race_frame){ .op = RACE_GET };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    f = (struct race_frame){ .op = RACE_WAIT };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    f = (struct race_frame){ .op = RACE_JOIN };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=TIMEOUT end=TIMEOUT expired=1 thread=a qsize=0 "
                         "call=TIMEOUT end=TIMEOUT expired=1 qsize=1 left=x "
                         "call=TIMEOUT end=TIMEOUT expired=1 qsize=0 "
                         "call=TIMEOUT end=TIMEOUT expired=1 qsize=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *universal_outcome_suite(void)
{
    Suite *s = suite_create("universal_outcome");
    TCase *tc;

    tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, universal_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_put_completes_at_expiry);
    tcase_add_test(tc, test_get_completes_at_expiry);
    tcase_add_test(tc, test_event_completes_at_expiry);
    tcase_add_test(tc, test_join_completes_at_expiry);
    tcase_add_test(tc, test_timed_out_calls_take_nothing);
    suite_add_tcase(s, tc);
    return s;
}
