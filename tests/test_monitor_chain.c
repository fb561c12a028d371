/*
 * test_monitor_chain.c -- co_task_await_chain from code: the levels of a
 * suspension, outermost first; a chain deeper than CO_AWAIT_CHAIN_MAX;
 * tracking off; bad arguments.
 */
#include <errno.h>
#include <string.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* A coroutine that awaits itself `depth` times, then waits on the event:
 * `depth` + 1 levels, every one named "nest". */
struct nest_frame {
    co_frame co;
    co_event *ev;
    int depth, rc;
    struct nest_frame *child;
};

const char *at_nest_call, *at_nest_wait;

static co_status nest(co_task *t, void *arg)
{
    struct nest_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->depth == 0) {
        at_nest_wait = CO_HERE; CO_AWAIT(f->rc, co_event_wait(t, f->ev));
        CO_RETURN(f->rc);
    }
    f->child = calloc(1, sizeof *f->child);
    ck_assert_ptr_nonnull(f->child);
    f->child->ev = f->ev;
    f->child->depth = f->depth - 1;
    at_nest_call = CO_HERE; CO_AWAIT_CALL(f->rc, nest, f->child);
    free(f->child);
    CO_RETURN(f->rc);
    CO_END;
}

struct ret_frame { co_frame co; int rc; struct nest_frame n; co_event *ev; };

struct chain_main_frame {
    co_frame co;
    co_event ev;
    co_task *a, *b, *c;
    int rc;
    struct nest_frame nf, nf20;     /* first frames of the tasks */
    struct ret_frame rf;
};

static co_status chain_main(co_task *t, void *arg)
{
    struct chain_main_frame *f = arg;
    co_kernel *k = co_current_kernel();
    co_await_site s[CO_AWAIT_CHAIN_MAX + 4];
    int more = -1, n;
    CO_BEGIN(t, f);
    f->nf = (struct nest_frame){ .ev = &f->ev, .depth = 2 };
    f->nf20 = (struct nest_frame){ .ev = &f->ev, .depth = 20 };
    /* untracked: one level, the place only */
    CO_SPAWN(t, &f->a, nest, f->nf);
    CO_YIELD();
    n = co_task_await_chain(f->a, s, CO_AWAIT_CHAIN_MAX, &more);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(more, 0);
    ck_assert_ptr_null(s[0].func);
    ck_assert_str_eq(s[0].where, at_nest_call);   /* the outermost await */

    ck_assert_int_eq(co_kernel_track_awaits(k, 1), 0);
    CO_SPAWN(t, &f->b, nest, f->nf);
    CO_SPAWN(t, &f->c, nest, f->nf20);
    CO_YIELD();
    n = co_task_await_chain(f->b, s, CO_AWAIT_CHAIN_MAX, &more);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(more, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(s[i].func, "nest");
    ck_assert_str_eq(s[0].where, at_nest_call);
    ck_assert_str_eq(s[1].where, at_nest_call);
    ck_assert_str_eq(s[2].where, at_nest_wait);
    /* fewer slots: the outermost ones */
    ck_assert_int_eq(co_task_await_chain(f->b, s, 2, NULL), 2);
    ck_assert_str_eq(s[1].where, at_nest_call);
    /* 21 levels: the outermost and the 15 innermost, 5 lost between */
    n = co_task_await_chain(f->c, s, CO_AWAIT_CHAIN_MAX + 4, &more);
    ck_assert_int_eq(n, CO_AWAIT_CHAIN_MAX);
    ck_assert_int_eq(more, 21 - CO_AWAIT_CHAIN_MAX);
    ck_assert_str_eq(s[0].where, at_nest_call);
    ck_assert_str_eq(s[n - 1].where, at_nest_wait);
    /* the task still untracked since keeps its one level */
    ck_assert_int_eq(co_task_await_chain(f->a, s, 4, NULL), 1);
    ck_assert_ptr_null(s[0].func);
    /* the running task and bad arguments */
    ck_assert_int_eq(co_task_await_chain(t, s, 4, NULL), 0);
    ck_assert_int_eq(co_task_await_chain(NULL, s, 4, NULL), -EINVAL);
    ck_assert_int_eq(co_task_await_chain(f->b, NULL, 4, NULL), -EINVAL);
    ck_assert_int_eq(co_task_await_chain(f->b, s, -1, NULL), -EINVAL);
    ck_assert_int_eq(co_task_await_chain(f->b, NULL, 0, NULL), 0);
    ck_assert_int_eq(co_kernel_track_awaits(NULL, 1), -EINVAL);
    /* off: the chains recorded are dropped */
    ck_assert_int_eq(co_kernel_track_awaits(k, 0), 0);
    ck_assert_int_eq(co_task_await_chain(f->b, s, 4, NULL), 1);
    ck_assert_ptr_null(s[0].func);
    co_event_set(&f->ev);
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_JOIN(f->rc, t, f->c);
    /* a finished task has none */
    CO_END;
}

START_TEST(test_await_chain_levels)
{
    struct chain_main_frame m = { 0 };
    log_reset();
    RUN(chain_main, m);
}
END_TEST

/* A frame's CO_RETURN records where it returned, but it is not a
 * suspension: the chain of the next suspension does not include it. */
static co_status returns_then_waits(co_task *t, void *arg)
{
    struct ret_frame *f = arg;
    CO_BEGIN(t, f);
    f->n.ev = NULL;
    f->n.depth = 0;
    CO_AWAIT_CALL(f->rc, nest, &f->n);     /* NULL event: returns at once */
    f->n.ev = f->ev;
    f->n.depth = 1;
    at_nest_call = NULL;
    CO_AWAIT_CALL(f->rc, nest, &f->n);
    CO_END;
}

static co_status return_main(co_task *t, void *arg)
{
    struct chain_main_frame *f = arg;
    co_await_site s[4];
    CO_BEGIN(t, f);
    co_kernel_track_awaits(co_current_kernel(), 1);
    f->rf.ev = &f->ev;
    CO_SPAWN(t, &f->a, returns_then_waits, f->rf);
    CO_YIELD();
    ck_assert_int_eq(co_task_await_chain(f->a, s, 4, NULL), 3);
    ck_assert_str_eq(s[0].func, "returns_then_waits");
    ck_assert_str_eq(s[1].func, "nest");
    ck_assert_str_eq(s[2].where, at_nest_wait);
    co_event_set(&f->ev);
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_await_chain_ignores_returns)
{
    struct chain_main_frame m = { 0 };
    RUN(return_main, m);
}
END_TEST

Suite *monitor_chain_suite(void)
{
    Suite *s = suite_create("monitor_chain");
    TCase *tc = tcase_create("chain");
    tcase_add_test(tc, test_await_chain_levels);
    tcase_add_test(tc, test_await_chain_ignores_returns);
    suite_add_tcase(s, tc);
    return s;
}
