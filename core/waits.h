/*
 * waits.h -- the toolkit for writing blocking primitives.  (Not wait.h:
 * that is the name of a glibc header.)
 *
 * Every primitive has the same shape: begin (which returns the wake value
 * if this is the re-evaluation after a wake, -EINVAL for bad arguments,
 * and -ECANCELED / -ETIMEDOUT if one is due); try the operation; if it
 * cannot finish, block on a wait queue and/or a deadline and return
 * CO_WOULDBLOCK.  The awaiting macro suspends; whoever completes the
 * operation wakes the task with a value, and the primitive is evaluated
 * again and returns it.  For example:
 *
 *     co_status co_event_wait(co_task *self, co_event *e) {
 *         int rc;
 *         if (co_wait_begin(self, e != NULL, &rc)) return rc;
 *         if (e->priv.set) return 0;
 *         return co_block(self, &e->priv.waiters, CO_NO_DEADLINE);
 *     }
 *
 * A value handed to a woken task (a lock, an item) is never lost: once
 * woken, a task is no longer blocked, so a cancellation arriving before it
 * runs only takes effect at its next blocking point.
 *
 * THE RULE: the order of a primitive's first steps, the same for every
 * blocking primitive (core/, sync/, net/), all of it in co_wait_begin:
 *
 *   1. self.  A `self` that is NULL or is not the task this thread's
 *      kernel is running (a call from outside the task, or a blocking call
 *      whose CO_WOULDBLOCK was not awaited) aborts with a message naming
 *      the function -- whatever the other arguments.  A NULL self is the
 *      same misuse as a foreign one: the caller is not a task that could
 *      suspend (usually code outside any task that passed NULL for "no
 *      task"), so no result it could act on exists, and an -EINVAL would
 *      send it down an error path written for a task.
 *   2. Its own wake.  The re-evaluation after the primitive's own
 *      suspension delivers the wake first (its value, or what the
 *      primitive makes of it), whatever the arguments look like: they
 *      were checked by the call that blocked, and CO_AWAIT evaluates that
 *      same call again (they must not change meanwhile).
 *   3. The arguments.  What is wrong with the arguments alone -- NULL, out
 *      of range, the wrong kind of object -- without looking at the
 *      object's state, returns -EINVAL (or the fitting errno: -ENOTSUP
 *      for a host name co_open_connection cannot resolve) at once.  Such
 *      a call is no blocking point: it never blocks and has no effect on
 *      the task -- it consumes no wake, does not deliver a pending
 *      cancellation (-ECANCELED stays due, not marked delivered) and does
 *      not expire a timeout region; both reach the task's next call with
 *      good arguments.  So with a cancellation or a timeout pending,
 *      bad arguments still return -EINVAL.
 *   4. A pending cancellation, then an expired timeout region:
 *      -ECANCELED / -ETIMEDOUT.
 *   5. The operation.  Errors that depend on the object's state (-EPERM,
 *      -EDEADLK, -EBUSY, -EBADF for a closed socket ...) are its outcomes
 *      and come after 4., like any outcome.
 *
 * Why arguments before cancellation: a bad argument is a bug in the
 * caller, and is reported the same way every time -- it cannot hide behind
 * a cancellation or a timeout that happened to be due (an -ECANCELED that
 * the caller handles by unwinding would swallow it), so the bug shows in
 * every run and in its test.  Curio orders them so too: a call with wrong
 * arguments raises before the coroutine reaches the trap where a
 * cancellation is delivered.  A blocking form and its _nowait form check
 * the same arguments and give the same answer.  And it is free: the
 * validity is one more predictable test, of pointers the primitive loads
 * anyway, and the entry's fast path is unchanged.  Sticky cancellation
 * holds: a cancelled task still gets -ECANCELED from every blocking call
 * with good arguments, so it cannot run on past a blocking point.
 *
 * A primitive that finishes something on its own re-evaluation (takes the
 * item it is owed, releases an fd) tests co_wait_resumed(self) first and
 * calls co_wait_begin only for a fresh call; a primitive built on another
 * primitive lets the inner one apply the rule, handing its bad arguments
 * down (net/socket.c passes a NULL io to co_io_wait).
 *
 * Non-blocking functions given NULL answer by their return type (int:
 * -EINVAL; a yes/no int: 0; pointer: NULL; size_t: 0; void: nothing):
 * docs/reference.md, "Conventions".
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
    return q && (!q->head.next || q->head.next == &q->head);
}
/* Wake the oldest waiter with `value`; returns it, or NULL if none. */
CO_API co_task *co_waitq_wake_one(co_waitq *q, int value);
/* Wake every waiter, oldest first; returns how many. */
CO_API int co_waitq_wake_all(co_waitq *q, int value);

/*
 * The start of every blocking primitive: THE RULE above, steps 1 to 4.
 * `args_ok` is whether the arguments are good (step 3).  Returns 1 with
 * *rc set when the primitive must return *rc now: the wake value on the
 * re-evaluation after its own wake (any value), else -EINVAL, -ECANCELED
 * or -ETIMEDOUT (always negative: a fresh call never gets 1 with *rc >= 0);
 * 0 to go on with the operation.  Aborts with a message naming the calling
 * function for a NULL self or one that is not the running task.
 */
#define co_wait_begin(self, args_ok, rc)                                     \
    co__wait_begin((self), (args_ok), (rc), __func__)

/* co_wait_begin for arguments known to be good: for a primitive with
 * nothing to check, and to enter again after a wake (condition wait_for). */
CO_API int co_wait_enter_at(co_task *self, int *rc, const char *func);
#define co_wait_enter(self, rc) co__wait_enter((self), (rc), __func__)

/* Private: the bad-argument case of co_wait_begin (waits.c); exported only
 * for the inline code below, which a program compiles into itself. */
CO_API int co__wait_refuse(co_task *self, int *rc, const char *func);

/* Good arguments take the entry's fast path (core/fastpath.h) unchanged;
 * bad ones are rare and go out of line. */
static inline int co__wait_begin(co_task *self, int args_ok, int *rc,
                                 const char *func)
{
    if (__builtin_expect(args_ok != 0, 1))
        return co__wait_enter(self, rc, func);
    return co__wait_refuse(self, rc, func);
}

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
