/* lock.c -- a lock is an owner and a FIFO of waiters; release hands off. */
#include <errno.h>

#include "lock.h"

co_status co_lock_acquire(co_task *self, co_lock *l)
{
    int rc;
    if (co_wait_enter(self, &rc))
        return rc;                 /* woken: release made us the owner */
    if (!l)
        return -EINVAL;
    if (l->owner == self)
        return -EDEADLK;
    if (!l->owner) {
        l->owner = self;
        return 0;
    }
    return co_block(self, &l->waiters, CO_NO_DEADLINE);
}

int co_lock_release(co_task *self, co_lock *l)
{
    if (!l || !self)
        return -EINVAL;
    if (l->owner != self)
        return -EPERM;
    l->owner = co_waitq_wake_one(&l->waiters, 0);
    return 0;
}

int co_lock_locked(const co_lock *l)
{
    return l && l->owner;
}

co_task *co_lock_owner(const co_lock *l)
{
    return l ? l->owner : NULL;
}
