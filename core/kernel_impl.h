/*
 * kernel_impl.h -- the kernel's insides, shared by the files of core/ only.
 */
#ifndef CO_KERNEL_IMPL_H
#define CO_KERNEL_IMPL_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>

#include "async.h"
#include "kernel.h"
#include "pool_impl.h"
#include "process_pool_impl.h"
#include "slab_impl.h"
#include "task_impl.h"
#include "thread_pool_impl.h"
#include "timeout.h"
#include "waits.h"

/* The cold part of a task, in the kernel's registry. */
typedef struct co_registry_entry {
    co_task *task;
    const char *name;
} co_registry_entry;

/* 16 bytes, so that a million sleeping tasks fit in 128 MiB: the task is
 * found through its registry slot (kept up to date when the registry
 * moves it), and seq -- FIFO among equal deadlines -- is compared with
 * wrap-around. */
typedef struct co_timer_entry {
    int64_t deadline;          /* monotonic ns */
    uint32_t slot;             /* the task's registry slot */
    uint32_t seq;
} co_timer_entry;

/* Distinct caller-storage sizes a kernel remembers (co_kernel.storage_sizes). */
#define CO_STORAGE_SIZES 16

/* What only some tasks need, kept off the 64-byte header: one record per
 * task that needs any of it, made on first use (core/task_extra.c). */
typedef struct co_task_extra {
    co_waitq joiners;          /* tasks waiting for it to end */
    uint64_t cycles;           /* diag.c: slices run while counting */
    size_t storage_size;       /* task.c: a caller-storage task's
                                  storage_size, when the kernel's table of
                                  sizes was full (co_task_memory) */
    uint32_t next_free;        /* on the free list: the next record's index */
    /* The await chain of its last suspension (core/await_chain.c), made
     * only while the kernel tracks chains (the monitor): innermost first,
     * CO_AWAIT_CHAIN_MAX levels at most; `chain_depth` counts them all.
     * `chain_cycle` is the scheduling cycle it was recorded in: a task
     * runs at most once per cycle, so another value means a new
     * suspension.  The array stays with the record when a task ends, for
     * the next task that reuses it. */
    struct co_await_site *chain;
    uint32_t chain_cycle;
    uint16_t chain_len, chain_depth;
    /* Task groups (core/group.c).  As a member: its group, and its link in
     * the group's running or done list (task: back from the link to the
     * task).  As an owner: the groups it runs, chained through their
     * priv.next, checked when a coroutine holding one returns. */
    struct co_group *group;
    co_link in_group;
    co_task *task;
    struct co_group *groups;
} co_task_extra;

struct co_kernel {
    struct ev_loop *loop;
    ev_prepare scheduler;      /* runs the ready queue before each poll */
    ev_idle keep_polling;      /* active while tasks are ready: poll, no wait */
    ev_timer timer;            /* armed for the earliest deadline */

    co_link *ready_head, *ready_tail;  /* FIFO through link.next */
    /* diag.c: a hook set is installed or cycles are counted: run_cycles
     * takes its instrumented copy (tested once per cycle) */
    int instrumented;

    co_timer_entry *heap;
    uint32_t heap_len, heap_cap;
    uint32_t timer_seq;

    co_registry_entry *reg;
    uint32_t reg_len, reg_cap;
    uint32_t last_id;
    uint32_t live;             /* tasks not yet done */
    /* diag.c: the installed hook sets, in installation order (spawn and
     * a task's end test it: beside `live`, which they write), and the
     * tasks spawned so far. */
    struct co_hooks *hooks;
    uint64_t spawned;
    /* Shutdown (shutdown.c): the tasks alive when it began, newest first,
     * cancelled one at a time; `doomed_now` is the one being cancelled.
     * Beside `live`: every task's end looks at them. */
    int shutting_down;
    uint32_t doomed_len, doomed_next;
    co_task **doomed;
    co_task *doomed_now;

    /* Tasks' rarer data (core/task_extra.c), by index (co_task.extra);
     * index 0 is unused.  A record no task uses is on a free list chained
     * by index through next_free. */
    co_task_extra **extras;
    uint32_t extras_len, extras_cap, extras_free;

    co_slab slab;              /* task blocks (core/slab.c) */
    co_pool pool;              /* data in flight (core/pool.c) */

    int64_t now;               /* cached monotonic ns */
    int now_fresh;
    /* Scheduling cycles begun (run_cycles).  A task runs at most once per
     * cycle, so "the same task in the same cycle" means "it has not
     * suspended since": the I/O budget (io.c) needs no work per switch. */
    uint32_t cycle;

