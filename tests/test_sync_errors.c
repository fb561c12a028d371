/*
 * test_sync_errors.c -- misuse of the synchronisation objects (releasing
 * what one does not hold, bounds, bad input), then cancellation and
 * timeout of every kind of wait, in the middle of a FIFO and after a
 * hand-off.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "sync_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ misuse */

/* Tries to release what main holds. */
struct thief_frame {
    co_frame co;
    enum kind kind;
};

static co_status thief(co_task *t, void *arg)
{
    struct thief_frame *f = arg;
    CO_BEGIN(t, f);
    note("thief=%s", rcs(give(t, f->kind)));
    CO_END;
}

static co_status lock_errors_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct thief_frame th = { .kind = K_LOCK };
    CO_BEGIN(t, f);
    note("unlocked=%s", rcs(co_lock_release(t, &lock)));
    CO_AWAIT(f->rc, co_lock_acquire(t, &lock));
    ck_assert_int_eq(f->rc, 0);
    /* acquiring it again: refused at once, still held */
    CO_AWAIT(f->rc, co_lock_acquire(t, &lock));
    note("again=%s", rcs(f->rc));
    ck_assert_ptr_eq(co_lock_owner(&lock), t);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, thief, th), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_ptr_eq(co_lock_owner(&lock), t);
    note("release=%s", rcs(co_lock_release(t, &lock)));
    note("twice=%s", rcs(co_lock_release(t, &lock)));
    note("null=%s", rcs(co_lock_release(t, NULL)));
    CO_AWAIT(f->rc, co_lock_acquire(t, NULL));
    note("null acquire=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_lock_errors)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(lock_errors_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "unlocked=EPERM again=EDEADLK thief=EPERM "
                         "release=0 twice=EPERM null=EINVAL "
                         "null acquire=EINVAL");
    assert_free(K_LOCK);
    ck_assert_int_eq(co_lock_locked(NULL), 0);
    ck_assert_ptr_null(co_lock_owner(NULL));
}
END_TEST

static co_status rlock_errors_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct thief_frame th = { .kind = K_RLOCK };
    CO_BEGIN(t, f);
    note("unlocked=%s", rcs(co_rlock_release(t, &rlock)));
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, thief, th), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_rlock_count(&rlock), 1);
    ck_assert_ptr_eq(co_rlock_owner(&rlock), t);
    note("release=%s", rcs(co_rlock_release(t, &rlock)));
    note("twice=%s", rcs(co_rlock_release(t, &rlock)));
    note("null=%s", rcs(co_rlock_release(t, NULL)));
    CO_END;
}

START_TEST(test_rlock_errors)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(rlock_errors_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "unlocked=EPERM thief=EPERM release=0 "
                         "twice=EPERM null=EINVAL");
    assert_free(K_RLOCK);
}
END_TEST

/* Curio's test_bounded: a release past the initial value is refused. */
static co_status bounded_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct worker_frame w = { .kind = K_SEM, .hold = -1, .name = "A" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_bounded_semaphore_init(&sem, 1), 0);
    CO_AWAIT(f->rc, co_semaphore_acquire(t, &sem));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_semaphore_value(&sem), 0);
    note("release=%s", rcs(co_semaphore_release(&sem)));
    note("value=%d", co_semaphore_value(&sem));
    note("over=%s", rcs(co_semaphore_release(&sem)));
    note("value=%d", co_semaphore_value(&sem));
    /* at the bound with a waiter: the release hands the permit over */
    CO_AWAIT(f->rc, co_semaphore_acquire(t, &sem));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, worker, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    note("handoff=%s", rcs(co_semaphore_release(&sem)));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    note("value=%d", co_semaphore_value(&sem));
    note("over=%s", rcs(co_semaphore_release(&sem)));
    CO_END;
}

START_TEST(test_bounded_semaphore)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(bounded_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "release=0 value=1 over=EINVAL value=1 "
                         "A wait handoff=0 A acquire A release "
                         "value=1 over=EINVAL");
    assert_free(K_SEM);
}
END_TEST

