/*
 * test_sync_sequence.c -- Event, Lock, RLock, Semaphore and
 * BoundedSemaphore in Curio's sequences: who waits, who acquires, in
 * which order; no barging past a waiter; RLock's recursion.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "sync_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ Event */

/* Curio's test_event_get_wait: the waiter starts first and blocks; the
 * setter sets; setting does not yield, so the setter logs before the waiter
 * runs. */
struct ev_waiter_frame {
    co_frame co;
    int rc;
};

static co_status ev_waiter(co_task *t, void *arg)
{
    struct ev_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    note("wait_start");
    note("%d", co_event_is_set(&ev));
    CO_AWAIT(f->rc, co_event_wait(t, &ev));
    note("wait_done=%s", rcs(f->rc));
    note("%d", co_event_is_set(&ev));
    ck_assert_int_eq(co_event_clear(&ev), 0);
    note("%d", co_event_is_set(&ev));
    CO_END;
}

struct ev_setter_frame {
    co_frame co;
    int rc;
};

static co_status ev_setter(co_task *t, void *arg)
{
    struct ev_setter_frame *f = arg;
    CO_BEGIN(t, f);
    note("sleep");
    CO_AWAIT(f->rc, co_yield(t));
    note("event_set");
    ck_assert_int_eq(co_event_set(&ev), 0);
    note("set_returned");
    CO_END;
}

static co_status event_wait_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct ev_waiter_frame w = { 0 };
    struct ev_setter_frame s = { 0 };
    CO_BEGIN(t, f);
    if (f->ra)                  /* "already set" variant */
        co_event_set(&ev);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, ev_waiter, w), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->b, ev_setter, s), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_event_wait)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(event_wait_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "wait_start 0 sleep event_set set_returned "
                         "wait_done=0 1 0");
    ck_assert(!co_event_is_set(&ev));
}
END_TEST

/* Curio's test_event_get_immediate: already set, the wait returns at once
 * (without yielding: the waiter finishes before the setter starts). */
START_TEST(test_event_already_set)
{
    struct scene_frame m = { .ra = 1 };
    ck_assert_int_eq(co_run(event_wait_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "wait_start 1 wait_done=0 1 0 sleep event_set "
                         "set_returned");
    ck_assert(co_event_is_set(&ev));
}
END_TEST

/* Set wakes every waiter, oldest first; the setter keeps running; clearing
 * right after setting does not un-wake them (a pulse). */
static co_status event_all_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct worker_frame w = { .kind = K_EVENT, .hold = -1 };
    CO_BEGIN(t, f);
    w.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, &f->a, worker, w), 0);
    w.name = "B";
    ck_assert_int_gt(CO_SPAWN(t, &f->b, worker, w), 0);
    w.name = "C";
    ck_assert_int_gt(CO_SPAWN(t, &f->c, worker, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(waiting(K_EVENT), 3);
    note("set");
    ck_assert_int_eq(co_event_set(&ev), 0);
    ck_assert_int_eq(waiting(K_EVENT), 0);
    ck_assert_str_eq(co_task_state(f->a), "ready");
    ck_assert_str_eq(co_task_state(f->c), "ready");
    ck_assert_int_eq(co_event_clear(&ev), 0);
    note("cleared");
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert_int_eq(f->rc, 0);
    ck_assert(!co_event_is_set(&ev));
    CO_END;
}

START_TEST(test_event_set_wakes_all)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(event_all_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A wait B wait C wait set cleared "
                         "A acquire B acquire C acquire");
}
END_TEST

START_TEST(test_event_null)
{
    ck_assert_int_eq(co_event_set(NULL), -EINVAL);
    ck_assert_int_eq(co_event_clear(NULL), -EINVAL);
    ck_assert_int_eq(co_event_is_set(NULL), 0);
}
END_TEST

/* ------------------------------------------------------------ sequences */

/* Three workers on one object (Curio's test_lock_sequence,
 * test_sema_sequence, test_sema_sequence2). */
