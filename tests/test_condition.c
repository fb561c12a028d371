/*
 * test_condition.c -- co_condition: Curio's test_sync.py Condition
 * scenarios (two consumers and a producer, wait_for, notify_all), misuse,
 * and waits that are cancelled or time out (the lock is held on return).
 */
#include <errno.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "suites.h"
#include "../sync/condition.h"

static co_condition cond;
static co_lock lock;
static int items[16];          /* Curio's list `q`: append / pop */
static int nitems;

static void setup(void)
{
    log_reset();
    co_condition_init(&cond, &lock);
    lock = (co_lock){ 0 };
    nitems = 0;
    memset(items, 0, sizeof items);   /* tests share one process without fork */
}

struct main_frame {
    co_frame co;
    co_task *a, *b, *c;
    int i, n, rc, pending;
};

/* ------------------------------------------------------------ sequence */

/* Curio: consumer() loops taking items under the condition, waiting when
 * the list is empty; None (-1) ends it. */
struct consumer_frame {
    co_frame co;
    const char *label;
    int item, rc, pending;
};

static co_status consumer(co_task *t, void *arg)
{
    struct consumer_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
        ck_assert_int_eq(f->rc, 0);
        if (nitems == 0) {
            note("%s:wait", f->label);
            CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
            ck_assert_int_eq(f->rc, 0);
            ck_assert_ptr_eq(co_lock_owner(&lock), t);
        }
        ck_assert_int_gt(nitems, 0);
        f->item = items[--nitems];
        if (f->item < 0) {
            co_condition_release(t, &cond);
            break;
        }
        note("%s:%d", f->label, f->item);
        ck_assert_int_eq(co_condition_release(t, &cond), 0);
    }
    note("%s:done", f->label);
    CO_END;
}

struct producer_frame {
    co_frame co;
    int count, nconsumers, n, rc;
};

static co_status producer(co_task *t, void *arg)
{
    struct producer_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->n = 0; f->n < f->count; f->n++) {
        CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
        items[nitems++] = f->n;
        note("producing:%d", f->n);
        ck_assert_int_eq(co_condition_notify(t, &cond, 1), 1);
        co_condition_release(t, &cond);
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
    }
    for (f->n = 0; f->n < f->nconsumers; f->n++) {
        CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
        items[nitems++] = -1;
        note("ending:%d", f->n);
        ck_assert_int_eq(co_condition_notify(t, &cond, 1), 1);
        co_condition_release(t, &cond);
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
    }
    CO_END;
}

static co_status sequence_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct consumer_frame c1 = { .label = "cons1" };
    struct consumer_frame c2 = { .label = "cons2" };
    struct producer_frame p = { .count = 4, .nconsumers = 2 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, consumer, c1);
    CO_SPAWN(t, &f->b, consumer, c2);
    CO_SPAWN(t, &f->c, producer, p);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_cond_sequence)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(sequence_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "cons1:wait cons2:wait "
                         "producing:0 cons1:0 cons1:wait "
                         "producing:1 cons2:1 cons2:wait "
                         "producing:2 cons1:2 cons1:wait "
                         "producing:3 cons2:3 cons2:wait "
                         "ending:0 cons1:done ending:1 cons2:done");
}
END_TEST

/* ------------------------------------------------------------ wait_for */

static int three_items(void *arg)
{
    (void)arg;
    ck_assert_ptr_eq(co_lock_owner(&lock), co_current_task());
    note("pred:%d", nitems);
    return nitems >= 3;
}

struct waitfor_frame {
    co_frame co;
    int rc, pending;
};

static co_status waitfor_consumer(co_task *t, void *arg)
{
    struct waitfor_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("consumer:wait");
    CO_AWAIT(f->rc, co_condition_wait_for(t, &cond, three_items, NULL,
                                          &f->pending));
    ck_assert_ptr_eq(co_lock_owner(&lock), t);
    note("consumer:%s:%d,%d,%d", rcs(f->rc), items[0], items[1], items[2]);
    co_condition_release(t, &cond);
    note("consumer:done");
    CO_END;
}

static co_status waitfor_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct waitfor_frame w = { 0 };
    struct producer_frame p = { .count = 3 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, waitfor_consumer, w);
    CO_SPAWN(t, &f->b, producer, p);
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    /* already true: returns at once, holding the lock, without yielding */
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    ck_assert_int_eq(co_condition_wait_for(t, &cond, three_items, NULL,
                                           &f->pending), 0);
    ck_assert_ptr_eq(co_lock_owner(&lock), t);
    ck_assert_int_eq(co_condition_wait_for(t, &cond, NULL, NULL,
                                           &f->pending), -EINVAL);
    co_condition_release(t, &cond);
    CO_END;
}

