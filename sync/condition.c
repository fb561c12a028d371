/*
 * condition.c -- a lock and a FIFO of waiters.
 *
 * One waiter's wait goes through up to two blockings, both inside the one
 * primitive, each re-evaluation telling where it stands from the wake value
 * and the lock's owner:
 *
 *   1. on c->waiters, after releasing the lock;
 *      woken 0 by notify: the wait has what it waited for.  It takes the
 *      lock if free, else
 *   2. queues for the lock with cancellation held back (as Curio, which
 *      re-acquires inside disable_cancellation): a notification is handed
 *      over like a lock or an item, so a cancellation or an expiry that
 *      comes after it is for the next blocking call, never reported by a
 *      wait that was notified (one outcome per call).  *pending is
 *      NOTIFIED meanwhile;
 *      woken < 0 in 1. (cancelled or timed out before any notify): the lock
 *      must still be taken.  The error goes to *pending, and the wait
 *      queues for the lock with cancellation held back too.
 *   The hand-off of the lock (0, owner == self) ends 2.: re-enable
 *   cancellation and return *pending's error, or 0 if it was NOTIFIED.
 *
 * *pending != 0 is what tells the end of 2. from a notify finding the
 * lock free, which look the same otherwise; it is per waiter, hence in the
 * caller's frame.
 */
#include <errno.h>

#include "../core/cancel.h"
#include "condition.h"

int co_condition_init(co_condition *c, co_lock *lock)
{
    if (!c)
        return -EINVAL;
    *c = (co_condition){ .priv.lock = lock };
    return 0;
}

co_lock *co_condition_lock(co_condition *c)
{
    if (!c)
        return NULL;
    return c->priv.lock ? c->priv.lock : &c->priv.own;
}

co_status co_condition_acquire(co_task *self, co_condition *c)
{
    /* NULL c: a NULL lock, and the acquire's own -EINVAL */
    return co_lock_acquire(self, co_condition_lock(c));
}

int co_condition_release(co_task *self, co_condition *c)
{
    return co_lock_release(self, co_condition_lock(c));
}

int co_condition_locked(co_condition *c)
{
    return co_lock_locked(co_condition_lock(c));
}

/* Release the lock and wait for a notification. */
static co_status sleep_on(co_task *self, co_condition *c, co_lock *l)
{
    co_lock_release(self, l);             /* hands it to the oldest waiter */
    return co_block(self, &c->priv.waiters, CO_NO_DEADLINE);
}

/* *pending while a notified waiter takes the lock back. */
#define NOTIFIED 1

/* Take the lock back without being interrupted; `outcome` (an error, or
 * NOTIFIED) says what the wait returns once the lock is held. */
static co_status reacquire(co_task *self, co_lock *l, int *pending,
                           int outcome)
{
    if (!l->priv.owner) {
        l->priv.owner = self;
        *pending = 0;
        return outcome == NOTIFIED ? 0 : outcome;
    }
    *pending = outcome;
    co_disable_cancellation(self);
    return co_block(self, &l->priv.waiters, CO_NO_DEADLINE);
}

/* The re-evaluation after a wake (rc): where the wait stands (see the
 * top of the file). */
static co_status resumed(co_task *self, co_condition *c, co_lock *l,
                         co_condition_pred pred, void *arg, int *pending,
                         int rc)
{
    if (rc < 0)                                 /* interrupted in 1. */
        return reacquire(self, l, pending, rc);
    if (l->priv.owner != self) {                /* notified in 1. */
        if (l->priv.owner)
            return reacquire(self, l, pending, NOTIFIED);
        l->priv.owner = self;
    } else if (*pending) {                      /* end of 2. */
        co_enable_cancellation(self);
        rc = *pending;
        *pending = 0;
        if (rc != NOTIFIED)
            return rc;
    }
    /* notified, lock held */
    if (!pred || pred(arg))
        return 0;
    if (co_wait_enter(self, &rc))               /* wait_for: again */
        return rc;
    return sleep_on(self, c, l);
}

static co_status cond_wait(co_task *self, co_condition *c,
                           co_condition_pred pred, void *arg, int *pending,
                           int args_ok)
{
    int rc;
    co_lock *l = co_condition_lock(c);
    if (co_wait_resumed(self)) {
        co_wait_enter(self, &rc);
        return resumed(self, c, l, pred, arg, pending, rc);
    }
    if (co_wait_begin(self, c && pending && args_ok, &rc))
        return rc;        /* cancelled / timed out before waiting: held */
    if (l->priv.owner != self)
        return -EPERM;
    *pending = 0;
    if (pred && pred(arg))
        return 0;
    return sleep_on(self, c, l);
}

co_status co_condition_wait(co_task *self, co_condition *c, int *pending)
{
    return cond_wait(self, c, NULL, NULL, pending, 1);
}

co_status co_condition_wait_for(co_task *self, co_condition *c,
                                co_condition_pred pred, void *arg,
                                int *pending)
{
    return cond_wait(self, c, pred, arg, pending, pred != NULL);
}

int co_condition_notify(co_task *self, co_condition *c, int n)
{
    if (!c || !self || n < 0)
        return -EINVAL;
    if (co_condition_lock(c)->priv.owner != self)
        return -EPERM;
    int woken = 0;
    while (woken < n && co_waitq_wake_one(&c->priv.waiters, 0))
        woken++;
    return woken;
}

int co_condition_notify_all(co_task *self, co_condition *c)
{
    if (!c || !self)
        return -EINVAL;
    if (co_condition_lock(c)->priv.owner != self)
        return -EPERM;
    return co_waitq_wake_all(&c->priv.waiters, 0);
}