START_TEST(test_semaphore_values)
{
    ck_assert_int_eq(co_semaphore_init(&sem, -1), -EINVAL);
    ck_assert_int_eq(co_bounded_semaphore_init(&sem, -1), -EINVAL);
    ck_assert_int_eq(co_semaphore_init(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_semaphore_release(NULL), -EINVAL);
    /* a plain semaphore has no bound */
    ck_assert_int_eq(co_semaphore_init(&sem, 1), 0);
    ck_assert_int_eq(co_semaphore_release(&sem), 0);
    ck_assert_int_eq(co_semaphore_value(&sem), 2);
    ck_assert(!co_semaphore_locked(&sem));
    ck_assert_int_eq(co_bounded_semaphore_init(&sem, 2), 0);
    ck_assert_int_eq(co_semaphore_release(&sem), -EINVAL);
    ck_assert_int_eq(co_semaphore_value(&sem), 2);
    ck_assert_int_eq(co_semaphore_init(&sem, 0), 0);
    ck_assert(co_semaphore_locked(&sem));
}
END_TEST

/* Counting past INT_MAX is refused with -EOVERFLOW, and nothing changes
 * (UBSan flagged the signed overflow both used to make). */
START_TEST(test_semaphore_overflow)
{
    ck_assert_int_eq(co_semaphore_init(&sem, INT_MAX - 1), 0);
    ck_assert_int_eq(co_semaphore_release(&sem), 0);
    ck_assert_int_eq(co_semaphore_value(&sem), INT_MAX);
    ck_assert_int_eq(co_semaphore_release(&sem), -EOVERFLOW);
    ck_assert_int_eq(co_semaphore_value(&sem), INT_MAX);
}
END_TEST

static co_status rlock_overflow_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    ck_assert_int_eq(f->rc, 0);
    /* 2^31 acquires would take a minute: start just below the top */
    rlock.priv.count = INT_MAX - 1;
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    note("last=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    note("over=%s count=%d", rcs(f->rc), co_rlock_count(&rlock));
    rlock.priv.count = 1;
    ck_assert_int_eq(co_rlock_release(t, &rlock), 0);
    note("locked=%d", co_rlock_locked(&rlock));
    CO_END;
}

START_TEST(test_rlock_overflow)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(rlock_overflow_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "last=0 over=-75 count=2147483647 locked=0");
    assert_free(K_RLOCK);
}
END_TEST

/* ------------------------------------------------------------ cancel / timeout */

/* Main holds the object (for an event: leaves it clear); A, B, C wait in
 * that order; B is cancelled (f->rb == 0) or times out (B's worker has a
 * timeout) while in the middle of the queue; then main gives the object
 * back and A, then C, get it. */
