/*
 * universal_tasks.h -- what the test_universal_*.c suites share: the
 * fixture, a nap for threads, and the numbered items producers put (each
 * taken exactly once: `seen`).
 */
#ifndef TESTS_UNIVERSAL_TASKS_H
#define TESTS_UNIVERSAL_TASKS_H

#include <stdint.h>

#include "curio.h"

void universal_setup(void);
void nap_ms(int ms);

/* Items are 1 + producer * PER + i, as pointers (never NULL). */
#define PRODUCERS 4
#define PER 2000
#define TOTAL (PRODUCERS * PER)
#define STOP ((void *)(uintptr_t)(TOTAL + 1000))
#define ITEM(p, i) ((void *)(uintptr_t)(1 + (p) * PER + (i)))

extern unsigned char seen[TOTAL + 1];   /* how often each item was taken */

uint64_t expected_sum(void);

/* Every item taken exactly once. */
void check_seen(void);

struct getter_frame {
    co_frame co;
    const char *name;
    co_uqueue *q;
    void *item;
    int rc;
};

/* Logs what its get gave, then what its next blocking call gives. */
co_status getter(co_task *t, void *arg);

/* Thread bodies: put "x" on the co_uqueue arg; set the co_uevent arg. */
void *put_one(void *arg);
void *set_event(void *arg);

#endif
