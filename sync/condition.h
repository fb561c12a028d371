/*
 * condition.h -- Curio's Condition: wait / wait_for / notify / notify_all
 * over a co_lock.
 *
 * A condition is a lock plus a FIFO of waiters.  wait releases the lock,
 * sleeps until notified, and takes the lock again before it returns --
 * always, also when it returns -ECANCELED or -ETIMEDOUT, so the caller can
 * release unconditionally.  notify wakes waiters oldest first; each then
 * queues for the lock behind the tasks already waiting for it (as in
 * Curio), and the notifier keeps running with the lock.
 *
 * All zeros is a condition over its own (unlocked) lock; co_condition_init
 * binds it to a lock of yours instead.  Must not be copied once used.
 */
#ifndef CO_CONDITION_H
#define CO_CONDITION_H

#include "../core/api.h"
#include "lock.h"

/* Private to sync/condition.c. */
struct co__condition_private {
    co_lock *lock;          /* NULL: `own` */
    co_lock own;
    co_waitq waiters;
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_condition {
    struct co__condition_private priv;
} co_condition;

/* Bind to `lock` (NULL: the condition's own lock).  0, or -EINVAL. */
CO_API int co_condition_init(co_condition *c, co_lock *lock);
/* The lock the condition uses (NULL for c == NULL). */
CO_API co_lock *co_condition_lock(co_condition *c);

/* Curio's `async with cond`: the lock's acquire / release / locked. */
CO_API co_status co_condition_acquire(co_task *self, co_condition *c);
CO_API int co_condition_release(co_task *self, co_condition *c);
CO_API int co_condition_locked(co_condition *c);

/*
 * Blocking: with the lock held by self, release it, wait to be notified,
 * re-acquire it.  Returns 0 when notified, or -ECANCELED / -ETIMEDOUT if
 * interrupted while waiting for the notification -- in every one of these
 * cases the lock is held by self on return.  Taking the lock back is not
 * interruptible (as in Curio): a notified wait returns 0 even if a
 * cancellation or a timeout came while it waited for the lock; that one
 * reaches the next blocking call (a notification is never lost: notify(1)
 * counts it, and it is not reported as an error).
 * -EPERM (lock not held by self) and -EINVAL leave the lock as it was.
 *
 * `pending` is one int of per-waiter state in the caller's frame (what to
 * return once the lock is back); the wait sets it up itself, it need not
 * be initialised, but it must stay in place until the wait returns:
 * CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending)).
 */
CO_API co_status co_condition_wait(co_task *self, co_condition *c,
                                   int *pending);

/* A predicate for wait_for, called with the lock held; non-zero: true. */
typedef int (*co_condition_pred)(void *arg);

/* Blocking: Curio's wait_for: while pred(arg) is false, wait.  Returns 0
 * once it is true (at once, without yielding, if it already is), or as
 * co_condition_wait.  The lock is held on every return but -EPERM/-EINVAL. */
CO_API co_status co_condition_wait_for(co_task *self, co_condition *c,
                                       co_condition_pred pred, void *arg,
                                       int *pending);

/* Wake up to n waiters (oldest first); the caller keeps running and
 * holding the lock.  Returns how many were woken, -EPERM if self does not
 * hold the lock, -EINVAL for n < 0 or NULLs. */
CO_API int co_condition_notify(co_task *self, co_condition *c, int n);
CO_API int co_condition_notify_all(co_task *self, co_condition *c);

#endif
