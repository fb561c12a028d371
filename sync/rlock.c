/* rlock.c -- a counted co_lock. */
#include <errno.h>
#include <limits.h>

#include "rlock.h"

co_status co_rlock_acquire(co_task *self, co_rlock *r)
{
    int rc;
    if (co_wait_begin(self, r != NULL, &rc))
        return rc;                 /* woken: the last release handed it over */
    if (r->priv.lock.priv.owner == self) {
        if (r->priv.count == INT_MAX)
            return -EOVERFLOW;     /* the count cannot go higher */
        r->priv.count++;
        return 0;
    }
    if (!r->priv.lock.priv.owner) {
        r->priv.lock.priv.owner = self;
        r->priv.count = 1;
        return 0;
    }
    return co_block(self, &r->priv.lock.priv.waiters, CO_NO_DEADLINE);
}

int co_rlock_release(co_task *self, co_rlock *r)
{
    if (!r || !self)
        return -EINVAL;
    if (r->priv.lock.priv.owner != self)
        return -EPERM;
    if (--r->priv.count > 0)
        return 0;
    int rc = co_lock_release(self, &r->priv.lock);
    if (r->priv.lock.priv.owner)              /* handed to the oldest waiter */
        r->priv.count = 1;
    return rc;
}

int co_rlock_locked(const co_rlock *r)
{
    return r && r->priv.lock.priv.owner;
}

int co_rlock_count(const co_rlock *r)
{
    return r ? r->priv.count : -EINVAL;
}

co_task *co_rlock_owner(const co_rlock *r)
{
    return r ? co_lock_owner(&r->priv.lock) : NULL;
}