    /* The I/O budget (io.c): eager operations eager_task has completed
     * without suspending, in cycle eager_cycle; after io_budget of them
     * (0: no limit) its next one yields first. */
    co_task *eager_task;
    uint32_t eager_cycle;
    unsigned eager_streak;
    unsigned io_budget;

    /* The debug monitor (core/monitor.c), NULL while off; whether await
     * chains are recorded (mirrored in co__await_tracking while the
     * kernel runs). */
    struct co_monitor *monitor;
    int track_awaits;

    /* The worker threads (core/thread_pool.c), NULL until first used. */
    struct co_thread_pool *threads;
    /* The worker processes (core/process_pool.c), NULL until first used. */
    struct co_process_pool *processes;

    /* core/signals.c: the kernel's entry in the signal hub, NULL until a
     * watcher or a run's Ctrl-C default needs it; co_kernel_set_sigint(k,
     * 0) was called. */
    struct co__signal_kernel *signals;
    int sigint_off;

    co_task *main;
    int main_result;
    int running, main_done, deadlocked;
    ev_timer budget;           /* co_kernel_advance's time limit */


    /* core/async.c: callbacks posted from other threads.  post_lock guards
     * the FIFO and post_live; post_wakeup and holds are the kernel
     * thread's. */
    pthread_mutex_t post_lock;
    co_post *post_head, *post_tail;
    int post_live;             /* post_wakeup started: ev_async_send is ok */
    ev_async post_wakeup;      /* unref'd: holds keep a run alive instead */
    uint32_t holds;            /* co_kernel_hold count, one ev_ref each */
    /* embed.c: once co_kernel_fd has been asked for, -1 before.  A post
     * into an empty FIFO also signals post_signal_fd (under post_lock),
     * since libev's own wake-up is skipped while its loop is not polling. */
    int embed_fd;
    int post_signal_fd;

    /* diag.c: cycle counting asked for (co_kernel_count_cycles); the
     * statistics' counters: switches grows once per scheduler callback,
     * io_waits once per block on I/O (spawned is beside `live`). */
    int count_cycles;
    uint64_t switches, io_waits;

    /* task.c: the sizes of caller storage seen, so that co_task_memory is
     * exact at no cost per task: a storage task keeps the index (1..) of
     * its size in its slab-class bits, or 0 if this table was full, and
     * then its size in its record of rarer data. */
    size_t storage_sizes[CO_STORAGE_SIZES];
    uint32_t storage_sizes_len;
};

/* The kernel running in this thread (set by co_kernel_run). */
extern _Thread_local co_kernel *co__kernel
    __attribute__((tls_model("initial-exec")));


/* Append t to the ready queue.  Only for a caller that knows the idle
 * watcher is active (the scheduler's own loop); others use co__kernel_ready_push. */
static inline void co__kernel_ready_append(co_kernel *k, co_task *t)
{
    co__task_set_state(t, CO_STATE_READY);
    t->link.next = NULL;           /* prev: see co_wait_solo_queue */
    if (k->ready_tail)
        k->ready_tail->next = &t->link;
    else
        k->ready_head = &t->link;
    k->ready_tail = &t->link;
}

/* Append t to the ready queue, from anywhere.  Waking from a watcher
 * callback (a timer, I/O) must keep ev_run going until the scheduler has
 * run the task: the idle watcher does that. */
static inline void co__kernel_ready_push(co_kernel *k, co_task *t)
{
    if (!k->ready_head && !ev_is_active(&k->keep_polling))
        ev_idle_start(k->loop, &k->keep_polling);
    co__kernel_ready_append(k, t);
}
int64_t co__kernel_mono_ns(void);

/* kernel.c: what co_kernel_run, co_kernel_advance and co_kernel_shutdown
 * share.  enter: -EINVAL, or -EBUSY if this thread already runs a kernel
 * (one per thread, as in Curio) or k runs in another thread. */
int co__kernel_enter(co_kernel *k);
void co__kernel_leave(co_kernel *k);
/* Run until the shutdown has ended every task (cancelling them all at once
 * if they deadlock); returns how many times they were found deadlocked. */
int co__kernel_run_to_end(co_kernel *k);

/* shutdown.c.  begin: cancel the tasks alive now one at a time, newest
 * first, each once the newer one has ended (does nothing if a shutdown is
 * under way).  next: doomed_now has ended, cancel the next one.
 * all_at_once: cancel every task left now (tasks that deadlock in their
 * cleanup).  done: the shutdown is over. */
void co__shutdown_begin(co_kernel *k);
void co__shutdown_next(co_kernel *k);
void co__shutdown_all_at_once(co_kernel *k);
void co__shutdown_done(co_kernel *k);

