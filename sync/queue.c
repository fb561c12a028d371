/*
 * queue.c -- three waiter queues around one growable array.
 *
 * Every item accepted goes into the array.  A put while getters are
 * blocked wakes the oldest and counts one more item `owed` to woken
 * getters; each takes its item when it runs, from the array, in the
 * queue's order at that time -- so a hand-off never bypasses a priority
 * or LIFO order.  Invariant: owed <= len, and while getters are blocked
 * owed == len (a getter only blocks when every item present is owed, and
 * each put then wakes one), so a woken getter always finds its item and a
 * getter that did not wait takes only items nobody is owed.  On a FIFO
 * queue the owed items are the oldest ones, in the order their getters
 * were woken (and will run): each gets the item put when it was woken, as
 * with a direct hand-off.  A get that frees room while putters are
 * blocked wakes the oldest with 0 and keeps the room for it (`reserved`):
 * a putter arriving meanwhile finds the queue full.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc_impl.h"
#include "queue.h"

enum { FIRST_CAP = 16 };

/* ------------------------------------------------------------ storage */

static int entry_less(const co_queue_entry *a, const co_queue_entry *b)
{
    return a->priority < b->priority ||
           (a->priority == b->priority && a->seq < b->seq);
}

static size_t elem_size(const co_queue *q)
{
    return q->priv.kind == CO_QUEUE_PRIORITY ? sizeof(co_queue_entry)
                                        : sizeof(void *);
}

/* Storage for n items (at most maxsize, for a bounded queue). */
static int reserve_storage(co_queue *q, size_t n)
{
    if (n <= q->priv.cap)
        return 0;
    size_t ncap = q->priv.cap ? q->priv.cap : FIRST_CAP;
    while (ncap < n && ncap <= SIZE_MAX / 2)
        ncap *= 2;
    if (q->priv.maxsize && ncap > q->priv.maxsize)
        ncap = q->priv.maxsize;
    if (ncap < n || ncap > SIZE_MAX / elem_size(q))
        return -ENOMEM;
    char *nb = co__alloc_resize(q->priv.buf.items, ncap * elem_size(q));
    if (!nb)
        return -ENOMEM;
    if (q->priv.kind == CO_QUEUE_FIFO && q->priv.head + q->priv.len > q->priv.cap) {
        /* a wrapped ring: move its older part [head, cap) to the new end */
        size_t older = q->priv.cap - q->priv.head;
        memmove(nb + (ncap - older) * sizeof(void *),
                nb + q->priv.head * sizeof(void *), older * sizeof(void *));
        q->priv.head = ncap - older;
    }
    q->priv.buf.items = (void **)(void *)nb;
    q->priv.cap = ncap;
    return 0;
}

/* The ring's slot for its i-th oldest item (i <= len <= cap): no division
 * on the path of every put and get. */
static size_t ring_slot(const co_queue *q, size_t i)
{
    size_t at = q->priv.head + i;
    return at < q->priv.cap ? at : at - q->priv.cap;
}

/* Room for one more item (the caller checked maxsize).  The test is
 * inline: growing is rare, checking is on every put. */
static inline int ensure_room(co_queue *q)
{
    return q->priv.len < q->priv.cap ? 0 : reserve_storage(q, q->priv.len + 1);
}

/* The heap's halves of push and pop, out of line so that the FIFO and
 * LIFO paths stay small enough to inline into every put and get. */
