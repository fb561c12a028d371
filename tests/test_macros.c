/*
 * test_macros.c -- the coroutine macros of macros/co.h, on their own.
 *
 * Built twice by the Makefile, once per backend:
 *   -DCO_USE_SWITCH=1 -DMACRO_SUITE=macros_switch_suite
 *   -DCO_USE_SWITCH=0 -DMACRO_SUITE=macros_labels_suite
 * so the only external name is MACRO_SUITE(); everything else is static.
 *
 * Coroutines are driven by hand (no kernel) and the tests check what can be
 * observed: values, the order of events, how many calls a coroutine and its
 * primitives needed.  Remember that locals do not survive a suspension:
 * everything a coroutine needs after an await lives in its frame.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"

#ifndef MACRO_SUITE
#  define MACRO_SUITE macros_labels_suite
#endif

/* Count the hook calls and remember the last place, to test CO_ON_SUSPEND.
 * It must be defined before co.h, which only supplies a default. */
static int hook_calls;
static const char *hook_where;
#define CO_ON_SUSPEND(task, where)                                           \
    ((void)(task), hook_calls++, hook_where = (where))

#include "macros/co.h"

/* ------------------------------------------------------------------ helpers */

/* An event log: each coroutine appends short tokens; tests compare strings. */
static char event_log[512];

static void ev(const char *what)
{
    size_t len = strlen(event_log);
    snprintf(event_log + len, sizeof event_log - len, "%s%s",
             len ? " " : "", what);
}

static void reset_globals(void)
{
    event_log[0] = '\0';
    hook_calls = 0;
    hook_where = NULL;
}

/* Call fn until it finishes; *calls gets the number of calls it took. */
static int drive(co_func fn, void *frame, int *calls)
{
    int rc, n = 0;
    do {
        rc = fn(NULL, frame);
        n++;
    } while (rc == CO_WOULDBLOCK && n < 100000);
    ck_assert_int_ne(rc, CO_WOULDBLOCK);
    if (calls)
        *calls = n;
    return rc;
}

/* A blocking primitive: returns CO_WOULDBLOCK `blocks` times, then value. */
struct prim {
    int blocks;
    int value;
    int calls;
};

static co_status prim_poll(struct prim *p)
{
    p->calls++;
    if (p->blocks > 0) {
        p->blocks--;
        return CO_WOULDBLOCK;
    }
    return p->value;
}

static struct prim prim_make(int blocks, int value)
{
    struct prim p = { blocks, value, 0 };
    return p;
}

/* ------------------------------------------------------------ begin / end */

struct plain_frame {
    co_frame co;
    int ran;
};

/* No suspension point at all; falls off the end. */
static co_status plain(co_task *t, void *arg)
{
    struct plain_frame *f = arg;
    CO_BEGIN(t, f);
    f->ran++;
    CO_END;
}

/* No suspension point; CO_RETURN a value, code after it never runs. */
static co_status plain_return(co_task *t, void *arg)
{
    struct plain_frame *f = arg;
    CO_BEGIN(t, f);
    f->ran++;
    CO_RETURN(42);
    f->ran += 100;
    CO_END;
}

START_TEST(test_begin_end)
{
    struct plain_frame f = { 0 };
    reset_globals();
    ck_assert_int_eq(plain(NULL, &f), 0);
    ck_assert_int_eq(f.ran, 1);
    ck_assert(f.co.pc != 0);            /* marked finished */
    ck_assert_int_eq(plain(NULL, &f), 0);
    ck_assert_int_eq(f.ran, 1);         /* body did not run again */
    ck_assert_int_eq(hook_calls, 0);    /* never suspended, never returned */
}
END_TEST

START_TEST(test_return_value)
{
    struct plain_frame f = { 0 };
    ck_assert_int_eq(plain_return(NULL, &f), 42);
    ck_assert_int_eq(f.ran, 1);         /* nothing after CO_RETURN ran */
    ck_assert_int_eq(plain_return(NULL, &f), 42);
    ck_assert_int_eq(plain_return(NULL, &f), 42);
    ck_assert_int_eq(f.ran, 1);
}
END_TEST