static co_status middle_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct worker_frame w = { .kind = f->kind, .hold = -1 };
    CO_BEGIN(t, f);
    if (f->kind != K_EVENT) {
        CO_AWAIT(f->rc, take(t, f->kind));
        ck_assert_int_eq(f->rc, 0);
    }
    w.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, &f->a, worker, w), 0);
    w.name = "B";
    w.timeout = f->ra ? 0.01 : 0;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, worker, w), 0);
    w.name = "C";
    w.timeout = 0;
    ck_assert_int_gt(CO_SPAWN(t, &f->c, worker, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(waiting(f->kind), 3);
    if (f->ra) {
        CO_AWAIT(f->rc, co_sleep(t, 0.05));
        note("slept");
    } else {
        note("cancel B");
        CO_AWAIT(f->rc, co_task_cancel(t, f->b));
        note("cancel=%s", rcs(f->rc));
    }
    ck_assert(co_task_done(f->b));
    ck_assert_int_eq(waiting(f->kind), 2);
    ck_assert(locked(f->kind));
    note("release");
    ck_assert_int_eq(give(t, f->kind), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, f->ra ? -ETIMEDOUT : -ECANCELED);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

static void run_middle(enum kind k, int timeout, const char *expect)
{
    struct scene_frame m = { .kind = k, .ra = timeout };
    ck_assert_int_eq(co_run(middle_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, expect);
    assert_free(k);
}

#define CANCEL_B "A wait B wait C wait cancel B B acquire=CANCEL cancel=1 "
#define TIMEOUT_B "A wait B wait C wait B acquire=TIMEOUT slept "
#define THEN_AC "release A acquire A release C acquire C release"

START_TEST(test_event_wait_cancel_middle)
{
    run_middle(K_EVENT, 0, CANCEL_B "release A acquire C acquire");
}
END_TEST

START_TEST(test_event_wait_timeout_middle)
{
    run_middle(K_EVENT, 1, TIMEOUT_B "release A acquire C acquire");
}
END_TEST

START_TEST(test_lock_acquire_cancel_middle)
{
    run_middle(K_LOCK, 0, CANCEL_B THEN_AC);
}
END_TEST

START_TEST(test_lock_acquire_timeout_middle)
{
    run_middle(K_LOCK, 1, TIMEOUT_B THEN_AC);
}
END_TEST

START_TEST(test_rlock_acquire_cancel_middle)
{
    run_middle(K_RLOCK, 0, CANCEL_B THEN_AC);
}
END_TEST

START_TEST(test_rlock_acquire_timeout_middle)
{
    run_middle(K_RLOCK, 1, TIMEOUT_B THEN_AC);
}
END_TEST

START_TEST(test_sema_acquire_cancel_middle)
{
    run_middle(K_SEM, 0, CANCEL_B THEN_AC);
}
END_TEST

START_TEST(test_sema_acquire_timeout_middle)
{
    run_middle(K_SEM, 1, TIMEOUT_B THEN_AC);
}
END_TEST

/* Main gives the object to A (the oldest waiter) and cancels A before A
 * runs: A's acquire still succeeds (it owns the lock / permit), its next
 * blocking call is cancelled, and its cleanup gives the object back, so B
 * gets it next. */
static co_status handoff_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct worker_frame w = { .kind = f->kind, .hold = 0, .name = "A" };
    CO_BEGIN(t, f);
    if (f->kind != K_EVENT) {
        CO_AWAIT(f->rc, take(t, f->kind));
        ck_assert_int_eq(f->rc, 0);
    }
    ck_assert_int_gt(CO_SPAWN(t, &f->a, worker, w), 0);
    w.name = "B";
    w.hold = -1;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, worker, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(waiting(f->kind), 2);
    note("release");
    ck_assert_int_eq(give(t, f->kind), 0);
    ck_assert_str_eq(co_task_state(f->a), "ready");
    if (f->kind == K_LOCK)
        ck_assert_ptr_eq(co_lock_owner(&lock), f->a);
    if (f->kind == K_RLOCK)
        ck_assert_ptr_eq(co_rlock_owner(&rlock), f->a);
    if (f->kind == K_SEM)
        ck_assert_int_eq(co_semaphore_value(&sem), 0);
    note("cancel A");
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

static void run_handoff(enum kind k, const char *expect)
{
    struct scene_frame m = { .kind = k };
    ck_assert_int_eq(co_run(handoff_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, expect);
    assert_free(k);
}

#define HANDOFF "A wait B wait release cancel A A acquire A hold=CANCEL "

START_TEST(test_event_set_then_cancel)
{
    run_handoff(K_EVENT, HANDOFF "B acquire");
}
END_TEST

START_TEST(test_lock_handoff_then_cancel)
{
    run_handoff(K_LOCK, HANDOFF "A release B acquire B release");
}
END_TEST

START_TEST(test_rlock_handoff_then_cancel)
{
    run_handoff(K_RLOCK, HANDOFF "A release B acquire B release");
}
END_TEST

START_TEST(test_sema_handoff_then_cancel)
{
    run_handoff(K_SEM, HANDOFF "A release B acquire B release");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *sync_errors_suite(void)
{
    Suite *s = suite_create("sync_errors");
    TCase *tc;

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, sync_setup, NULL);
    tcase_add_test(tc, test_lock_errors);
    tcase_add_test(tc, test_rlock_errors);
    tcase_add_test(tc, test_bounded_semaphore);
    tcase_add_test(tc, test_semaphore_values);
    tcase_add_test(tc, test_semaphore_overflow);
    tcase_add_test(tc, test_rlock_overflow);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_add_checked_fixture(tc, sync_setup, NULL);
    tcase_add_test(tc, test_event_wait_cancel_middle);
    tcase_add_test(tc, test_event_wait_timeout_middle);
    tcase_add_test(tc, test_lock_acquire_cancel_middle);
    tcase_add_test(tc, test_lock_acquire_timeout_middle);
    tcase_add_test(tc, test_rlock_acquire_cancel_middle);
    tcase_add_test(tc, test_rlock_acquire_timeout_middle);
    tcase_add_test(tc, test_sema_acquire_cancel_middle);
    tcase_add_test(tc, test_sema_acquire_timeout_middle);
    tcase_add_test(tc, test_event_set_then_cancel);
    tcase_add_test(tc, test_lock_handoff_then_cancel);
    tcase_add_test(tc, test_rlock_handoff_then_cancel);
    tcase_add_test(tc, test_sema_handoff_then_cancel);
    suite_add_tcase(s, tc);
    return s;
}
