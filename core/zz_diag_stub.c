/*
 * zz_diag_stub.c -- TEMPORARY (branch m14): trivial stand-ins for the
 * calls of core/diag.h, so that the monitor builds and runs before the
 * real diagnostics are merged.  The lead deletes this file on merge.
 * Values that only the real implementation knows are 0 / INFINITY here.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "diag.h"
#include "kernel_impl.h"

int co_kernel_get_stats(co_kernel *k, co_kernel_stats *out)
{
    if (!k || !out)
        return -EINVAL;
    *out = (co_kernel_stats){ .tasks_alive = k->live,
                              .tasks_spawned = k->last_id,
                              .timers = k->heap_len };
    return 0;
}

uint64_t co_task_cycles(const co_task *t)
{
    (void)t;
    return 0;
}

int co_kernel_count_cycles(co_kernel *k, int on)
{
    (void)on;
    return k ? 0 : -EINVAL;
}

size_t co_task_memory(const co_task *t)
{
    return t ? sizeof(co_task) : 0;
}

double co_task_deadline(const co_task *t)
{
    (void)t;
    return INFINITY;
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = (*(co_task *const *)a)->id, y = (*(co_task *const *)b)->id;
    return (x > y) - (x < y);
}

int co_kernel_foreach_task(co_kernel *k, int (*fn)(co_task *t, void *arg),
                           void *arg)
{
    if (!k || !fn)
        return -EINVAL;
    uint32_t n = 0;
    co_task **v = malloc((k->reg_len + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (uint32_t i = 0; i < k->reg_len; i++)
        if (co__task_state(k->reg[i].task) != CO_STATE_DONE)
            v[n++] = k->reg[i].task;
    qsort(v, n, sizeof *v, by_id);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = fn(v[i], arg);
    free(v);
    return rc;
}
