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

/* For the tests: how long an idle worker waits for work before it ends
 * (30 s by default).  0 or -EINVAL. */
int co__thread_pool_set_idle(co_kernel *k, double seconds);

#endif /* CO_THREAD_POOL_IMPL_H */
