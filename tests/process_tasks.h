/*
 * process_tasks.h -- what the test_process_*.c suites share
 * (core/process_pool.h): the functions workers run, a task that makes
 * one call, and the checks that no worker process outlives its kernel.
 *
 * A worker's pid is what `whoami` returns, and `spin` too once it has
 * computed, so a test knows which processes it made: with the pool's
 * bound at 1, a `whoami` first names the worker every later call uses.
 */
#ifndef TESTS_PROCESS_TASKS_H
#define TESTS_PROCESS_TASKS_H

#include <stdint.h>
#include <sys/types.h>

#include "curio.h"

/* Worker functions. */
/* getpid(). */
int64_t whoami(const void *in, size_t len, void **out, size_t *out_len);
/* The input reversed; returns len. */
int64_t reverse(const void *in, size_t len, void **out, size_t *out_len);
/* Computes (no sleep) for the double of seconds at in; returns getpid(). */
int64_t spin(const void *in, size_t len, void **out, size_t *out_len);
/* The same, ignoring SIGTERM. */
int64_t spin_stubborn(const void *in, size_t len, void **out,
                      size_t *out_len);
/* Returns the int64_t at in (an error), having made output anyway. */
int64_t fail_with(const void *in, size_t len, void **out, size_t *out_len);
/* Dies: by the int at in -- 0 abort(), 1 SIGSEGV, 2 _exit(3). */
int64_t crash(const void *in, size_t len, void **out, size_t *out_len);

/* A task making one call of fn on in (within `within` seconds when > 0);
 * notes "<name>=<rc>" and keeps the call's result. */
struct call_frame {
    co_frame co;
    const char *name;
    co_process_fn fn;
    const void *in;
    size_t in_len;
    double within;
    co_timeout to;
    co_process_call call;
    int rc;
    int64_t result;            /* call.result, once it returned */
};
co_status one_call(co_task *t, void *arg);

/* Spawn one_call on a frame built in `proto` (a frame's member: CO_SPAWN
 * takes a frame whose initializers are not all constants by name). */
#define SPAWN_CALL(t, out, proto, ...)                                      \
    do {                                                                    \
        (proto) = (struct call_frame){ __VA_ARGS__ };                       \
        CO_SPAWN((t), (out), one_call, (proto));                            \
    } while (0)

/* Blocking, in a task: poll (every 10 ms, for up to 5 s) until process pid
 * no longer exists, not even as a zombie.  1 if it went. */
struct gone_frame { co_frame co; pid_t pid; int i, rc; };
co_status wait_gone(co_task *t, void *arg);

/* Whether pid no longer exists and is not our child to reap. */
int pid_gone(pid_t pid);
/* The children of this process now (/proc/self/task/STAR/children). */
int count_children(void);
/* Every pid given here (a test's workers) must be gone, and this process
 * must have as many children as when process_setup ran: after co_run. */
void remember_pid(pid_t pid);
void assert_no_workers_left(void);
void process_setup(void);

/* Monotonic seconds. */
double now_s(void);

#endif