/* --------------------------------------------------------------- yielding */

struct gen_frame {
    co_frame co;
    int start, n;       /* inputs */
    int i;
    int value;          /* output of each step */
};

/* Yields start, start+1, ... start+n-1 through f->value; returns n * 10. */
static co_status gen(co_task *t, void *arg)
{
    struct gen_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->n; f->i++) {
        f->value = f->start + f->i;
        CO_YIELD();
    }
    CO_RETURN(f->n * 10);
    CO_END;
}

START_TEST(test_yield_sequence)
{
    struct gen_frame f = { .start = 7, .n = 5 };
    int seen[8], nseen = 0, rc;

    reset_globals();
    while ((rc = gen(NULL, &f)) == CO_WOULDBLOCK) {
        ck_assert_int_lt(nseen, 8);
        seen[nseen++] = f.value;
    }
    ck_assert_int_eq(rc, 50);
    ck_assert_int_eq(nseen, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(seen[i], 7 + i);
    /* five yields and one CO_RETURN told the hook */
    ck_assert_int_eq(hook_calls, 6);
    /* finished: result again, no more values */
    f.value = -1;
    ck_assert_int_eq(gen(NULL, &f), 50);
    ck_assert_int_eq(f.value, -1);
}
END_TEST

START_TEST(test_two_instances_independent)
{
    struct gen_frame a = { .start = 0, .n = 3 };
    struct gen_frame b = { .start = 100, .n = 2 };
    char buf[128] = "";

    /* interleave two frames of the same coroutine */
    for (int step = 0; step < 4; step++) {
        int ra = gen(NULL, &a), rb = gen(NULL, &b);
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "[%d:%d %d:%d]",
                 ra == CO_WOULDBLOCK ? a.value : -ra,
                 step, rb == CO_WOULDBLOCK ? b.value : -rb, step);
    }
    ck_assert_str_eq(buf, "[0:0 100:0][1:1 101:1][2:2 -20:2][-30:3 -20:3]");
}
END_TEST

START_TEST(test_frame_reuse_after_reset)
{
    struct gen_frame f = { .start = 1, .n = 3 };
    int calls, sum = 0, rc;

    ck_assert_int_eq(drive(gen, &f, &calls), 30);
    ck_assert_int_eq(calls, 4);

    /* Reset the header (and the inputs) and the same frame runs afresh. */
    memset(&f.co, 0, sizeof f.co);
    f.start = 10;
    f.n = 2;
    while ((rc = gen(NULL, &f)) == CO_WOULDBLOCK)
        sum += f.value;
    ck_assert_int_eq(rc, 20);
    ck_assert_int_eq(sum, 10 + 11);

    /* without a reset it stays finished */
    ck_assert_int_eq(gen(NULL, &f), 20);
}
END_TEST

/* ------------------------------------------------------ awaiting primitives */

struct await_prim_frame {
    co_frame co;
    struct prim p;
    int rc;
    int resumes_after;  /* times the code after the await ran */
};

static co_status await_prim(co_task *t, void *arg)
{
    struct await_prim_frame *f = arg;
    CO_BEGIN(t, f);
    ev("before");
    CO_AWAIT(f->rc, prim_poll(&f->p));
    f->resumes_after++;
    ev("after");
    CO_RETURN(f->rc + 1);
    CO_END;
}

START_TEST(test_await_primitive)
{
    struct await_prim_frame f = { .p = prim_make(4, 99) };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(await_prim, &f, &calls), 100);
    ck_assert_int_eq(f.rc, 99);
    ck_assert_int_eq(calls, 5);         /* 4 suspensions, then finished */
    ck_assert_int_eq(f.p.calls, 5);     /* primitive re-evaluated each resume */
    ck_assert_int_eq(f.resumes_after, 1);
    ck_assert_str_eq(event_log, "before after");  /* code before: once */
    ck_assert_int_eq(hook_calls, 5);    /* 4 suspensions + 1 return */
}
END_TEST

