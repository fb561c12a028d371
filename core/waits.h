/*
 * waits.h -- the toolkit for writing blocking primitives.  (Not wait.h:
 * that is the name of a glibc header.)
 *
 * Every primitive has the same shape: enter (which returns the wake value if
 * this is the re-evaluation after a wake, and -ECANCELED / -ETIMEDOUT if one
 * is due); try the operation; if it cannot finish, block on a wait queue
 * and/or a deadline and return CO_WOULDBLOCK.  The awaiting macro suspends;
 * whoever completes the operation wakes the task with a value, and the
 * primitive is evaluated again and returns it.  For example:
 *
 *     co_status co_event_wait(co_task *t, co_event *e) {
 *         int rc;
 *         if (co_wait_enter(t, &rc)) return rc;
 *         if (e->set) return 0;
 *         return co_block(t, &e->waiters, CO_NO_DEADLINE);
 *     }
 *
 * A value handed to a woken task (a lock, an item) is never lost: once
 * woken, a task is no longer blocked, so a cancellation arriving before it
 * runs only takes effect at its next blocking point.
 */
#ifndef CO_WAITS_H
#define CO_WAITS_H

#include <stdint.h>

#include "api.h"
#include "fastpath.h"
#include "task.h"

/* A FIFO of blocked tasks, linked through the tasks themselves; `head` is
 * the list's sentinel.  All zeros is a valid empty queue (or call
 * co_waitq_init).  Once a task has waited on it, it must not be copied or
 * moved: the tasks point into it. */
typedef struct co_waitq {
    co_link head;
} co_waitq;

#define CO_NO_DEADLINE INT64_MAX

CO_API void co_waitq_init(co_waitq *q);
/* An all-zero queue is a valid empty one (initialised on first use), so
 * sync objects can be zero-initialised in frames. */
static inline int co_waitq_empty(const co_waitq *q)
{
    return !q->head.next || q->head.next == &q->head;
}
/* Wake the oldest waiter with `value`; returns it, or NULL if none. */
CO_API co_task *co_waitq_wake_one(co_waitq *q, int value);
/* Wake every waiter, oldest first; returns how many. */
CO_API int co_waitq_wake_all(co_waitq *q, int value);

/* Returns 1 with *rc set when the primitive must return *rc now: the wake
 * value on re-evaluation, or a pending -ECANCELED / -ETIMEDOUT.  Aborts with
 * a message if `self` is not the task this thread's kernel is running. */
CO_API int co_wait_enter_at(co_task *self, int *rc, const char *func);
#define co_wait_enter(self, rc) co__wait_enter((self), (rc), __func__)

/* Whether self is being resumed after a wake, i.e. this evaluation of the
 * primitive follows its own suspension (call before co_wait_enter, which
 * consumes the wake).  For primitives that hold something while blocked. */
static inline int co_wait_resumed(const co_task *self)
{
    return self && (self->flags & CO__TASK_WOKEN);
}

/* Block self on q (may be NULL) until woken or until `deadline` (monotonic
 * ns, or CO_NO_DEADLINE) passes, when it is woken with 0.  An active timeout
 * region's deadline also applies (woken with -ETIMEDOUT) when it is not
 * later than `deadline`.  Returns CO_WOULDBLOCK: it cannot fail (the
 * task's place in the timer heap was reserved when it was spawned), so a
 * primitive may hand something over before it blocks. */
CO_API co_status co_block(co_task *self, co_waitq *q, int64_t deadline);

/*
 * For a primitive whose operation can be completed while its task is
 * blocked by someone the kernel does not see (another thread), so that
 * the task may be woken by a cancellation or a timeout although its
 * operation happened.  On that re-evaluation, once the primitive knows
 * the operation completed, it calls this instead of co_wait_enter and
 * returns success: the wake is consumed, a timeout region's expiry that
 * woke the task is discarded as never delivered (the region does not
 * count as expired), and a cancellation stays requested for the next
 * blocking point.  Aborts unless self is the running task being resumed.
 */
CO_API void co_wait_completed(co_task *self);

/*
 * Per-wait records.  A primitive that keeps a record for each wait (a
 * node registered with an object shared by threads, say) blocks the task
 * on a queue inside the record that no other task waits on.  From the wake
 * until the task blocks again, co_wait_solo_queue(self) returns that queue,
 * so the primitive finds its record again without a search.  NULL when
 * self is not being resumed after a wait on a queue.
 */
CO_API co_waitq *co_wait_solo_queue(const co_task *self);

/* Wake a blocked task with `value`. Returns 1, or 0 if it was not blocked. */
CO_API int co_wake(co_task *t, int value);

/* The kernel's cached monotonic clock in ns (refreshed once per cycle). */
CO_API int64_t co_now_ns(void);

#endif /* CO_WAITS_H */
