/*
 * lock.h -- Curio's Lock, with an owner check Curio lacks.
 *
 * Waiters are served strictly first come, first served: release hands the
 * lock directly to the oldest waiter (no barging), and a waiter that was
 * handed the lock owns it even if it is cancelled before it runs (the
 * cancellation arrives at its next blocking point).  All zeros is an
 * unlocked lock.
 */
#ifndef CO_LOCK_H
#define CO_LOCK_H

#include "../core/api.h"
#include "../core/waits.h"

/* Private to sync/ (lock.c, and condition.c, which hands the lock over). */
struct co__lock_private {
    co_waitq waiters;
    co_task *owner;
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_lock {
    struct co__lock_private priv;
} co_lock;

/* Blocking: acquire.  -EDEADLK if self already holds it (use co_rlock). */
CO_API co_status co_lock_acquire(co_task *self, co_lock *l);

/* Release, handing the lock to the oldest waiter.  -EPERM if self does not
 * hold it (unlocked, or held by another task). */
CO_API int co_lock_release(co_task *self, co_lock *l);

CO_API int co_lock_locked(const co_lock *l);
/* The holder, or NULL. */
CO_API co_task *co_lock_owner(const co_lock *l);

#endif
