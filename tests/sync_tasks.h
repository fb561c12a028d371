/*
 * sync_tasks.h -- what the test_sync_*.c suites share: one object of each
 * kind (Event, Lock, RLock, Semaphore), the calls that take and give any
 * of them, the fixture, and the worker Curio's sequences are made of.
 *
 * The sequences are Curio's own (tests/test_sync.py): workers log when they
 * wait, acquire and release, and each test compares the whole log.  Orders
 * come from spawn order and yields; sleeps appear only where the scenario is
 * about time (hold times, timeouts).
 */
#ifndef TESTS_SYNC_TASKS_H
#define TESTS_SYNC_TASKS_H

#include "curio.h"

enum kind { K_EVENT, K_LOCK, K_RLOCK, K_SEM };

extern co_event ev;
extern co_lock lock;
extern co_rlock rlock;
extern co_semaphore sem;

void sync_setup(void);

/* The one blocking call of each kind: wait for the event, or acquire. */
co_status take(co_task *t, enum kind k);

/* Give it back; for the event, set it. */
int give(co_task *t, enum kind k);
co_waitq *queue_of(enum kind k);

/* Tasks blocked on the object's queue. */
int waiting(enum kind k);

/* Nobody holds it and nobody waits: the end state of every scenario. */
void assert_free(enum kind k);
int locked(enum kind k);

/* Logs "<name> wait", takes the object (inside a timeout region if
 * `timeout` > 0), logs "<name> acquire" (or "<name> acquire=<error>" and
 * returns it), holds it -- `hold` > 0: sleeps that long; 0: one co_yield;
 * < 0: not at all -- and in its cleanup gives it back and logs
 * "<name> release" (nothing to give back for an event). */
struct worker_frame {
    co_frame co;
    const char *name;
    enum kind kind;
    double hold;
    double timeout;
    int show_locked;    /* log "locked=<0|1>" before taking it (Curio's) */
    co_timeout to;
    int held, rc;
};

co_status worker(co_task *t, void *arg);

/* Main's frame for most scenarios. */
struct scene_frame {
    co_frame co;
    enum kind kind;
    co_task *a, *b, *c;
    int rc, ra, rb, rc_c;
};

#endif
