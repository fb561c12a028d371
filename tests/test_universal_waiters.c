/*
 * test_universal_waiters.c -- deadlock detection with waiters that
 * another thread could wake (a waiter holds its kernel; a deadlock is
 * still found once none is left; shutdown cancels them), and crowds of
 * waiters: many on an event, many getters fed by a thread, cancelled, shut
 * down.
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

/* ------------------------------------------------------------ deadlocks */

/* A task waiting on a universal queue holds the kernel (another thread
 * might feed it): no deadlock is reported, so bound the wait. */
struct hold_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    co_task *g;
    struct getter_frame gf;
    co_event never;
    void *item;
    int rc;
};

static co_status bounded_main(co_task *t, void *arg)
{
    struct hold_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);
    co_timeout_after(t, &f->to, 0.03);
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    co_uqueue_free(&f->q);
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_waiter_holds_kernel)
{
    struct hold_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(bounded_main, &f, sizeof f), -ETIMEDOUT);
}
END_TEST

/* Once the universal waiter is gone (cancelled), its hold is released:
 * a real deadlock is reported again. */
static co_status released_main(co_task *t, void *arg)
{
    struct hold_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);
    f->gf = (struct getter_frame){ .name = "G", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_AWAIT(f->rc, co_task_cancel(t, f->g));
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));   /* nobody sets it */
    note("main=%s", rcs(f->rc));
    co_uqueue_free(&f->q);
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_deadlock_still_detected)
{
    struct hold_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(released_main, &f, sizeof f), -EDEADLK);
    ck_assert_str_eq(lg, "G:get=CANCEL:- G:next=CANCEL main=CANCEL");
}
END_TEST

/* Shutdown cancels a task still waiting on a universal object, and its
 * waiter and hold go with it.  (The queue outlives the run: main's frame
 * is a copy that ends before the getter is cancelled.) */
static co_uqueue leave_q;

static co_status leaver_main(co_task *t, void *arg)
{
    struct hold_frame *f = arg;
    CO_BEGIN(t, f);
    f->gf = (struct getter_frame){ .name = "L", .q = &leave_q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_END;
}

START_TEST(test_shutdown_cancels_waiter)
{
    struct hold_frame f;
    memset(&f, 0, sizeof f);
    co_uqueue_init(&leave_q, 0);
    ck_assert_int_eq(co_run(leaver_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "L:get=CANCEL:- L:next=CANCEL");
    ck_assert_int_eq(co_uqueue_put_thread(&leave_q, (void *)"z", 0), 0);
    ck_assert_int_eq((int)co_uqueue_qsize(&leave_q), 1);
    co_uqueue_free(&leave_q);
}
END_TEST

/* ------------------------------------------------------------ many waiters */

/* Enough waiting tasks that a wake or an unblock costing a search of the
 * waiters would show (issue 9); the tests check what happens, not speed. */
#define MANY 20000

static unsigned short hits[MANY + 1];  /* per task, or per item */

struct many_frame {
    co_frame co;
    co_uevent *e;
    co_uqueue *q;
    void *item;
    int id, rc;
};

/* Waits once; counts its own wake; returns the wait's result. */
static co_status many_ewaiter(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uevent_wait(t, f->e));
    if (f->rc == 0)
        hits[f->id]++;
    CO_RETURN(f->rc);
    CO_END;
}

/* Gets once; counts the item it got; returns the get's result, or the
 * item's number if wanted (> 0). */
static co_status many_getter(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    {   /* a block: no local may be live across an await */
        uintptr_t v = (uintptr_t)f->item;
        ck_assert(v >= 1 && v <= MANY);
        hits[v]++;
        CO_RETURN((int)v);
    }
    CO_END;
}

struct putn { co_uqueue *q; int first, n; };

/* Puts items first .. first + n - 1, in order. */
static void *put_n(void *arg)
{
    struct putn *p = arg;
    for (int i = 0; i < p->n; i++)
        ck_assert_int_eq(co_uqueue_put_thread(p->q, (void *)(uintptr_t)(p->first + i),
                                       -1), 0);
    return NULL;
}

struct crowd_frame {
    co_frame co;
    co_uevent e;
    co_uqueue q;
    co_task **tasks;
    struct many_frame mf;
    struct putn pn;
    pthread_t th;
    int i, rc, n;
};

/* MANY tasks running fn, in f->tasks; they run (and block) in the next
 * cycle. */
static void spawn_crowd(co_task *t, struct crowd_frame *f, co_func fn)
{
    for (int i = 0; i < MANY; i++) {
        f->mf = (struct many_frame){ .e = &f->e, .q = &f->q, .id = i + 1 };
        ck_assert_int_gt(co_spawn(t, &f->tasks[i], fn, &f->mf, sizeof f->mf,
                                  NULL), 0);
    }
}

/* One set from a plain thread wakes every waiting task, once. */
static co_status crowd_event_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    memset(hits, 0, sizeof hits);
    ck_assert_int_eq(co_uevent_init(&f->e), 0);
    spawn_crowd(t, f, many_ewaiter);
    CO_AWAIT(f->rc, co_yield(t));        /* they all block first */
    pthread_create(&f->th, NULL, set_event, &f->e);
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    pthread_join(f->th, NULL);
    for (int i = 1; i <= MANY; i++)
        ck_assert_msg(hits[i] == 1, "waiter %d woken %d times", i, hits[i]);
    co_uevent_free(&f->e);
    CO_END;
}

