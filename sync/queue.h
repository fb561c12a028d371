/*
 * queue.h -- Curio's Queue, LifoQueue and PriorityQueue, one implementation.
 *
 * Items are `void *`.  Getters are served first come, first served: a put
 * while tasks wait in get wakes the oldest of them, which is then owed one
 * item, and a new getter queues behind the waiting ones.  Which item a
 * woken getter gets follows the queue's order at the time it runs: on a
 * priority queue the smallest item present then, on a LIFO queue the
 * newest (so 5 then 1 put before it runs gives it 1); on a FIFO queue the
 * item put when it was woken (a direct hand-off: a getter that did not
 * wait takes the items after those owed).  An owed item counts in qsize()
 * and against maxsize until its getter runs, as in Curio.  A woken getter
 * gets its item even if it is cancelled before it runs (the cancellation
 * arrives at its next blocking call), and a get that returns an error took
 * nothing, so no item is ever lost or delivered twice.  Likewise a get
 * that frees room in a full queue reserves that room for the oldest
 * blocked putter.  put never yields unless it blocks (bounded queue, full).
 * The _nowait forms never block and need no task: they may be called from
 * anywhere on the kernel's thread, or before it runs.
 *
 * Storage is one array allocated by co_queue_init (or on first use), grown
 * by doubling: a ring for FIFO, a stack for LIFO, a binary min-heap for
 * priorities (FIFO among equal priorities).  No allocation per item once
 * it has grown to the working size, and none at all in get.  All zeros is
 * an unbounded FIFO queue with no storage yet.  co_queue_free releases the
 * storage.
 */
#ifndef CO_QUEUE_H
#define CO_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/api.h"
#include "../core/waits.h"

typedef enum co_queue_kind {
    CO_QUEUE_FIFO = 0,      /* Queue */
    CO_QUEUE_LIFO,          /* LifoQueue */
    CO_QUEUE_PRIORITY,      /* PriorityQueue: smallest priority first */
} co_queue_kind;

/* Private: one stored item. */
typedef struct co_queue_entry {
    void *item;
    int priority;
    uint64_t seq;           /* priority queue: order of equal priorities */
} co_queue_entry;

/* Private to sync/queue.c. */
struct co__queue_private {
    co_waitq getters;       /* blocked in get, oldest first */
    co_waitq putters;       /* blocked in put (full), oldest first */
    co_waitq joiners;       /* blocked in join */
    union {
        void **items;       /* FIFO ring / LIFO stack */
        co_queue_entry *heap;
    } buf;
    size_t cap, head, len;  /* head: the ring's oldest item */
    size_t maxsize;         /* 0: unbounded */
    size_t reserved;        /* room kept for woken putters */
    size_t owed;            /* items kept for woken getters */
    size_t unfinished;      /* put, not yet task_done */
    uint64_t seq;
    co_queue_kind kind;
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_queue {
    struct co__queue_private priv;
} co_queue;

/* maxsize 0: unbounded.  0, -EINVAL (bad kind), -ENOMEM. */
CO_API int co_queue_init(co_queue *q, co_queue_kind kind, size_t maxsize);
/* Release the storage and make q an empty unbounded FIFO queue again.
 * -EBUSY (nothing freed) while tasks wait on it or are owed items. */
CO_API int co_queue_free(co_queue *q);

/* Blocking: add an item, waiting while a bounded queue is full.  On a
 * priority queue, co_queue_put uses priority 0.  co_queue_put_priority is
 * for priority queues only (-EINVAL otherwise).  0, -ECANCELED,
 * -ETIMEDOUT, -EINVAL, -ENOMEM (the item was not added). */
CO_API co_status co_queue_put(co_task *self, co_queue *q, void *item);
CO_API co_status co_queue_put_priority(co_task *self, co_queue *q, void *item,
                                       int priority);

/* Blocking: take the next item into *item (and its priority into
 * *priority if not NULL; 0 for FIFO/LIFO queues).  *item is written only
 * when the result is 0.  0, -ECANCELED, -ETIMEDOUT, -EINVAL. */
CO_API co_status co_queue_get(co_task *self, co_queue *q, void **item);
CO_API co_status co_queue_get_priority(co_task *self, co_queue *q, void **item,
                                       int *priority);

/* Non-blocking forms (Curio's put_nowait / get_nowait), for any caller on
 * the kernel's thread, in a task or not.  They succeed exactly when the
 * blocking form would not block, and then do the same: a put wakes a
 * waiting getter, a get gives freed room to a waiting putter.  0,
 * -EAGAIN (full: nothing put; empty: nothing taken), -EINVAL (NULL, or a
 * priority form on another kind of queue), -ENOMEM (put). */
CO_API int co_queue_put_nowait(co_queue *q, void *item);
CO_API int co_queue_put_priority_nowait(co_queue *q, void *item, int priority);
CO_API int co_queue_get_nowait(co_queue *q, void **item);
CO_API int co_queue_get_priority_nowait(co_queue *q, void **item,
                                        int *priority);

/* Mark one item taken by get as processed.  0, or -EINVAL if called more
 * times than items were put. */
CO_API int co_queue_task_done(co_queue *q);
/* Blocking: wait until every item put has been marked done (0 at once if
 * so). */
CO_API co_status co_queue_join(co_task *self, co_queue *q);

/* Items in the queue, counting those owed to woken getters that have not
 * run yet (as Curio, where they stay in the queue until then). */
CO_API size_t co_queue_qsize(const co_queue *q);
/* Whether no item is in the queue (0 for NULL). */
CO_API int co_queue_empty(const co_queue *q);
/* Whether a put would block now: bounded, and no room left that is not
 * reserved for a woken putter. */
CO_API int co_queue_full(const co_queue *q);
/* Items put and not yet marked done. */
CO_API size_t co_queue_unfinished(const co_queue *q);

#endif
