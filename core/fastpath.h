/*
 * fastpath.h -- the hottest steps of every primitive, inline.
 *
 * Entering a blocking primitive (co_wait_enter) and co_yield run on every
 * task switch.  As out-of-line calls that also read the kernel through a
 * general-dynamic TLS access they cost several times a bare switch, so
 * their common case is inlined here and only the rare cases (a pending
 * cancellation or timeout, misuse) call into core/wait.c.
 *
 * Everything named co__ here is private: the flag layout may change.
 */
#ifndef CO_FASTPATH_H
#define CO_FASTPATH_H

#include "task.h"

/* co_task.flags */
enum {
    CO_STATE_MASK = 3u,
    CO_STATE_READY = 0u,       /* in the ready queue */
    CO_STATE_RUNNING = 1u,
    CO_STATE_BLOCKED = 2u,     /* in a wait queue and/or the timer heap */
    CO_STATE_DONE = 3u,

    CO_F_WOKEN = 1u << 2,      /* woken; result holds the wake value */
    CO_F_IN_HEAP = 1u << 3,    /* has a timer entry; result holds its index */
    CO_F_CANCEL_REQ = 1u << 4, /* cancellation requested (first one counts) */
    CO_F_CANCEL_DONE = 1u << 5,/* -ECANCELED has been delivered */
    CO_F_DAEMON = 1u << 6,
    CO_F_DETACHED = 1u << 7,
    CO_F_JOINING = 1u << 8,    /* blocked in co_task_join (wants the result) */
    CO_F_STORAGE = 1u << 9,    /* caller-supplied memory: never freed */
    CO_F_JOINED = 1u << 10,    /* result collected by a join */
    CO_F_CANCEL_MADE = 1u << 11, /* blocked in co_task_cancel that made the request */
    CO_F_GOT_RESULT = 1u << 12, /* a joiner's wake value is the result */
    CO_F_EXPIRY_WAKE = 1u << 13, /* woken by a timeout region's expiry: the
                                    region counts as expired once the wake
                                    is delivered (co_wait_enter) */
    CO_F_OWN_DEADLINE = 1u << 14, /* blocked: the timer entry is the
                                     primitive's own deadline, earlier
                                     than any region's */
    CO_F_ROUTINE_NET = 1u << 15, /* spawned CO_ROUTINE_NET */

    CO_NOCANCEL_SHIFT = 16,    /* 8 bits of disable_cancellation depth */
    CO_NOCANCEL_ONE = 1u << CO_NOCANCEL_SHIFT,
    CO_NOCANCEL_MASK = 0xffu << CO_NOCANCEL_SHIFT,

    CO_SLAB_SHIFT = 24,        /* task memory: 0 malloc, else slab class */
};
/* Past INT_MAX, so not an enumerator (ISO C: enumerators are ints). */
#define CO_SLAB_MASK (0xffu << CO_SLAB_SHIFT)

/* The task this thread's kernel is running now; &co__no_task when none
 * is (never NULL, so that `self == co__running` rejects a NULL self
 * without a test of its own on the fast path).  initial-exec: one load
 * through %fs instead of a call to __tls_get_addr, even in the -fPIC
 * objects of libcurio.a and libcurio.so. */
#ifdef __cplusplus
extern thread_local co_task *co__running
#else
extern _Thread_local co_task *co__running
#endif
    __attribute__((tls_model("initial-exec")));
extern co_task co__no_task;

int co_wait_enter_at(co_task *self, int *rc, const char *func);
co_status co__task_yield_slow(co_task *self);

/* Nothing to deliver and nothing to check: the running task, in state
 * RUNNING, not woken, no cancellation requested, no timeout region.  The
 * state is part of the same mask-and-compare: a task that is still running
 * its body after a primitive blocked it (a call without CO_AWAIT) is not
 * RUNNING, and the slow path says so (co_wait_enter_at). */
static inline int co__plain_entry(const co_task *self)
{
    return self == co__running &&
           (self->flags & (CO_F_WOKEN | CO_F_CANCEL_REQ | CO_STATE_MASK)) ==
               CO_STATE_RUNNING &&
           !self->timeouts;
}

/* Woken, by something other than a timeout region's expiry (whose
 * delivery marks the region: the slow path does that), and RUNNING. */
static inline int co__plain_wake(const co_task *self)
{
    return self == co__running &&
           (self->flags & (CO_F_WOKEN | CO_F_EXPIRY_WAKE | CO_STATE_MASK)) ==
               (CO_F_WOKEN | CO_STATE_RUNNING);
}

static inline int co__wait_enter(co_task *self, int *rc, const char *func)
{
    if (co__plain_entry(self))
        return 0;
    if (co__plain_wake(self)) {
        self->flags &= ~CO_F_WOKEN;        /* re-evaluation after a wake */
        *rc = self->result;
        return 1;
    }
    return co_wait_enter_at(self, rc, func);
}

/* Blocking: sleep(0) -- go behind every task that is ready now.  The
 * common case marks the task woken with 0 and leaves it running: the
 * kernel puts a task that suspends while still running at the back of the
 * ready queue, and the re-evaluation returns the 0. */
static inline co_status co_yield(co_task *self)
{
    if (co__plain_entry(self)) {
        self->flags |= CO_F_WOKEN;
        self->result = 0;
        return CO_WOULDBLOCK;
    }
    if (co__plain_wake(self)) {
        self->flags &= ~CO_F_WOKEN;
        return self->result;
    }
    return co__task_yield_slow(self);
}

#endif /* CO_FASTPATH_H */