START_TEST(test_many_event_waiters)
{
    struct crowd_frame f = { .rc = 0 };
    f.tasks = calloc(MANY, sizeof *f.tasks);
    ck_assert_ptr_nonnull(f.tasks);
    ck_assert_int_eq(co_run(crowd_event_main, &f, sizeof f), 0);
    free(f.tasks);
}
END_TEST

/* N waiting getters get exactly the N items a thread puts, oldest getter
 * first: getter i gets item i. */
static co_status crowd_get_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    memset(hits, 0, sizeof hits);
    ck_assert_int_eq(co_uqueue_init(&f->q, 0), 0);
    spawn_crowd(t, f, many_getter);
    CO_AWAIT(f->rc, co_yield(t));        /* they all block first */
    f->pn = (struct putn){ &f->q, 1, MANY };
    pthread_create(&f->th, NULL, put_n, &f->pn);
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);
        ck_assert_int_eq(f->rc, f->i + 1);
    }
    pthread_join(f->th, NULL);
    for (int i = 1; i <= MANY; i++)
        ck_assert_msg(hits[i] == 1, "item %d taken %d times", i, hits[i]);
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), 0);
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_many_getters_from_thread)
{
    struct crowd_frame f = { .rc = 0 };
    f.tasks = calloc(MANY, sizeof *f.tasks);
    ck_assert_ptr_nonnull(f.tasks);
    ck_assert_int_eq(co_run(crowd_get_main, &f, sizeof f), 0);
    free(f.tasks);
}
END_TEST

/* Cancel every other waiting getter: the cancelled take nothing, and items
 * put afterwards go to the others, oldest first; the rest stay queued. */
#define EXTRA 5

static co_status crowd_cancel_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    memset(hits, 0, sizeof hits);
    ck_assert_int_eq(co_uqueue_init(&f->q, 0), 0);
    spawn_crowd(t, f, many_getter);
    CO_AWAIT(f->rc, co_yield(t));        /* they all block first */
    for (f->i = 1; f->i < MANY; f->i += 2)         /* the newest first */
        ck_assert_int_eq(co_task_cancel_nowait(f->tasks[MANY - f->i]), 1);
    for (f->i = 1; f->i < MANY; f->i += 2) {
        AWAIT_JOIN(f->rc, t, f->tasks[MANY - f->i]);
        ck_assert_int_eq(f->rc, -ECANCELED);
    }
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), 0);
    f->pn = (struct putn){ &f->q, 1, MANY / 2 + EXTRA };
    pthread_create(&f->th, NULL, put_n, &f->pn);
    for (f->i = 0, f->n = 1; f->i < MANY; f->i += 2, f->n++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);      /* getter 2k gets k + 1 */
        ck_assert_int_eq(f->rc, f->n);
    }
    pthread_join(f->th, NULL);
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), EXTRA);
    for (f->i = 0; f->i < EXTRA; f->i++) {
        ck_assert_int_eq(co_uqueue_get_thread(&f->q, &f->mf.item, 0), 0);
        ck_assert_int_eq((int)(uintptr_t)f->mf.item, MANY / 2 + 1 + f->i);
    }
    for (int i = 1; i <= MANY / 2; i++)
        ck_assert_msg(hits[i] == 1, "item %d taken %d times", i, hits[i]);
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_cancel_many_getters)
{
    struct crowd_frame f = { .rc = 0 };
    f.tasks = calloc(MANY, sizeof *f.tasks);
    ck_assert_ptr_nonnull(f.tasks);
    ck_assert_int_eq(co_run(crowd_cancel_main, &f, sizeof f), 0);
    free(f.tasks);
}
END_TEST

/* The run ends with every getter still waiting: shutdown cancels them all,
 * and none is left in the queue (items put afterwards are queued). */
static co_uqueue crowd_q;

static co_status crowd_leave_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < MANY; f->i++) {
        f->mf = (struct many_frame){ .q = &crowd_q };
        ck_assert_int_gt(CO_SPAWN(t, NULL, many_getter, f->mf), 0);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_END;
}

START_TEST(test_shutdown_many_getters)
{
    struct crowd_frame f = { .rc = 0 };
    struct putn pn = { &crowd_q, 1, MANY };
    ck_assert_int_eq(co_uqueue_init(&crowd_q, 0), 0);
    ck_assert_int_eq(co_run(crowd_leave_main, &f, sizeof f), 0);
    put_n(&pn);
    ck_assert_int_eq((int)co_uqueue_qsize(&crowd_q), MANY);
    co_uqueue_free(&crowd_q);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *universal_waiters_suite(void)
{
    Suite *s = suite_create("universal_waiters");
    TCase *tc;

    tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, universal_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_waiter_holds_kernel);
    tcase_add_test(tc, test_deadlock_still_detected);
    tcase_add_test(tc, test_shutdown_cancels_waiter);
    tcase_add_test(tc, test_many_event_waiters);
    tcase_add_test(tc, test_many_getters_from_thread);
    tcase_add_test(tc, test_cancel_many_getters);
    tcase_add_test(tc, test_shutdown_many_getters);
    suite_add_tcase(s, tc);
    return s;
}
