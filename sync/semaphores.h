/*
 * semaphores.h -- Curio's Semaphore and BoundedSemaphore.  (Not semaphore.h:
 * that is the name of the POSIX header.)
 *
 * FIFO with hand-off: a release while tasks wait gives the permit straight
 * to the oldest waiter.  Initialise with co_semaphore_init (a zero-filled
 * semaphore is a plain semaphore with value 0).
 */
#ifndef CO_SEMAPHORES_H
#define CO_SEMAPHORES_H

#include "../core/api.h"
#include "../core/waits.h"

/* Private to sync/semaphore.c. */
struct co__semaphore_private {
    co_waitq waiters;
    int value;          /* free permits */
    int bound;          /* BoundedSemaphore: the initial value */
    int bounded;
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_semaphore {
    struct co__semaphore_private priv;
} co_semaphore;

/* value >= 0, else -EINVAL. */
CO_API int co_semaphore_init(co_semaphore *s, int value);
/* A release past `value` free permits returns -EINVAL. */
CO_API int co_bounded_semaphore_init(co_semaphore *s, int value);

/* Blocking: take a permit. */
CO_API co_status co_semaphore_acquire(co_task *self, co_semaphore *s);
/* Give a permit back (to the oldest waiter if any).  0; -EINVAL for a
 * bounded semaphore already at its bound; -EOVERFLOW when INT_MAX permits
 * are free already. */
CO_API int co_semaphore_release(co_semaphore *s);
/* Free permits; -EINVAL for NULL. */
CO_API int co_semaphore_value(const co_semaphore *s);
/* Whether acquire would block. */
CO_API int co_semaphore_locked(const co_semaphore *s);

#endif
