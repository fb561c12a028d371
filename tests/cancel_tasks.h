/*
 * cancel_tasks.h -- what the test_cancel_*.c suites share: a wait queue,
 * the fixture, the main task's usual frame and a long sleeper.
 *
 * Orders of events come from the scheduler (spawn order, yields); sleeps
 * only stand for "blocked for a long time" and are cut short by the cancel.
 */
#ifndef TESTS_CANCEL_TASKS_H
#define TESTS_CANCEL_TASKS_H

#include "curio.h"

extern co_waitq cancel_wq;

void cancel_setup(void);

/* Main's frame for most scenarios. */
struct scene_frame {
    co_frame co;
    co_task *a, *b, *c;
    int rc;
};

/* Logs "<name>:start", sleeps long, logs the sleep's result, returns it;
 * its cleanup logs "<name>:fin=<result>". */
struct sleeper_frame {
    co_frame co;
    const char *name;
    int rc;
};

co_status long_sleeper(co_task *t, void *arg);

/* Waits on cancel_wq; logs "<name>=<result>" and returns the result. */
struct qwaiter_frame {
    co_frame co;
    const char *name;
    int rc;
};

co_status qwaiter(co_task *t, void *arg);

#endif
