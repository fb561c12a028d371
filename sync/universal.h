/*
 * universal.h -- Curio's UniversalQueue and UniversalEvent: usable at once
 * from tasks (blocking primitives: cancellable, under timeout regions),
 * from plain POSIX threads (blocking calls with a timeout in seconds), and
 * between kernels running in different threads.
 *
 * Tasks that wait are registered with the object (under its mutex) and
 * woken through co_kernel_post() to their own kernel, or directly when the
 * waker runs in that kernel's thread.  Serving, cancelling or timing out a
 * waiting task costs the same however many others wait: a set that wakes
 * N tasks, or N puts to N waiting getters, take time linear in N.  A
 * waiting task holds its kernel (co_kernel_hold): while it waits, the run
 * cannot be reported as deadlocked, since another thread may still
 * deliver; cancel it (or put it under a timeout region) if nothing will.
 *
 * Nothing is lost or duplicated: an item (or a set, or the last
 * task_done a join waits for) handed to a waiting task is its own even if
 * a cancellation or timeout reaches the task before it runs.  The call
 * reports one outcome, never both (Curio's rule): it returns 0, an
 * enclosing timeout region whose deadline came due meanwhile does not
 * count as expired (co_timeout_end returns the call's 0), and a
 * cancellation shows at the next blocking point, as for every primitive.
 * A call that returns -ECANCELED or -ETIMEDOUT took (or put) nothing: an
 * item not handed over stays queued.
 *
 * Thread-side timeouts: `timeout` < 0 waits forever, 0 does not wait,
 * otherwise at most that many seconds; -ETIMEDOUT when it passes.
 * Objects must be initialised with co_uqueue_init / co_uevent_init and not
 * be copied or freed while anyone uses them.
 */
#ifndef CO_UNIVERSAL_H
#define CO_UNIVERSAL_H

#include <pthread.h>
#include <stddef.h>

#include "../core/api.h"
#include "../core/async.h"
#include "../core/waits.h"

typedef struct co_uwaiter co_uwaiter;   /* private: a waiting task */

/* Private to sync/universal.c. */
struct co__uqueue_private {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full, all_done;  /* for threads */
    void **items;                       /* ring buffer */
    size_t head, count, cap;
    size_t maxsize;                     /* 0: unbounded */
    size_t unfinished;                  /* put, not yet task_done */
    co_uwaiter *getters, *putters;      /* tasks not yet served, FIFO */
    co_uwaiter *joiners;                /* tasks in co_uqueue_join, FIFO */
    int fd;                             /* eventfd, -1 until co_uqueue_fd */
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_uqueue {
    struct co__uqueue_private priv;
} co_uqueue;

/* maxsize 0: unbounded.  0, -EINVAL, -ENOMEM or another -errno. */
CO_API int co_uqueue_init(co_uqueue *q, size_t maxsize);
/* Free the queue; items still queued are dropped (not freed). */
CO_API void co_uqueue_free(co_uqueue *q);

/* Thread (or task, where it never blocks: unbounded, or room to spare):
 * put item, waiting up to `timeout` seconds for room.  0, -ETIMEDOUT,
 * -EINVAL, -ENOMEM. */
CO_API int co_uqueue_put_thread(co_uqueue *q, void *item, double timeout);
/* Thread: take the oldest item into *item.  0, -ETIMEDOUT, -EINVAL. */
CO_API int co_uqueue_get_thread(co_uqueue *q, void **item, double timeout);

/* Blocking primitives for tasks.  0, -ECANCELED, -ETIMEDOUT, -EINVAL,
 * -ENOMEM. */
CO_API co_status co_uqueue_put(co_task *self, co_uqueue *q, void *item);
CO_API co_status co_uqueue_get(co_task *self, co_uqueue *q, void **item);

/* Any thread or task, never blocking (Curio's put_nowait / get_nowait).
 * 0, -EAGAIN (full: nothing put; empty: nothing taken), -EINVAL; put
 * also -ENOMEM.  A put hands the item to the oldest waiting task, as
 * co_uqueue_put_thread does. */
CO_API int co_uqueue_put_nowait(co_uqueue *q, void *item);
CO_API int co_uqueue_get_nowait(co_uqueue *q, void **item);

/* Any thread or task: mark one item taken as processed, as
 * co_queue_task_done.  0, or -EINVAL if called more times than items were
 * put.  The last one wakes every joiner. */
CO_API int co_uqueue_task_done(co_uqueue *q);
/* Thread: wait until every item put has been marked done.  0 (at once if
 * so), -ETIMEDOUT, -EINVAL. */
CO_API int co_uqueue_join_thread(co_uqueue *q, double timeout);
/* Blocking primitive for tasks, the same.  0, -ECANCELED, -ETIMEDOUT,
 * -EINVAL, -ENOMEM. */
CO_API co_status co_uqueue_join(co_task *self, co_uqueue *q);

/* Any thread or task.  Items queued now (not counting those already handed
 * to tasks); whether none is; whether a put would wait now; items put and
 * not yet marked done.  0 for NULL, all four. */
CO_API size_t co_uqueue_qsize(co_uqueue *q);
CO_API int co_uqueue_empty(co_uqueue *q);
CO_API int co_uqueue_full(co_uqueue *q);
CO_API size_t co_uqueue_unfinished(co_uqueue *q);

/* An eventfd, readable exactly while items are queued, for foreign event
 * loops (poll it, then co_uqueue_get_thread with timeout 0).  Created on first
 * call, closed by co_uqueue_free.  -errno on failure. */
CO_API int co_uqueue_fd(co_uqueue *q);

/* Private to sync/universal.c. */
struct co__uevent_private {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    co_uwaiter *waiters;                /* tasks not yet woken, FIFO */
    int set;
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_uevent {
    struct co__uevent_private priv;
} co_uevent;

CO_API int co_uevent_init(co_uevent *e);
CO_API void co_uevent_free(co_uevent *e);
/* Any thread or task: set (waking every waiter), clear.  0 or -EINVAL. */
CO_API int co_uevent_set(co_uevent *e);
CO_API int co_uevent_clear(co_uevent *e);
CO_API int co_uevent_is_set(co_uevent *e);
/* Thread: wait until set.  0, -ETIMEDOUT, -EINVAL. */
CO_API int co_uevent_wait_thread(co_uevent *e, double timeout);
/* Blocking primitive for tasks.  0, -ECANCELED, -ETIMEDOUT, -EINVAL. */
CO_API co_status co_uevent_wait(co_task *self, co_uevent *e);

#endif /* CO_UNIVERSAL_H */
