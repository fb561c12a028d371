/*
 * async_thread_tasks.h -- what the test_async_thread*.c suites share.
 *
 * The log is written only in the kernel's thread: by tasks, and by the
 * coroutines the threads await (they run inside the backing task).  What
 * a thread sees itself goes to thread_saw[], read after the join.
 */
#ifndef TESTS_ASYNC_THREAD_TASKS_H
#define TESTS_ASYNC_THREAD_TASKS_H

#include <stdatomic.h>

#include "curio.h"

extern atomic_int thread_saw[4];
/* A handle an async thread publishes for a plain pthread to misuse. */
extern _Atomic(co_thread *) published;

/* Each test's start: the log, thread_saw[] (12345: not written) and
 * `published`. */
void async_thread_reset(void);
/* Threads of this process (entries of /proc/self/task). */
int count_threads(void);
/* Block the calling thread for s seconds (work between awaits). */
void nap(double s);

/* A coroutine the threads await: notes its word in the kernel's thread,
 * sleeps a millisecond, leaves 40 in `out` and returns 2. */
struct say_frame {
    co_frame co;
    const char *word;
    int out, rc;
};
co_status say(co_task *t, void *arg);

/* An async thread: awaits say("thread:sleep"), then a 10 s sleep
 * (thread_saw[0]) and a yield (thread_saw[1]); returns 7. */
int sleeper(co_thread *th, void *arg);

/* The main tasks' frame. */
struct main_frame {
    co_frame co;
    co_task *h[5];
    co_lock lock;
    co_queue q;
    void *item;
    int i, rc, result;
};

#endif