/* embed.c: co_kernel_free's part; a post's signal to a foreign loop. */
void co__embed_free(co_kernel *k);
void co__embed_signal_post(co_kernel *k);

/* async.c: set up and started in co_kernel_new (-errno on failure), torn
 * down by co_kernel_free. */
int co__async_init(co_kernel *k);
void co__async_free(co_kernel *k);

/* task.c */
int co__task_spawn(co_kernel *k, uint32_t parent_id, co_task **out, co_func fn,
              const void *frame, size_t frame_size, const co_spawn_opts *opts);
void co__task_finish(co_kernel *k, co_task *t, int result);
void co__task_release(co_kernel *k, co_task *t);
void co__task_release_all(co_kernel *k);

/* diag.c: what task.c and kernel.c call while hooks are installed (or,
 * for running, cycles are counted). */
void co__diag_created(co_kernel *k, co_task *t);
void co__diag_running(co_kernel *k, co_task *t);
void co__diag_suspended(co_kernel *k, co_task *t);
void co__diag_terminated(co_kernel *k, co_task *t);
/* diag.c: co_kernel_free's part (uninstalls the sets left). */
void co__diag_free(co_kernel *k);

/* task.c: whether t's result is a failure worth a crash report: negative,
 * not -ECANCELED, not routine for a CO_ROUTINE_NET task. */
int co__task_failed(const co_task *t);
/* task.c: the exact bytes of t's block (co_task_memory). */
size_t co__task_block_size(co_kernel *k, const co_task *t);

/* task_extra.c: t's record of rarer data, or NULL if it has none yet. */
static inline co_task_extra *co__task_extra_get(co_kernel *k,
                                                 const co_task *t)
{
    return t->extra ? k->extras[t->extra] : NULL;
}
/* The record, made on first use (zeroed, its queue empty); NULL when out
 * of memory.  Released with the task; all of them freed with the kernel. */
co_task_extra *co__task_extra_make(co_kernel *k, co_task *t);
void co__task_extra_release(co_kernel *k, co_task *t);
/* Make sure the next co__task_extra_make cannot fail: 0 or -ENOMEM (a
 * group spawns its member only once the member's record is certain). */
int co__task_extra_reserve(co_kernel *k);
void co__task_extra_free_all(co_kernel *k);

/* await_chain.c: drop every recorded chain (tracking turned off). */
void co__await_chain_drop_all(co_kernel *k);

/* monitor.c: co_kernel_run starts the monitor if it was enabled (or
 * CURIO_MONITOR says so); co_kernel_free frees it. */
void co__monitor_run_start(co_kernel *k);
void co__monitor_free(co_kernel *k);

/* The queue of tasks waiting for t to end, or NULL */
static inline co_waitq *co__kernel_joiners(co_kernel *k, const co_task *t)
{
    co_task_extra *x = co__task_extra_get(k, t);
    return x ? &x->joiners : NULL;
}

/* group.c: task t, a member of x->group, has ended (from co__task_finish,
 * after its joiners had their turn); a member collected by co_task_join
 * or freed leaves its group (leave); a task ends still running groups
 * (owner_ended). */
void co__group_member_done(co_kernel *k, co_task *t, co_task_extra *x);
void co__group_leave(co_kernel *k, co_task *t);
void co__group_owner_ended(co_kernel *k, co_task *t, co_task_extra *x);

/* timer_heap.c.  co__timer_heap_reserve makes room for n entries (-ENOMEM);
 * spawn reserves one per live task, so co__timer_heap_insert never fails. */
int co__timer_heap_reserve(co_kernel *k, uint32_t n);
void co__timer_heap_insert(co_kernel *k, co_task *t, int64_t deadline);
void co__timer_heap_remove(co_kernel *k, uint32_t index);
void co__timer_heap_expire(co_kernel *k, int64_t now);
/* The registry moved a task in the heap to another slot. */
static inline void co__timer_heap_moved(co_kernel *k, co_task *t)
{
    if (t->flags & CO_F_IN_HEAP)
        k->heap[t->result].slot = t->slot;
}

/* waits.c: shutdown frees a task that ignores cancellation */
void co__wait_forget(co_kernel *k, co_task *t);
/* waits.c: abort because task t, running its body, has already been
 * blocked by a primitive whose CO_WOULDBLOCK was not awaited */
_Noreturn void co__wait_panic_not_awaited(co_task *t, const char *func,
                                          const char *what);

/* timeout.c: a task's deadline passed while it was blocked */
void co__timeout_deadline_reached(co_kernel *k, co_task *t, int64_t now);
void co__timeout_mark_expired(co_task *t, int64_t now);

#endif