START_TEST(test_await_ready_primitive)
{
    /* A primitive that is ready at once never suspends the coroutine. */
    struct await_prim_frame f = { .p = prim_make(0, 5) };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(await_prim, &f, &calls), 6);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(f.p.calls, 1);
    ck_assert_int_eq(hook_calls, 1);    /* only the CO_RETURN */
}
END_TEST

START_TEST(test_await_primitive_error)
{
    /* A negative result is a result like any other; the await ends. */
    struct await_prim_frame f = { .p = prim_make(2, -5) };
    int calls;

    ck_assert_int_eq(drive(await_prim, &f, &calls), -4);
    ck_assert_int_eq(f.rc, -5);
    ck_assert_int_eq(calls, 3);
}
END_TEST

/* ------------------------------------------------ CO_ON_SUSPEND's location */

struct where_frame {
    co_frame co;
    int line;
};

static co_status where_co(co_task *t, void *arg)
{
    struct where_frame *f = arg;
    CO_BEGIN(t, f);
    f->line = __LINE__ + 1;
    CO_YIELD();
    CO_END;
}

START_TEST(test_suspend_hook_where)
{
    struct where_frame f = { 0 };
    char expect[256];

    reset_globals();
    ck_assert_int_eq(where_co(NULL, &f), CO_WOULDBLOCK);
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_ptr_nonnull(hook_where);
    snprintf(expect, sizeof expect, "%s:%d", __FILE__, f.line);
    ck_assert_str_eq(hook_where, expect);
    ck_assert_int_eq(where_co(NULL, &f), 0);
    ck_assert_int_eq(hook_calls, 1);    /* falling off the end: no hook */
}
END_TEST

/* ----------------------------------------------- CO_AWAIT_CALL, nested */

/* Four levels: level1 -> level2 -> level3 -> leaf.  The leaf yields
 * `blocks` times and returns its input; each level adds its own amount, so
 * the result shows that every level's result went up the chain. */
struct leaf_frame {
    co_frame co;
    int blocks, value;      /* inputs */
    int i;
};

static co_status leaf(co_task *t, void *arg)
{
    struct leaf_frame *f = arg;
    CO_BEGIN(t, f);
    ev("leaf<");
    for (f->i = 0; f->i < f->blocks; f->i++)
        CO_YIELD();
    ev(">leaf");
    CO_RETURN(f->value);
    CO_END;
}

struct level3_frame {
    co_frame co;
    int blocks, value;
    int rc;
    struct leaf_frame child;
};

static co_status level3(co_task *t, void *arg)
{
    struct level3_frame *f = arg;
    CO_BEGIN(t, f);
    ev("3<");
    f->child.blocks = f->blocks;
    f->child.value = f->value;
    CO_AWAIT_CALL(f->rc, leaf, &f->child);
    ev(">3");
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_RETURN(f->rc + 1000);
    CO_END;
}

struct level2_frame {
    co_frame co;
    int blocks, value;
    int rc;
    struct level3_frame child;
};

static co_status level2(co_task *t, void *arg)
{
    struct level2_frame *f = arg;
    CO_BEGIN(t, f);
    ev("2<");
    f->child.blocks = f->blocks;
    f->child.value = f->value;
    CO_AWAIT_CALL(f->rc, level3, &f->child);
    ev(">2");
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_RETURN(f->rc + 100);
    CO_END;
}

struct level1_frame {
    co_frame co;
    int blocks, value;
    int rc;
    struct level2_frame child;
};

static co_status level1(co_task *t, void *arg)
{
    struct level1_frame *f = arg;
    CO_BEGIN(t, f);
    ev("1<");
    f->child.blocks = f->blocks;
    f->child.value = f->value;
    CO_AWAIT_CALL(f->rc, level2, &f->child);
    ev(">1");
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_RETURN(f->rc + 10);
    CO_END;
}

START_TEST(test_await_call_three_levels)
{
    /* level2 -> level3 -> leaf */
    struct level2_frame f = { .blocks = 3, .value = 5 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(level2, &f, &calls), 1105);
    ck_assert_int_eq(calls, 4);         /* leaf's 3 yields reach the top */
    ck_assert_int_eq(f.rc, 1005);
    ck_assert_int_eq(f.child.rc, 5);
    ck_assert_str_eq(event_log, "2< 3< leaf< >leaf >3 >2");
}
END_TEST

