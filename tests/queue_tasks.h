/*
 * queue_tasks.h -- what the test_queue_*.c suites share: the queue every
 * scenario uses (q, emptied by the fixture), Curio's None, items as
 * numbers, the main task's usual frame and a consumer.
 */
#ifndef TESTS_QUEUE_TASKS_H
#define TESTS_QUEUE_TASKS_H

#include <stdint.h>

#include "curio.h"

extern co_queue q;
extern char none_tag;

#define NONE ((void *)&none_tag)          /* Curio's None */
#define IT(n) ((void *)(intptr_t)(n))
#define NUM(p) ((int)(intptr_t)(p))

void queue_setup(void);
void queue_teardown(void);

struct main_frame {
    co_frame co;
    co_task *a, *b, *c;
    co_timeout to;
    void *item;
    int i, n, rc;
};

/* Curio: consumer() gets until None, logging each item, optionally
 * sleeping before task_done. */
struct consumer_frame {
    co_frame co;
    const char *label;
    double pause;
    void *item;
    int rc;
};

co_status consumer(co_task *t, void *arg);

/* One get; logs what it got or its error, then whether it is cancelled
 * now (a sleep that a pending cancellation refuses). */
struct queue_getter_frame {
    co_frame co;
    const char *label;
    co_timeout to;
    double timeout;
    void *item;
    int rc;
};

co_status queue_getter(co_task *t, void *arg);

/* One get, logged "G:get=..."; then its next blocking call ("G:next"). */
struct handed_frame {
    co_frame co;
    void *item;
    int rc;
};

co_status handed_getter(co_task *t, void *arg);

/* Log every item left, in the order get_nowait gives them. */
void note_left(void);

/* One put; logs its result. */
struct queue_putter_frame {
    co_frame co;
    const char *label;
    co_timeout to;
    double timeout;
    int value, rc;
};

co_status queue_putter(co_task *t, void *arg);

#endif
