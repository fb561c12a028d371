/* lock.c -- a lock is an owner and a FIFO of waiters; release hands off. */
#include <errno.h>

#include "lock.h"

co_status co_lock_acquire(co_task *self, co_lock *l)
{
    int rc;
    if (co_wait_begin(self, l != NULL, &rc))
        return rc;                 /* woken: release made us the owner */
    if (l->priv.owner == self)
        return -EDEADLK;
    if (!l->priv.owner) {
        l->priv.owner = self;
        return 0;
    }
    return co_block(self, &l->priv.waiters, CO_NO_DEADLINE);
}

int co_lock_release(co_task *self, co_lock *l)
{
    if (!l || !self)
        return -EINVAL;
    if (l->priv.owner != self)
        return -EPERM;
    l->priv.owner = co_waitq_wake_one(&l->priv.waiters, 0);
    return 0;
}

int co_lock_locked(const co_lock *l)
{
    return l && l->priv.owner;
}

co_task *co_lock_owner(const co_lock *l)
{
    return l ? l->priv.owner : NULL;
}
