/*
 * test_task_kernel.c -- the kernel API (a kernel made, run again, freed),
 * deadlock detection, one kernel per thread (a nested co_run is refused),
 * and shutdown: newest first, one task at a time, a cleanup that blocks
 * forever, the tasks it gives up on unlinked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "task_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ kernel API */

static co_kernel *api_kernel;
static co_task *prespawned;

struct api_main_frame {
    co_frame co;
    int rc, value;
};

static co_status api_nested_main(co_task *t, void *arg)
{
    struct api_main_frame *f = arg;
    CO_BEGIN(t, f);
    CO_END;
}

static co_status api_main(co_task *t, void *arg)
{
    struct api_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_ptr_eq(co_current_kernel(), api_kernel);
    /* the kernel is running: it cannot be run again from inside */
    ck_assert_int_eq(co_kernel_run(api_kernel, api_nested_main, f, sizeof *f),
                     -EBUSY);
    if (prespawned) {
        ck_assert_uint_eq(co_task_parent_id(prespawned), 0);
        ck_assert_str_eq(co_task_name(prespawned), "pre");
        AWAIT_JOIN(f->rc, t, prespawned);
        ck_assert_int_eq(f->rc, 12);
        prespawned = NULL;
    }
    note("main%d", f->value);
    CO_RETURN(f->value);
    CO_END;
}

START_TEST(test_kernel_api)
{
    struct api_main_frame m = { 0 };
    struct task_leaf_frame lf = { .name = "pre", .value = 12 };
    co_spawn_opts opts = { .name = "pre" };

    ck_assert_int_eq(co_run(NULL, &m, sizeof m), -EINVAL);
    ck_assert_int_eq(co_run(api_main, &m, sizeof(co_frame) - 1), -EINVAL);

    api_kernel = co_kernel_new();
    ck_assert_ptr_nonnull(api_kernel);
    ck_assert_int_eq(co_kernel_spawn(api_kernel, &prespawned, NULL, &lf,
                                     sizeof lf, &opts), -EINVAL);
    ck_assert_int_gt(co_kernel_spawn(api_kernel, &prespawned, task_leaf, &lf,
                                     sizeof lf, &opts), 0);
    ck_assert_int_eq(co_kernel_run(api_kernel, NULL, &m, sizeof m), -EINVAL);
    m.value = 31;
    ck_assert_int_eq(co_kernel_run(api_kernel, api_main, &m, sizeof m), 31);
    ck_assert_ptr_null(prespawned);
    ck_assert_ptr_null(co_current_kernel());
    ck_assert_ptr_nonnull(co_kernel_loop(api_kernel));
    co_kernel_free(api_kernel);
    api_kernel = NULL;
    ck_assert_str_eq(lg, "pre main31");
}
END_TEST

/* co_kernel_spawn works "before or between runs", and only a kernel that is
 * running now refuses co_kernel_run: a kernel can be run again. */
START_TEST(test_kernel_runs_again)
{
    struct api_main_frame m = { .value = 1 };
    struct task_leaf_frame lf = { .name = "pre", .value = 12 };
    co_spawn_opts opts = { .name = "pre" };

    api_kernel = co_kernel_new();
    ck_assert_ptr_nonnull(api_kernel);
    ck_assert_int_eq(co_kernel_run(api_kernel, api_main, &m, sizeof m), 1);
    /* between runs */
    ck_assert_int_gt(co_kernel_spawn(api_kernel, &prespawned, task_leaf, &lf,
                                     sizeof lf, &opts), 0);
    m.value = -EIO;
    ck_assert_int_eq(co_kernel_run(api_kernel, api_main, &m, sizeof m), -EIO);
    ck_assert_ptr_null(prespawned);
    co_kernel_free(api_kernel);
    api_kernel = NULL;
    ck_assert_str_eq(lg, "main1 pre main-5");
}
END_TEST

/* ------------------------------------------------------------ shutdown */

