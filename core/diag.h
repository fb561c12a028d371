/*
 * diag.h -- TEMPORARY (branch m14): the diagnostics calls the monitor
 * uses, with the exact signatures agreed for issue 14.  Another engineer
 * writes the real core/diag.h; on merge the lead keeps theirs and deletes
 * this file's body and core/zz_diag_stub.c.
 */
#ifndef CO_DIAG_H
#define CO_DIAG_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "kernel.h"
#include "task.h"

typedef struct co_kernel_stats {
    uint64_t tasks_alive, tasks_spawned, switches, io_waits, timers;
    uint64_t memory_tasks, memory_pool, memory_kernel;
} co_kernel_stats;

CO_API int co_kernel_get_stats(co_kernel *k, co_kernel_stats *out);
CO_API uint64_t co_task_cycles(const co_task *t);
CO_API int co_kernel_count_cycles(co_kernel *k, int on);
CO_API size_t co_task_memory(const co_task *t);
CO_API double co_task_deadline(const co_task *t);
CO_API int co_kernel_foreach_task(co_kernel *k,
                                  int (*fn)(co_task *t, void *arg),
                                  void *arg);

#endif /* CO_DIAG_H */
