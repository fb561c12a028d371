/*
 * shutdown.c -- ending a kernel's tasks, as Curio does: newest first, one
 * at a time.
 *
 * When main returns (or co_kernel_shutdown is called), the tasks still
 * alive are cancelled newest first, and each is cancelled only once the
 * newer one has ended, cleanup included.  So a task's cleanup still finds
 * the older tasks it may depend on (a server its handlers report to, a
 * logger) running normally.  Tasks spawned but never run are part of it:
 * they start with the cancellation pending.
 *
 * The tasks alive when the shutdown begins are listed once, sorted by id;
 * the list points at them, so until the shutdown is over no finished task
 * is freed (co__task_finish leaves them to co__task_release_all).  A task spawned while it
 * runs is cancelled at once (task.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc_impl.h"
#include "kernel_impl.h"

static int newest_first(const void *a, const void *b)
{
    uint32_t x = (*(co_task *const *)a)->id, y = (*(co_task *const *)b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Cancel the next task of the list still alive, or end the list. */
void co__shutdown_next(co_kernel *k)
{
    while (k->doomed_next < k->doomed_len) {
        co_task *t = k->doomed[k->doomed_next++];
        if (co__task_state(t) != CO_STATE_DONE) {
            k->doomed_now = t;
            co_task_cancel_nowait(t);   /* already cancelled: waits for its end */
            return;
        }
    }
    k->doomed_now = NULL;
}

/* The tasks alive now, newest first (n of them); NULL if out of memory. */
static co_task **alive_newest_first(co_kernel *k, uint32_t *n)
{
    co_task **alive = co__alloc((k->live ? k->live : 1) * sizeof *alive);
    *n = 0;
    if (!alive)
        return NULL;
    for (uint32_t i = 0; i < k->reg_len; i++)
        if (co__task_state(k->reg[i].task) != CO_STATE_DONE)
            alive[(*n)++] = k->reg[i].task;
    qsort(alive, *n, sizeof *alive, newest_first);
    return alive;
}

void co__shutdown_begin(co_kernel *k)
{
    if (k->shutting_down)
        return;
    k->shutting_down = 1;
    if (!k->live)
        return;
    k->doomed = alive_newest_first(k, &k->doomed_len);
    if (!k->doomed) {              /* out of memory: all at once, still ends */
        co__shutdown_all_at_once(k);
        return;
    }
    k->doomed_next = 0;
    co__shutdown_next(k);
}

/* Every task left is cancelled now; blocked ones are woken newest first,
 * so they also run their cleanup in that order. */
void co__shutdown_all_at_once(co_kernel *k)
{
    k->shutting_down = 1;
    k->doomed_now = NULL;
    k->doomed_next = k->doomed_len;
    uint32_t n;
    co_task **alive = alive_newest_first(k, &n);
    if (!alive) {                  /* out of memory: any order */
        for (uint32_t i = 0; i < k->reg_len; i++)
            if (co__task_state(k->reg[i].task) != CO_STATE_DONE)
                co_task_cancel_nowait(k->reg[i].task);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        co_task_cancel_nowait(alive[i]);
    free(alive);
}

void co__shutdown_done(co_kernel *k)
{
    free(k->doomed);
    k->doomed = NULL;
    k->doomed_len = k->doomed_next = 0;
    k->doomed_now = NULL;
    k->shutting_down = 0;
}