struct shutdown_main_frame {
    co_frame co;
    co_task *h;
    struct task_waiter_frame w;
    co_spawn_opts opts;
    int rc;
};

static co_status shutdown_main(co_task *t, void *arg)
{
    struct shutdown_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.name = "D1";
    f->opts.flags = CO_DAEMON;
    ck_assert_int_gt(co_spawn(t, NULL, task_waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    f->w.name = "T2";
    ck_assert_int_gt(CO_SPAWN(t, NULL, task_waiter, f->w), 0);
    f->w.name = "D3";
    ck_assert_int_gt(co_spawn(t, NULL, task_waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    f->w.name = "X4";
    f->opts.flags = CO_DETACHED;
    ck_assert_int_gt(co_spawn(t, NULL, task_waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    CO_AWAIT(f->rc, co_yield(t));       /* every task blocks */
    note("main");
    CO_RETURN(7);
    CO_FINALLY;
    note("main-fin");
    CO_END;
}

START_TEST(test_shutdown_cancels_newest_first)
{
    struct shutdown_main_frame m = { 0 };
    ck_assert_int_eq(co_run(shutdown_main, &m, sizeof m), 7);
    ck_assert_str_eq(lg, "main main-fin X4=CANCEL D3=CANCEL T2=CANCEL "
                         "D1=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ deadlock */

struct deadlock_main_frame {
    co_frame co;
    co_task *x;
    struct task_waiter_frame w;
    int rc;
};

static co_status deadlock_main(co_task *t, void *arg)
{
    struct deadlock_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.name = "X";
    ck_assert_int_gt(CO_SPAWN(t, &f->x, task_waiter, f->w), 0);
    AWAIT_JOIN(f->rc, t, f->x);
    note("join=%s", rcs(f->rc));
    CO_RETURN(f->rc == -ECANCELED ? 55 : 66);
    CO_FINALLY;
    note("main-fin");
    CO_END;
}

START_TEST(test_deadlock_detected)
{
    struct deadlock_main_frame m = { 0 };
    ck_assert_int_eq(co_run(deadlock_main, &m, sizeof m), -EDEADLK);
    /* every task was cancelled and ran its cleanup */
    ck_assert_msg(strstr(lg, "X=CANCEL") != NULL, "log: %s", lg);
    ck_assert_msg(strstr(lg, "join=CANCEL") != NULL, "log: %s", lg);
    ck_assert_msg(strstr(lg, "main-fin") != NULL, "log: %s", lg);
}
END_TEST

/* A task that ignores cancellation and waits on an object that outlives
 * the kernel (a global event): shutdown gives up on it and frees it -- but
 * first takes it out of the event's queue, so that setting the event
 * later does not touch freed memory (it used to). */
static co_event outlives_kernel;

struct stubborn_frame {
    co_frame co;
    int rc;
};

static co_status stubborn(co_task *t, void *arg)
{
    struct stubborn_frame *f = arg;
    CO_BEGIN(t, f);
    co_disable_cancellation(t);
    CO_AWAIT(f->rc, co_event_wait(t, &outlives_kernel));
    note("stubborn woke");         /* never: it is given up on */
    CO_END;
}

struct leaves_stubborn_frame {
    co_frame co;
    co_task *s;
    int rc;
};

static co_status leaves_stubborn(co_task *t, void *arg)
{
    struct leaves_stubborn_frame *f = arg;
    struct stubborn_frame s = { .rc = 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->s, stubborn, s), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* it waits */
    CO_RETURN(3);
    CO_END;
}

START_TEST(test_shutdown_unlinks_tasks_it_gives_up_on)
{
    outlives_kernel = (co_event){ .priv.set = 0 };
    struct leaves_stubborn_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(leaves_stubborn, &m, sizeof m), 3);
    ck_assert(co_waitq_empty(&outlives_kernel.priv.waiters));
    ck_assert_int_eq(co_event_set(&outlives_kernel), 0);
    /* and the next kernel starts clean */
    outlives_kernel = (co_event){ .priv.set = 0 };
    ck_assert_int_eq(co_run(leaves_stubborn, &m, sizeof m), 3);
    ck_assert(co_waitq_empty(&outlives_kernel.priv.waiters));
    ck_assert_str_eq(lg, "");
}
END_TEST

/* One kernel per thread, as in Curio: from inside a task, co_run and
 * co_kernel_run (another kernel, or this one) return -EBUSY at once and
 * the running kernel goes on.  Before this rule a nested kernel ran to its
 * end with the outer one frozen: the sleeper below would not have run
 * before the nested main, which waits for it. */
struct nested_main_frame {
    co_frame co;
    co_task *h;
    struct task_yielder_frame y;
    int rc;
};

static int nested_inner_ran;

static co_status nested_inner(co_task *t, void *arg)
{
    struct api_main_frame *f = arg;
    CO_BEGIN(t, f);
    nested_inner_ran = 1;
    CO_END;
}

static co_status nested_main(co_task *t, void *arg)
{
    struct nested_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->y.name = "other";
    f->y.yields = 1;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_yielder, f->y), 0);
    {
        struct api_main_frame m = { 0 };
        co_kernel *k = co_kernel_new();
        ck_assert_ptr_nonnull(k);
        ck_assert_int_eq(co_run(nested_inner, &m, sizeof m), -EBUSY);
        ck_assert_int_eq(co_kernel_run(k, nested_inner, &m, sizeof m),
                         -EBUSY);
        ck_assert_int_eq(co_kernel_advance(k, 0), -EBUSY);
        ck_assert_int_eq(co_kernel_shutdown(k), -EBUSY);
        co_kernel_free(k);
    }
    ck_assert_int_eq(nested_inner_ran, 0);
    note("main");
    AWAIT_JOIN(f->rc, t, f->h);      /* the outer kernel still runs */
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_nested_run_is_refused)
{
    struct nested_main_frame m = { 0 };
    nested_inner_ran = 0;
    ck_assert_int_eq(co_run(nested_main, &m, sizeof m), 0);
    ck_assert_int_eq(nested_inner_ran, 0);
    ck_assert_str_eq(lg, "main other");
    ck_assert_ptr_null(co_current_kernel());
    /* and outside any task it works again */
    struct api_main_frame am = { 0 };
    ck_assert_int_eq(co_run(nested_inner, &am, sizeof am), 0);
    ck_assert_int_eq(nested_inner_ran, 1);
}
END_TEST

/* Shutdown, one task at a time: a task whose cleanup blocks (in a region
 * where cancellation is disabled) finishes it before the next older task
 * is cancelled, and the older tasks keep running normally meanwhile: the
 * consumer still receives what the newest task's cleanup sends it.  A
 * task spawned but never run is the newest, so it goes first. */
struct slow_cleaner_frame {
    co_frame co;
    const char *name;
    co_event *announce;     /* set in cleanup, if not NULL */
    int rc;
};

static co_status slow_cleaner(co_task *t, void *arg)
{
    struct slow_cleaner_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s:start", f->name);
    CO_AWAIT(f->rc, wait_on(t, &task_wq));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("%s=%s", f->name, rcs(CO_RESULT()));
    co_disable_cancellation(t);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));    /* cleanup that takes a while */
    if (f->announce)
        co_event_set(f->announce);
    co_enable_cancellation(t);
    note("%s:clean", f->name);
    CO_END;
}

struct listener_frame {
    co_frame co;
    co_event *ev;
    int rc;
};

/* Waits for the event; logs how the wait ended. */
static co_status listener(co_task *t, void *arg)
{
    struct listener_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_event_wait(t, f->ev));
    note("heard=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("listener:end");
    CO_END;
}

struct order_shutdown_frame {
    co_frame co;
    co_event ev;
    struct listener_frame l;
    struct slow_cleaner_frame c;
    int rc;
};

static co_status order_shutdown_main(co_task *t, void *arg)
{
    struct order_shutdown_frame *f = arg;
    CO_BEGIN(t, f);
    f->l.ev = &f->ev;
    ck_assert_int_gt(CO_SPAWN(t, NULL, listener, f->l), 0);
    f->c.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, NULL, slow_cleaner, f->c), 0);
    f->c.name = "B";
    f->c.announce = &f->ev;
    ck_assert_int_gt(CO_SPAWN(t, NULL, slow_cleaner, f->c), 0);
    CO_AWAIT(f->rc, co_yield(t));      /* listener, A and B block */
    f->c.name = "N";                   /* spawned, never run */
    f->c.announce = NULL;
    ck_assert_int_gt(CO_SPAWN(t, NULL, slow_cleaner, f->c), 0);
    note("main");
    CO_END;
}

START_TEST(test_shutdown_one_task_at_a_time)
{
    struct order_shutdown_frame m = { 0 };
    ck_assert_int_eq(co_run(order_shutdown_main, &m, sizeof m), 0);
    /* Cancelled all at once, A and the listener would be cancelled while
     * N and B still clean up: "A=CANCEL" and "listener:end" early, and the
     * listener would never hear B's event. */
    ck_assert_str_eq(lg, "A:start B:start main "
                         "N:start N=CANCEL N:clean "
                         "B=CANCEL B:clean heard=0 listener:end "
                         "A=CANCEL A:clean");
}
END_TEST

/* A task's cleanup that blocks forever on an older task that will never
 * help is a deadlock: the tasks left are then cancelled all at once, and
 * the run still ends (with main's result). */
struct stuck_cleaner_frame {
    co_frame co;
    int rc;
};

static co_status stuck_cleaner(co_task *t, void *arg)
{
    struct stuck_cleaner_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &task_wq));
    CO_FINALLY;
    co_disable_cancellation(t);
    note("stuck");
    CO_AWAIT(f->rc, wait_on(t, &task_wq));       /* nobody will wake it ... */
    co_enable_cancellation(t);
    note("unstuck=%s", rcs(f->rc));
    CO_END;
}

