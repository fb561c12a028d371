/*
 * test_task_sched.c -- the order tasks run in: spawning does not switch,
 * yield goes round robin, waking does not switch, wake_all is FIFO.
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

/* ------------------------------------------------------------ scheduling */

/* Spawns C and logs A: C is spawned mid-cycle and runs after the tasks
 * that were already ready. */
struct spawner_frame {
    co_frame co;
    struct task_leaf_frame c;
};

static co_status spawner(co_task *t, void *arg)
{
    struct spawner_frame *f = arg;
    CO_BEGIN(t, f);
    f->c.name = "C";
    ck_assert_int_gt(CO_SPAWN(t, NULL, task_leaf, f->c), 0);
    note("A");
    CO_END;
}

struct order_main_frame {
    co_frame co;
    co_task *a, *b;
    struct spawner_frame sa;
    struct task_leaf_frame lb;
    int rc;
};

static co_status order_main(co_task *t, void *arg)
{
    struct order_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, spawner, f->sa), 0);
    f->lb.name = "B";
    ck_assert_int_gt(CO_SPAWN(t, &f->b, task_leaf, f->lb), 0);
    note("M");
    /* spawning did not switch: nobody else has run */
    ck_assert_str_eq(lg, "M");
    ck_assert_str_eq(co_task_state(f->a), "ready");
    ck_assert_str_eq(co_task_state(f->b), "ready");
    ck_assert_str_eq(co_task_state(t), "running");
    ck_assert_ptr_eq(co_current_task(), t);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    note("M");
    CO_AWAIT(f->rc, co_yield(t));
    note("M");
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    CO_RETURN(5);
    CO_END;
}

START_TEST(test_spawn_does_not_switch)
{
    struct order_main_frame m = { 0 };
    ck_assert_ptr_null(co_current_task());
    ck_assert_ptr_null(co_current_kernel());
    ck_assert_int_eq(co_run(order_main, &m, sizeof m), 5);
    /* main yields behind A and B; C, spawned by A, runs after main */
    ck_assert_str_eq(lg, "M A B M C M");
    ck_assert_ptr_null(co_current_task());
}
END_TEST

struct three_main_frame {
    co_frame co;
    co_task *h[3];
    struct task_yielder_frame y;
    int i, rc;
};

static co_status three_main(co_task *t, void *arg)
{
    static const char *names[3] = { "A", "B", "C" };
    struct three_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        f->y.name = names[f->i];
        f->y.yields = 3;
        f->y.value = f->i;
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], task_yielder, f->y), 0);
    }
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, f->i);
    }
    CO_END;
}

START_TEST(test_yield_round_robin)
{
    struct three_main_frame m = { 0 };
    ck_assert_int_eq(co_run(three_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A B C A B C A B C");
}
END_TEST

/* Y wakes X and keeps running; X runs when Y yields. */
static co_task *wake_x;

struct wake_x_frame {
    co_frame co;
    int rc;
};

static co_status wake_x_fn(co_task *t, void *arg)
{
    struct wake_x_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &task_wq));
    note("X=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status wake_y_fn(co_task *t, void *arg)
{
    struct wake_x_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert(!co_waitq_empty(&task_wq));
    ck_assert_str_eq(co_task_state(wake_x), "blocked");
    note("Y1");
    ck_assert_ptr_eq(co_waitq_wake_one(&task_wq, 5), wake_x);
    ck_assert(co_waitq_empty(&task_wq));
    ck_assert_ptr_null(co_waitq_wake_one(&task_wq, 6));
    ck_assert_int_eq(co_wake(wake_x, 7), 0);    /* no longer blocked */
    note("Y2");
    CO_AWAIT(f->rc, co_yield(t));
    note("Y3");
    CO_END;
}

struct wake_main_frame {
    co_frame co;
    co_task *x, *y;
    struct wake_x_frame fx, fy;
    int rc;
};

static co_status wake_main(co_task *t, void *arg)
{
    struct wake_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->x, wake_x_fn, f->fx), 0);
    wake_x = f->x;
    ck_assert_int_gt(CO_SPAWN(t, &f->y, wake_y_fn, f->fy), 0);
    AWAIT_JOIN(f->rc, t, f->x);
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->y);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_wake_does_not_switch)
{
    struct wake_main_frame m = { 0 };
    ck_assert_int_eq(co_run(wake_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "Y1 Y2 X=5 Y3");
}
END_TEST

/* Two waiters woken by wake_all run oldest first, after the waker yields. */
struct wakeall_main_frame {
    co_frame co;
    co_task *h[3];
    struct task_waiter_frame w;
    int i, rc;
};

static co_status wakeall_main(co_task *t, void *arg)
{
    static const char *names[3] = { "W1", "W2", "W3" };
    struct wakeall_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        f->w.name = names[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], task_waiter, f->w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));       /* all three block */
    ck_assert_int_eq(co_waitq_wake_all(&task_wq, 8), 3);
    ck_assert_int_eq(co_waitq_wake_all(&task_wq, 9), 0);
    note("M");
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, 8);
    }
    CO_END;
}

START_TEST(test_wake_all_fifo)
{
    struct wakeall_main_frame m = { 0 };
    ck_assert_int_eq(co_run(wakeall_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "M W1=8 W2=8 W3=8");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *task_sched_suite(void)
{
    Suite *s = suite_create("task_sched");
    TCase *tc;

    tc = tcase_create("scheduling");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_spawn_does_not_switch);
    tcase_add_test(tc, test_yield_round_robin);
    tcase_add_test(tc, test_wake_does_not_switch);
    tcase_add_test(tc, test_wake_all_fifo);
    suite_add_tcase(s, tc);
    return s;
}
