/*
 * async.h -- the one thread-safe way into a kernel: post a callback that
 * the kernel's own thread runs soon.
 *
 * Everything else in a kernel (tasks, wait queues, the timer heap) belongs
 * to the thread running it.  Another thread that wants to wake a task posts
 * a callback; the kernel runs posted callbacks in FIFO order from its loop,
 * where they may call co_wake(), co_task_cancel_nowait(), co_kernel_spawn()...
 *
 * Posting uses an intrusive node supplied by the caller, so it never
 * allocates:
 *
 *     static void ping(void *arg) { co_wake(arg, 0); }
 *     co_post p;
 *     co_post_init(&p, ping, task);
 *     co_kernel_post(k, &p);            // from any thread
 *
 * The kernel is woken through one ev_async, started when the kernel is
 * created.  Posts made before a run (or between runs) wait for the next
 * run; posts still pending when the kernel is freed are dropped, not run.
 *
 * Deadlock detection: the ev_async alone does not keep a run going, since
 * a kernel whose tasks all wait on each other is deadlocked whatever other
 * threads might post.  A task that waits for something only another thread
 * will deliver calls co_kernel_hold() while it waits (and co_kernel_unhold()
 * after): while any hold is taken, the run waits for posts instead of
 * reporting a deadlock.
 */
#ifndef CO_ASYNC_H
#define CO_ASYNC_H

#include "api.h"
#include "task.h"

typedef struct co_post {
    struct co_post *next, *prev;   /* private: the kernel's FIFO */
    void (*fn)(void *arg);
    void *arg;
    int pending;                   /* private: queued, not yet run */
    int owned;                     /* private: allocated by co_kernel_post_fn */
} co_post;

/* Prepare a node (also resets it). */
CO_API void co_post_init(co_post *p, void (*fn)(void *arg), void *arg);

/* Any thread: queue p->fn(p->arg) to run in k's thread.  The node must stay
 * valid until the callback has started or co_kernel_unpost removed it.
 * Posting a node that is still pending does nothing: it runs once.
 * Returns 0, or -EINVAL. */
CO_API int co_kernel_post(co_kernel *k, co_post *p);

/* Any thread: the same with a node allocated here and freed after the run.
 * 0, -EINVAL or -ENOMEM. */
CO_API int co_kernel_post_fn(co_kernel *k, void (*fn)(void *arg), void *arg);

/* k's thread only: take p back if it has not run yet.  1 if it was pending
 * (it will not run), 0 if it was not (it has run, or was never posted).
 * Nodes are run one at a time, so this is exact even from a callback. */
CO_API int co_kernel_unpost(co_kernel *k, co_post *p);

/* k's thread only: keep runs of k alive (no deadlock report) while a task
 * waits for another thread; unhold when it stops waiting.  Holds count. */
CO_API void co_kernel_hold(co_kernel *k);
CO_API void co_kernel_unhold(co_kernel *k);

#endif /* CO_ASYNC_H */
