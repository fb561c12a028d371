/*
 * condition.c -- a lock and a FIFO of waiters.
 *
 * One waiter's wait goes through up to three blockings, all inside the one
 * primitive, each re-evaluation telling where it stands from the wake value
 * and the lock's owner:
 *
 *   1. on c->waiters, after releasing the lock;
 *      woken 0 by notify: not the owner yet (the notifier holds the lock),
 *      so take the lock if free, else
 *   2. on the lock's waiters, cancellable, like any acquire;
 *      woken 0 by the release hand-off: self owns the lock, return *pending;
 *   3. interrupted (woken < 0) in 1. or 2.: the lock must still be taken.
 *      Save the error in *pending, hold cancellation back, and queue for
 *      the lock; the hand-off (0, owner == self) ends it: re-enable
 *      cancellation and return the saved error.
 *
 * *pending != 0 is what tells the end of 3. from the end of 2., which look
 * the same otherwise (a hand-off with 0); it is per waiter, hence in the
 * caller's frame.
 */
#include <errno.h>

#include "../core/cancel.h"
#include "condition.h"

int co_condition_init(co_condition *c, co_lock *lock)
{
    if (!c)
        return -EINVAL;
    *c = (co_condition){ .lock = lock };
    return 0;
}

co_lock *co_condition_lock(co_condition *c)
{
    if (!c)
        return NULL;
    return c->lock ? c->lock : &c->own;
}

co_status co_condition_acquire(co_task *self, co_condition *c)
{
    /* a NULL lock gives the acquire's own -EINVAL, after its wait_enter */
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
    return co_block(self, &c->waiters, CO_NO_DEADLINE);
}

/* Interrupted with rc: the lock must still be taken, without being
 * interrupted again; rc is returned once it is held. */
static co_status reacquire(co_task *self, co_lock *l, int *pending, int rc)
{
    *pending = rc;
    if (!l->owner) {
        l->owner = self;
        return rc;
    }
    co_disable_cancellation(self);
    return co_block(self, &l->waiters, CO_NO_DEADLINE);
}

static co_status cond_wait(co_task *self, co_condition *c,
                           co_condition_pred pred, void *arg, int *pending)
{
    int rc;
    int resumed = co_wait_resumed(self);
    co_lock *l = co_condition_lock(c);
    if (co_wait_enter(self, &rc)) {
        if (!resumed)
            return rc;    /* cancelled / timed out before waiting: held */
        if (rc < 0)                             /* 3. interrupted */
            return reacquire(self, l, pending, rc);
        if (l->owner != self) {                 /* 1. notified */
            if (l->owner) {
                /* queueing for the lock is a blocking point of its own */
                if (co_wait_enter(self, &rc))
                    return reacquire(self, l, pending, rc);
                return co_block(self, &l->waiters, CO_NO_DEADLINE);
            }
            l->owner = self;
        }
        if (*pending) {                         /* end of 3. */
            co_enable_cancellation(self);
            return *pending;
        }
        /* end of 2. (or of 1. with the lock free): notified, lock held */
        if (!pred || pred(arg))
            return 0;
        if (co_wait_enter(self, &rc))           /* wait_for: again */
            return rc;
        return sleep_on(self, c, l);
    }
    if (!c || !pending)
        return -EINVAL;
    if (l->owner != self)
        return -EPERM;
    *pending = 0;
    if (pred && pred(arg))
        return 0;
    return sleep_on(self, c, l);
}

co_status co_condition_wait(co_task *self, co_condition *c, int *pending)
{
    return cond_wait(self, c, NULL, NULL, pending);
}

co_status co_condition_wait_for(co_task *self, co_condition *c,
                                co_condition_pred pred, void *arg,
                                int *pending)
{
    if (!pred && !co_wait_resumed(self)) {
        int rc;
        if (co_wait_enter(self, &rc))
            return rc;
        return -EINVAL;
    }
    return cond_wait(self, c, pred, arg, pending);
}

int co_condition_notify(co_task *self, co_condition *c, int n)
{
    if (!c || !self || n < 0)
        return -EINVAL;
    if (co_condition_lock(c)->owner != self)
        return -EPERM;
    int woken = 0;
    while (woken < n && co_waitq_wake_one(&c->waiters, 0))
        woken++;
    return woken;
}

int co_condition_notify_all(co_task *self, co_condition *c)
{
    if (!c || !self)
        return -EINVAL;
    if (co_condition_lock(c)->owner != self)
        return -EPERM;
    return co_waitq_wake_all(&c->waiters, 0);
}
