/*
 * queue.c -- three waiter queues around one growable array.
 *
 * Invariant: while getters are blocked, the array is empty (a getter only
 * blocks on an empty queue or behind blocked getters, and a put hands its
 * item to a blocked getter instead of storing it).  The item handed to a
 * woken getter waits in a slot whose index is the getter's wake value, so
 * it reaches exactly that getter whenever it runs; until then it still
 * counts in the queue's size (as in Curio).  A get that frees room
 * while putters are blocked wakes the oldest with 0 and keeps the room
 * for it (`reserved`): a putter arriving meanwhile finds the queue full.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc_impl.h"
#include "queue.h"

enum { FIRST_CAP = 16, FIRST_SLOTS = 4 };

/* ------------------------------------------------------------ storage */

static int entry_less(const co_queue_entry *a, const co_queue_entry *b)
{
    return a->priority < b->priority ||
           (a->priority == b->priority && a->seq < b->seq);
}

static size_t elem_size(const co_queue *q)
{
    return q->kind == CO_QUEUE_PRIORITY ? sizeof(co_queue_entry)
                                        : sizeof(void *);
}

/* Storage for n items (at most maxsize, for a bounded queue). */
static int reserve_storage(co_queue *q, size_t n)
{
    if (n <= q->cap)
        return 0;
    size_t ncap = q->cap ? q->cap : FIRST_CAP;
    while (ncap < n && ncap <= SIZE_MAX / 2)
        ncap *= 2;
    if (q->maxsize && ncap > q->maxsize)
        ncap = q->maxsize;
    if (ncap < n || ncap > SIZE_MAX / elem_size(q))
        return -ENOMEM;
    char *nb = co__realloc(q->buf.items, ncap * elem_size(q));
    if (!nb)
        return -ENOMEM;
    if (q->kind == CO_QUEUE_FIFO && q->head + q->len > q->cap) {
        /* a wrapped ring: move its older part [head, cap) to the new end */
        size_t older = q->cap - q->head;
        memmove(nb + (ncap - older) * sizeof(void *),
                nb + q->head * sizeof(void *), older * sizeof(void *));
        q->head = ncap - older;
    }
    q->buf.items = (void **)(void *)nb;
    q->cap = ncap;
    return 0;
}

/* Room for one more item (the caller checked maxsize). */
static int ensure_room(co_queue *q)
{
    return reserve_storage(q, q->len + 1);
}

static void push(co_queue *q, void *item, int priority)
{
    switch (q->kind) {
    case CO_QUEUE_FIFO:
        q->buf.items[(q->head + q->len) % q->cap] = item;
        break;
    case CO_QUEUE_LIFO:
        q->buf.items[q->len] = item;
        break;
    case CO_QUEUE_PRIORITY: {
        co_queue_entry e = { item, priority, q->seq++ };
        co_queue_entry *h = q->buf.heap;
        size_t i = q->len;
        while (i > 0 && entry_less(&e, &h[(i - 1) / 2])) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = e;
        break;
    }
    }
    q->len++;
}

static void pop(co_queue *q, void **item, int *priority)
{
    int prio = 0;
    q->len--;
    switch (q->kind) {
    case CO_QUEUE_FIFO:
        *item = q->buf.items[q->head];
        q->head = (q->head + 1) % q->cap;
        break;
    case CO_QUEUE_LIFO:
        *item = q->buf.items[q->len];
        break;
    case CO_QUEUE_PRIORITY: {
        co_queue_entry *h = q->buf.heap;
        *item = h[0].item;
        prio = h[0].priority;
        co_queue_entry last = h[q->len];
        size_t i = 0, n = q->len;
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
        break;
    }
    }
    if (priority)
        *priority = prio;
}

/* ------------------------------------------------------------ hand-off */

/* Room for n slots.  Every blocked getter has a free slot waiting for it
 * (reserved before it blocks), so a hand-off never allocates: a woken
 * putter, whose room is already counted, cannot fail to deliver. */
static int reserve_slots(co_queue *q, size_t n)
{
    if (n <= (size_t)q->nslots)
        return 0;
    if (n > INT_MAX / 2)
        return -ENOMEM;
    int grown = q->nslots ? 2 * q->nslots : FIRST_SLOTS;
    while ((size_t)grown < n)
        grown *= 2;
    co_queue_slot *s = co__realloc(q->slots, (size_t)grown * sizeof *s);
    if (!s)
        return -ENOMEM;
    for (int i = q->nslots; i < grown; i++)   /* onto the free list */
        s[i].next_free = i + 2 <= grown ? i + 2 : q->free_slot;
    q->free_slot = q->nslots + 1;
    q->slots = s;
    q->nslots = grown;
    return 0;
}

static int slot_alloc(co_queue *q)
{
    int i = q->free_slot - 1;
    q->free_slot = q->slots[i].next_free;
    return i;
}

