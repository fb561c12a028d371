/*
 * diag.c -- hook sets on a kernel, cycle counting, statistics and the
 * task-inspection calls of core/diag.h.  The ready-made hooks are in
 * core/diag_hooks.c.
 *
 * The scheduler calls in here only through its instrumented cycle
 * (core/kernel.c), and spawn and task end only while a hook set is
 * installed: a program that asks for nothing pays one predicted test per
 * cycle, per spawn and per task end.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "alloc_impl.h"
#include "diag.h"
#include "kernel_impl.h"

static void update_instrumented(co_kernel *k)
{
    k->instrumented = k->hooks != NULL || k->count_cycles;
}

/* ------------------------------------------------------------ hook sets */

int co_kernel_add_hooks(co_kernel *k, co_hooks *h)
{
    if (!k || !h)
        return -EINVAL;
    if (h->priv.kernel)
        return -EBUSY;
    co_hooks **p = &k->hooks;
    while (*p)                      /* called in installation order */
        p = &(*p)->priv.next;
    h->priv.next = NULL;
    h->priv.kernel = k;
    *p = h;
    update_instrumented(k);
    return 0;
}

int co_kernel_remove_hooks(co_kernel *k, co_hooks *h)
{
    if (!k || !h)
        return -EINVAL;
    if (h->priv.kernel != k)
        return -ENOENT;
    for (co_hooks **p = &k->hooks; *p; p = &(*p)->priv.next) {
        if (*p == h) {
            *p = h->priv.next;
            break;
        }
    }
    h->priv.next = NULL;
    h->priv.kernel = NULL;
    update_instrumented(k);
    return 0;
}

/* At kernel free: the sets still installed are free to go on another
 * kernel. */
void co__diag_free(co_kernel *k)
{
    while (k->hooks)
        co_kernel_remove_hooks(k, k->hooks);
}

/* Each set's callback of one kind; `next` is read first, so a callback
 * may remove its own set. */
#define CALL_HOOKS(k, t, which)                                              \
    do {                                                                     \
        co_hooks *next_;                                                     \
        for (co_hooks *h_ = (k)->hooks; h_; h_ = next_) {                    \
            next_ = h_->priv.next;                                           \
            if (h_->which)                                                   \
                h_->which((t), h_->arg);                                     \
        }                                                                    \
    } while (0)

void co__diag_created(co_kernel *k, co_task *t) { CALL_HOOKS(k, t, created); }
void co__diag_suspended(co_kernel *k, co_task *t)
{
    CALL_HOOKS(k, t, suspended);
}
void co__diag_terminated(co_kernel *k, co_task *t)
{
    CALL_HOOKS(k, t, terminated);
}

/* A slice begins: count it (its record is made on first use; out of
 * memory, the slice goes uncounted), then the hooks. */
void co__diag_running(co_kernel *k, co_task *t)
{
    co_task_extra *x = co__task_extra_make(k, t);
    if (x)
        x->cycles++;
    CALL_HOOKS(k, t, running);
}

/* ------------------------------------------------------------ cycles */

int co_kernel_count_cycles(co_kernel *k, int on)
{
    if (!k)
        return -EINVAL;
    k->count_cycles = on != 0;
    update_instrumented(k);
    return 0;
}

uint64_t co_task_cycles(const co_task *t)
{
    co_kernel *k = co__kernel;
    if (!t || !k)
        return 0;
    co_task_extra *x = co__task_extra_get(k, t);
    return x ? x->cycles : 0;
}

/* ------------------------------------------------------------ one task */

size_t co_task_memory(const co_task *t)
{
    co_kernel *k = co__kernel;
    return t && k ? co__task_block_size(k, t) : 0;
}

double co_task_deadline(const co_task *t)
{
    co_kernel *k = co__kernel;
    if (!t || !k)
        return NAN;
    int64_t at = INT64_MAX;
    if (t->flags & CO_F_IN_HEAP)       /* blocked: its earliest deadline */
        at = k->heap[t->result].deadline;
    if (t->timeouts && t->timeouts->effective < at)
        at = t->timeouts->effective;   /* the regions it runs in */
    if (at == INT64_MAX)
        return INFINITY;
    return (double)(at - co__kernel_mono_ns()) / 1e9;
}

/* ------------------------------------------------------------ the kernel */

int co_kernel_get_stats(co_kernel *k, co_kernel_stats *out)
{
    if (!k || !out)
        return -EINVAL;
    uint64_t tasks = 0, slab_used = 0;
    for (uint32_t i = 0; i < k->reg_len; i++) {
        co_task *t = k->reg[i].task;
        size_t n = co__task_block_size(k, t);
        tasks += n;
        unsigned cls = (t->flags & CO_SLAB_MASK) >> CO_SLAB_SHIFT;
        if (cls - 1 < CO_SLAB_CLASSES - 1)          /* from the slab */
            slab_used += n;
    }
    /* The kernel's own: its struct and tables, the records of rarer data,
     * and the part of the slab's chunks that no task uses now. */
    uint64_t own = sizeof *k;
    own += (uint64_t)k->heap_cap * sizeof *k->heap;
    own += (uint64_t)k->reg_cap * sizeof *k->reg;
    own += (uint64_t)k->extras_cap * sizeof *k->extras;
    if (k->extras_len > 1)
        own += (uint64_t)(k->extras_len - 1) * sizeof(co_task_extra);
    own += (uint64_t)k->doomed_len * sizeof *k->doomed;
    own += co__slab_bytes(&k->slab) - slab_used;

    *out = (co_kernel_stats){
        .tasks_alive = k->live,
        .tasks_spawned = k->spawned,
        .switches = k->switches,
        .io_waits = k->io_waits,
        .timers = k->heap_len,
        .memory_tasks = tasks,
        .memory_pool = k->pool.in_use,
        .memory_kernel = own,
    };
    return 0;
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
    /* The registry is dense, not in id order (a removal moves the last
     * entry into the hole): sort a copy, which fn's cancellations cannot
     * disturb. */
    uint32_t n = 0;
    co_task **list = NULL;
    if (k->live) {
        list = co__alloc((size_t)k->live * sizeof *list);
        if (!list)
            return -ENOMEM;
    }
    for (uint32_t i = 0; i < k->reg_len && n < k->live; i++)
        if (co__task_state(k->reg[i].task) != CO_STATE_DONE)
            list[n++] = k->reg[i].task;
    if (n > 1)
        qsort(list, n, sizeof *list, by_id);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = fn(list[i], arg);
    free(list);
    return rc;
}
