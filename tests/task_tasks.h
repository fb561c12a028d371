/*
 * task_tasks.h -- what the test_task_*.c suites share: a wait queue,
 * the fixture, and three small tasks (a leaf, a yielder, a waiter).
 *
 * Scenarios record their events in `lg` and assert the exact sequence; the
 * order of events is decided by the scheduler, never by sleeps.
 */
#ifndef TESTS_TASK_TASKS_H
#define TESTS_TASK_TASKS_H

#include "curio.h"

extern co_waitq task_wq;   /* shared by scenarios; initialised in task_setup */

void task_setup(void);

/* Logs its name and returns `value`. */
struct task_leaf_frame {
    co_frame co;
    const char *name;
    int value;
};

co_status task_leaf(co_task *t, void *arg);

/* Yields `yields` times, then returns `value`. */
struct task_yielder_frame {
    co_frame co;
    const char *name;   /* logged before every yield, if set */
    int yields, i, value, rc;
};

co_status task_yielder(co_task *t, void *arg);

/* Blocks on `task_wq` until woken, then returns the wake value; logs
 * "<name>=<rc>" in its cleanup. */
struct task_waiter_frame {
    co_frame co;
    const char *name;
    int rc;
};

co_status task_waiter(co_task *t, void *arg);

#endif