/* Add an accepted item: to the oldest blocked getter, else to the array. */
static int deliver(co_queue *q, void *item, int priority)
{
    if (!co_waitq_empty(&q->getters)) {
        int i = slot_alloc(q);             /* reserved: cannot fail */
        q->waiting_getters--;
        q->slots[i].item = item;
        q->slots[i].priority = priority;
        q->handed++;
        co_waitq_wake_one(&q->getters, i);
    } else {
        int rc = ensure_room(q);
        if (rc < 0)
            return rc;
        push(q, item, priority);
    }
    q->unfinished++;
    return 0;
}

/* Items handed to woken getters still count, as in Curio, where they are
 * in the queue until the getter runs. */
static int is_full(const co_queue *q)
{
    return q->maxsize && q->len + q->handed + q->reserved >= q->maxsize;
}

/* An item left: give the room to the oldest blocked putter, if any. */
static void room_freed(co_queue *q)
{
    if (!is_full(q) && co_waitq_wake_one(&q->putters, 0))
        q->reserved++;
}

/* ------------------------------------------------------------ API */

int co_queue_init(co_queue *q, co_queue_kind kind, size_t maxsize)
{
    if (!q || (kind != CO_QUEUE_FIFO && kind != CO_QUEUE_LIFO &&
               kind != CO_QUEUE_PRIORITY))
        return -EINVAL;
    *q = (co_queue){ .kind = kind, .maxsize = maxsize };
    return ensure_room(q);
}

int co_queue_free(co_queue *q)
{
    if (!q)
        return -EINVAL;
    if (!co_waitq_empty(&q->getters) || !co_waitq_empty(&q->putters) ||
        !co_waitq_empty(&q->joiners))
        return -EBUSY;
    if (q->handed)
        return -EBUSY;             /* a woken getter has yet to take its item */
    free(q->buf.items);
    free(q->slots);
    *q = (co_queue){ 0 };
    return 0;
}

static co_status put(co_task *self, co_queue *q, void *item, int priority)
{
    int rc;
    if (co_wait_enter(self, &rc)) {
        if (rc < 0)
            return rc;
        q->reserved--;             /* woken by a get: the room is ours */
        return deliver(q, item, priority);   /* reserved: cannot fail */
    }
    if (!q)
        return -EINVAL;
    if (is_full(q)) {       /* also while putters wait: their room is taken */
        /* When the room is handed to us, storing the item must not
         * fail: a bounded queue that makes a putter wait gets all its
         * storage now (it holds about that many items already). */
        if ((rc = reserve_storage(q, q->maxsize)) < 0)
            return rc;
        return co_block(self, &q->putters, CO_NO_DEADLINE);
    }
    return deliver(q, item, priority);
}

co_status co_queue_put(co_task *self, co_queue *q, void *item)
{
    return put(self, q, item, 0);
}

co_status co_queue_put_priority(co_task *self, co_queue *q, void *item,
                                int priority)
{
    if (q && q->kind != CO_QUEUE_PRIORITY && !co_wait_resumed(self)) {
        int rc;
        if (co_wait_enter(self, &rc))
            return rc;
        return -EINVAL;
    }
    return put(self, q, item, priority);
}

co_status co_queue_get_priority(co_task *self, co_queue *q, void **item,
                                int *priority)
{
    int rc, resumed = co_wait_resumed(self);
    if (co_wait_enter(self, &rc)) {
        if (!resumed)
            return rc;             /* cancelled or timed out before waiting */
        if (rc < 0) {
            q->waiting_getters--;  /* left without an item */
            return rc;
        }
        co_queue_slot *s = &q->slots[rc];   /* handed to us by a put */
        *item = s->item;
        if (priority)
            *priority = s->priority;
        s->next_free = q->free_slot;
        q->free_slot = rc + 1;
        q->handed--;
        room_freed(q);
        return 0;
    }
    if (!q || !item)
        return -EINVAL;
    if (q->len == 0 || !co_waitq_empty(&q->getters)) {
        if ((rc = reserve_slots(q, q->handed + q->waiting_getters + 1)) < 0)
            return rc;
        q->waiting_getters++;
        return co_block(self, &q->getters, CO_NO_DEADLINE);
    }
    pop(q, item, priority);
    room_freed(q);
    return 0;
}

co_status co_queue_get(co_task *self, co_queue *q, void **item)
{
    return co_queue_get_priority(self, q, item, NULL);
}

int co_queue_task_done(co_queue *q)
{
    if (!q || q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        co_waitq_wake_all(&q->joiners, 0);
    return 0;
}

co_status co_queue_join(co_task *self, co_queue *q)
{
    int rc;
    if (co_wait_enter(self, &rc))
        return rc;
    if (!q)
        return -EINVAL;
    if (q->unfinished == 0)
        return 0;
    return co_block(self, &q->joiners, CO_NO_DEADLINE);
}

size_t co_queue_qsize(const co_queue *q)
{
    return q ? q->len + q->handed : 0;
}

int co_queue_empty(const co_queue *q)
{
    return co_queue_qsize(q) == 0;
}

int co_queue_full(const co_queue *q)
{
    return q && is_full(q);
}

size_t co_queue_unfinished(const co_queue *q)
{
    return q ? q->unfinished : 0;
}