struct stuck_shutdown_frame {
    co_frame co;
    struct task_waiter_frame w;
    struct stuck_cleaner_frame s;
};

static co_status stuck_shutdown_main(co_task *t, void *arg)
{
    struct stuck_shutdown_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.name = "old";
    ck_assert_int_gt(CO_SPAWN(t, NULL, task_waiter, f->w), 0);
    ck_assert_int_gt(CO_SPAWN(t, NULL, stuck_cleaner, f->s), 0);
    CO_AWAIT(f->w.rc, co_yield(t));
    CO_RETURN(5);
    CO_END;
}

START_TEST(test_shutdown_deadlock_cancels_the_rest)
{
    struct stuck_shutdown_frame m = { 0 };
    int rc = run_capturing_stderr(stuck_shutdown_main, &m, sizeof m);
    /* ... until the deadlock cancels the old task_waiter, whose cleanup runs;
     * the stuck one is given up on (it ignores cancellation). */
    ck_assert_int_eq(rc, 5);
    ck_assert_str_eq(lg, "stuck old=CANCEL");
    ck_assert_ptr_nonnull(strstr(captured, "deadlock"));
    ck_assert_ptr_nonnull(strstr(captured, "never finished"));
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *task_kernel_suite(void)
{
    Suite *s = suite_create("task_kernel");
    TCase *tc;

    tc = tcase_create("kernel");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_kernel_api);
    tcase_add_test(tc, test_kernel_runs_again);
    tcase_add_test(tc, test_shutdown_cancels_newest_first);
    tcase_add_test(tc, test_shutdown_one_task_at_a_time);
    tcase_add_test(tc, test_shutdown_deadlock_cancels_the_rest);
    tcase_add_test(tc, test_nested_run_is_refused);
    tcase_add_test(tc, test_deadlock_detected);
    tcase_add_test(tc, test_shutdown_unlinks_tasks_it_gives_up_on);
    suite_add_tcase(s, tc);
    return s;
}
