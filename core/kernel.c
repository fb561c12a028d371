/*
 * kernel.c -- the scheduler: Curio's cycles inside one libev callback.
 *
 * Curio's kernel runs in cycles: each cycle runs exactly the tasks that were
 * ready when it began; tasks woken or spawned meanwhile wait for the next
 * cycle, which is what makes sleep(0) fair.  Here a cycle is: take the whole
 * ready list, run each task once.  Cycles repeat inside one ev_prepare
 * callback, so a task switch never costs a pass through the libev loop (a
 * poll is a system call, about a hundred switches' worth).  After a bounded
 * amount of work, or as soon as nothing is ready, the callback returns and
 * libev polls for I/O -- without waiting if tasks are still ready (an
 * ev_idle watcher), otherwise until the next I/O or the earliest deadline
 * (one ev_timer for the whole timer heap).
 *
 * When ev_run returns by itself, no watcher is left that could wake a task:
 * if tasks are still alive they are deadlocked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "errors.h"
#include "alloc_impl.h"
#include "io.h"
#include "kernel_impl.h"
#include "signals_impl.h"

/* Resumes per ev_prepare callback before I/O is polled again. A cycle is
 * never split, so this bounds I/O starvation without a clock read. */
#define CO_RESUMES_PER_POLL 1024

_Static_assert(CO_STATE_READY == 0, "run_cycles sets RUNNING with |=");

_Thread_local co_kernel *co__kernel;
co_task co__no_task;           /* what co__running names between tasks */
_Thread_local co_task *co__running = &co__no_task;

int64_t co__kernel_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Run one cycle's batch: the task switch, kept to the bare minimum.
 * co__running is only restored once the loop ends (or before a task is
 * finished, whose clean-up may run code that asks for the current task),
 * and a task that suspended while still running (a yield) goes straight
 * back to the tail: the idle watcher is active, as the ready queue was not
 * empty when this began.  `diag` is a constant at each call, so this is
 * two functions: the plain switch, and the one that calls the hooks
 * (core/diag.c) around each slice. */
static inline __attribute__((always_inline)) int
run_batch(co_kernel *k, co_link *batch, co_task **running, const int diag)
{
    co_task *const outer = &co__no_task;  /* between tasks */
    int resumed = 0;
    do {
        co_task *t = co__task_of_link(batch);
        batch = batch->next;
        *running = t;
        /* a queued task is READY (0): RUNNING is one bit away */
        t->flags |= CO_STATE_RUNNING;
        if (diag)
            co__diag_running(k, t);
        int r = t->fn(t, co__task_frame_of(t));
        if (diag)
            co__diag_suspended(k, t);
        if (r != CO_WOULDBLOCK) {
            *running = outer;
            co__task_finish(k, t, r);
        } else if (co__task_state(t) == CO_STATE_RUNNING) {
            co__kernel_ready_append(k, t);   /* a yield */
        }
        resumed++;
    } while (batch);
    return resumed;
}

/* Run cycles until nothing is ready or the budget is spent.  Whether the
 * hooks are wanted is tested once per cycle, never per switch: hooks
 * installed by a task take effect from the next cycle. */
static void run_cycles(co_kernel *k)
{
    co_task **running = &co__running;  /* the address, computed once */
    /* The slices run so far are counted for co_kernel_get_stats, once per
     * cycle; the budget is read from the same count. */
    const uint64_t start = k->switches;
    while (k->ready_head && k->switches - start < CO_RESUMES_PER_POLL) {
        co_link *batch = k->ready_head;
        k->ready_head = k->ready_tail = NULL;
        k->now_fresh = 0;
        k->cycle++;                 /* the I/O budget's "not suspended" */
        k->switches += (unsigned)(__builtin_expect(k->instrumented, 0)
                                      ? run_batch(k, batch, running, 1)
                                      : run_batch(k, batch, running, 0));
    }
    *running = &co__no_task;
}

static void expire_deadlines(co_kernel *k)
{
    if (k->heap_len) {
        k->now = co__kernel_mono_ns();
        k->now_fresh = 1;
        co__timer_heap_expire(k, k->now);
    }
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    expire_deadlines(w->data);
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop, (void)w, (void)revents; /* only keeps the poll from waiting */
}

static void schedule(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    co_kernel *k = w->data;

    expire_deadlines(k);
    run_cycles(k);

    /* Every task has ended: a run's main among them (so its shutdown is
     * over), or all those co_kernel_advance was given. */
    if (k->live == 0) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (!k->ready_head)
        ev_idle_stop(loop, &k->keep_polling);

    ev_timer_stop(loop, &k->timer);
    if (k->heap_len) {
        int64_t wait = k->heap[0].deadline - co__kernel_mono_ns();
        ev_now_update(loop);
        ev_timer_set(&k->timer, wait > 0 ? (double)wait / 1e9 : 0.0, 0.0);
        ev_timer_start(loop, &k->timer);
    }
}

co_kernel *co_kernel_new(void)
{
    co_kernel *k = co__alloc_zeroed(1, sizeof *k);
    if (!k) {
        errno = ENOMEM;
        return NULL;
    }
    k->loop = ev_loop_new(EVFLAG_AUTO);
    if (!k->loop) {
        int err = errno == EMFILE || errno == ENFILE ? errno : ENOMEM;
        free(k);
        errno = err;
        return NULL;
    }
    ev_prepare_init(&k->scheduler, schedule);
    k->scheduler.data = k;
    ev_idle_init(&k->keep_polling, on_idle);
    ev_timer_init(&k->timer, on_timer, 0.0, 0.0);
    k->timer.data = k;
    k->embed_fd = k->post_signal_fd = -1;
    k->io_budget = CO_IO_BUDGET_DEFAULT;
    co__pool_init(&k->pool);
    int rc = co__async_init(k);    /* async.c: posts from other threads */
    if (rc < 0) {
        ev_loop_destroy(k->loop);
        free(k);
        errno = -rc;
        return NULL;
    }
    return k;
}