START_TEST(test_await_call_four_levels)
{
    struct level1_frame f = { .blocks = 2, .value = 7 };
    int calls;

    reset_globals();
    ck_assert_int_eq(level1(NULL, &f), CO_WOULDBLOCK);
    /* the prologues ran exactly once, down to the leaf's first yield */
    ck_assert_str_eq(event_log, "1< 2< 3< leaf<");
    ck_assert_int_eq(drive(level1, &f, &calls), 1117);
    ck_assert_int_eq(calls, 2);         /* one more suspension, then done */
    ck_assert_str_eq(event_log, "1< 2< 3< leaf< >leaf >3 >2 >1");
    ck_assert_int_eq(level1(NULL, &f), 1117);   /* finished: same result */
    ck_assert_str_eq(event_log, "1< 2< 3< leaf< >leaf >3 >2 >1");
}
END_TEST

START_TEST(test_await_call_error_propagates)
{
    struct level1_frame f = { .blocks = 1, .value = -9 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(level1, &f, &calls), -9);
    ck_assert_int_eq(calls, 2);
    ck_assert_str_eq(event_log, "1< 2< 3< leaf< >leaf >3 >2 >1");
}
END_TEST

/* CO_AWAIT_CALL resets the child's header, so one child frame can be
 * awaited again and again (here: a finished generator, re-run 3 times). */
struct repeat_frame {
    co_frame co;
    int round, rc, total;
    struct leaf_frame child;
};

static co_status repeat(co_task *t, void *arg)
{
    struct repeat_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->round = 1; f->round <= 3; f->round++) {
        f->child.blocks = f->round;
        f->child.value = f->round * 10;
        CO_AWAIT_CALL(f->rc, leaf, &f->child);
        f->total += f->rc;
    }
    CO_RETURN(f->total);
    CO_END;
}

START_TEST(test_await_call_reuses_child_frame)
{
    struct repeat_frame f = { 0 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(repeat, &f, &calls), 60);
    ck_assert_int_eq(calls, 1 + 2 + 3 + 1);
    ck_assert_str_eq(event_log,
                     "leaf< >leaf leaf< >leaf leaf< >leaf");
}
END_TEST

/* ---------------------------------------------------------------- finally */

/* mode selects how the body ends:
 *   0 fall off the end, 1 CO_RETURN(value), 2 error after an await,
 *   3 CO_RETURN from inside a nested loop */
struct fin_frame {
    co_frame co;
    int mode;
    int i, j, rc;
    struct prim p;
    int finally_runs;
    int seen_result;        /* CO_RESULT() as the finally section saw it */
};

static co_status fin(co_task *t, void *arg)
{
    struct fin_frame *f = arg;
    CO_BEGIN(t, f);
    ev("body");
    if (f->mode == 1)
        CO_RETURN(17);
    if (f->mode == 2) {
        f->p = prim_make(2, -5);
        CO_AWAIT(f->rc, prim_poll(&f->p));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ev("not-reached");
    }
    if (f->mode == 3) {
        for (f->i = 0; f->i < 5; f->i++)
            for (f->j = 0; f->j < 5; f->j++) {
                CO_YIELD();
                if (f->i == 1 && f->j == 2)
                    CO_RETURN(f->i * 10 + f->j);
            }
    }
    ev("fall");

    CO_FINALLY
    f->finally_runs++;
    f->seen_result = CO_RESULT();
    ev("finally");
    CO_END;
}

