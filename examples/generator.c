/*
 * generator.c -- coroutines from first principles, with nothing but co.h.
 *
 * No kernel, no event loop, no malloc: just the macros in macros/co.h and a
 * few plain loops that play the part of a scheduler.  Read it top to bottom:
 *
 *   (a) a generator: a coroutine that hands out values one at a time;
 *   (b) two protothreads, a producer and a consumer sharing a one-slot
 *       buffer, interleaved by a round-robin loop;
 *   (c) a coroutine awaiting a child coroutine, with a CO_FINALLY section
 *       that runs however the parent ends.
 *
 * The one rule to remember: a coroutine is a function that RETURNS when it
 * suspends, so its C locals are gone when it is resumed.  Anything that must
 * survive a CO_YIELD or CO_AWAIT lives in its frame struct, which the caller
 * owns and passes in on every call.
 *
 * The protocol: a coroutine returns CO_WOULDBLOCK while it is suspended ("call
 * me again later") and its result (>= 0, or a negative error) once it has
 * finished.  Calling a finished coroutine again just returns the result again.
 *
 * Build:  cc -std=c11 -Wall -Wextra -Werror -I. examples/generator.c \
 *            -o generator
 * Add -DCO_USE_SWITCH=1 to try the portable switch-based backend.
 */
#include <stdio.h>
#include <string.h>

#include "macros/co.h"

/* ------------------------------------------------------------------------
 * (a) A generator.
 *
 * fib() yields the Fibonacci numbers up to f->limit, one per call.  Each
 * value is left in f->value before the coroutine suspends; the caller reads
 * it from there.  When the sequence is exhausted fib() finishes and returns
 * how many numbers it produced.
 */
struct fib_frame {
    co_frame co;        /* the resume point: every frame has one, named co */
    int limit;          /* input, set by the caller before the first call */
    int a, b;           /* state that must survive each CO_YIELD */
    int count;
    int value;          /* output: the number just yielded */
};

static co_status fib(co_task *t, void *arg)
{
    struct fib_frame *f = arg;

    CO_BEGIN(t, f);             /* first call: start here; later: jump back */
    f->a = 0;
    f->b = 1;
    while (f->a <= f->limit) {
        f->value = f->a;
        f->count++;
        CO_YIELD();             /* return CO_WOULDBLOCK; resume right here */

        /* A local is fine as long as it is not needed across a yield. */
        int next = f->a + f->b;
        f->a = f->b;
        f->b = next;
    }
    CO_RETURN(f->count);        /* finished: every later call returns this */
    CO_END;
}

static void demo_generator(void)
{
    /* Zero the frame (co.pc == 0 means "not started") and set the input. */
    struct fib_frame f = { .limit = 100 };
    co_status rc;

    printf("(a) generator: fibonacci up to %d\n   ", f.limit);
    /* Drive it: each call runs to the next CO_YIELD and returns. */
    while ((rc = fib(NULL, &f)) == CO_WOULDBLOCK)
        printf(" %d", f.value);
    printf("\n    finished, result %d; called again it returns %d\n\n",
           rc, fib(NULL, &f));
}

/* ------------------------------------------------------------------------
 * (b) Two protothreads and a round-robin scheduler.
 *
 * The producer and the consumer share a one-slot buffer.  slot_put() and
 * slot_get() are "blocking primitives" in the project's sense: plain
 * functions that either finish at once or return CO_WOULDBLOCK.  CO_AWAIT
 * calls the primitive; while it says CO_WOULDBLOCK, the coroutine suspends,
 * and on every resume CO_AWAIT calls the primitive again.  That is all a
 * blocking operation is, here and in the kernel.
 */
#define SLOT_CLOSED (-1)        /* slot_get's "no more values", an error */

struct slot {
    int full;
    int closed;
    int value;
};

static co_status slot_put(struct slot *s, int value)
{
    if (s->full)
        return CO_WOULDBLOCK;   /* the consumer has not taken the last one */
    s->value = value;
    s->full = 1;
    return 0;
}

static co_status slot_get(struct slot *s)
{
    if (!s->full)
        return s->closed ? SLOT_CLOSED : CO_WOULDBLOCK;
    s->full = 0;
    return s->value;
}

struct producer_frame {
    co_frame co;
    struct slot *slot;
    int n;                      /* how many values to send */
    int i;                      /* loop counter: it crosses awaits, so here */
    int rc;
};

static co_status producer(co_task *t, void *arg)
{
    struct producer_frame *f = arg;

    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= f->n; f->i++) {
        CO_AWAIT(f->rc, slot_put(f->slot, f->i * f->i));
        printf("    producer: put %d\n", f->i * f->i);
    }
    f->slot->closed = 1;
    printf("    producer: closed the slot\n");
    CO_RETURN(f->n);
    CO_END;
}

struct consumer_frame {
    co_frame co;
    struct slot *slot;
    int got;                    /* result of the last slot_get */
    int sum;
};