static __attribute__((noinline)) void heap_push(co_queue *q, void *item,
                                                int priority)
{
    co_queue_entry e = { item, priority, q->priv.seq++ };
    co_queue_entry *h = q->priv.buf.heap;
    size_t i = q->priv.len;
    while (i > 0 && entry_less(&e, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

/* Takes the smallest entry; q->priv.len already counts it out. */
static __attribute__((noinline)) co_queue_entry heap_pop(co_queue *q)
{
    co_queue_entry *h = q->priv.buf.heap;
    co_queue_entry top = h[0], last = h[q->priv.len];
    size_t i = 0, n = q->priv.len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && entry_less(&h[c + 1], &h[c]))
            c++;
        if (!entry_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static inline void push(co_queue *q, void *item, int priority)
{
    if (q->priv.kind == CO_QUEUE_FIFO)
        q->priv.buf.items[ring_slot(q, q->priv.len)] = item;
    else if (q->priv.kind == CO_QUEUE_LIFO)
        q->priv.buf.items[q->priv.len] = item;
    else
        heap_push(q, item, priority);
    q->priv.len++;
}

static inline void pop(co_queue *q, void **item, int *priority)
{
    int prio = 0;
    q->priv.len--;
    if (q->priv.kind == CO_QUEUE_FIFO) {
        *item = q->priv.buf.items[q->priv.head];
        q->priv.head = ring_slot(q, 1);
    } else if (q->priv.kind == CO_QUEUE_LIFO) {
        *item = q->priv.buf.items[q->priv.len];
    } else {
        co_queue_entry top = heap_pop(q);
        *item = top.item;
        prio = top.priority;
    }
    if (priority)
        *priority = prio;
}

/* FIFO: the oldest `owed` items are kept, in order, for getters woken
 * but not yet run.  A getter that did not wait takes the first item after
 * them: bring it to the head, moving them up one place.  O(owed), and an
 * item is owed only until its getter runs. */
static void first_free_to_head(co_queue *q)
{
    void **ring = q->priv.buf.items;
    size_t i = q->priv.owed;
    void *first_free = ring[ring_slot(q, i)];
    for (; i > 0; i--)
        ring[ring_slot(q, i)] = ring[ring_slot(q, i - 1)];
    ring[q->priv.head] = first_free;
}

/* ------------------------------------------------------------ waiters */

/* Items owed to woken getters still count, as in Curio, where they are in
 * the queue until the getter runs. */
static int is_full(const co_queue *q)
{
    return q->priv.maxsize && q->priv.len + q->priv.reserved >= q->priv.maxsize;
}

/* Add an accepted item (the caller checked is_full); a waiting getter is
 * now owed one. */
static int deliver(co_queue *q, void *item, int priority)
{
    int rc = ensure_room(q);
    if (rc < 0)
        return rc;
    push(q, item, priority);
    q->priv.unfinished++;
    if (!co_waitq_empty(&q->priv.getters)) {   /* tested inline: no call per put */
        co_waitq_wake_one(&q->priv.getters, 0);
        q->priv.owed++;
    }
    return 0;
}

/* Take the next item for a getter: one owed to it if it was woken by a
 * put, else one nobody is owed (the caller checked there is one).  The
 * room it leaves goes to the oldest blocked putter, if any. */
static void take(co_queue *q, int was_owed, void **item, int *priority)
{
    if (was_owed)
        q->priv.owed--;
    else if (q->priv.kind == CO_QUEUE_FIFO && q->priv.owed)
        first_free_to_head(q);
    pop(q, item, priority);
    if (!co_waitq_empty(&q->priv.putters) && !is_full(q)) {
        co_waitq_wake_one(&q->priv.putters, 0);
        q->priv.reserved++;
    }
}

static int put_nowait(co_queue *q, void *item, int priority)
{
    if (!q)
        return -EINVAL;
    if (is_full(q))         /* also while putters wait: their room is taken */
        return -EAGAIN;
    return deliver(q, item, priority);
}

/* ------------------------------------------------------------ API */

int co_queue_init(co_queue *q, co_queue_kind kind, size_t maxsize)
{
    if (!q || (kind != CO_QUEUE_FIFO && kind != CO_QUEUE_LIFO &&
               kind != CO_QUEUE_PRIORITY))
        return -EINVAL;
    *q = (co_queue){ .priv.kind = kind, .priv.maxsize = maxsize };
    return ensure_room(q);
}

int co_queue_free(co_queue *q)
{
    if (!q)
        return -EINVAL;
    if (!co_waitq_empty(&q->priv.getters) || !co_waitq_empty(&q->priv.putters) ||
        !co_waitq_empty(&q->priv.joiners))
        return -EBUSY;
    if (q->priv.owed)
        return -EBUSY;             /* a woken getter has yet to take its item */
    free(q->priv.buf.items);
    *q = (co_queue){ 0 };
    return 0;
}

/* Inline into both callers: co_queue_put's args_ok is a constant 1, so
 * its put pays no test for it. */
static inline __attribute__((always_inline)) co_status
put(co_task *self, co_queue *q, void *item, int priority, int args_ok)
{
    int rc;
    if (co_wait_begin(self, q && args_ok, &rc)) {
        if (rc < 0)
            return rc;
        q->priv.reserved--;        /* woken by a get: the room is ours */
        return deliver(q, item, priority);   /* storage taken: no -ENOMEM */
    }
    if ((rc = put_nowait(q, item, priority)) != -EAGAIN)
        return rc;
    /* Full.  When the room is handed to us, storing the item must not
     * fail: a bounded queue that makes a putter wait gets all its storage
     * now (it holds about that many items already). */
    if (q->priv.cap < q->priv.maxsize &&
        (rc = reserve_storage(q, q->priv.maxsize)) < 0)
        return rc;
    return co_block(self, &q->priv.putters, CO_NO_DEADLINE);
}

co_status co_queue_put(co_task *self, co_queue *q, void *item)
{
    return put(self, q, item, 0, 1);
}

co_status co_queue_put_priority(co_task *self, co_queue *q, void *item,
                                int priority)
{
    return put(self, q, item, priority,
               q && q->priv.kind == CO_QUEUE_PRIORITY);
}

int co_queue_put_nowait(co_queue *q, void *item)
{
    return put_nowait(q, item, 0);
}

int co_queue_put_priority_nowait(co_queue *q, void *item, int priority)
{
    if (q && q->priv.kind != CO_QUEUE_PRIORITY)
        return -EINVAL;
    return put_nowait(q, item, priority);
}

int co_queue_get_priority_nowait(co_queue *q, void **item, int *priority)
{
    if (!q || !item)
        return -EINVAL;
    if (q->priv.len == q->priv.owed)         /* empty, or all owed to woken getters */
        return -EAGAIN;
    take(q, 0, item, priority);
    return 0;
}

int co_queue_get_nowait(co_queue *q, void **item)
{
    return co_queue_get_priority_nowait(q, item, NULL);
}

co_status co_queue_get_priority(co_task *self, co_queue *q, void **item,
                                int *priority)
{
    int rc;
    if (co_wait_begin(self, q && item, &rc)) {
        /* 0: woken by a put, and owed an item, whatever happened since;
         * otherwise cancelled, timed out or refused, having taken
         * nothing. */
        if (rc == 0)
            take(q, 1, item, priority);
        return rc;
    }
    if ((rc = co_queue_get_priority_nowait(q, item, priority)) != -EAGAIN)
        return rc;
    return co_block(self, &q->priv.getters, CO_NO_DEADLINE);
}

co_status co_queue_get(co_task *self, co_queue *q, void **item)
{
    return co_queue_get_priority(self, q, item, NULL);
}

int co_queue_task_done(co_queue *q)
{
    if (!q || q->priv.unfinished == 0)
        return -EINVAL;
    if (--q->priv.unfinished == 0)
        co_waitq_wake_all(&q->priv.joiners, 0);
    return 0;
}

co_status co_queue_join(co_task *self, co_queue *q)
{
    int rc;
    if (co_wait_begin(self, q != NULL, &rc))
        return rc;
    if (q->priv.unfinished == 0)
        return 0;
    return co_block(self, &q->priv.joiners, CO_NO_DEADLINE);
}

size_t co_queue_qsize(const co_queue *q)
{
    return q ? q->priv.len : 0;
}

int co_queue_empty(const co_queue *q)
{
    return q && q->priv.len == 0;
}

int co_queue_full(const co_queue *q)
{
    return q && is_full(q);
}

size_t co_queue_unfinished(const co_queue *q)
{
    return q ? q->priv.unfinished : 0;
}
