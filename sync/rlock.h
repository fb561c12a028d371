/*
 * rlock.h -- Curio's RLock: a lock its owner may acquire again; it is
 * released when every acquire has been matched by a release.  FIFO with
 * hand-off, like co_lock.  All zeros is an unlocked rlock.
 */
#ifndef CO_RLOCK_H
#define CO_RLOCK_H

#include "../core/api.h"
#include "lock.h"

/* Private to sync/rlock.c. */
struct co__rlock_private {
    co_lock lock;
    int count;          /* acquires by the owner not yet released */
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_rlock {
    struct co__rlock_private priv;
} co_rlock;

/* Blocking: acquire, or acquire again if self holds it already.
 * -EOVERFLOW (nothing changed) if self holds it INT_MAX times. */
CO_API co_status co_rlock_acquire(co_task *self, co_rlock *r);
/* -EPERM if self does not hold it. */
CO_API int co_rlock_release(co_task *self, co_rlock *r);
CO_API int co_rlock_locked(const co_rlock *r);
/* Acquires by the owner not yet released (0: unlocked); -EINVAL for NULL. */
CO_API int co_rlock_count(const co_rlock *r);
/* The holder, or NULL. */
CO_API co_task *co_rlock_owner(const co_rlock *r);

#endif
