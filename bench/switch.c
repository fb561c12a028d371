/*
 * switch.c -- the cost of one task switch, against the stackless floor.
 *
 * Curio: two tasks take turns, 10,000,000 turns in all, each turn written
 * as a user writes it, CO_AWAIT(rc, co_yield(t)); a second row uses the
 * bare CO_YIELD() macro.  One switch = one resume of one task.
 *
 * Reference, "stackless floor": what any stackless scheduler must do at
 * the least -- two protothread-style functions (a switch over a resume
 * point, a small frame) on an intrusive singly linked ready list; a loop
 * pops the head, calls it through a function pointer and pushes it back
 * at the tail until it says it is done.  The function pointers are read
 * from a volatile array and the functions are noinline, so the compiler
 * cannot turn the indirect calls into a loop it could fold; the frames
 * and the resume count are checked afterwards.
 *
 * Target: curio at most 1.5 times the floor.
 */
#include <stdio.h>

#include "bench.h"

#define SWITCHES 10000000L
#define MAX_RATIO 1.5

/* ------------------------------------------------------------ the floor */

enum { PT_WAITING, PT_DONE };

/* A protothread: ready-list link, function, resume point, small frame. */
struct pt {
    struct pt *next;
    int (*fn)(struct pt *);
    int pc;
    long i, n;
};

/* Counts its turns up to n, yielding after each. */
BENCH_NOINLINE static int pt_ping(struct pt *p)
{
    switch (p->pc) {
    case 0:
        for (p->i = 0; p->i < p->n; p->i++) {
            p->pc = 1;
            return PT_WAITING;
    case 1:;
        }
    }
    return PT_DONE;
}

/* Counts its turns down from n, yielding after each. */
BENCH_NOINLINE static int pt_pong(struct pt *p)
{
    switch (p->pc) {
    case 0:
        for (p->i = p->n; p->i > 0; p->i--) {
            p->pc = 1;
            return PT_WAITING;
    case 1:;
        }
    }
    return PT_DONE;
}

/* Volatile: the compiler must load the pointers and make real calls. */
static int (*volatile pt_funcs[2])(struct pt *) = { pt_ping, pt_pong };

/* The FIFO is written out here rather than shared with spawn.c's: a
 * shared inline version in bench.h made this loop measure 2.9 ns instead
 * of 1.9 (code placement), and the floor must be the fastest we can
 * write. */
struct pt_list {
    struct pt *head, *tail;
};

static void pt_push(struct pt_list *q, struct pt *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
}

static struct pt *pt_pop(struct pt_list *q)
{
    struct pt *p = q->head;
    if (p && !(q->head = p->next))
        q->tail = NULL;
    return p;
}

/* Resume ready protothreads until none is left; returns the resumes. */
BENCH_NOINLINE static long pt_run(struct pt_list *ready)
{
    long resumes = 0;
    struct pt *p;
    while ((p = pt_pop(ready))) {
        resumes++;
        if (p->fn(p) == PT_WAITING)
            pt_push(ready, p);
    }
    return resumes;
}

static double floor_switch_ns(void *arg)
{
    (void)arg;
    long n = SWITCHES / 2;
    struct pt a = { .fn = pt_funcs[0], .n = n };
    struct pt b = { .fn = pt_funcs[1], .n = n };
    struct pt_list ready = { 0 };
    pt_push(&ready, &a);
    pt_push(&ready, &b);

    int64_t t0 = bench_now_ns();
    long resumes = pt_run(&ready);
    int64_t elapsed = bench_now_ns() - t0;

    /* n turns each, plus the resume that finishes each one */
    if (resumes != 2 * n + 2 || a.i != n || b.i != 0)
        bench_fail("floor: %ld resumes, i = %ld / %ld", resumes, a.i, b.i);
    return (double)elapsed / (double)(2 * n);
}

/* ------------------------------------------------------------ curio */

static double curio_yield_ns(void *arg)
{
    (void)arg;
    return bench_curio_switch_ns(SWITCHES, 0);
}

static double curio_bare_yield_ns(void *arg)
{
    (void)arg;
    return bench_curio_switch_ns(SWITCHES, 1);
}

int main(void)
{
    const bench_case cases[] = {
        { "floor", floor_switch_ns, NULL },
        { "co_yield", curio_yield_ns, NULL },
        { "CO_YIELD", curio_bare_yield_ns, NULL },
    };
    bench_stat s[3];

    printf("task switch: two tasks, %ld switches per run, %d runs "
           "(median [min .. max])\n", SWITCHES, BENCH_RUNS);
    bench_interleave(cases, 3, BENCH_RUNS, s);
    bench_row_ratio("switch", "task switch via CO_AWAIT(rc, co_yield(t))",
                    "ns", s[1], "stackless-floor", s[0], MAX_RATIO);
    bench_row_ratio("switch", "task switch via bare CO_YIELD()", "ns", s[2],
                    "stackless-floor", s[0], MAX_RATIO);
    return 0;
}
