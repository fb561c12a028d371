/*
 * time_tasks.h -- what the test_time_*.c suites share: a wait queue, the
 * fixture, a wait with a deadline, and the main task's usual frame.
 */
#ifndef TESTS_TIME_TASKS_H
#define TESTS_TIME_TASKS_H

#include <stdint.h>

#include "curio.h"

extern co_waitq time_wq;

void time_setup(void);

/* Blocks on q (may be NULL) until woken or until `deadline` passes. */
co_status wait_until(co_task *t, co_waitq *q, int64_t deadline);

/* For the tests that run one scenario in main. */
struct scene_frame {
    co_frame co;
    co_timeout outer, inner;
    co_task *h;
    double t0, t1;
    int64_t n0;
    int rc;
};

#endif
