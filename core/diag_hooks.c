/*
 * diag_hooks.c -- the ready-made hook sets of core/diag.h: a scheduler
 * trace, a crash logger and a long-block detector.  Each is an ordinary
 * user of co_hooks: nothing here is known to the scheduler.
 */
#include <errno.h>
#include <string.h>

#include "diag.h"
#include "errors.h"
#include "kernel_impl.h"

static const char *where_of(const co_task *t)
{
    return t->where ? t->where : "start";
}

/* ------------------------------------------------------------ trace */

static void trace_line(co_task *t, void *arg, const char *what)
{
    fprintf(arg, "curio: trace: task %u '%s' %s", (unsigned)t->id,
            co_task_name(t), what);
}

static void trace_created(co_task *t, void *arg)
{
    trace_line(t, arg, "created");
    fprintf(arg, " by task %u\n", (unsigned)t->parent_id);
}

static void trace_running(co_task *t, void *arg)
{
    trace_line(t, arg, "running\n");
}

static void trace_suspended(co_task *t, void *arg)
{
    trace_line(t, arg, "suspended at ");
    fprintf(arg, "%s\n", where_of(t));
}

static void trace_terminated(co_task *t, void *arg)
{
    trace_line(t, arg, "terminated: ");
    fprintf(arg, "%d (%s)\n", (int)t->result, co_strerror(t->result));
}

int co_hooks_trace(co_hooks *h, FILE *out)
{
    if (!h || !out)
        return -EINVAL;
    *h = (co_hooks){ .created = trace_created, .running = trace_running,
                     .suspended = trace_suspended,
                     .terminated = trace_terminated, .arg = out };
    return 0;
}

/* ------------------------------------------------------------ crashes */

/* The same test as the kernel's "Task Crash" report (co__task_failed),
 * made when the task ends rather than when its result goes uncollected. */
static void crash_terminated(co_task *t, void *arg)
{
    if (!co__task_failed(t))
        return;
    fprintf(arg, "curio: crash: task %u '%s' failed with %d (%s) at %s\n",
            (unsigned)t->id, co_task_name(t), (int)t->result,
            co_strerror(t->result), where_of(t));
}

int co_hooks_crash_log(co_hooks *h, FILE *out)
{
    if (!h || !out)
        return -EINVAL;
    *h = (co_hooks){ .terminated = crash_terminated, .arg = out };
    return 0;
}

/* ------------------------------------------------------------ long blocks */

static void detector_running(co_task *t, void *arg)
{
    (void)t;
    co_block_detector *d = arg;
    d->priv.started = co__kernel_mono_ns();
}

static void detector_suspended(co_task *t, void *arg)
{
    co_block_detector *d = arg;
    int64_t ran = co__kernel_mono_ns() - d->priv.started;
    if (ran <= d->priv.threshold_ns)
        return;
    d->priv.warnings++;
    fprintf(d->priv.out, "curio: long block: task %u '%s' ran %.3f s "
                         "without suspending, until %s\n",
            (unsigned)t->id, co_task_name(t), (double)ran / 1e9,
            where_of(t));
}

int co_block_detector_init(co_block_detector *d, FILE *out, double threshold)
{
    if (!d || !out || !(threshold > 0))
        return -EINVAL;
    memset(d, 0, sizeof *d);
    d->hooks.running = detector_running;
    d->hooks.suspended = detector_suspended;
    d->hooks.arg = d;
    d->priv.out = out;
    d->priv.threshold_ns = threshold > 9e9 ? INT64_MAX / 2
                                           : (int64_t)(threshold * 1e9);
    return 0;
}

uint64_t co_block_detector_warnings(const co_block_detector *d)
{
    return d ? d->priv.warnings : 0;
}