START_TEST(test_finally_fall_off)
{
    struct fin_frame f = { .mode = 0 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(fin, &f, &calls), 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(f.finally_runs, 1);
    ck_assert_int_eq(f.seen_result, 0);
    ck_assert_str_eq(event_log, "body fall finally");
    /* called again: result again, finally does not run twice */
    ck_assert_int_eq(fin(NULL, &f), 0);
    ck_assert_int_eq(f.finally_runs, 1);
    ck_assert_str_eq(event_log, "body fall finally");
}
END_TEST

START_TEST(test_finally_on_return)
{
    struct fin_frame f = { .mode = 1 };

    reset_globals();
    ck_assert_int_eq(fin(NULL, &f), 17);
    ck_assert_int_eq(f.finally_runs, 1);
    ck_assert_int_eq(f.seen_result, 17);
    ck_assert_str_eq(event_log, "body finally");
    ck_assert_int_eq(fin(NULL, &f), 17);
    ck_assert_int_eq(f.finally_runs, 1);
}
END_TEST

START_TEST(test_finally_on_error)
{
    struct fin_frame f = { .mode = 2 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(fin, &f, &calls), -5);
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(f.finally_runs, 1);
    ck_assert_int_eq(f.seen_result, -5);
    ck_assert_str_eq(event_log, "body finally");
    ck_assert_int_eq(fin(NULL, &f), -5);
    ck_assert_int_eq(f.finally_runs, 1);
}
END_TEST

START_TEST(test_finally_return_from_nested_loop)
{
    struct fin_frame f = { .mode = 3 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(fin, &f, &calls), 12);
    ck_assert_int_eq(calls, 5 + 3 + 1);   /* yields at (0,0..4), (1,0..2) */
    ck_assert_int_eq(f.seen_result, 12);
    ck_assert_str_eq(event_log, "body finally");
}
END_TEST

/* A finally section that yields and awaits; and one that overrides. */
struct fin_wait_frame {
    co_frame co;
    int override;           /* input: CO_RETURN a new result in finally */
    int rc;
    struct prim p;
    int seen_before, seen_after;
};

static co_status fin_wait(co_task *t, void *arg)
{
    struct fin_wait_frame *f = arg;
    CO_BEGIN(t, f);
    ev("body");
    CO_YIELD();
    CO_RETURN(-3);

    CO_FINALLY
    f->seen_before = CO_RESULT();
    ev("fin1");
    CO_YIELD();
    ev("fin2");
    f->p = prim_make(2, 8);
    CO_AWAIT(f->rc, prim_poll(&f->p));
    ev("fin3");
    f->seen_after = CO_RESULT();        /* survived the suspensions */
    if (f->override)
        CO_RETURN(f->rc * 100);
    CO_END;
}

START_TEST(test_finally_can_await)
{
    struct fin_wait_frame f = { .override = 0 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(fin_wait, &f, &calls), -3);
    /* body yield 1, finally yield 1, primitive blocks 2, then done */
    ck_assert_int_eq(calls, 5);
    ck_assert_int_eq(f.p.calls, 3);
    ck_assert_int_eq(f.seen_before, -3);
    ck_assert_int_eq(f.seen_after, -3);
    ck_assert_str_eq(event_log, "body fin1 fin2 fin3");
    ck_assert_int_eq(fin_wait(NULL, &f), -3);
    ck_assert_str_eq(event_log, "body fin1 fin2 fin3");
}
END_TEST

START_TEST(test_finally_return_replaces_result)
{
    struct fin_wait_frame f = { .override = 1 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(fin_wait, &f, &calls), 800);
    ck_assert_int_eq(calls, 5);
    ck_assert_int_eq(f.seen_before, -3);
    ck_assert_str_eq(event_log, "body fin1 fin2 fin3");   /* ran once */
    ck_assert_int_eq(fin_wait(NULL, &f), 800);
    ck_assert_str_eq(event_log, "body fin1 fin2 fin3");
}
END_TEST

/* Finally sections at every level of a chain run innermost first, each
 * seeing its own pending result. */
struct fin_inner_frame {
    co_frame co;
    int rc;
};

static co_status fin_inner(co_task *t, void *arg)
{
    struct fin_inner_frame *f = arg;
    CO_BEGIN(t, f);
    ev("inner");
    CO_YIELD();
    CO_RETURN(-7);
    CO_FINALLY
    ev(CO_RESULT() == -7 ? "inner-finally(-7)" : "inner-finally(?)");
    CO_YIELD();
    CO_END;
}

struct fin_outer_frame {
    co_frame co;
    int rc;
    struct fin_inner_frame child;
};

static co_status fin_outer(co_task *t, void *arg)
{
    struct fin_outer_frame *f = arg;
    CO_BEGIN(t, f);
    ev("outer");
    CO_AWAIT_CALL(f->rc, fin_inner, &f->child);
    if (f->rc < 0)
        CO_RETURN(f->rc - 1);
    ev("not-reached");
    CO_FINALLY
    ev(CO_RESULT() == -8 ? "outer-finally(-8)" : "outer-finally(?)");
    CO_END;
}

START_TEST(test_finally_nested_order)
{
    struct fin_outer_frame f = { 0 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(fin_outer, &f, &calls), -8);
    ck_assert_int_eq(calls, 3);
    ck_assert_str_eq(event_log,
                     "outer inner inner-finally(-7) outer-finally(-8)");
}
END_TEST

/* ------------------------------------------------- resume point numbering */

/* Two awaits on one source line must get distinct resume points (needs
 * __COUNTER__; without it the build would fail, not misbehave). */
struct two_frame {
    co_frame co;
    struct prim a, b;
    int ra, rb;
    int between;
};

static co_status two_on_a_line(co_task *t, void *arg)
{
    struct two_frame *f = arg;
    CO_BEGIN(t, f);
#ifdef __COUNTER__
    CO_AWAIT(f->ra, prim_poll(&f->a)); f->between++; CO_AWAIT(f->rb, prim_poll(&f->b));
#else
    CO_AWAIT(f->ra, prim_poll(&f->a));
    f->between++;
    CO_AWAIT(f->rb, prim_poll(&f->b));
#endif
    CO_RETURN(f->ra + f->rb);
    CO_END;
}

START_TEST(test_two_awaits_one_line)
{
    struct two_frame f = { .a = prim_make(2, 3), .b = prim_make(3, 40) };
    int calls;

    ck_assert_int_eq(drive(two_on_a_line, &f, &calls), 43);
    ck_assert_int_eq(calls, 2 + 3 + 1);
    ck_assert_int_eq(f.a.calls, 3);     /* a is not re-run while b blocks */
    ck_assert_int_eq(f.b.calls, 4);
    ck_assert_int_eq(f.between, 1);
}
END_TEST

/* Fifty awaits, each on a primitive that blocks once and then yields its
 * step number.  The macro puts them all on one line, so with __COUNTER__
 * this also checks that numbering never collides within a line. */
struct many_frame {
    co_frame co;
    struct prim p;
    int k, rc, sum;
    int order_ok;
};

#define MANY_STEP                                                            \
    f->k++;                                                                  \
    f->p = prim_make(1, f->k);                                               \
    CO_AWAIT(f->rc, prim_poll(&f->p));                                       \
    if (f->rc == f->k) f->order_ok++;                                        \
    f->sum += f->rc;
#define MANY_10                                                              \
    MANY_STEP MANY_STEP MANY_STEP MANY_STEP MANY_STEP                        \
    MANY_STEP MANY_STEP MANY_STEP MANY_STEP MANY_STEP

static co_status many_awaits(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
#ifdef __COUNTER__
    MANY_10 MANY_10 MANY_10 MANY_10 MANY_10
#else
    /* __LINE__ numbering: one await per line */
    MANY_STEP
    MANY_STEP
    MANY_STEP
    MANY_STEP
    MANY_STEP
    f->k += 45;
    f->sum += 46 * 45 / 2 + 5 * 45;     /* steps 6..50 done by arithmetic */
    f->order_ok += 45;
#endif
    CO_RETURN(f->sum);
    CO_END;
}

START_TEST(test_many_awaits)
{
    struct many_frame f = { 0 };
    int calls;

    ck_assert_int_eq(drive(many_awaits, &f, &calls), 50 * 51 / 2);
    ck_assert_int_eq(f.k, 50);
    ck_assert_int_eq(f.order_ok, 50);
#ifdef __COUNTER__
    ck_assert_int_eq(calls, 51);
#endif
}
END_TEST

/* ------------------------------------------------------- user switches */

/* A switch that does not span an await works with either backend. */
struct sw_frame {
    co_frame co;
    int i, rc;
    struct prim p;
};

static co_status switch_between_awaits(co_task *t, void *arg)
{
    struct sw_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        switch (f->i) {
        case 0: ev("zero"); break;
        case 1: ev("one"); break;
        default: ev("many"); break;
        }
        CO_YIELD();
    }
    CO_RETURN(f->i);
    CO_END;
}

