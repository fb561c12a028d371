/*
 * process_pool_impl.h -- the process pool's insides (core/process_pool.c,
 * core/process_worker.c), for the kernel.
 */
#ifndef CO_PROCESS_POOL_IMPL_H
#define CO_PROCESS_POOL_IMPL_H

#include <sys/types.h>

#include "process_pool.h"

struct co_process_pool;

/* co_kernel_free, after the tasks are gone: SIGKILL and reap (waiting) every
 * worker left -- idle, busy or being killed -- and free the pool. */
void co__process_pool_free(co_kernel *k);

/* The worker's side (process_worker.c): where a newly forked worker goes;
 * never returns.  `in` and `out` are its ends of the request and response
 * pipes, `parents[2]` the parent's ends (closed in the worker), `parent`
 * the pid that forked it. */
_Noreturn void co__process_worker_main(int in, int out, const int parents[2],
                                       pid_t parent);

/* The fixed descriptors a worker reads requests from and writes responses
 * to. */
enum { CO__WORKER_IN_FD = 3, CO__WORKER_OUT_FD = 4 };

#endif /* CO_PROCESS_POOL_IMPL_H */