static co_status consumer(co_task *t, void *arg)
{
    struct consumer_frame *f = arg;

    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->got, slot_get(f->slot));
        if (f->got == SLOT_CLOSED)
            break;
        printf("    consumer: got %d\n", f->got);
        f->sum += f->got;
    }
    CO_RETURN(f->sum);
    CO_END;
}

static void demo_protothreads(void)
{
    struct slot slot = { 0 };
    struct producer_frame pf = { .slot = &slot, .n = 4 };
    struct consumer_frame cf = { .slot = &slot };

    /* The whole "scheduler": a table of (function, frame) pairs, called in
     * turn until every one has finished.  A real kernel only adds a ready
     * queue, so that it calls a task when it can make progress instead of
     * polling everything. */
    struct {
        const char *name;
        co_func fn;
        void *frame;
        int done;
    } task[] = {
        { "producer", producer, &pf, 0 },
        { "consumer", consumer, &cf, 0 },
    };
    const int ntasks = (int)(sizeof task / sizeof task[0]);
    int running = ntasks;

    printf("(b) protothreads: producer and consumer, one-slot buffer\n");
    for (int round = 1; running > 0; round++) {
        printf("  round %d\n", round);
        for (int i = 0; i < ntasks; i++) {
            if (task[i].done)
                continue;
            co_status rc = task[i].fn(NULL, task[i].frame);
            if (rc == CO_WOULDBLOCK) {
                printf("    %s suspended\n", task[i].name);
            } else {
                printf("    %s finished with %d\n", task[i].name, rc);
                task[i].done = 1;
                running--;
            }
        }
    }
    printf("\n");
}

/* ------------------------------------------------------------------------
 * (c) Awaiting a child coroutine, and cleaning up with CO_FINALLY.
 *
 * slow_sum() adds 1..n, yielding after each step as if it had to wait for
 * something.  It fails with a negative result when n is negative.
 *
 * job() embeds slow_sum's frame in its own and awaits it with CO_AWAIT_CALL,
 * which zeroes the child's header and then calls the child until it
 * finishes: while the child suspends, job() suspends too, and each call of
 * job() resumes the child.  The CO_FINALLY section runs when job() falls off
 * its body or executes CO_RETURN -- success or failure -- and CO_RESULT() is
 * the result about to be returned.
 */
#define ERR_BAD_INPUT (-22)     /* a negative result means failure */

struct sum_frame {
    co_frame co;
    int n;                      /* input */
    int i, total;
};

static co_status slow_sum(co_task *t, void *arg)
{
    struct sum_frame *f = arg;

    CO_BEGIN(t, f);
    if (f->n < 0)
        CO_RETURN(ERR_BAD_INPUT);
    for (f->i = 1; f->i <= f->n; f->i++) {
        f->total += f->i;
        CO_YIELD();
    }
    CO_RETURN(f->total);
    CO_END;
}

struct job_frame {
    co_frame co;
    const char *name;
    int n;
    int sum;
    struct sum_frame child;     /* the child's frame lives inside ours */
};

static co_status job(co_task *t, void *arg)
{
    struct job_frame *f = arg;

    CO_BEGIN(t, f);
    printf("    %s: start, n = %d\n", f->name, f->n);
    f->child.n = f->n;          /* set the child's inputs, then await it */
    f->child.i = f->child.total = 0;
    CO_AWAIT_CALL(f->sum, slow_sum, &f->child);
    if (f->sum < 0)
        CO_RETURN(f->sum);      /* the error path also runs CO_FINALLY */
    printf("    %s: child returned %d\n", f->name, f->sum);
    CO_RETURN(f->sum * 2);

    CO_FINALLY
    /* Cleanup: runs exactly once, after the body, whatever happened.  It may
     * await too; here it just yields once to show that it can. */
    printf("    %s: finally, pending result %d\n", f->name, CO_RESULT());
    CO_YIELD();
    printf("    %s: finally done\n", f->name);
    CO_END;
}

static void run_job(const char *name, int n)
{
    struct job_frame f = { .name = name, .n = n };
    int calls = 0;
    co_status rc;

    do {
        rc = job(NULL, &f);
        calls++;
    } while (rc == CO_WOULDBLOCK);
    printf("    %s: result %d after %d calls\n", name, rc, calls);
}

static void demo_await_and_finally(void)
{
    printf("(c) awaiting a child coroutine, with CO_FINALLY\n");
    run_job("good job", 3);
    run_job("bad job", -1);
}

static const char usage[] =
    "usage: generator\n"
    "Coroutines with macros/co.h alone: a generator, two protothreads,\n"
    "a child coroutine with CO_FINALLY.  Takes no arguments.\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    printf("backend: %s\n\n", CO_USE_SWITCH ? "switch" : "labels as values");
    demo_generator();
    demo_protothreads();
    demo_await_and_finally();
    return 0;
}
