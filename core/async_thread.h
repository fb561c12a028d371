/*
 * async_thread.h -- Curio's spawn_thread and AWAIT: a real OS thread backed
 * by a task, which can await coroutines and primitives inside the kernel.
 *
 *     static int worker(co_thread *th, void *arg) {
 *         co_lock *l = arg;
 *         int rc = co_thread_lock_acquire(th, l);   // blocks this thread only
 *         if (rc < 0) return rc;                     // -ECANCELED ...
 *         ... blocking work, the lock held ...
 *         co_thread_lock_release(th, l);
 *         return 7;
 *     }
 *     co_task *h;
 *     co_spawn_thread(t, &h, worker, &lock);        // inside a task
 *     CO_AWAIT(rc, co_task_join(t, h, &result));    // result == 7
 *
 * The returned co_task is an ordinary task (the "backing task"): join,
 * wait, cancel and detach it as any other.  It ends when the thread's
 * function returns, with that function's result, after the thread has
 * been joined: no thread outlives its task.
 *
 * co_thread_await() runs a coroutine *inside the backing task*, in the
 * kernel's thread, while the calling thread blocks on a condition
 * variable.  So everything that applies to a task applies to the thread's
 * awaits: a cancellation of the backing task is delivered at the thread's
 * next await (-ECANCELED, and every later await too: sticky), and a
 * timeout region opened from the thread (co_thread_timeout_after) times
 * out the awaits inside it.  Between awaits the thread runs on its own;
 * the kernel is not involved and nothing is delivered there: a thread
 * that never awaits again simply runs to its end.
 *
 * Misuse: co_thread_await from a thread other than th's own returns
 * -EPERM (a plain pthread, another async thread), from the kernel's own
 * thread -EDEADLK (it would wait for itself); neither hangs.
 *
 * The kernel is held (core/async.h) while a backing task lives, so a run
 * whose tasks wait for a thread is not reported as deadlocked.  When the
 * kernel shuts down, the backing task is cancelled as every task is, and
 * the shutdown waits for the thread's function to return.
 */
#ifndef CO_ASYNC_THREAD_H
#define CO_ASYNC_THREAD_H

#include <stddef.h>

#include "api.h"
#include "task.h"
#include "timeout.h"

struct co_lock;                         /* sync/lock.h */
struct co_queue;                        /* sync/queue.h */

typedef struct co_thread co_thread;     /* opaque: one per async thread */

/* The function an async thread runs; its result becomes the backing
 * task's result. */
typedef int (*co_thread_fn)(co_thread *th, void *arg);

/* Inside a task: start a thread running fn(th, arg), backed by a new task
 * stored in *out (if out is not NULL).  The thread starts at once; the
 * backing task is scheduled as co_spawn's are.  Returns the task's id
 * (> 0), or -EINVAL (NULL self or fn), -ENOMEM, -EAGAIN (no thread could
 * be created; then no task either). */
CO_API int co_spawn_thread(co_task *self, co_task **out, co_thread_fn fn,
                           void *arg);

/* The calling thread's handle if it is an async thread, else NULL. */
CO_API co_thread *co_thread_current(void);

/*
 * Thread side, blocking the calling thread: run fn on frame (size bytes,
 * its first member the `co_frame co`, which is reset here) inside the
 * backing task and return its result.  The frame stays the caller's: the
 * coroutine's outputs are in it afterwards.  -EINVAL for NULL arguments or
 * a size smaller than a co_frame, -EPERM if the caller is not th's thread,
 * -EDEADLK from the kernel's own thread.
 */
CO_API int co_thread_await(co_thread *th, co_func fn, void *frame,
                           size_t size);

/* Ready-made awaits, each one co_thread_await of the primitive named. */
CO_API int co_thread_sleep(co_thread *th, double seconds);
CO_API int co_thread_lock_acquire(co_thread *th, struct co_lock *l);
CO_API int co_thread_lock_release(co_thread *th, struct co_lock *l);
CO_API int co_thread_queue_get(co_thread *th, struct co_queue *q,
                               void **item);
CO_API int co_thread_queue_put(co_thread *th, struct co_queue *q,
                               void *item);

/* A timeout region of the backing task, opened and ended from the thread:
 * the thread's awaits between them return -ETIMEDOUT once `seconds` have
 * passed.  The region (any memory of the thread's, its stack included)
 * must stay valid until the end, regions end in reverse order, and every
 * region must end before the thread's function returns.  _end returns
 * co_timeout_end's verdict on rc.  Both also fail as co_thread_await. */
CO_API int co_thread_timeout_after(co_thread *th, co_timeout *region,
                                   double seconds);
CO_API int co_thread_timeout_end(co_thread *th, co_timeout *region, int rc);

#endif /* CO_ASYNC_THREAD_H */