START_TEST(test_switch_without_await)
{
    struct sw_frame f = { 0 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(switch_between_awaits, &f, &calls), 3);
    ck_assert_int_eq(calls, 4);
    ck_assert_str_eq(event_log, "zero one many");
}
END_TEST

/* With labels as values, a user switch may contain awaits in its cases
 * (with the switch backend it compiles, and resuming it aborts). */
static co_status switch_with_await(co_task *t, void *arg)
{
    struct sw_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 4; f->i++) {
        switch (f->i) {
        case 0:
            f->p = prim_make(2, 5);
            CO_AWAIT(f->rc, prim_poll(&f->p));
            ev(f->rc == 5 ? "a5" : "a?");
            break;
        case 1:
            CO_YIELD();
            ev("b");
            __attribute__((fallthrough));   /* labels backend: GNU C anyway */
        case 2:
            ev("c");
            CO_YIELD();
            break;
        default:
            ev("d");
            break;
        }
    }
    CO_RETURN(f->i);
    CO_END;
}

#if !CO_USE_SWITCH
START_TEST(test_switch_with_await_labels)
{
    struct sw_frame f = { 0 };
    int calls;

    reset_globals();
    ck_assert_int_eq(drive(switch_with_await, &f, &calls), 4);
    /* 2 primitive blocks, i=1: 2 yields, i=2: 1 yield, then done */
    ck_assert_int_eq(calls, 2 + 2 + 1 + 1);
    ck_assert_str_eq(event_log, "a5 b c c d");
}
END_TEST
#else
/* With the switch backend the same coroutine cannot work (the await's case
 * label belongs to the user's switch); resuming it must fail loudly. */