START_TEST(test_cond_wait_for)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(waitfor_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "consumer:wait pred:0 "
                         "producing:0 pred:1 producing:1 pred:2 "
                         "producing:2 pred:3 consumer:0:0,1,2 consumer:done "
                         "pred:3");
}
END_TEST

/* Notified with the predicate still false, and cancelled meanwhile: the
 * wait_for does not go back to sleep but returns -ECANCELED, holding the
 * lock. */
static co_status waitfor_cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct waitfor_frame w = { 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, waitfor_consumer, w);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    items[nitems++] = 7;
    note("notify=%d", co_condition_notify(t, &cond, 1));
    co_task_cancel_nowait(f->a);
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert(!co_lock_locked(&lock));
    CO_END;
}

START_TEST(test_cond_wait_for_cancelled)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(waitfor_cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "consumer:wait pred:0 notify=1 pred:1 "
                         "consumer:CANCEL:7,0,0 consumer:done");
}
END_TEST

/* ------------------------------------------------------------ notify_all */

/* Waits; on wakeup holds the lock across a yield, so the next woken waiter
 * must queue for the lock. */
struct waiter_frame {
    co_frame co;
    const char *label;
    int rc, pending;
};

static co_status waiter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("%s:wait", f->label);
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    ck_assert_ptr_eq(co_lock_owner(&lock), t);
    note("%s:wakeup=%s", f->label, rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("%s:release", f->label);
    co_condition_release(t, &cond);
    CO_RETURN(f->rc);
    CO_END;
}

static co_status notify_all_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct waiter_frame wa = { .label = "a" }, wb = { .label = "b" },
                        wc = { .label = "c" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, waiter, wa);
    CO_SPAWN(t, &f->b, waiter, wb);
    CO_SPAWN(t, &f->c, waiter, wc);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("notify");
    f->n = co_condition_notify_all(t, &cond);
    note("notified=%d", f->n);
    CO_AWAIT(f->rc, co_yield(t));      /* the waiters cannot run: locked */
    note("release");
    co_condition_release(t, &cond);
    note("released");
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert(!co_lock_locked(&lock));
    CO_END;
}

START_TEST(test_cond_notify_all)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(notify_all_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "a:wait b:wait c:wait notify notified=3 release "
                         "released a:wakeup=0 a:release b:wakeup=0 "
                         "b:release c:wakeup=0 c:release");
}
END_TEST

/* notify(2) wakes the two oldest, notify(0) none; the rest stay. */
static co_status notify_n_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct waiter_frame wa = { .label = "a" }, wb = { .label = "b" },
                        wc = { .label = "c" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, waiter, wa);
    CO_SPAWN(t, &f->b, waiter, wb);
    CO_SPAWN(t, &f->c, waiter, wc);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("n0=%d", co_condition_notify(t, &cond, 0));
    note("n2=%d", co_condition_notify(t, &cond, 2));
    ck_assert_int_eq(co_condition_notify(t, &cond, -1), -EINVAL);
    co_condition_release(t, &cond);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("later");
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("n5=%d", co_condition_notify(t, &cond, 5));
    note("n1=%d", co_condition_notify(t, &cond, 1));
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_JOIN(f->rc, t, f->c);
    CO_END;
}

START_TEST(test_cond_notify_n)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(notify_n_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "a:wait b:wait c:wait n0=0 n2=2 "
                         "a:wakeup=0 a:release b:wakeup=0 b:release "
                         "later n5=1 n1=0 c:wakeup=0 c:release");
}
END_TEST

/* ------------------------------------------------------------ misuse */

static co_status holder(co_task *t, void *arg)
{
    struct waitfor_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    co_condition_release(t, &cond);
    CO_END;
}

static co_status eperm_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct waitfor_frame h = { 0 };
    CO_BEGIN(t, f);
    /* unlocked */
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    note("wait=%d", f->rc == -EPERM);
    CO_AWAIT(f->rc, co_condition_wait_for(t, &cond, three_items, NULL,
                                          &f->pending));
    note("wait_for=%d", f->rc == -EPERM);
    note("notify=%d", co_condition_notify(t, &cond, 1) == -EPERM);
    note("notify_all=%d", co_condition_notify_all(t, &cond) == -EPERM);
    note("release=%d", co_condition_release(t, &cond) == -EPERM);
    /* held by another task */
    CO_SPAWN(t, &f->a, holder, h);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert(co_condition_locked(&cond));
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    note("other:wait=%d", f->rc == -EPERM);
    note("other:notify=%d", co_condition_notify(t, &cond, 1) == -EPERM);
    ck_assert_ptr_ne(co_lock_owner(&lock), t);
    AWAIT_JOIN(f->rc, t, f->a);
    /* bad arguments */
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, NULL));
    note("null=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_condition_wait(t, NULL, &f->pending));
    note("nullc=%s", rcs(f->rc));
    ck_assert_ptr_eq(co_lock_owner(&lock), t);   /* untouched */
    co_condition_release(t, &cond);
    ck_assert_int_eq(co_condition_init(NULL, NULL), -EINVAL);
    CO_END;
}

