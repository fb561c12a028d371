/*
 * spawn.c -- the whole life of a tiny task: spawn, run, exit, join.
 *
 * Curio: a main task spawns 1,000,000 tasks with a 32-byte frame (co_frame
 * included) in batches of 1000, keeping the handles in an array, then
 * joins the batch, checking that each join returns that task's own result.
 * A second row spawns the batch CO_DETACHED and yields once instead of
 * joining (the tasks run, end and are freed before main runs again).
 *
 * Reference: the same work done by hand, in batches of the same size --
 * malloc the 96 bytes a task takes (64-byte header + 32-byte frame), copy
 * the frame in, append it to an intrusive FIFO; then pop each one, call it
 * through a function pointer, check its result and free it.
 *
 * Target: curio at most 2 times the reference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NTASKS 1000000L
#define BATCH 1000
#define MAX_RATIO 2.0

/* The task's frame: 32 bytes, co_frame included. */
struct tiny_frame {
    co_frame co;
    int value;              /* returned as the task's result */
    long *ran;              /* detached tasks count themselves here */
};
_Static_assert(sizeof(struct tiny_frame) == 32, "a 32-byte frame");

/* ------------------------------------------------------------ reference */

/* A hand-made task: a 64-byte header like co_task's, then the frame. */
struct ref_task {
    struct ref_task *next;
    int (*fn)(struct ref_task *);
    char rest_of_header[64 - sizeof(void *) - sizeof(int (*)(void))];
    struct tiny_frame frame;
};
_Static_assert(sizeof(struct ref_task) == 96, "header + frame = 96 bytes");

BENCH_NOINLINE static int ref_tiny(struct ref_task *t)
{
    return t->frame.value;
}

/* Volatile: the call must stay an indirect call. */
static int (*volatile ref_func)(struct ref_task *) = ref_tiny;

struct ref_fifo {
    struct ref_task *head, *tail;
};

static void ref_push(struct ref_fifo *q, struct ref_task *t)
{
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static struct ref_task *ref_pop(struct ref_fifo *q)
{
    struct ref_task *t = q->head;
    if (t && !(q->head = t->next))
        q->tail = NULL;
    return t;
}

static void ref_spawn_batch(struct ref_fifo *q, long base)
{
    for (long i = 0; i < BATCH; i++) {
        struct tiny_frame frame = { .value = (int)(base + i) };
        struct ref_task *t = malloc(sizeof *t);
        if (!t)
            bench_fail("reference: out of memory");
        t->fn = ref_func;
        memcpy(&t->frame, &frame, sizeof frame);
        ref_push(q, t);
    }
}

static void ref_run_batch(struct ref_fifo *q, long base)
{
    struct ref_task *t;
    long expect = base;
    while ((t = ref_pop(q))) {
        int r = t->fn(t);
        if (r != expect++)
            bench_fail("reference: task returned %d, not %ld", r, expect - 1);
        free(t);
    }
    if (expect != base + BATCH)
        bench_fail("reference: %ld tasks ran of %d", expect - base, BATCH);
}

static double ref_ns(void *arg)
{
    (void)arg;
    struct ref_fifo q = { 0 };
    int64_t t0 = bench_now_ns();
    for (long base = 0; base < NTASKS; base += BATCH) {
        ref_spawn_batch(&q, base);
        ref_run_batch(&q, base);
    }
    return (double)(bench_now_ns() - t0) / NTASKS;
}

/* ------------------------------------------------------------ curio */

static co_status tiny(co_task *t, void *arg)
{
    struct tiny_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->ran)
        ++*f->ran;
    CO_RETURN(f->value);
    CO_END;
}

struct spawn_main_frame {
    co_frame co;
    int detached;
    co_task **handles;      /* BATCH of them */
    long base, i, ran;
    int rc, result;
    int64_t t0, *elapsed;   /* out: co_run runs a copy of the frame */
};

/* Spawn a batch; joinable tasks leave their handles in f->handles. */
static int spawn_batch(co_task *t, struct spawn_main_frame *f)
{
    co_spawn_opts detached = { .name = "tiny", .flags = CO_DETACHED };
    for (long i = 0; i < BATCH; i++) {
        struct tiny_frame frame = { .value = (int)(f->base + i) };
        int rc;
        if (f->detached) {
            frame.ran = &f->ran;
            rc = co_spawn(t, NULL, tiny, &frame, sizeof frame, &detached);
        } else {
            rc = CO_SPAWN(t, &f->handles[i], tiny, frame);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static co_status spawn_main(co_task *t, void *arg)
{
    struct spawn_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->t0 = bench_now_ns();
    for (f->base = 0; f->base < NTASKS; f->base += BATCH) {
        if ((f->rc = spawn_batch(t, f)) < 0)
            CO_RETURN(f->rc);
        if (f->detached) {
            /* behind the whole batch: it has run when we resume */
            CO_AWAIT(f->rc, co_yield(t));
            if (f->rc < 0 || f->ran != f->base + BATCH)
                bench_fail("detached: %ld tasks ran of %ld", f->ran,
                           f->base + BATCH);
            continue;
        }
        for (f->i = 0; f->i < BATCH; f->i++) {
            CO_AWAIT(f->rc, co_task_join(t, f->handles[f->i], &f->result));
            if (f->rc != 0 || f->result != f->base + f->i)
                bench_fail("join: %s, result %d, not %ld", co_strerror(f->rc),
                           f->result, f->base + f->i);
        }
    }
    *f->elapsed = bench_now_ns() - f->t0;
    CO_END;
}

static double curio_ns(void *detached)
{
    co_task *handles[BATCH];
    int64_t elapsed = 0;
    struct spawn_main_frame f = { .detached = detached != NULL,
                                  .handles = handles, .elapsed = &elapsed };
    int rc = co_run(spawn_main, &f, sizeof f);
    if (rc != 0)
        bench_fail("spawn run: %s", co_strerror(rc));
    return (double)elapsed / NTASKS;
}

int main(void)
{
    static int yes;
    const bench_case cases[] = {
        { "reference", ref_ns, NULL },
        { "joined", curio_ns, NULL },
        { "detached", curio_ns, &yes },
    };
    bench_stat s[3];

    printf("spawn: %ld tasks with a 32-byte frame, batches of %d, %d runs "
           "(median [min .. max])\n", NTASKS, BATCH, BENCH_RUNS);
    bench_interleave(cases, 3, BENCH_RUNS, s);
    bench_row_ratio("spawn", "spawn+run+exit+join, batches of 1000", "ns",
                    s[1], "malloc-fifo-call-free", s[0], MAX_RATIO);
    bench_row_ratio("spawn", "spawn+run+exit, CO_DETACHED, batches of 1000",
                    "ns", s[2], "malloc-fifo-call-free", s[0], MAX_RATIO);
    return 0;
}
