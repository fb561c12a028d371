/*
 * thread_pool.h -- run blocking code on worker threads without stalling
 * the kernel (Curio's run_in_thread and block_in_thread).
 *
 * Each kernel has a pool of worker threads, made on first use, at most
 * CO_THREADS_DEFAULT_MAX of them (co_kernel_set_max_threads).  A task hands
 * the pool a call -- a function and its argument -- and blocks; one of the
 * threads runs fn(arg) and the task gets its result.  Callers beyond the
 * pool's size wait, first come first served.  The threads end when the
 * kernel is freed (co_kernel_free joins them, so a call still running
 * delays it until that call returns); a thread idle for 30 s ends sooner.
 *
 *     static intptr_t slow_sum(void *arg) { ...blocking work...; return n; }
 *
 *     co_thread_call_init(&f->call, slow_sum, &f->input, NULL);
 *     CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
 *     if (f->rc == 0) use(f->call.result);
 *
 * A function reports an error as the rest of the library does, by
 * returning a negative errno; co_run_in_thread then returns it.
 *
 * Cancellation and timeouts release the task at once (-ECANCELED,
 * -ETIMEDOUT).  A call that no thread has started yet is dropped; one that
 * is running cannot be stopped (a thread cannot be interrupted safely):
 * the thread finishes it.  Either way the call's `cleanup` callback, if it
 * has one, is given arg and the result (-ECANCELED for a call that never
 * ran), in the kernel's thread (or in co_kernel_free), so nothing the
 * function made leaks: cleanup owns arg once its caller has gone.  `arg`
 * must stay valid until then: what the thread reads through it is the
 * caller's business.
 *
 * Who owns arg afterwards, in one rule: a call with a cleanup that did not
 * complete -- released early, or refused at once (a cancellation already
 * due, -ENOMEM, -EAGAIN, -EINVAL for a NULL fn: the cleanup is then called
 * before co_run_in_thread returns) -- has handed arg to its cleanup, and
 * the evaluation that returns sets call->arg to NULL.  So after the await,
 * `call->arg != NULL` says arg is still the caller's.  The call record itself is not: the pool copied
 * what it needs when the call was made, and the thread never sees the
 * record, so it may go with its frame (or be a local: a completing
 * evaluation needs only a record to write the result into).
 */
#ifndef CO_THREAD_POOL_H
#define CO_THREAD_POOL_H

#include <stdint.h>

#include "api.h"
#include "kernel.h"
#include "task.h"

/* The pool's size when none is set (Curio's MAX_WORKER_THREADS). */
#define CO_THREADS_DEFAULT_MAX 64

/* Runs on a worker thread: must not touch the kernel or its tasks. */
typedef intptr_t (*co_thread_call_fn)(void *arg);
/* Runs in the kernel's thread, for a call whose caller had gone (cancelled,
 * timed out, freed) before the function returned: it owns arg now.
 * result is -ECANCELED if the function never ran. */
typedef void (*co_thread_call_cleanup)(void *arg, intptr_t result);

/* A call, usually in the caller's frame.  The evaluation that completes
 * the call (it ran; co_run_in_thread returned 0 or the function's error)
 * sets `result`, and `arg` again to the call's arg. */
typedef struct co_thread_call {
    co_thread_call_fn fn;
    void *arg;
    co_thread_call_cleanup cleanup; /* or NULL */
    intptr_t result;               /* what fn returned */
} co_thread_call;

/* Fill in a call (result 0).  Nothing to free afterwards. */
CO_API void co_thread_call_init(co_thread_call *c, co_thread_call_fn fn,
                                void *arg, co_thread_call_cleanup cleanup);

/* Blocking: run call->fn(call->arg) on a worker thread.  0 with
 * call->result set, or the function's own negative result (a result below
 * INT_MIN gives -ERANGE); -EINVAL for a NULL call or fn; -ECANCELED,
 * -ETIMEDOUT; -EAGAIN if the pool has no thread and cannot make one. */
CO_API co_status co_run_in_thread(co_task *self, co_thread_call *call);

/* Blocking: the same, but the calls of one function (the same fn) run one
 * at a time, in the order made, so a thousand tasks blocked in the same
 * call hold one thread, not a thousand (Curio's block_in_thread). */
CO_API co_status co_block_in_thread(co_task *self, co_thread_call *call);

/* k's thread: the most worker threads k's pool may run at once (>= 1).
 * Threads beyond a lowered bound end once their call is done.  0 or
 * -EINVAL. */
CO_API int co_kernel_set_max_threads(co_kernel *k, int n);

/* k's thread: how many worker threads k's pool has now (0 before first
 * use, or for NULL). */
CO_API int co_kernel_thread_count(co_kernel *k);

#endif /* CO_THREAD_POOL_H */