START_TEST(test_cond_eperm)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(eperm_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "wait=1 wait_for=1 notify=1 notify_all=1 release=1 "
                         "other:wait=1 other:notify=1 null=EINVAL "
                         "nullc=EINVAL");
}
END_TEST

/* An all-zero condition uses its own lock. */
static co_status own_lock_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    static co_condition own;
    CO_BEGIN(t, f);
    own = (co_condition){ 0 };
    ck_assert(!co_condition_locked(&own));
    CO_AWAIT(f->rc, co_condition_acquire(t, &own));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(co_condition_locked(&own));
    ck_assert_ptr_eq(co_condition_lock(&own), &own.priv.own);
    ck_assert_int_eq(co_condition_notify(t, &own, 1), 0);
    ck_assert_int_eq(co_condition_release(t, &own), 0);
    ck_assert(!co_condition_locked(&own));
    CO_END;
}

START_TEST(test_cond_own_lock)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(own_lock_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ cancel */

/* Waits; logs the result and who holds the lock; then proves cancellation
 * is enabled again (a sleep is refused when cancelled). */
struct victim_frame {
    co_frame co;
    co_timeout to;
    double timeout;
    int rc, pending;
};

static co_status victim(co_task *t, void *arg)
{
    struct victim_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("V:wait");
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    note("V:wait=%s held=%d", rcs(f->rc), co_lock_owner(&lock) == t);
    ck_assert_int_eq(co_condition_release(t, &cond), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0));
    note("V:next=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->timeout > 0)
        CO_RESULT() = co_timeout_end(t, &f->to, CO_RESULT());
    CO_END;
}

/* Cancelled while the main task holds the lock: the victim queues for the
 * lock, unmoved by anything, and returns -ECANCELED once it has it. */
static co_status cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct victim_frame v = { 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, victim, v);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("M:cancel");
    co_task_cancel_nowait(f->a);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("M:release");
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    ck_assert(!co_lock_locked(&lock));
    CO_END;
}

START_TEST(test_cond_wait_cancelled)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "V:wait M:cancel M:release V:wait=CANCEL held=1 "
                         "V:next=CANCEL M:join=CANCEL");
}
END_TEST

/* Cancelled with the lock free: it takes it at once. */
static co_status cancel_free_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct victim_frame v = { 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, victim, v);
    CO_AWAIT(f->rc, co_yield(t));
    note("M:cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_cond_wait_cancelled_lock_free)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_free_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "V:wait M:cancel V:wait=CANCEL held=1 "
                         "V:next=CANCEL M:join=CANCEL");
}
END_TEST

/* Notified, then cancelled before it runs, the lock still held by the
 * notifier: the notification came first, so the wait returns 0 -- with
 * the lock, once the notifier releases it -- and the cancellation reaches
 * the next blocking call.  (It used to return -ECANCELED although notify
 * had counted it: with notify(1), a notification lost.) */
static co_status notified_cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct victim_frame v = { 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, victim, v);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    ck_assert_int_eq(co_condition_notify(t, &cond, 1), 1);
    co_task_cancel_nowait(f->a);
    note("M:notified+cancelled");
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("M:release");
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_cond_notified_then_cancelled)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(notified_cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "V:wait M:notified+cancelled M:release "
                         "V:wait=0 held=1 V:next=CANCEL M:join=CANCEL");
}
END_TEST

/* Cancelled while queued for the lock after a notify: the queueing is not
 * interruptible, the wait returns 0 and the next call -ECANCELED. */
static co_status cancel_in_lock_queue_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct victim_frame v = { 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, victim, v);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    ck_assert_int_eq(co_condition_notify(t, &cond, 1), 1);
    CO_AWAIT(f->rc, co_yield(t));              /* V queues for the lock */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    note("M:cancel");
    co_task_cancel_nowait(f->a);
    CO_AWAIT(f->rc, co_yield(t));              /* V is not woken */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    note("M:release");
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_cond_cancelled_in_lock_queue)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(cancel_in_lock_queue_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "V:wait M:cancel M:release V:wait=0 held=1 "
                         "V:next=CANCEL M:join=CANCEL");
}
END_TEST

