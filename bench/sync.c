/*
 * sync.c -- what the synchronisation primitives cost, in task switches.
 *
 * Each figure is nanoseconds per operation, measured alternately with the
 * curio task switch (two tasks, CO_AWAIT(rc, co_yield(t))) in the same
 * process; the ratio is operation / switch.  What one operation is:
 *
 *   lock hand-off        the holder releases the lock while the other task
 *                        waits for it: the lock passes to that task, which
 *                        resumes owning it; the releaser asks for the lock
 *                        again at once and queues.  One hand-off, one
 *                        switch.  (Each task yields once while holding the
 *                        lock first, so the other is queued from the start.)
 *   lock uncontended     acquire + release by one task, nobody waiting.
 *   event ping-pong      one signal across two events: set the other
 *                        task's event, wait on your own, clear it.
 *   semaphore hand-off   as the lock hand-off, on a semaphore of value 1.
 *   queue                one put or one get: the figure is half the time
 *                        one item takes from a producer task to a consumer
 *                        task (put + get, items checked in order) -- Curio
 *                        counts put and get as two operations, and the
 *                        lock figure likewise counts one acquire:
 *                        unbounded, the producer yielding after every 64
 *                        puts (put never blocks there); bounded maxsize 1
 *                        (two switches per item by construction: the
 *                        producer blocks on every put, the consumer on
 *                        every get); bounded maxsize 64.
 *
 * Target: each operation at most 3 switches.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

#define OPS 1000000L            /* operations per run */
#define SWITCHES 2000000L       /* switches per reference run */
#define BURST 64                /* unbounded queue: puts between yields */
#define MAX_RATIO 3.0

/* What the two tasks of a run share. */
struct shared {
    co_lock lock;
    co_semaphore sem;
    co_event ev[2];
    co_queue queue;
    int use_sem;                /* hand-off over the semaphore, not the lock */
    int yield_every;            /* queue producer: 0 never */
    long n;                     /* loop turns per task */
    long ops;                   /* operations done, counted by the tasks */
};

struct side_frame {
    co_frame co;
    struct shared *s;
    long i;
    int rc;
    void *item;
};

#define CHECK(expr)                                                          \
    do {                                                                     \
        if ((expr) < 0)                                                      \
            CO_RETURN(-EPROTO);                                              \
    } while (0)

/* ------------------------------------------------------------ lock, sem */

static co_status take(co_task *t, struct shared *s)
{
    return s->use_sem ? co_semaphore_acquire(t, &s->sem)
                      : co_lock_acquire(t, &s->lock);
}

static int give(co_task *t, struct shared *s)
{
    return s->use_sem ? co_semaphore_release(&s->sem)
                      : co_lock_release(t, &s->lock);
}

static co_status hand_off(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, take(t, f->s));
    CHECK(f->rc);
    CO_AWAIT(f->rc, co_yield(t));       /* the other task queues behind us */
    CHECK(f->rc);
    for (f->i = 0; f->i < f->s->n; f->i++) {
        CHECK(give(t, f->s));           /* to the waiting task */
        CO_AWAIT(f->rc, take(t, f->s)); /* queue; run when it gives it back */
        CHECK(f->rc);
        f->s->ops++;
    }
    CHECK(give(t, f->s));
    CO_END;
}

static co_status uncontended(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->s->n; f->i++) {
        CO_AWAIT(f->rc, co_lock_acquire(t, &f->s->lock));
        CHECK(f->rc);
        CHECK(co_lock_release(t, &f->s->lock));
        f->s->ops++;
    }
    CO_END;
}

/* ------------------------------------------------------------ events */

static co_status event_ping(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->s->n; f->i++) {
        CHECK(co_event_set(&f->s->ev[0]));
        CO_AWAIT(f->rc, co_event_wait(t, &f->s->ev[1]));
        CHECK(f->rc);
        CHECK(co_event_clear(&f->s->ev[1]));
        f->s->ops++;
    }
    CO_END;
}

static co_status event_pong(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->s->n; f->i++) {
        CO_AWAIT(f->rc, co_event_wait(t, &f->s->ev[0]));
        CHECK(f->rc);
        CHECK(co_event_clear(&f->s->ev[0]));
        CHECK(co_event_set(&f->s->ev[1]));
        f->s->ops++;
    }
    CO_END;
}

/* ------------------------------------------------------------ queues */

static co_status producer(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->s->n; f->i++) {
        CO_AWAIT(f->rc, co_queue_put(t, &f->s->queue,
                                     (void *)(uintptr_t)(f->i + 1)));
        CHECK(f->rc);
        if (f->s->yield_every && (f->i + 1) % f->s->yield_every == 0) {
            CO_AWAIT(f->rc, co_yield(t));
            CHECK(f->rc);
        }
    }
    CO_END;
}

