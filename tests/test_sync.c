/*
 * test_sync.c -- Event, Lock, RLock, Semaphore and BoundedSemaphore.
 *
 * The sequences are Curio's own (tests/test_sync.py): workers log when they
 * wait, acquire and release, and each test compares the whole log.  Orders
 * come from spawn order and yields; sleeps appear only where the scenario is
 * about time (hold times, timeouts).  Then cancellation and timeout of every
 * kind of wait, in the middle of a FIFO and after a hand-off.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "suites.h"

/* ------------------------------------------------------------ shared state */

enum kind { K_EVENT, K_LOCK, K_RLOCK, K_SEM };

static co_event ev;
static co_lock lock;
static co_rlock rlock;
static co_semaphore sem;

static void setup(void)
{
    log_reset();
    memset(&ev, 0, sizeof ev);
    memset(&lock, 0, sizeof lock);
    memset(&rlock, 0, sizeof rlock);
    co_semaphore_init(&sem, 1);
}

/* The one blocking call of each kind: wait for the event, or acquire. */
static co_status take(co_task *t, enum kind k)
{
    switch (k) {
    case K_EVENT: return co_event_wait(t, &ev);
    case K_LOCK:  return co_lock_acquire(t, &lock);
    case K_RLOCK: return co_rlock_acquire(t, &rlock);
    case K_SEM:   return co_semaphore_acquire(t, &sem);
    }
    return -EINVAL;
}

/* Give it back; for the event, set it. */
static int give(co_task *t, enum kind k)
{
    switch (k) {
    case K_EVENT: return co_event_set(&ev);
    case K_LOCK:  return co_lock_release(t, &lock);
    case K_RLOCK: return co_rlock_release(t, &rlock);
    case K_SEM:   return co_semaphore_release(&sem);
    }
    return -EINVAL;
}

static co_waitq *queue_of(enum kind k)
{
    switch (k) {
    case K_EVENT: return &ev.waiters;
    case K_LOCK:  return &lock.waiters;
    case K_RLOCK: return &rlock.lock.waiters;
    case K_SEM:   return &sem.waiters;
    }
    return NULL;
}

/* Tasks blocked on the object's queue. */
static int waiting(enum kind k)
{
    co_waitq *q = queue_of(k);
    int n = 0;
    if (co_waitq_empty(q))
        return 0;
    for (co_link *l = q->head.next; l != &q->head; l = l->next)
        n++;
    return n;
}

/* Nobody holds it and nobody waits: the end state of every scenario. */
static void assert_free(enum kind k)
{
    ck_assert_int_eq(waiting(k), 0);
    switch (k) {
    case K_EVENT:
        break;
    case K_LOCK:
        ck_assert(!co_lock_locked(&lock));
        ck_assert_ptr_null(co_lock_owner(&lock));
        break;
    case K_RLOCK:
        ck_assert(!co_rlock_locked(&rlock));
        ck_assert_int_eq(co_rlock_count(&rlock), 0);
        break;
    case K_SEM:
        ck_assert_int_eq(co_semaphore_value(&sem), 1);
        break;
    }
}

static int locked(enum kind k)
{
    switch (k) {
    case K_EVENT: return !co_event_is_set(&ev);
    case K_LOCK:  return co_lock_locked(&lock);
    case K_RLOCK: return co_rlock_locked(&rlock);
    case K_SEM:   return co_semaphore_locked(&sem);
    }
    return -1;
}

/* ------------------------------------------------------------ the worker */

/* Logs "<name> wait", takes the object (inside a timeout region if
 * `timeout` > 0), logs "<name> acquire" (or "<name> acquire=<error>" and
 * returns it), holds it -- `hold` > 0: sleeps that long; 0: one co_yield;
 * < 0: not at all -- and in its cleanup gives it back and logs
 * "<name> release" (nothing to give back for an event). */
struct worker_frame {
    co_frame co;
    const char *name;
    enum kind kind;
    double hold;
    double timeout;
    int show_locked;    /* log "locked=<0|1>" before taking it (Curio's) */
    co_timeout to;
    int held, rc;
};

static co_status worker(co_task *t, void *arg)
{
    struct worker_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s wait", f->name);
    if (f->show_locked)
        note("locked=%d", locked(f->kind));
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, take(t, f->kind));
    if (f->timeout > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    if (f->rc < 0) {
        note("%s acquire=%s", f->name, rcs(f->rc));
        CO_RETURN(f->rc);
    }
    f->held = 1;
    note("%s acquire", f->name);
    if (f->hold > 0)
        CO_AWAIT(f->rc, co_sleep(t, f->hold));
    else if (f->hold == 0)
        CO_AWAIT(f->rc, co_yield(t));
    if (f->rc < 0)
        note("%s hold=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->held && f->kind != K_EVENT) {
        ck_assert_int_eq(give(t, f->kind), 0);
        note("%s release", f->name);
    }
    CO_END;
}

/* Main's frame for most scenarios. */
struct scene_frame {
    co_frame co;
    enum kind kind;
    co_task *a, *b, *c;
    int rc, ra, rb, rc_c;
};

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
        ck_assert_ptr_eq(co_lock_owner(&rlock.lock), f->a);
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
    ck_assert_ptr_eq(co_lock_owner(&rlock.lock), t);
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
    ck_assert_ptr_eq(co_lock_owner(&rlock.lock), t);
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
    rlock.count = INT_MAX - 1;
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    note("last=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_rlock_acquire(t, &rlock));
    note("over=%s count=%d", rcs(f->rc), co_rlock_count(&rlock));
    rlock.count = 1;
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
        ck_assert_ptr_eq(co_lock_owner(&rlock.lock), f->a);
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

Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("event");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_event_wait);
    tcase_add_test(tc, test_event_already_set);
    tcase_add_test(tc, test_event_set_wakes_all);
    tcase_add_test(tc, test_event_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("sequence");
    tcase_add_checked_fixture(tc, setup, NULL);
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

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_lock_errors);
    tcase_add_test(tc, test_rlock_errors);
    tcase_add_test(tc, test_bounded_semaphore);
    tcase_add_test(tc, test_semaphore_values);
    tcase_add_test(tc, test_semaphore_overflow);
    tcase_add_test(tc, test_rlock_overflow);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_add_checked_fixture(tc, setup, NULL);
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