/* Timed out at 0.02 while the main task holds the lock until 0.05: the
 * wait returns -ETIMEDOUT at 0.05, holding the lock. */
static co_status timeout_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct victim_frame v = { .timeout = 0.02 };
    static double t0;
    CO_BEGIN(t, f);
    t0 = co_clock();
    CO_SPAWN(t, &f->a, victim, v);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("M:locked");
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    note("M:release");
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    ck_assert(co_clock() - t0 >= 0.05);
    CO_END;
}

START_TEST(test_cond_wait_timeout)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(timeout_main, &m, sizeof m), 0);
    /* after its own timeout, the region keeps refusing: next=TIMEOUT */
    ck_assert_str_eq(lg, "V:wait M:locked M:release V:wait=TIMEOUT held=1 "
                         "V:next=TIMEOUT M:join=TIMEOUT");
}
END_TEST

/* Timed out, then cancelled while queued for the lock: the cancellation
 * is held back until the lock is re-acquired, the wait returns its own
 * -ETIMEDOUT, and the next blocking call gets -ECANCELED. */
static co_status timeout_then_cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct victim_frame v = { .timeout = 0.02 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, victim, v);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    CO_AWAIT(f->rc, co_sleep(t, 0.04));         /* V times out meanwhile */
    note("M:cancel");
    co_task_cancel_nowait(f->a);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    note("M:release");
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_cond_timeout_then_cancel)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(timeout_then_cancel_main, &m, sizeof m), 0);
    /* the region's own expiry is what the task returns (co_timeout_end) */
    ck_assert_str_eq(lg, "V:wait M:cancel M:release V:wait=TIMEOUT held=1 "
                         "V:next=CANCEL M:join=TIMEOUT");
}
END_TEST

/* wait hands the lock to the task queued for it, which can notify. */
struct locker_frame {
    co_frame co;
    int rc;
};

static co_status locker(co_task *t, void *arg)
{
    struct locker_frame *f = arg;
    CO_BEGIN(t, f);
    note("B:acquire");
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("B:locked=%s", rcs(f->rc));
    note("B:notify=%d", co_condition_notify(t, &cond, 1));
    co_condition_release(t, &cond);
    CO_END;
}

static co_status handoff_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct locker_frame b = { 0 };
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    CO_SPAWN(t, &f->a, locker, b);
    CO_AWAIT(f->rc, co_yield(t));              /* B queues for the lock */
    note("A:wait");
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    note("A:wait=%s held=%d", rcs(f->rc), co_lock_owner(&lock) == t);
    co_condition_release(t, &cond);
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_cond_wait_hands_lock_over)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(handoff_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B:acquire A:wait B:locked=0 B:notify=1 "
                         "A:wait=0 held=1");
}
END_TEST

/* A cancellation pending before the wait: refused, the lock stays held. */
static co_status precancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    co_task_cancel_nowait(t);
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    note("wait=%s held=%d", rcs(f->rc), co_lock_owner(&lock) == t);
    co_condition_release(t, &cond);
    CO_END;
}

START_TEST(test_cond_wait_precancelled)
{
    struct main_frame m = { 0 };
    co_run(precancel_main, &m, sizeof m);
    ck_assert_str_eq(lg, "wait=CANCEL held=1");
}
END_TEST

Suite *condition_suite(void)
{
    Suite *s = suite_create("condition");
    TCase *tc = tcase_create("condition");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_cond_sequence);
    tcase_add_test(tc, test_cond_wait_for);
    tcase_add_test(tc, test_cond_wait_for_cancelled);
    tcase_add_test(tc, test_cond_notify_all);
    tcase_add_test(tc, test_cond_notify_n);
    tcase_add_test(tc, test_cond_eperm);
    tcase_add_test(tc, test_cond_own_lock);
    tcase_add_test(tc, test_cond_wait_cancelled);
    tcase_add_test(tc, test_cond_wait_cancelled_lock_free);
    tcase_add_test(tc, test_cond_notified_then_cancelled);
    tcase_add_test(tc, test_cond_cancelled_in_lock_queue);
    tcase_add_test(tc, test_cond_wait_timeout);
    tcase_add_test(tc, test_cond_wait_precancelled);
    tcase_add_test(tc, test_cond_timeout_then_cancel);
    tcase_add_test(tc, test_cond_wait_hands_lock_over);
    suite_add_tcase(s, tc);
    return s;
}