struct seq_frame {
    co_frame co;
    enum kind kind;
    double hold[3];
    co_task *w[3];
    int i, rc;
};

static co_status sequence_main(co_task *t, void *arg)
{
    struct seq_frame *f = arg;
    static const char *const names[] = { "work1", "work2", "work3" };
    struct worker_frame w = { .kind = f->kind, .show_locked = 1 };
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        w.name = names[f->i];
        w.hold = f->hold[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->w[f->i], worker, w), 0);
    }
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_JOIN(f->rc, t, f->w[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

static const char lock_sequence[] =
    "work1 wait locked=0 work1 acquire "
    "work2 wait locked=1 "
    "work3 wait locked=1 "
    "work1 release work2 acquire "
    "work2 release work3 acquire "
    "work3 release";

START_TEST(test_lock_sequence)
{
    struct seq_frame m = { .kind = K_LOCK, .hold = { 0.01, 0.01, 0.01 } };
    ck_assert_int_eq(co_run(sequence_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, lock_sequence);
    assert_free(K_LOCK);
}
END_TEST

START_TEST(test_rlock_sequence)
{
    struct seq_frame m = { .kind = K_RLOCK, .hold = { 0.01, 0.01, 0.01 } };
    ck_assert_int_eq(co_run(sequence_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, lock_sequence);
    assert_free(K_RLOCK);
}
END_TEST

START_TEST(test_sema_sequence)
{
    struct seq_frame m = { .kind = K_SEM, .hold = { 0.01, 0.01, 0.01 } };
    ck_assert_int_eq(co_run(sequence_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, lock_sequence);
    assert_free(K_SEM);
}
END_TEST

/* Semaphore(2), holds of different lengths: work3 gets the permit work1
 * gives back first, while work2 still holds the other. */
START_TEST(test_sema_sequence2)
{
    struct seq_frame m = { .kind = K_SEM, .hold = { 0.01, 0.03, 0.05 } };
    ck_assert_int_eq(co_semaphore_init(&sem, 2), 0);
    ck_assert_int_eq(co_run(sequence_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "work1 wait locked=0 work1 acquire "
                         "work2 wait locked=0 work2 acquire "
                         "work3 wait locked=1 "
                         "work1 release work3 acquire "
                         "work2 release "
                         "work3 release");
    ck_assert_int_eq(co_semaphore_value(&sem), 2);
    ck_assert_int_eq(waiting(K_SEM), 0);
}
END_TEST

/* ------------------------------------------------------------ no barging */

/* The holder releases to a waiter and at once asks again: it queues behind
 * the waiter (hand-off), it does not take the object back. */
static co_status no_barging_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct worker_frame w = { .kind = f->kind, .hold = 0, .name = "A" };
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, take(t, f->kind));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, worker, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(waiting(f->kind), 1);
    ck_assert_int_eq(give(t, f->kind), 0);
    note("main release");
    ck_assert(locked(f->kind));             /* handed over, not freed */
    if (f->kind == K_LOCK)
        ck_assert_ptr_eq(co_lock_owner(&lock), f->a);
    if (f->kind == K_RLOCK)
        ck_assert_ptr_eq(co_rlock_owner(&rlock), f->a);
    if (f->kind == K_SEM)
        ck_assert_int_eq(co_semaphore_value(&sem), 0);
    note("main again");
    CO_AWAIT(f->rc, take(t, f->kind));
    note("main acquire=%s", rcs(f->rc));
    ck_assert_int_eq(give(t, f->kind), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

static const char no_barging_log[] =
    "A wait main release main again A acquire A release main acquire=0";

START_TEST(test_lock_no_barging)
{
    struct scene_frame m = { .kind = K_LOCK };
    ck_assert_int_eq(co_run(no_barging_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, no_barging_log);
    assert_free(K_LOCK);
}
END_TEST

START_TEST(test_rlock_no_barging)
{
    struct scene_frame m = { .kind = K_RLOCK };
    ck_assert_int_eq(co_run(no_barging_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, no_barging_log);
    assert_free(K_RLOCK);
}
END_TEST

START_TEST(test_sema_no_barging)
{
    struct scene_frame m = { .kind = K_SEM };
    ck_assert_int_eq(co_run(no_barging_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, no_barging_log);
    assert_free(K_SEM);
}
END_TEST

/* ------------------------------------------------------------ RLock */

static co_status rlock_simple_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert(!co_rlock_locked(&rlock));
    ck_assert_int_eq(co_rlock_count(&rlock), 0);
    for (f->ra = 1; f->ra <= 3; f->ra++) {
        CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(co_rlock_count(&rlock), f->ra);
        ck_assert(co_rlock_locked(&rlock));
    }
    for (f->ra = 2; f->ra >= 0; f->ra--) {
        ck_assert_int_eq(co_rlock_release(t, &rlock), 0);
        ck_assert_int_eq(co_rlock_count(&rlock), f->ra);
        ck_assert_int_eq(co_rlock_locked(&rlock), f->ra > 0);
    }
    ck_assert_int_eq(co_rlock_release(t, &rlock), -EPERM);
    ck_assert_int_eq(co_rlock_count(&rlock), 0);
    CO_END;
}

START_TEST(test_rlock_simple)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(rlock_simple_main, &m, sizeof m), 0);
    assert_free(K_RLOCK);
}
END_TEST

/* Two workers, each acquiring twice: the second waits until the first has
 * released both, then owns it with a count of 1. */
struct nester_frame {
    co_frame co;
    const char *name;
    int rc;
};

static co_status nester(co_task *t, void *arg)
{
    struct nester_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s wait", f->name);
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    ck_assert_int_eq(f->rc, 0);
    note("%s acquire count=%d", f->name, co_rlock_count(&rlock));
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    ck_assert_int_eq(f->rc, 0);
    note("%s nested count=%d", f->name, co_rlock_count(&rlock));
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(co_rlock_release(t, &rlock), 0);
    note("%s nested release count=%d", f->name, co_rlock_count(&rlock));
    CO_AWAIT(f->rc, co_yield(t));           /* still held: nobody gets in */
    ck_assert_ptr_eq(co_rlock_owner(&rlock), t);
    ck_assert_int_eq(co_rlock_release(t, &rlock), 0);
    note("%s release", f->name);
    CO_END;
}

static co_status rlock_nest_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct nester_frame n = { .name = "A" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, nester, n), 0);
    n.name = "B";
    ck_assert_int_gt(CO_SPAWN(t, &f->b, nester, n), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_rlock_nesting)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(rlock_nest_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A wait A acquire count=1 A nested count=2 "
                         "B wait A nested release count=1 A release "
                         "B acquire count=1 B nested count=2 "
                         "B nested release count=1 B release");
    assert_free(K_RLOCK);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *sync_sequence_suite(void)
{
    Suite *s = suite_create("sync_sequence");
    TCase *tc;

    tc = tcase_create("event");
    tcase_add_checked_fixture(tc, sync_setup, NULL);
    tcase_add_test(tc, test_event_wait);
    tcase_add_test(tc, test_event_already_set);
    tcase_add_test(tc, test_event_set_wakes_all);
    tcase_add_test(tc, test_event_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("sequence");
    tcase_add_checked_fixture(tc, sync_setup, NULL);
    tcase_add_test(tc, test_lock_sequence);
    tcase_add_test(tc, test_rlock_sequence);
    tcase_add_test(tc, test_sema_sequence);
    tcase_add_test(tc, test_sema_sequence2);
    tcase_add_test(tc, test_lock_no_barging);
    tcase_add_test(tc, test_rlock_no_barging);
    tcase_add_test(tc, test_sema_no_barging);
    tcase_add_test(tc, test_rlock_simple);
    tcase_add_test(tc, test_rlock_nesting);
    suite_add_tcase(s, tc);
    return s;
}
