/* rlock.c -- a counted co_lock. */
#include <errno.h>
#include <limits.h>

#include "rlock.h"

co_status co_rlock_acquire(co_task *self, co_rlock *r)
{
    int rc;
    if (co_wait_enter(self, &rc))
        return rc;                 /* woken: the last release handed it over */
    if (!r)
        return -EINVAL;
    if (r->lock.owner == self) {
        if (r->count == INT_MAX)
            return -EOVERFLOW;     /* the count cannot go higher */
        r->count++;
        return 0;
    }
    if (!r->lock.owner) {
        r->lock.owner = self;
        r->count = 1;
        return 0;
    }
    return co_block(self, &r->lock.waiters, CO_NO_DEADLINE);
}

int co_rlock_release(co_task *self, co_rlock *r)
{
    if (!r || !self)
        return -EINVAL;
    if (r->lock.owner != self)
        return -EPERM;
    if (--r->count > 0)
        return 0;
    int rc = co_lock_release(self, &r->lock);
    if (r->lock.owner)              /* handed to the oldest waiter */
        r->count = 1;
    return rc;
}

int co_rlock_locked(const co_rlock *r)
{
    return r && r->lock.owner;
}

int co_rlock_count(const co_rlock *r)
{
    return r ? r->count : 0;
}
