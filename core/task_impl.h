/*
 * task_impl.h -- the layout of co_task.flags, and the task calls the
 * library's files share (private to the library: not installed).
 *
 * The installed headers name only the bits their inline fast path reads
 * (CO__TASK_* in task.h); the layout is built on those values here, so the
 * two cannot disagree, and the asserts below check that no two fields
 * overlap.
 */
#ifndef CO_TASK_IMPL_H
#define CO_TASK_IMPL_H

#include "task.h"

/* co_task.flags */
enum {
    CO_STATE_MASK = CO__TASK_STATE_MASK,
    CO_STATE_READY = 0u,       /* in the ready queue */
    CO_STATE_RUNNING = CO__TASK_RUNNING,
    CO_STATE_BLOCKED = 2u,     /* in a wait queue and/or the timer heap */
    CO_STATE_DONE = 3u,

    CO_F_WOKEN = CO__TASK_WOKEN,   /* woken; result holds the wake value */
    CO_F_IN_HEAP = 1u << 3,    /* has a timer entry; result holds its index */
    CO_F_CANCEL_REQ = CO__TASK_CANCEL_REQ, /* cancellation requested (first
                                              one counts) */
    CO_F_CANCEL_DONE = 1u << 5,/* -ECANCELED has been delivered */
    CO_F_DAEMON = 1u << 6,
    CO_F_DETACHED = 1u << 7,
    CO_F_JOINING = 1u << 8,    /* blocked in co_task_join (wants the result) */
    CO_F_STORAGE = 1u << 9,    /* caller-supplied memory: never freed */
    CO_F_JOINED = 1u << 10,    /* result collected by a join */
    CO_F_CANCEL_MADE = 1u << 11, /* blocked in co_task_cancel that made the request */
    CO_F_GOT_RESULT = 1u << 12, /* a joiner's wake value is the result */
    CO_F_EXPIRY_WAKE = CO__TASK_EXPIRY_WAKE, /* woken by a timeout region's
                                    expiry: the region counts as expired
                                    once the wake is delivered
                                    (co_wait_enter) */
    CO_F_OWN_DEADLINE = 1u << 14, /* blocked: the timer entry is the
                                     primitive's own deadline, earlier
                                     than any region's */
    CO_F_ROUTINE_NET = 1u << 15, /* spawned CO_ROUTINE_NET */

    CO_NOCANCEL_SHIFT = 16,    /* 8 bits of disable_cancellation depth */
    CO_NOCANCEL_ONE = 1u << CO_NOCANCEL_SHIFT,
    CO_NOCANCEL_MASK = 0xffu << CO_NOCANCEL_SHIFT,

    CO_SLAB_SHIFT = 24,        /* task memory: 0 malloc, else slab class
                                  (0xff: mapped; with CO_F_STORAGE, 0 or
                                  0xe0 + the index of its size: task.c) */
};
/* Past INT_MAX, so not an enumerator (ISO C: enumerators are ints). */
#define CO_SLAB_MASK (0xffu << CO_SLAB_SHIFT)

/* The fields do not overlap: adding fields of disjoint bits gives the
 * same as or-ing them, and a shared bit makes a carry that shows.
 * (unsigned long long: the sum must not wrap in 32 bits.) */
#define CO__TASK_FLAG_FIELDS(op)                                             \
    ((unsigned long long)CO_STATE_MASK op CO_F_WOKEN op CO_F_IN_HEAP op      \
     CO_F_CANCEL_REQ op CO_F_CANCEL_DONE op CO_F_DAEMON op CO_F_DETACHED op  \
     CO_F_JOINING op CO_F_STORAGE op CO_F_JOINED op CO_F_CANCEL_MADE op      \
     CO_F_GOT_RESULT op CO_F_EXPIRY_WAKE op CO_F_OWN_DEADLINE op             \
     CO_F_ROUTINE_NET op CO_NOCANCEL_MASK op CO_SLAB_MASK)
_Static_assert(CO__TASK_FLAG_FIELDS(+) == CO__TASK_FLAG_FIELDS(|),
               "two fields of co_task.flags share a bit");
/* The states fit in their field, and the running state is one of them. */
_Static_assert((CO_STATE_DONE & ~CO_STATE_MASK) == 0 &&
               (CO_STATE_BLOCKED & ~CO_STATE_MASK) == 0 &&
               CO_STATE_RUNNING != CO_STATE_READY &&
               CO_STATE_RUNNING != CO_STATE_BLOCKED &&
               CO_STATE_RUNNING != CO_STATE_DONE &&
               (CO_STATE_RUNNING & ~CO_STATE_MASK) == 0,
               "co_task.flags: the task states");

/* The task's state, and what it may be told (the kernel's files). */
static inline unsigned co__task_state(const co_task *t)
{
    return t->flags & CO_STATE_MASK;
}
static inline void co__task_set_state(co_task *t, unsigned s)
{
    t->flags = (t->flags & ~CO_STATE_MASK) | s;
}
/* Blocked in no wait queue (a sleep, a yield's slow path).  A blocked
 * task's next link says whether it waits in a queue (core/waits.c), so the
 * stale ready-queue link of a running task must go. */
static inline void co__task_block_unqueued(co_task *t)
{
    co__task_set_state(t, CO_STATE_BLOCKED);
    t->link.next = t->link.prev = NULL;
}
static inline int co__task_cancellable(const co_task *t)
{
    return (t->flags & CO_NOCANCEL_MASK) == 0;
}
/* Timeouts apply while cancellation is enabled and none was requested. */
static inline int co__task_timeouts_armed(const co_task *t)
{
    return t->timeouts && co__task_cancellable(t) && !(t->flags & CO_F_CANCEL_REQ);
}

/* A task is its link (the first member), and its frame follows it. */
static inline co_task *co__task_of_link(co_link *l) { return (co_task *)l; }
static inline void *co__task_frame_of(co_task *t) { return t + 1; }

/* A cold linear scan, for misuse checks (net/server.c): a task of this
 * thread's kernel, not done, running fn, whose frame match() accepts; or
 * NULL. */
co_task *co__task_find(co_func fn, int (*match)(void *frame, const void *arg),
                       const void *arg);

#endif /* CO_TASK_IMPL_H */
