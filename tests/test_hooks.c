/*
 * test_hooks.c -- a user's CO_ON_SUSPEND next to the kernel's own hook.
 *
 * The kernel records where each task suspends (co_task_where) through a
 * private hook of core/task.h; a program may define CO_ON_SUSPEND for its
 * own purposes before including curio.h.  Both must run: the user's hook
 * is not replaced, and co_task_where still works.
 */
#include <stdio.h>

/* Before curio.h, as macros/co.h says.  The function is declared below:
 * a macro expands where it is used, in the coroutine bodies. */
#define CO_ON_SUSPEND(task, where) user_hook((task), (where))

#include "curio.h"
#include "suites.h"

/* What the hook saw: every call, and the last one with the watched task
 * (tests reset these first: they also run without fork). */
static int hook_calls;
static const co_task *watched;
static int watched_calls;
static const char *watched_where;
static const char *watched_where_seen;  /* co_task_where inside the hook */

static void reset_hook_log(void)
{
    hook_calls = 0;
    watched = NULL;
    watched_calls = 0;
    watched_where = NULL;
    watched_where_seen = NULL;
}

static void user_hook(co_task *t, const char *where)
{
    hook_calls++;
    if (t && t == watched) {
        watched_calls++;
        watched_where = where;
        watched_where_seen = co_task_where(t);
    }
}

/* Waits for an event: one await, whose line it publishes. */
struct waiter_frame {
    co_frame co;
    co_event *ev;
    int line, rc;
};

static co_status waiter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    CO_BEGIN(t, f);
    f->line = __LINE__ + 1;
    CO_AWAIT(f->rc, co_event_wait(t, f->ev));
    CO_RETURN(f->rc);
    CO_END;
}

struct main_frame {
    co_frame co;
    co_event ev;
    co_task *child;
    struct waiter_frame w;
    char expect[256];
    int rc, result;
};

static co_status hooks_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.ev = &f->ev;
    ck_assert_int_gt(CO_SPAWN(t, &f->child, waiter, f->w), 0);
    watched = f->child;
    CO_AWAIT(f->rc, co_yield(t));      /* the child runs and blocks */
    ck_assert_int_eq(f->rc, 0);
    ck_assert_str_eq(co_task_state(f->child), "blocked");

    /* The user's hook ran for the child, at the await... */
    snprintf(f->expect, sizeof f->expect, "%s:%d", __FILE__,
             ((const struct waiter_frame *)co_task_frame(f->child))->line);
    ck_assert_int_eq(watched_calls, 1);
    ck_assert_ptr_nonnull(watched_where);
    ck_assert_str_eq(watched_where, f->expect);
    /* ...after the kernel's, which had already recorded the place... */
    ck_assert_ptr_nonnull(watched_where_seen);
    ck_assert_str_eq(watched_where_seen, f->expect);
    /* ...and the kernel's record is still there. */
    ck_assert_ptr_nonnull(co_task_where(f->child));
    ck_assert_str_eq(co_task_where(f->child), f->expect);

    ck_assert_int_eq(co_event_set(&f->ev), 0);
    CO_AWAIT(f->rc, co_task_join(t, f->child, &f->result));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->result, 0);
    /* the child's CO_RETURN is a hook call too */
    ck_assert_int_eq(watched_calls, 2);
    watched = NULL;                     /* joined: the handle is freed */
    CO_END;
}

START_TEST(test_user_suspend_hook_and_task_where)
{
    struct main_frame m = { .rc = 0 };

    reset_hook_log();
    ck_assert_int_eq(co_run(hooks_main, &m, sizeof m), 0);
    /* the main task's own yield and join suspended, and its child's await
     * and return: four calls at least */
    ck_assert_int_ge(hook_calls, 4);
}
END_TEST

Suite *hooks_suite(void)
{
    Suite *s = suite_create("hooks");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_user_suspend_hook_and_task_where);
    suite_add_tcase(s, tc);
    return s;
}
