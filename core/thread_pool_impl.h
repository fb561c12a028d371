/*
 * thread_pool_impl.h -- the worker pool's insides (core/thread_pool.c),
 * for the kernel and the resolver (net/resolve.c).
 */
#ifndef CO_THREAD_POOL_IMPL_H
#define CO_THREAD_POOL_IMPL_H

#include "thread_pool.h"

struct co_thread_pool;

/* co_kernel_free, after the tasks are gone: stop and join every worker
 * (waiting for calls still running), hand results nobody took to their
 * cleanup callbacks, free the pool. */
void co__thread_pool_free(co_kernel *k);

/* Run fn(arg) on one of k's workers with no task waiting for it (a
 * file's write-behind, net/file.c): done(arg, result) runs in k's thread
 * once fn has returned -- or at co_kernel_free, which runs fn itself
 * (in its own thread) if no worker had started it: such a call is never
 * dropped.  Nothing keeps k's loop alive meanwhile: the caller holds it
 * (co_kernel_hold) if its tasks wait for the call.  0, -ENOMEM or -EAGAIN (no thread and
 * none can be made), and then done is not called. */
int co__thread_pool_start(co_kernel *k, co_thread_call_fn fn, void *arg,
                          co_thread_call_cleanup done);

/* For the tests: how long an idle worker waits for work before it ends
 * (30 s by default).  0 or -EINVAL. */
int co__thread_pool_set_idle(co_kernel *k, double seconds);

#endif /* CO_THREAD_POOL_IMPL_H */
