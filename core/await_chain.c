/*
 * await_chain.c -- the chain of nested awaits a task is suspended in.
 *
 * When a task suspends, the CO_AWAIT that met CO_WOULDBLOCK returns it to
 * its caller, whose own CO_AWAIT returns it too, and so on up to the
 * task's function: each level calls the kernel's hook on its way out,
 * innermost first (macros/co.h).  So the chain costs nothing to find, only
 * to store, and it is stored only while tracking is on (the hook tests
 * co__await_tracking, a thread-local mirror of the running kernel's flag).
 *
 * Which calls belong to one suspension?  All of those in one slice: a
 * task suspends once per slice, and awaits that did not suspend never call
 * the hook.  A task runs at most once per scheduling cycle (kernel.c), so
 * a record stamped with another cycle is an older suspension's, and the
 * first call of a new slice starts over: no work at the task switch.
 * (The stamp is 32 bits: a task that suspends again exactly 2^32 cycles
 * later would extend its old chain instead of replacing it.  Harmless for
 * a report, and too rare to pay for at every switch.)
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc_impl.h"
#include "kernel_impl.h"
#include "monitor.h"

_Thread_local int co__await_tracking;

void co__task_chain_note(co_task *t, const char *at, const char *func)
{
    co_kernel *k = co__kernel;
    if (!k)
        return;
    co_task_extra *x = co__task_extra_make(k, t);
    if (!x)
        return;                    /* out of memory: a shorter report */
    if (!x->chain &&
        !(x->chain = co__alloc(CO_AWAIT_CHAIN_MAX * sizeof *x->chain)))
        return;
    if (x->chain_len == 0 || x->chain_cycle != k->cycle) {
        x->chain_len = x->chain_depth = 0;
        x->chain_cycle = k->cycle;
    }
    /* Full: the last slot keeps the newest level, so that the outermost
     * (the task's own function) is always there; the levels between it
     * and the innermost ones are lost. */
    if (x->chain_len < CO_AWAIT_CHAIN_MAX)
        x->chain_len++;
    x->chain[x->chain_len - 1] = (co_await_site){ func, at };
    if (x->chain_depth < UINT16_MAX)
        x->chain_depth++;
}

int co_kernel_track_awaits(co_kernel *k, int on)
{
    if (!k)
        return -EINVAL;
    k->track_awaits = on != 0;
    if (co__kernel == k)
        co__await_tracking = k->track_awaits;
    if (!on)
        co__await_chain_drop_all(k);
    return 0;
}

void co__await_chain_drop_all(co_kernel *k)
{
    for (uint32_t i = 1; i < k->extras_len; i++)
        k->extras[i]->chain_len = k->extras[i]->chain_depth = 0;
}

int co_task_await_chain(const co_task *t, co_await_site *out, int max,
                        int *truncated)
{
    if (!t || max < 0 || (!out && max > 0))
        return -EINVAL;
    if (truncated)
        *truncated = 0;
    unsigned state = co__task_state(t);
    if (state == CO_STATE_RUNNING || state == CO_STATE_DONE || !t->where)
        return 0;
    co_kernel *k = co__kernel;
    co_task_extra *x = k ? co__task_extra_get(k, t) : NULL;
    /* The record is this suspension's if its outermost level is the
     * task's last recorded place (every level sets it, the outermost
     * last); otherwise it suspended untracked since. */
    if (!x || x->chain_len == 0 ||
        x->chain[x->chain_len - 1].where != t->where) {
        if (max > 0)
            out[0] = (co_await_site){ NULL, t->where };
        return max > 0;
    }
    int n = x->chain_len < max ? x->chain_len : max;
    for (int i = 0; i < n; i++)
        out[i] = x->chain[x->chain_len - 1 - i];
    if (truncated)
        *truncated = x->chain_depth - x->chain_len;
    return n;
}
