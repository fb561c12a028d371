/*
 * races_tasks.h -- what the test_races_*.c suites and races_prims.c share:
 * the stalls that hold the kernel up on purpose, the scene (a waiter in
 * a timeout region, a hander, the main task holding the kernel up in the
 * order of enum scene), and the table of primitives the scene runs.
 * test_races_outcome.c says what the scene is for.
 */
#ifndef TESTS_RACES_TASKS_H
#define TESTS_RACES_TASKS_H

#include <pthread.h>
#include <stdint.h>

#include "curio.h"

/* Seconds after t0 (co_clock() when the scene begins). */
#define DEADLINE 0.025              /* the waiter's region */
#define HANDER_LATE 0.035           /* EXPIRY_FIRST: the hander's sleep */
#define HANDER_EARLY 0.015          /* HANDER_FIRST */
#define STALL_END 0.05              /* the kernel is held up until then */

/* co_clock()'s scale, read now rather than once per cycle. */
double clock_now(void);

/* Hold the kernel's thread, without yielding, until co_clock() would read
 * `when`: the kernel is "held up", as by a slow callback. */
void stall_until(double when);
void stall(double secs);

/* A blocking primitive called where it must not block (the hand-overs:
 * unlock, put on an unbounded queue, get from a non-empty one). */
int at_once(int rc, const char *what);

#define AT_ONCE(expr) at_once((expr), #expr)

int blocked(const co_task *t);

/* Until t has blocked (or ended: a call that timed out before it could
 * block, on a machine that is itself holding the kernel up). */
int not_yet_blocked(const co_task *t);

/* Bytes queued for reading on a stream socket. */
int inq(int fd);

/* Whether a listening socket has a connection to accept. */
int backlog_pending(int fd);

enum scene {
    HELD_THEN_HAND,
    HAND_THEN_HELD,
    EXPIRY_FIRST,
    HANDER_FIRST,
    NEXT_CALL,
};

/* The waiter's frame; the primitives' hooks use its fields. */
struct wait_frame {
    co_frame co;
    co_timeout to;
    int rc, next, end, again;
    int pending;                    /* condition wait */
    void *item;                     /* queue get */
    co_socket *client;              /* accept */
    int result;                     /* join */
    char buf[16];                   /* recv */
};

struct prim {
    const char *name;
    int io;                 /* the hand-over is seen by polling an fd */
    int universal;          /* served under a mutex: see HANDER_FIRST */
    int joins;              /* the waiter joins the hander */
    int no_retry;           /* condition: a timed-out wait is not redone */
    co_queue_kind kind;
    void (*setup)(co_task *t);                      /* main, first */
    void (*prepare)(co_task *t);                    /* hander, first */
    void (*enter)(co_task *t, struct wait_frame *f);/* waiter, first */
    co_status (*wait)(co_task *t, struct wait_frame *f);
    void (*hand)(co_task *t);                       /* hander */
    /* waiter, as soon as a wait returned rc (>= 0 or -ETIMEDOUT): the
     * state must be the one of that outcome */
    void (*got)(co_task *t, struct wait_frame *f, int rc);
    void (*done)(co_task *t, struct wait_frame *f); /* waiter: give back */
    void (*check)(co_task *t);                      /* main, last */
};

/* The scene now running: set up by run_scene, read by every hook. */
struct races_scene {
    const struct prim *p;
    enum scene scene;
    double t0;
    co_task *w, *h;
    int handed;             /* the hander has handed over */
    int late;               /* the machine held the kernel up before the
                               scene did: its order is not the one meant */
    int notified;           /* condition: what notify returned */
    int completions;        /* the waiter's waits that completed */
    co_lock lock;
    co_rlock rlock;
    co_semaphore sem;
    co_condition cond;
    co_event ev;
    co_queue q;
    co_uqueue uq;
    co_uevent ue;
    co_socket *pair[2];
    co_socket *listener;
    co_sockaddr addr;
    int cfd;
    size_t filled;
};
extern struct races_scene R;

/* A thread that feeds the universal queue while the kernel is held up. */
extern pthread_t feeder;

void races_setup(void);
const char *outcome(int rc);
co_status waiter(co_task *t, void *arg);

struct hand_frame {
    co_frame co;
    double at;
    int i, rc;
};

co_status hander(co_task *t, void *arg);

struct race_main_frame {
    co_frame co;
    int i, rc;
};

co_status race_main(co_task *t, void *arg);

/* The items queues hand over: their addresses (races_prims.c). */
extern int item_x, item_y;
#define ITEM_X ((void *)&item_x)
#define ITEM_Y ((void *)&item_y)

/* The universal queue's hooks, which the thread test uses as well. */
void uq_setup(co_task *t);
void uq_check(co_task *t);
/* Closes R.pair (the sockets' hooks open it). */
void pair_close(void);

/* The primitives, one entry each (races_prims.c). */
extern const struct prim prims[];
extern const int n_prims;
#define N_PRIMS n_prims

#endif
