/*
 * timer_heap.c -- blocked tasks with a deadline, in a binary min-heap.
 *
 * Only tasks that are blocked AND have a deadline (a sleep, or an active
 * timeout region) are here; one ev_timer armed for the top stands for all
 * of them.  Equal deadlines leave in insertion order (seq).  A task keeps
 * its index in `result` while it is in the heap, so removal is O(log n);
 * an entry names its task by registry slot (see kernel_impl.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc_impl.h"
#include "errors.h"
#include "kernel_impl.h"

static int earlier(const co_timer_entry *a, const co_timer_entry *b)
{
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && (int32_t)(a->seq - b->seq) < 0);
}

static co_task *task_at(co_kernel *k, const co_timer_entry *e)
{
    return k->reg[e->slot].task;
}

static void place(co_kernel *k, uint32_t i, co_timer_entry e)
{
    k->heap[i] = e;
    task_at(k, &e)->result = (int32_t)i;
}

static void sift_up(co_kernel *k, uint32_t i, co_timer_entry e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!earlier(&e, &k->heap[parent]))
            break;
        place(k, i, k->heap[parent]);
        i = parent;
    }
    place(k, i, e);
}

static void sift_down(co_kernel *k, uint32_t i, co_timer_entry e)
{
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= k->heap_len)
            break;
        if (child + 1 < k->heap_len &&
            earlier(&k->heap[child + 1], &k->heap[child]))
            child++;
        if (!earlier(&k->heap[child], &e))
            break;
        place(k, i, k->heap[child]);
        i = child;
    }
    place(k, i, e);
}

int co__timer_heap_reserve(co_kernel *k, uint32_t n)
{
    if (n <= k->heap_cap)
        return 0;
    uint32_t cap = k->heap_cap ? k->heap_cap : 64;
    while (cap < n)
        cap *= 2;
    co_timer_entry *h = co__alloc_resize(k->heap, (size_t)cap * sizeof *h);
    if (!h)
        return -ENOMEM;
    k->heap = h;
    k->heap_cap = cap;
    return 0;
}

void co__timer_heap_insert(co_kernel *k, co_task *t, int64_t deadline)
{
    if (k->heap_len == k->heap_cap)
        co_panic("timer heap full: a task blocked that was not reserved "
                 "a place when it was spawned");
    co_timer_entry e = { deadline, t->slot, k->timer_seq++ };
    t->flags |= CO_F_IN_HEAP;
    sift_up(k, k->heap_len++, e);
}

void co__timer_heap_remove(co_kernel *k, uint32_t i)
{
    task_at(k, &k->heap[i])->flags &= ~CO_F_IN_HEAP;
    co_timer_entry last = k->heap[--k->heap_len];
    if (i == k->heap_len)
        return;
    if (i > 0 && earlier(&last, &k->heap[(i - 1) / 2]))
        sift_up(k, i, last);
    else
        sift_down(k, i, last);
}

/* Wake every task whose deadline is not after `now`, earliest first. */
void co__timer_heap_expire(co_kernel *k, int64_t now)
{
    while (k->heap_len && k->heap[0].deadline <= now) {
        co_task *t = task_at(k, &k->heap[0]);
        co__timer_heap_remove(k, 0);
        co__timeout_deadline_reached(k, t, now);
    }
}
