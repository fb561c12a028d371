/*
 * fastpath.h -- the hottest steps of every primitive, inline.
 *
 * Entering a blocking primitive (co_wait_enter) and co_yield run on every
 * task switch.  As out-of-line calls that also read the kernel through a
 * general-dynamic TLS access they cost several times a bare switch, so
 * their common case is inlined here and only the rare cases (a pending
 * cancellation or timeout, misuse) call into core/waits.c.
 *
 * Everything named co__ here is private.  The fast path reads only the few
 * bits of co_task.flags that task.h names CO__TASK_*; the rest of the
 * layout is the library's (core/task_impl.h) and may change.
 */
#ifndef CO_FASTPATH_H
#define CO_FASTPATH_H

#include "api.h"
#include "task.h"

/* Exported only for the inline code below, which a program compiles into
 * itself: co__running, co__no_task, co_wait_enter_at (the documented slow
 * path of co_wait_enter, waits.h) and co__task_yield_slow.  Not API. */

/* The task this thread's kernel is running now; &co__no_task when none
 * is (never NULL, so that `self == co__running` rejects a NULL self
 * without a test of its own on the fast path).  initial-exec: one load
 * through %fs instead of a call to __tls_get_addr, even in the -fPIC
 * objects of libcurio.a and libcurio.so. */
#ifdef __cplusplus
CO_API extern thread_local co_task *co__running
#else
CO_API extern _Thread_local co_task *co__running
#endif
    __attribute__((tls_model("initial-exec")));
CO_API extern co_task co__no_task;

CO_API int co_wait_enter_at(co_task *self, int *rc, const char *func);
CO_API co_status co__task_yield_slow(co_task *self);

/* Nothing to deliver and nothing to check: the running task, in state
 * RUNNING, not woken, no cancellation requested, no timeout region.  The
 * state is part of the same mask-and-compare: a task that is still running
 * its body after a primitive blocked it (a call without CO_AWAIT) is not
 * RUNNING, and the slow path says so (co_wait_enter_at). */
static inline int co__plain_entry(const co_task *self)
{
    return self == co__running &&
           (self->flags & (CO__TASK_WOKEN | CO__TASK_CANCEL_REQ |
                           CO__TASK_STATE_MASK)) == CO__TASK_RUNNING &&
           !self->timeouts;
}

/* Woken, by something other than a timeout region's expiry (whose
 * delivery marks the region: the slow path does that), and RUNNING. */
static inline int co__plain_wake(const co_task *self)
{
    return self == co__running &&
           (self->flags & (CO__TASK_WOKEN | CO__TASK_EXPIRY_WAKE |
                           CO__TASK_STATE_MASK)) ==
               (CO__TASK_WOKEN | CO__TASK_RUNNING);
}

static inline int co__wait_enter(co_task *self, int *rc, const char *func)
{
    if (co__plain_entry(self))
        return 0;
    if (co__plain_wake(self)) {
        self->flags &= ~CO__TASK_WOKEN;        /* re-evaluation after a wake */
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
        self->flags |= CO__TASK_WOKEN;
        self->result = 0;
        return CO_WOULDBLOCK;
    }
    if (co__plain_wake(self)) {
        self->flags &= ~CO__TASK_WOKEN;
        return self->result;
    }
    return co__task_yield_slow(self);
}

#endif /* CO_FASTPATH_H */