START_TEST(test_switch_with_await_aborts)
{
    struct sw_frame f = { 0 };
    int calls;

    reset_globals();
    drive(switch_with_await, &f, &calls);
}
END_TEST
#endif

/* ------------------------------------------------------------------ suite */

Suite *MACRO_SUITE(void)
{
#if CO_USE_SWITCH
    Suite *s = suite_create("macros_switch");
#else
    Suite *s = suite_create("macros_labels");
#endif
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_begin_end);
    tcase_add_test(tc, test_return_value);
    tcase_add_test(tc, test_yield_sequence);
    tcase_add_test(tc, test_two_instances_independent);
    tcase_add_test(tc, test_frame_reuse_after_reset);
    tcase_add_test(tc, test_await_primitive);
    tcase_add_test(tc, test_await_ready_primitive);
    tcase_add_test(tc, test_await_primitive_error);
    tcase_add_test(tc, test_suspend_hook_where);
    tcase_add_test(tc, test_await_call_three_levels);
    tcase_add_test(tc, test_await_call_four_levels);
    tcase_add_test(tc, test_await_call_error_propagates);
    tcase_add_test(tc, test_await_call_reuses_child_frame);
    tcase_add_test(tc, test_finally_fall_off);
    tcase_add_test(tc, test_finally_on_return);
    tcase_add_test(tc, test_finally_on_error);
    tcase_add_test(tc, test_finally_return_from_nested_loop);
    tcase_add_test(tc, test_finally_can_await);
    tcase_add_test(tc, test_finally_return_replaces_result);
    tcase_add_test(tc, test_finally_nested_order);
    tcase_add_test(tc, test_two_awaits_one_line);
    tcase_add_test(tc, test_many_awaits);
    tcase_add_test(tc, test_switch_without_await);
#if !CO_USE_SWITCH
    tcase_add_test(tc, test_switch_with_await_labels);
#else
    /* A signal test needs Check's fork mode (not so under valgrind). */
    const char *fork_mode = getenv("CK_FORK");
    if (!fork_mode || strcmp(fork_mode, "no") != 0)
        tcase_add_test_raise_signal(tc, test_switch_with_await_aborts,
                                    SIGABRT);
#endif
    suite_add_tcase(s, tc);
    return s;
}