static co_status consumer(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->s->n; f->i++) {
        CO_AWAIT(f->rc, co_queue_get(t, &f->s->queue, &f->item));
        CHECK(f->rc);
        if (f->item != (void *)(uintptr_t)(f->i + 1))
            CO_RETURN(-EPROTO);         /* lost, duplicated or reordered */
        f->s->ops++;
    }
    CO_END;
}

/* ------------------------------------------------------------ running */

struct pair_frame {
    co_frame co;
    struct shared *s;
    co_func fn[2];              /* fn[1] NULL: one task */
    co_task *task[2];
    int k, rc, result;
    int64_t t0, *elapsed;       /* out: co_run runs a copy of the frame */
};

/* Start the tasks, join them; each must return 0. */
static co_status pair_main(co_task *t, void *arg)
{
    struct pair_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->k = 0; f->k < 2 && f->fn[f->k]; f->k++) {
        struct side_frame side = { .s = f->s };
        if (co_spawn(t, &f->task[f->k], f->fn[f->k], &side, sizeof side,
                     NULL) < 0)
            CO_RETURN(-ENOMEM);
    }
    f->t0 = bench_now_ns();
    for (f->k = 0; f->k < 2 && f->fn[f->k]; f->k++) {
        CO_AWAIT(f->rc, co_task_join(t, f->task[f->k], &f->result));
        if (f->rc != 0 || f->result != 0)
            CO_RETURN(f->rc ? f->rc : f->result);
    }
    *f->elapsed = bench_now_ns() - f->t0;
    CO_END;
}

/* One row of the table. */
struct sync_op {
    const char *metric;
    co_func a, b;               /* b NULL: one task */
    int use_sem;
    long turns;                 /* loop turns per task, for OPS operations */
    size_t maxsize;             /* queue: 0 unbounded */
    int yield_every;
    int ops_per_item;           /* queue: 2, a put and a get; else 1 */
};

static double op_ns(void *arg)
{
    const struct sync_op *op = arg;
    int64_t elapsed = 0;
    struct shared s = { .use_sem = op->use_sem, .n = op->turns,
                        .yield_every = op->yield_every };
    struct pair_frame f = { .s = &s, .fn = { op->a, op->b },
                            .elapsed = &elapsed };

    if (co_semaphore_init(&s.sem, 1) < 0 ||
        co_queue_init(&s.queue, CO_QUEUE_FIFO, op->maxsize) < 0)
        bench_fail("%s: set-up failed", op->metric);
    int rc = co_run(pair_main, &f, sizeof f);
    if (rc != 0 || s.ops != OPS)
        bench_fail("%s: %s, %ld operations of %ld", op->metric,
                   co_strerror(rc), s.ops, OPS);
    if (co_queue_free(&s.queue) < 0)
        bench_fail("%s: queue still busy", op->metric);
    return (double)elapsed / OPS / op->ops_per_item;
}

static double switch_ns(void *arg)
{
    (void)arg;
    return bench_curio_switch_ns(SWITCHES, 0);
}

static const struct sync_op ops[] = {
    { "lock hand-off (contended)", hand_off, hand_off, 0, OPS / 2, 0, 0, 1 },
    { "lock acquire+release (uncontended)", uncontended, NULL, 0, OPS, 0, 0, 1 },
    { "event set/wait ping-pong", event_ping, event_pong, 0, OPS / 2, 0, 0, 1 },
    { "semaphore hand-off (value 1)", hand_off, hand_off, 1, OPS / 2, 0, 0, 1 },
    { "queue put or get, unbounded, yield per 64", producer, consumer, 0,
      OPS, 0, BURST, 2 },
    { "queue put or get, maxsize 1", producer, consumer, 0, OPS, 1, 0, 2 },
    { "queue put or get, maxsize 64", producer, consumer, 0, OPS, 64, 0, 2 },
};

int main(void)
{
    printf("sync: %ld operations per run against %ld co_yield switches, "
           "%d runs each (median [min .. max])\n", OPS, SWITCHES, BENCH_RUNS);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const bench_case cases[] = {
            { "switch", switch_ns, NULL },
            { ops[i].metric, op_ns, (void *)&ops[i] },
        };
        bench_stat s[2];
        bench_interleave(cases, 2, BENCH_RUNS, s);
        bench_row_ratio("sync", ops[i].metric, "ns", s[1], "switch", s[0],
                        MAX_RATIO);
    }
    return 0;
}
