/*
 * diag.h -- diagnostics: hooks on a task's life (Curio's activations),
 * ready-made hooks (a scheduler trace, a crash logger, a long-block
 * detector), the kernel's statistics, and the task-inspection calls a
 * monitor uses.
 *
 * Cost: nothing is measured while nothing asks.  The scheduler runs one of
 * two copies of its cycle, chosen once per cycle: the plain one, unchanged,
 * or the instrumented one while a hook set is installed or cycle counting
 * is on.  Hooks installed from inside a task take effect at the next
 * scheduling cycle, so a task never sees "suspended" without "running".
 *
 * Every call here is for the kernel's own thread, as co_task_name is:
 * functions taking only a task read what they need from the kernel this
 * thread runs.
 */
#ifndef CO_DIAG_H
#define CO_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api.h"
#include "task.h"

/* ------------------------------------------------------------ hooks */

/*
 * A hook set: four optional callbacks (NULL: not wanted) and their arg.
 *   created     a task was spawned (it has its id, name and parent; it has
 *               not run yet);
 *   running     a slice of the task begins;
 *   suspended   the slice has ended: the task blocked, yielded or returned
 *               (every `running` is followed by one `suspended`);
 *   terminated  the task has ended (after the `suspended` of its last
 *               slice); co_task_result gives its result.  The task is
 *               freed after the hook returns if it was joined or detached.
 * A task spawned while the kernel shuts down is created and terminated as
 * any; one that never ends (it ignores cancellation) is never terminated.
 * Callbacks must not block; they may spawn, cancel, inspect, and remove
 * their own set.  Several sets may be installed at once (a monitor and a
 * program's trace); they are called in the order they were installed.
 *
 * The set is an intrusive node the caller owns (like co_post): it must
 * stay valid, unmoved, until removed or until the kernel is freed.  Zero
 * it (or use a designated initialiser) before its first installation.
 * A set removed during a slice sees no "suspended" for that slice.
 */
typedef struct co_hooks {
    void (*created)(co_task *t, void *arg);
    void (*running)(co_task *t, void *arg);
    void (*suspended)(co_task *t, void *arg);
    void (*terminated)(co_task *t, void *arg);
    void *arg;
    struct {
        struct co_hooks *next;
        co_kernel *kernel;     /* installed on; NULL when not installed */
    } priv;
} co_hooks;

/* Install h on k: 0; -EINVAL for NULL; -EBUSY if h is installed already
 * (on any kernel).  Freeing the kernel removes the sets left on it. */
CO_API int co_kernel_add_hooks(co_kernel *k, co_hooks *h);
/* Remove h from k: 0; -EINVAL for NULL; -ENOENT if h is not installed
 * on k. */
CO_API int co_kernel_remove_hooks(co_kernel *k, co_hooks *h);

/* ------------------------------------------------------------ ready-made */

/* A scheduler trace: one line per event written to `out`,
 *     "curio: trace: task 3 'worker' created by task 1"
 *     "curio: trace: task 3 'worker' running"
 *     "curio: trace: task 3 'worker' suspended at w.c:40"
 *     "curio: trace: task 3 'worker' terminated: 0 (ok)"
 * Fills h (0; -EINVAL for NULL); then install it. */
CO_API int co_hooks_trace(co_hooks *h, FILE *out);

/* A crash logger (fills h: 0; -EINVAL for NULL): a line to `out` for
 * every task that *fails* -- ends with
 * a negative result other than -ECANCELED, and, for a task spawned
 * CO_ROUTINE_NET, other than -ECONNRESET, -EPIPE and -ETIMEDOUT: what the
 * kernel's own "Task Crash" report counts, but said at once, whether the
 * task is joined later or not:
 *     "curio: crash: task 4 'worker' failed with -5 (Input/output error) at w.c:31" */
CO_API int co_hooks_crash_log(co_hooks *h, FILE *out);

/* A long-block detector: a warning to `out` for each slice of a task that
 * runs longer than `threshold` seconds (> 0) by the kernel's monotonic
 * clock (CLOCK_MONOTONIC, as co_clock, but read afresh), naming the task
 * and where the slice ended:
 *     "curio: long block: task 2 'main' ran 0.120 s without suspending,
 *      until w.c:40"
 * The clock is read twice per slice only while the set is installed.  The
 * detector keeps its state in `d`, which it owns; install &d->hooks. */
typedef struct co_block_detector {
    co_hooks hooks;
    struct {
        FILE *out;
        int64_t threshold_ns;
        int64_t started;       /* the current slice's start, monotonic ns */
        uint64_t warnings;
    } priv;
} co_block_detector;

/* 0; -EINVAL for NULL d or out, or a threshold not > 0. */
CO_API int co_block_detector_init(co_block_detector *d, FILE *out,
                                  double threshold);
/* Warnings it has given (0 for NULL). */
CO_API uint64_t co_block_detector_warnings(const co_block_detector *d);

/* ------------------------------------------------------------ statistics */

typedef struct co_kernel_stats {
    uint64_t tasks_alive;      /* spawned and not yet ended */
    uint64_t tasks_spawned;    /* since the kernel was made */
    uint64_t switches;         /* slices run (added once per cycle: a
                                  task sees the cycles before its own) */
    uint64_t io_waits;         /* times a task blocked on I/O */
    uint64_t timers;           /* tasks with a deadline now */
    uint64_t memory_tasks;     /* bytes: task blocks (headers + frames),
                                  the sum of co_task_memory over the
                                  tasks not yet freed */
    uint64_t memory_pool;      /* bytes: the data pool in use */
    uint64_t memory_kernel;    /* bytes: the kernel's own tables, and the
                                  slab space no task uses now */
} co_kernel_stats;

/* Fill *out: 0; -EINVAL for NULL. */
CO_API int co_kernel_get_stats(co_kernel *k, co_kernel_stats *out);

/* Count every task's slices from now on (on = 1) or stop (on = 0), for
 * co_task_cycles; installed hooks count too.  0; -EINVAL for NULL. */
CO_API int co_kernel_count_cycles(co_kernel *k, int on);

/* Slices this task has run while counting was on (co_kernel_count_cycles,
 * or any hook set installed); 0 if it never ran while counting, and 0 for
 * NULL.  The first count per task makes its record of rarer data (a few
 * dozen bytes). */
CO_API uint64_t co_task_cycles(const co_task *t);

/* The exact bytes of the task's block, header + frame as allocated: a
 * slab block's class size; for a frame too big for the slab, the bytes
 * asked of malloc (its 16-byte size prefix included) or the length of the
 * task's own mapping (ditto); for caller storage, the storage_size given.
 * 0 for NULL. */
CO_API size_t co_task_memory(const co_task *t);

/* Seconds until the task's nearest deadline (a sleep, a primitive's
 * deadline, a timeout region), negative if it has passed; INFINITY if it
 * has none; NaN for NULL or outside the kernel's thread. */
CO_API double co_task_deadline(const co_task *t);

/* Call fn for every live task (ready, running or blocked: not ended), in
 * id order.  Stops at the first nonzero return of fn and returns it; 0
 * when all were visited; -EINVAL for NULL k or fn; -ENOMEM if the list to
 * sort could not be made.  fn may cancel tasks (co_task_cancel_nowait) but
 * must not spawn, join or detach. */
CO_API int co_kernel_foreach_task(co_kernel *k,
                                  int (*fn)(co_task *t, void *arg),
                                  void *arg);

#endif /* CO_DIAG_H */
