/*
 * group_tasks.h -- what the test_group_*.c suites share: a worker whose
 * end is set by how many times it yields (so the order members finish in
 * is the scheduler's, never a sleep's), and a fork-based abort check.
 */
#ifndef TESTS_GROUP_TASKS_H
#define TESTS_GROUP_TASKS_H

#include "curio.h"

/* Yields `yields` times (forever if -1: it sleeps until cancelled), then
 * returns `value`.  Notes "<name>:CANCEL" or "<name>:TIMEOUT" if a
 * blocking call was interrupted (and returns that), else "<name>=<value>"
 * when it ends.  With `slow_cleanup` its cleanup yields three times with
 * cancellation held back, noting "<name>:cleaned". */
struct gw_frame {
    co_frame co;
    const char *name;
    int yields, value, slow_cleanup;
    int i, rc;
};

co_status group_worker(co_task *t, void *arg);

/* A gw_frame literal. */
#define GW(n, y, v) ((struct gw_frame){ .name = (n), .yields = (y), .value = (v) })

void group_setup(void);


#endif