int co_kernel_set_io_budget(co_kernel *k, unsigned n)
{
    if (!k)
        return -EINVAL;
    k->io_budget = n;
    k->eager_task = NULL;          /* a fresh count under the new budget */
    return 0;
}

unsigned co_kernel_io_budget(const co_kernel *k)
{
    return k ? k->io_budget : 0;
}

struct ev_loop *co_kernel_loop(co_kernel *k)
{
    return k ? k->loop : NULL;
}

co_kernel *co_current_kernel(void)
{
    return co__kernel;
}

int co_kernel_spawn(co_kernel *k, co_task **out, co_func fn, const void *frame,
                    size_t frame_size, const co_spawn_opts *opts)
{
    return co__task_spawn(k, 0, out, fn, frame, frame_size, opts);
}

static void report_deadlock(co_kernel *k, const char *what)
{
    fprintf(stderr, "curio: deadlock: %u task(s) blocked with nothing left "
                    "that could wake them; %s\n", (unsigned)k->live, what);
    for (uint32_t i = 0; i < k->reg_len; i++) {
        co_task *t = k->reg[i].task;
        if (co__task_state(t) != CO_STATE_DONE)
            fprintf(stderr, "curio:   task %u '%s' waits at %s\n",
                    (unsigned)t->id, k->reg[i].name,
                    t->where ? t->where : "start");
    }
}

int co__kernel_enter(co_kernel *k)
{
    if (!k)
        return -EINVAL;
    if (co__kernel || k->running)  /* one kernel per thread, as in Curio */
        return -EBUSY;
    co__kernel = k;
    co__await_tracking = k->track_awaits;  /* the inline hook's flag */
    k->running = 1;
    ev_prepare_start(k->loop, &k->scheduler);
    ev_unref(k->loop);             /* the scheduler alone keeps nothing alive */
    return 0;
}

void co__kernel_leave(co_kernel *k)
{
    ev_ref(k->loop);
    ev_prepare_stop(k->loop, &k->scheduler);
    ev_idle_stop(k->loop, &k->keep_polling);
    ev_timer_stop(k->loop, &k->timer);
    k->running = 0;
    co__kernel = NULL;
    co__await_tracking = 0;
}

/* ev_run returns by itself only when no watcher is left that could wake a
 * task: whoever is still alive is deadlocked. */
int co__kernel_run_to_end(co_kernel *k)
{
    int stuck = 0;
    for (;;) {
        ev_run(k->loop, 0);
        if (k->shutting_down && k->live == 0)
            break;
        if (stuck++) {             /* still stuck after cancelling everyone */
            report_deadlock(k, "they ignore cancellation; giving up");
            break;
        }
        report_deadlock(k, "cancelling them");
        if (!k->main_done)         /* main's own result stands otherwise */
            k->deadlocked = 1;
        co__shutdown_all_at_once(k);
    }
    return stuck;
}

int co_kernel_run(co_kernel *k, co_func main, const void *frame,
                  size_t frame_size)
{
    if (!main)
        return -EINVAL;
    int rc = co__kernel_enter(k);
    if (rc < 0)
        return rc;
    k->main_done = k->deadlocked = 0;  /* a kernel may be run again */
    rc = co__task_spawn(k, 0, &k->main, main, frame, frame_size,
                   &(const co_spawn_opts){ .name = "main" });
    if (rc < 0) {
        co__kernel_leave(k);
        return rc;
    }
    co__monitor_run_start(k);      /* after main, which keeps id 1 */
    co__signal_run_begin(k);       /* signals.c: Ctrl-C cancels main */
    co__kernel_run_to_end(k);
    co__signal_run_end(k);         /* SIGINT as it was */
    rc = k->deadlocked ? -EDEADLK : k->main_result;
    co__task_release_all(k);
    co__shutdown_done(k);
    co__kernel_leave(k);
    return rc;
}

void co_kernel_free(co_kernel *k)
{
    if (!k)
        return;
    co_kernel *outer = co__kernel;
    co__kernel = k;
    co__task_release_all(k);            /* tasks spawned but never run */
    /* Joins the workers, before async; the cleanups of their calls run
     * in k (a file's give its blocks back to k's pool). */
    co__thread_pool_free(k);
    co__process_pool_free(k);      /* kills and reaps every worker */
    co__kernel = outer;
    co__monitor_free(k);
    co__signal_free(k);            /* signals.c: watchers stop, dispositions back */
    co__diag_free(k);              /* diag.c: hook sets left installed */
    co__task_extra_free_all(k);
    co__slab_destroy(&k->slab);
    co__pool_destroy(&k->pool);
    co__async_free(k);             /* async.c: drop unrun posts */
    co__embed_free(k);
    free(k->heap);
    free(k->reg);
    ev_loop_destroy(k->loop);
    free(k);
}

int co_run(co_func main, const void *frame, size_t frame_size)
{
    if (co__kernel)                /* before making a kernel for nothing */
        return -EBUSY;
    co_kernel *k = co_kernel_new();
    if (!k)
        return -errno;
    int rc = co_kernel_run(k, main, frame, frame_size);
    co_kernel_free(k);
    return rc;
}
