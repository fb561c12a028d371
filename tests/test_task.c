/*
 * test_task.c -- tasks: scheduling order, spawn, identity, join and wait,
 * detached and caller-stored tasks, the kernel API, shutdown, crash reports,
 * deadlock detection, many tasks.
 *
 * Scenarios record their events in `lg` and assert the exact sequence; the
 * order of events is decided by the scheduler, never by sleeps.
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
#include "suites.h"

/* ------------------------------------------------------------ the log */

static co_waitq wq;     /* shared by scenarios; initialised in setup */

static void setup(void)
{
    log_reset();
    co_waitq_init(&wq);
}

/* ------------------------------------------------------------ small tasks */

/* Logs its name and returns `value`. */
struct leaf_frame {
    co_frame co;
    const char *name;
    int value;
};

static co_status leaf(co_task *t, void *arg)
{
    struct leaf_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->name) note("%s", f->name);
    CO_RETURN(f->value);
    CO_END;
}

/* Yields `yields` times, then returns `value`. */
struct yielder_frame {
    co_frame co;
    const char *name;   /* logged before every yield, if set */
    int yields, i, value, rc;
};

static co_status yielder(co_task *t, void *arg)
{
    struct yielder_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->yields; f->i++) {
        if (f->name) note("%s", f->name);
        CO_AWAIT(f->rc, co_yield(t));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_RETURN(f->value);
    CO_END;
}

/* Blocks on `wq` until woken, then returns the wake value; logs
 * "<name>=<rc>" in its cleanup. */
struct waiter_frame {
    co_frame co;
    const char *name;
    int rc;
};

static co_status waiter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &wq));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->name) note("%s=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}

/* ------------------------------------------------------------ scheduling */

/* Spawns C and logs A: C is spawned mid-cycle and runs after the tasks
 * that were already ready. */
struct spawner_frame {
    co_frame co;
    struct leaf_frame c;
};

static co_status spawner(co_task *t, void *arg)
{
    struct spawner_frame *f = arg;
    CO_BEGIN(t, f);
    f->c.name = "C";
    ck_assert_int_gt(CO_SPAWN(t, NULL, leaf, f->c), 0);
    note("A");
    CO_END;
}

struct order_main_frame {
    co_frame co;
    co_task *a, *b;
    struct spawner_frame sa;
    struct leaf_frame lb;
    int rc;
};

static co_status order_main(co_task *t, void *arg)
{
    struct order_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, spawner, f->sa), 0);
    f->lb.name = "B";
    ck_assert_int_gt(CO_SPAWN(t, &f->b, leaf, f->lb), 0);
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
    struct yielder_frame y;
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
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], yielder, f->y), 0);
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
    CO_AWAIT(f->rc, wait_on(t, &wq));
    note("X=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status wake_y_fn(co_task *t, void *arg)
{
    struct wake_x_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert(!co_waitq_empty(&wq));
    ck_assert_str_eq(co_task_state(wake_x), "blocked");
    note("Y1");
    ck_assert_ptr_eq(co_waitq_wake_one(&wq, 5), wake_x);
    ck_assert(co_waitq_empty(&wq));
    ck_assert_ptr_null(co_waitq_wake_one(&wq, 6));
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
    struct waiter_frame w;
    int i, rc;
};

static co_status wakeall_main(co_task *t, void *arg)
{
    static const char *names[3] = { "W1", "W2", "W3" };
    struct wakeall_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        f->w.name = names[f->i];
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], waiter, f->w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));       /* all three block */
    ck_assert_int_eq(co_waitq_wake_all(&wq, 8), 3);
    ck_assert_int_eq(co_waitq_wake_all(&wq, 9), 0);
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

/* ------------------------------------------------------------ identity */

static uint32_t probe_child_id, probe_grandchild_parent;

struct probe_frame {
    co_frame co;
    co_task *gc;
    struct leaf_frame lf;
    int rc;
};

static co_status parent_probe(co_task *t, void *arg)
{
    struct probe_frame *f = arg;
    CO_BEGIN(t, f);
    probe_child_id = co_task_id(t);
    ck_assert_int_gt(CO_SPAWN(t, &f->gc, leaf, f->lf), 0);
    probe_grandchild_parent = co_task_parent_id(f->gc);
    AWAIT_JOIN(f->rc, t, f->gc);
    CO_END;
}

struct ident_main_frame {
    co_frame co;
    co_task *h[6];
    int id[6];
    struct leaf_frame lf;
    struct probe_frame pf;
    co_spawn_opts opts;
    int i, rc;
};

static co_status ident_main(co_task *t, void *arg)
{
    struct ident_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_ptr_eq(co_current_task(), t);
    ck_assert_ptr_nonnull(co_current_kernel());
    ck_assert_uint_gt(co_task_id(t), 0);
    ck_assert_uint_eq(co_task_parent_id(t), 0);     /* spawned from outside */
    ck_assert(!co_task_done(t));
    ck_assert(!co_task_cancelled(t));
    ck_assert_str_eq(co_task_state(t), "running");
    ck_assert_ptr_eq(co_task_frame(t), f);

    /* CO_SPAWN names the task after its function */
    f->lf.value = 17;
    f->id[0] = CO_SPAWN(t, &f->h[0], leaf, f->lf);
    /* explicit name */
    f->opts.name = "custom";
    f->id[1] = co_spawn(t, &f->h[1], leaf, &f->lf, sizeof f->lf, &f->opts);
    /* no name, and no opts at all: "task" */
    f->opts.name = NULL;
    f->id[2] = co_spawn(t, &f->h[2], leaf, &f->lf, sizeof f->lf, &f->opts);
    f->id[3] = co_spawn(t, &f->h[3], leaf, &f->lf, sizeof f->lf, NULL);
    f->opts.flags = CO_DAEMON;
    f->id[4] = co_spawn(t, &f->h[4], leaf, &f->lf, sizeof f->lf, &f->opts);
    f->id[5] = CO_SPAWN(t, &f->h[5], parent_probe, f->pf);

    for (f->i = 0; f->i < 6; f->i++) {
        ck_assert_int_gt(f->id[f->i], 0);
        ck_assert_ptr_nonnull(f->h[f->i]);
        ck_assert_uint_eq(co_task_id(f->h[f->i]), (uint32_t)f->id[f->i]);
        ck_assert_uint_eq(co_task_parent_id(f->h[f->i]), co_task_id(t));
        ck_assert_str_eq(co_task_state(f->h[f->i]), "ready");
        ck_assert_ptr_null(co_task_where(f->h[f->i]));  /* not run yet */
        if (f->i) ck_assert_int_gt(f->id[f->i], f->id[f->i - 1]);
    }
    ck_assert_int_gt(f->id[0], (int)co_task_id(t));
    ck_assert_str_eq(co_task_name(f->h[0]), "leaf");
    ck_assert_str_eq(co_task_name(f->h[1]), "custom");
    ck_assert_str_eq(co_task_name(f->h[2]), "task");
    ck_assert_str_eq(co_task_name(f->h[3]), "task");
    ck_assert_str_eq(co_task_name(f->h[5]), "parent_probe");
    ck_assert(!co_task_daemon(f->h[0]));
    ck_assert(co_task_daemon(f->h[4]));

    /* each task runs on its own copy of the frame */
    ck_assert_ptr_ne(co_task_frame(f->h[0]), &f->lf);
    ck_assert_int_eq(((struct leaf_frame *)co_task_frame(f->h[0]))->value, 17);
    f->lf.value = 99;       /* the caller's copy may be reused */
    ck_assert_int_eq(((struct leaf_frame *)co_task_frame(f->h[1]))->value, 17);

    for (f->i = 0; f->i < 6; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, f->i == 5 ? 0 : 17);
    }
    ck_assert_uint_gt(probe_child_id, 0);
    ck_assert_uint_eq(probe_grandchild_parent, probe_child_id);
    CO_END;
}

START_TEST(test_ids_names_parents)
{
    struct ident_main_frame m = { 0 };
    ck_assert_int_eq(co_run(ident_main, &m, sizeof m), 0);
}
END_TEST

struct where_main_frame {
    co_frame co;
    co_task *x;
    struct waiter_frame w;
    const char *where;
    int rc;
};

static co_status where_main(co_task *t, void *arg)
{
    struct where_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->x, waiter, f->w), 0);
    ck_assert_ptr_null(co_task_where(f->x));
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->x), "blocked");
    f->where = co_task_where(f->x);
    ck_assert_ptr_nonnull(f->where);
    ck_assert_msg(strstr(f->where, "test_task.c:") != NULL,
                  "where = \"%s\"", f->where);
    ck_assert_ptr_nonnull(co_waitq_wake_one(&wq, 3));
    ck_assert_str_eq(co_task_state(f->x), "ready");
    CO_AWAIT(f->rc, co_task_wait(t, f->x));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_str_eq(co_task_state(f->x), "done");
    AWAIT_JOIN(f->rc, t, f->x);
    ck_assert_int_eq(f->rc, 3);
    CO_END;
}

START_TEST(test_task_where_and_state)
{
    struct where_main_frame m = { 0 };
    ck_assert_int_eq(co_run(where_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ join, wait */

struct join_main_frame {
    co_frame co;
    co_task *h;
    struct yielder_frame y;
    struct leaf_frame lf;
    int rc;
};

static co_status join_main(co_task *t, void *arg)
{
    struct join_main_frame *f = arg;
    CO_BEGIN(t, f);
    /* a task that is still running when joined */
    f->y.yields = 2;
    f->y.value = 42;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, yielder, f->y), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 42);
    /* a failing task: join returns its negative errno */
    f->y.value = -EIO;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, yielder, f->y), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -EIO);
    /* a task that finished before the join */
    f->lf.value = 7;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, leaf, f->lf), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert(co_task_done(f->h));
    ck_assert_str_eq(co_task_state(f->h), "done");
    ck_assert_int_eq(co_task_result(f->h), 7);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 7);
    CO_RETURN(1);
    CO_END;
}

START_TEST(test_join_results)
{
    struct join_main_frame m = { 0 };
    ck_assert_int_eq(co_run(join_main, &m, sizeof m), 1);
}
END_TEST

static co_task *joined_target;
static int joiner_got[2];

struct joiner_frame {
    co_frame co;
    int idx, rc;
};

static co_status joiner(co_task *t, void *arg)
{
    struct joiner_frame *f = arg;
    CO_BEGIN(t, f);
    AWAIT_JOIN(f->rc, t, joined_target);
    joiner_got[f->idx] = f->rc;
    note("J%d=%s", f->idx, rcs(f->rc));
    CO_RETURN(f->idx + 100);
    CO_END;
}

struct twojoin_main_frame {
    co_frame co;
    co_task *x, *j[2];
    struct yielder_frame y;
    struct joiner_frame jf;
    int rc;
};

static co_status twojoin_main(co_task *t, void *arg)
{
    struct twojoin_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->y.yields = 3;
    f->y.value = 11;
    ck_assert_int_gt(CO_SPAWN(t, &f->x, yielder, f->y), 0);
    joined_target = f->x;
    f->jf.idx = 0;
    ck_assert_int_gt(CO_SPAWN(t, &f->j[0], joiner, f->jf), 0);
    f->jf.idx = 1;
    ck_assert_int_gt(CO_SPAWN(t, &f->j[1], joiner, f->jf), 0);
    AWAIT_JOIN(f->rc, t, f->j[0]);
    ck_assert_int_eq(f->rc, 100);
    AWAIT_JOIN(f->rc, t, f->j[1]);
    ck_assert_int_eq(f->rc, 101);
    CO_END;
}

START_TEST(test_two_joiners)
{
    struct twojoin_main_frame m = { 0 };
    joiner_got[0] = joiner_got[1] = 0;
    ck_assert_int_eq(co_run(twojoin_main, &m, sizeof m), 0);
    ck_assert_int_eq(joiner_got[0], 11);
    ck_assert_int_eq(joiner_got[1], 11);
    ck_assert_str_eq(lg, "J0=11 J1=11");
}
END_TEST

struct waitjoin_main_frame {
    co_frame co;
    co_task *h;
    struct yielder_frame y;
    int rc;
};

static co_status waitjoin_main(co_task *t, void *arg)
{
    struct waitjoin_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->y.yields = 2;
    f->y.value = 3;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, yielder, f->y), 0);
    ck_assert(!co_task_done(f->h));
    ck_assert_int_eq(co_task_result(f->h), -EINVAL);    /* not finished */
    CO_AWAIT(f->rc, co_task_wait(t, f->h));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(co_task_done(f->h));
    ck_assert_str_eq(co_task_state(f->h), "done");
    ck_assert_int_eq(co_task_result(f->h), 3);
    /* waiting again on a finished task returns at once; the handle stays */
    CO_AWAIT(f->rc, co_task_wait(t, f->h));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_task_result(f->h), 3);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 3);
    CO_END;
}

START_TEST(test_wait_then_result_then_join)
{
    struct waitjoin_main_frame m = { 0 };
    ck_assert_int_eq(co_run(waitjoin_main, &m, sizeof m), 0);
}
END_TEST

struct badjoin_main_frame {
    co_frame co;
    int rc;
};

static co_status badjoin_main(co_task *t, void *arg)
{
    struct badjoin_main_frame *f = arg;
    CO_BEGIN(t, f);
    AWAIT_JOIN(f->rc, t, t);
    ck_assert_int_eq(f->rc, -EDEADLK);
    AWAIT_JOIN(f->rc, t, NULL);
    ck_assert_int_eq(f->rc, -EINVAL);
    /* the task is not harmed by the refused calls */
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(!co_task_cancelled(t));
    CO_RETURN(4);
    CO_END;
}

START_TEST(test_join_self_and_null)
{
    struct badjoin_main_frame m = { 0 };
    ck_assert_int_eq(co_run(badjoin_main, &m, sizeof m), 4);
}
END_TEST

/* A zeroed frame (frame == NULL) really is zeroed. */
struct zero_frame {
    co_frame co;
    int a, b;
    const char *p;
};

static co_status zero_check(co_task *t, void *arg)
{
    struct zero_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(f->a, 0);
    ck_assert_int_eq(f->b, 0);
    ck_assert_ptr_null(f->p);
    CO_RETURN(3);
    CO_END;
}

/* A frame that is only the header. */
struct bare_frame {
    co_frame co;
};

static co_status bare(co_task *t, void *arg)
{
    struct bare_frame *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(9);
    CO_END;
}

struct badspawn_main_frame {
    co_frame co;
    co_task *h;
    struct leaf_frame lf;
    co_spawn_opts opts;
    int rc;
};

static _Alignas(max_align_t) unsigned char small_storage[sizeof(co_task)];

static co_status badspawn_main(co_task *t, void *arg)
{
    struct badspawn_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->h = NULL;
    ck_assert_int_eq(co_spawn(t, &f->h, NULL, &f->lf, sizeof f->lf, NULL),
                     -EINVAL);
    ck_assert_int_eq(co_spawn(t, &f->h, leaf, &f->lf, sizeof(co_frame) - 1,
                              NULL), -EINVAL);
    ck_assert_int_eq(co_spawn(t, &f->h, leaf, &f->lf, 0, NULL), -EINVAL);
    /* caller storage too small for header + frame */
    f->opts.storage = small_storage;
    f->opts.storage_size = sizeof small_storage;
    ck_assert_int_eq(co_spawn(t, &f->h, leaf, &f->lf, sizeof f->lf, &f->opts),
                     -EINVAL);
    ck_assert_ptr_null(f->h);
    /* the smallest frame is fine, and NULL means a zeroed frame */
    ck_assert_int_gt(co_spawn(t, &f->h, zero_check, NULL,
                              sizeof(struct zero_frame), NULL), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 3);
    ck_assert_int_gt(co_spawn(t, &f->h, bare, NULL, sizeof(co_frame), NULL),
                     0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 9);
    CO_END;
}

START_TEST(test_spawn_bad_args)
{
    struct badspawn_main_frame m = { 0 };
    ck_assert_int_eq(co_run(badspawn_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ detached */

struct detach_main_frame {
    co_frame co;
    co_task *h;
    struct leaf_frame lf;
    struct yielder_frame y;
    co_spawn_opts opts;
    int rc;
};

static co_status detach_main(co_task *t, void *arg)
{
    struct detach_main_frame *f = arg;
    CO_BEGIN(t, f);
    /* spawned detached: cannot be joined (nor detached again) */
    f->opts.name = "det";
    f->opts.flags = CO_DETACHED;
    f->y.name = "D";
    f->y.yields = 2;
    ck_assert_int_gt(co_spawn(t, &f->h, yielder, &f->y, sizeof f->y,
                              &f->opts), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_task_detach(f->h), -EINVAL);
    note("M");
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_yield(t));
    /* the detached task has ended (and been freed): do not touch f->h */
    note("M");

    /* detached later, while alive */
    f->lf.name = "L";
    ck_assert_int_gt(CO_SPAWN(t, &f->h, leaf, f->lf), 0);
    ck_assert_int_eq(co_task_detach(f->h), 0);
    ck_assert_int_eq(co_task_detach(f->h), -EINVAL);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_yield(t));

    /* detached after it ended: freed at once */
    f->lf.name = "E";
    ck_assert_int_gt(CO_SPAWN(t, &f->h, leaf, f->lf), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert(co_task_done(f->h));
    ck_assert_int_eq(co_task_detach(f->h), 0);

    ck_assert_int_eq(co_task_detach(NULL), -EINVAL);
    note("M");
    CO_END;
}

START_TEST(test_detached)
{
    struct detach_main_frame m = { 0 };
    ck_assert_int_eq(co_run(detach_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "M D D M L E M");
}
END_TEST

/* ------------------------------------------------------------ storage */

static _Alignas(max_align_t) unsigned char
    task_storage[CO_TASK_STORAGE(sizeof(struct yielder_frame))];

struct storage_main_frame {
    co_frame co;
    co_task *h;
    struct yielder_frame y;
    co_spawn_opts opts;
    int rc, round;
};

static co_status storage_main(co_task *t, void *arg)
{
    struct storage_main_frame *f = arg;
    CO_BEGIN(t, f);
    /* the same storage serves one task after another */
    for (f->round = 0; f->round < 2; f->round++) {
        f->opts.name = "stored";
        f->opts.storage = task_storage;
        f->opts.storage_size = sizeof task_storage;
        f->y.yields = 2;
        f->y.value = 20 + f->round;
        ck_assert_int_gt(co_spawn(t, &f->h, yielder, &f->y, sizeof f->y,
                                  &f->opts), 0);
        ck_assert((unsigned char *)f->h >= task_storage);
        ck_assert((unsigned char *)f->h < task_storage + sizeof task_storage);
        ck_assert((unsigned char *)co_task_frame(f->h) >= task_storage);
        ck_assert((unsigned char *)co_task_frame(f->h) + sizeof f->y <=
                  task_storage + sizeof task_storage);
        ck_assert_str_eq(co_task_name(f->h), "stored");
        AWAIT_JOIN(f->rc, t, f->h);
        ck_assert_int_eq(f->rc, 20 + f->round);
    }
    CO_END;
}

START_TEST(test_caller_storage)
{
    struct storage_main_frame m = { 0 };
    ck_assert_int_eq(co_run(storage_main, &m, sizeof m), 0);
}
END_TEST

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
    struct leaf_frame lf = { .name = "pre", .value = 12 };
    co_spawn_opts opts = { .name = "pre" };

    ck_assert_int_eq(co_run(NULL, &m, sizeof m), -EINVAL);
    ck_assert_int_eq(co_run(api_main, &m, sizeof(co_frame) - 1), -EINVAL);

    api_kernel = co_kernel_new();
    ck_assert_ptr_nonnull(api_kernel);
    ck_assert_int_eq(co_kernel_spawn(api_kernel, &prespawned, NULL, &lf,
                                     sizeof lf, &opts), -EINVAL);
    ck_assert_int_gt(co_kernel_spawn(api_kernel, &prespawned, leaf, &lf,
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
    struct leaf_frame lf = { .name = "pre", .value = 12 };
    co_spawn_opts opts = { .name = "pre" };

    api_kernel = co_kernel_new();
    ck_assert_ptr_nonnull(api_kernel);
    ck_assert_int_eq(co_kernel_run(api_kernel, api_main, &m, sizeof m), 1);
    /* between runs */
    ck_assert_int_gt(co_kernel_spawn(api_kernel, &prespawned, leaf, &lf,
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
    struct waiter_frame w;
    co_spawn_opts opts;
    int rc;
};

static co_status shutdown_main(co_task *t, void *arg)
{
    struct shutdown_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.name = "D1";
    f->opts.flags = CO_DAEMON;
    ck_assert_int_gt(co_spawn(t, NULL, waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    f->w.name = "T2";
    ck_assert_int_gt(CO_SPAWN(t, NULL, waiter, f->w), 0);
    f->w.name = "D3";
    ck_assert_int_gt(co_spawn(t, NULL, waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    f->w.name = "X4";
    f->opts.flags = CO_DETACHED;
    ck_assert_int_gt(co_spawn(t, NULL, waiter, &f->w, sizeof f->w, &f->opts),
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

/* ------------------------------------------------------------ crash report */

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

struct crash_main_frame {
    co_frame co;
    co_task *h;
    struct leaf_frame lf;
    co_spawn_opts opts;
    int rc, mode;
};

enum { CRASH_UNJOINED, CRASH_DAEMON, CRASH_DETACHED, CRASH_JOINED };

static co_status crash_main(co_task *t, void *arg)
{
    static const char *names[] = { "exploder", "daemon_fail",
                                   "detached_fail", "joined_fail" };
    static const unsigned flags[] = { 0, CO_DAEMON, CO_DETACHED, 0 };
    struct crash_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->lf.value = -EIO;
    f->opts.name = names[f->mode];
    f->opts.flags = flags[f->mode];
    ck_assert_int_gt(co_spawn(t, &f->h, leaf, &f->lf, sizeof f->lf, &f->opts),
                     0);
    /* a successful task is never reported, joined or not */
    f->lf.value = 0;
    ck_assert_int_gt(co_spawn(t, NULL, leaf, &f->lf, sizeof f->lf, NULL), 0);
    if (f->mode == CRASH_JOINED) {
        AWAIT_JOIN(f->rc, t, f->h);
        ck_assert_int_eq(f->rc, -EIO);
    } else if (f->mode == CRASH_DETACHED) {
        CO_AWAIT(f->rc, co_yield(t));   /* it ran, failed, and was freed */
    } else {
        CO_AWAIT(f->rc, co_task_wait(t, f->h));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(co_task_result(f->h), -EIO);
    }
    /* Daemon and detached failures nobody can collect are reported as soon
     * as the task ends; an unjoined ordinary task only at shutdown (it
     * could still be joined until then); a joined one never. */
    if (f->mode == CRASH_DAEMON || f->mode == CRASH_DETACHED)
        ck_assert_msg(reported_yet(names[f->mode]),
                      "%s not reported when it ended", names[f->mode]);
    else
        ck_assert_msg(!reported_yet("Task Crash"), "reported too early");
    CO_END;
}

START_TEST(test_crash_reported_at_shutdown_when_never_joined)
{
    struct crash_main_frame m = { .mode = CRASH_UNJOINED };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") != NULL, "stderr: %s",
                  captured);
    ck_assert_msg(occurrences(captured, "exploder") == 1, "stderr: %s",
                  captured);
}
END_TEST

START_TEST(test_crash_reported_when_daemon_ends)
{
    struct crash_main_frame m = { .mode = CRASH_DAEMON };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") != NULL, "stderr: %s",
                  captured);
    /* once, when it ended: never again as unjoined at shutdown */
    ck_assert_msg(occurrences(captured, "daemon_fail") == 1, "stderr: %s",
                  captured);
}
END_TEST

START_TEST(test_crash_reported_when_detached_ends)
{
    struct crash_main_frame m = { .mode = CRASH_DETACHED };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") != NULL, "stderr: %s",
                  captured);
    ck_assert_msg(occurrences(captured, "detached_fail") == 1, "stderr: %s",
                  captured);
}
END_TEST

START_TEST(test_crash_not_reported_when_joined)
{
    struct crash_main_frame m = { .mode = CRASH_JOINED };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") == NULL, "stderr: %s",
                  captured);
    ck_assert_msg(strstr(captured, "joined_fail") == NULL, "stderr: %s",
                  captured);
}
END_TEST

/* Cancellation is not a crash (as in Curio): neither a task cancelled and
 * never joined, nor one cancelled at shutdown, is reported. */
struct cancelled_main_frame {
    co_frame co;
    co_task *h;
    struct waiter_frame w;
    co_spawn_opts opts;
    int rc;
};

static co_status cancelled_main(co_task *t, void *arg)
{
    struct cancelled_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->opts.name = "victim_a";
    ck_assert_int_gt(co_spawn(t, &f->h, waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->h));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_int_eq(co_task_result(f->h), -ECANCELED);
    f->opts.name = "victim_b";
    ck_assert_int_gt(co_spawn(t, &f->h, waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

START_TEST(test_crash_not_reported_for_cancelled)
{
    struct cancelled_main_frame m = { 0 };
    ck_assert_int_eq(run_capturing_stderr(cancelled_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") == NULL, "stderr: %s",
                  captured);
    ck_assert_msg(strstr(captured, "victim") == NULL, "stderr: %s", captured);
}
END_TEST

/* ------------------------------------------------------------ deadlock */

struct deadlock_main_frame {
    co_frame co;
    co_task *x;
    struct waiter_frame w;
    int rc;
};

static co_status deadlock_main(co_task *t, void *arg)
{
    struct deadlock_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.name = "X";
    ck_assert_int_gt(CO_SPAWN(t, &f->x, waiter, f->w), 0);
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
    outlives_kernel = (co_event){ .set = 0 };
    struct leaves_stubborn_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(leaves_stubborn, &m, sizeof m), 3);
    ck_assert(co_waitq_empty(&outlives_kernel.waiters));
    ck_assert_int_eq(co_event_set(&outlives_kernel), 0);
    /* and the next kernel starts clean */
    outlives_kernel = (co_event){ .set = 0 };
    ck_assert_int_eq(co_run(leaves_stubborn, &m, sizeof m), 3);
    ck_assert(co_waitq_empty(&outlives_kernel.waiters));
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ many tasks */

#define MANY 100000
static co_task *many[MANY];

struct idx_frame {
    co_frame co;
    int idx, rc;
};

static co_status idx_task(co_task *t, void *arg)
{
    struct idx_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->idx % 2) {
        CO_AWAIT(f->rc, co_yield(t));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_RETURN(f->idx);
    CO_END;
}

struct many_main_frame {
    co_frame co;
    struct idx_frame w;
    int i, rc, last_id;
    int64_t sum;
};

static co_status many_main(co_task *t, void *arg)
{
    struct many_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < MANY; f->i++) {
        f->w.idx = f->i;
        f->rc = CO_SPAWN(t, &many[f->i], idx_task, f->w);
        ck_assert_int_gt(f->rc, f->last_id);
        f->last_id = f->rc;
    }
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, many[f->i]);
        ck_assert_int_eq(f->rc, f->i);
        f->sum += f->rc;
    }
    CO_RETURN(f->sum == (int64_t)MANY * (MANY - 1) / 2 ? 1 : -1);
    CO_END;
}

START_TEST(test_many_tasks)
{
    struct many_main_frame m = { 0 };
    ck_assert_int_eq(co_run(many_main, &m, sizeof m), 1);
}
END_TEST

/* ------------------------------------------------------------ task memory */

/* Frames of many sizes, small ones from the kernel's slab and large ones
 * from malloc, alive at the same time while others end and are freed: each
 * task fills its frame with its own pattern, yields so that the others
 * spawn, end and reuse memory, then checks that its frame is intact. */
#define SIZED_TASKS 64
#define SIZED_MAX 900

struct sized_frame {
    co_frame co;
    int seed, len, rounds, i, rc;
    unsigned char bytes[SIZED_MAX];
};

static co_status sized_task(co_task *t, void *arg)
{
    struct sized_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->len; f->i++)
        f->bytes[f->i] = (unsigned char)(f->seed * 31 + f->i);
    for (f->i = 0; f->i < f->rounds; f->i++)
        CO_AWAIT(f->rc, co_yield(t));
    for (f->i = 0; f->i < f->len; f->i++)
        if (f->bytes[f->i] != (unsigned char)(f->seed * 31 + f->i))
            CO_RETURN(-EPROTO);
    CO_RETURN(f->seed);
    CO_END;
}

struct sized_main_frame {
    co_frame co;
    co_task *h[SIZED_TASKS];
    int i, rc;
};

static co_status sized_main(co_task *t, void *arg)
{
    struct sized_main_frame *f = arg;
    struct sized_frame w;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < SIZED_TASKS; f->i++) {
        memset(&w, 0, sizeof w);
        w.seed = f->i;
        w.rounds = f->i % 5;        /* some end while others still run */
        /* frame sizes from 32 bytes (header included) up past 512 */
        w.len = (f->i * 37) % SIZED_MAX;
        size_t size = offsetof(struct sized_frame, bytes) + (size_t)w.len;
        ck_assert_int_gt(co_spawn(t, &f->h[f->i], sized_task, &w, size,
                                  NULL), 0);
        if (f->i % 3 == 0)          /* let the earlier ones run meanwhile */
            CO_AWAIT(f->rc, co_yield(t));
    }
    for (f->i = 0; f->i < SIZED_TASKS; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, f->i);
    }
    CO_END;
}

START_TEST(test_frames_of_many_sizes_stay_intact)
{
    struct sized_main_frame m = { 0 };
    ck_assert_int_eq(co_run(sized_main, &m, sizeof m), 0);
    /* and again in a kernel that reuses the first run's memory */
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    for (int run = 0; run < 2; run++)
        ck_assert_int_eq(co_kernel_run(k, sized_main, &m, sizeof m), 0);
    co_kernel_free(k);
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
    struct yielder_frame y;
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
    ck_assert_int_gt(CO_SPAWN(t, &f->h, yielder, f->y), 0);
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
    CO_AWAIT(f->rc, wait_on(t, &wq));
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
    CO_AWAIT(f->rc, wait_on(t, &wq));
    CO_FINALLY;
    co_disable_cancellation(t);
    note("stuck");
    CO_AWAIT(f->rc, wait_on(t, &wq));       /* nobody will wake it ... */
    co_enable_cancellation(t);
    note("unstuck=%s", rcs(f->rc));
    CO_END;
}

struct stuck_shutdown_frame {
    co_frame co;
    struct waiter_frame w;
    struct stuck_cleaner_frame s;
};

static co_status stuck_shutdown_main(co_task *t, void *arg)
{
    struct stuck_shutdown_frame *f = arg;
    CO_BEGIN(t, f);
    f->w.name = "old";
    ck_assert_int_gt(CO_SPAWN(t, NULL, waiter, f->w), 0);
    ck_assert_int_gt(CO_SPAWN(t, NULL, stuck_cleaner, f->s), 0);
    CO_AWAIT(f->w.rc, co_yield(t));
    CO_RETURN(5);
    CO_END;
}

START_TEST(test_shutdown_deadlock_cancels_the_rest)
{
    struct stuck_shutdown_frame m = { 0 };
    int rc = run_capturing_stderr(stuck_shutdown_main, &m, sizeof m);
    /* ... until the deadlock cancels the old waiter, whose cleanup runs;
     * the stuck one is given up on (it ignores cancellation). */
    ck_assert_int_eq(rc, 5);
    ck_assert_str_eq(lg, "stuck old=CANCEL");
    ck_assert_ptr_nonnull(strstr(captured, "deadlock"));
    ck_assert_ptr_nonnull(strstr(captured, "never finished"));
}
END_TEST

/* ------------------------------------------------------------ strerror */

START_TEST(test_strerror)
{
    const char *to = co_strerror(-ETIMEDOUT);
    const char *ca = co_strerror(-ECANCELED);
    ck_assert_ptr_nonnull(to);
    ck_assert_ptr_nonnull(ca);
    ck_assert_int_gt((int)strlen(to), 0);
    ck_assert_int_gt((int)strlen(ca), 0);
    ck_assert_str_ne(to, ca);
    ck_assert_str_eq(co_strerror(0), "ok");
    ck_assert_str_eq(co_strerror(12), "ok");
    /* the header names it "would block"; extra words after that are fine */
    ck_assert_int_eq(strncmp(co_strerror(CO_WOULDBLOCK), "would block", 11),
                     0);
    ck_assert_str_eq(co_strerror(-EPIPE), strerror(EPIPE));
}
END_TEST

/* ------------------------------------------------------------ suite */

/* ------------------------------------------------------------ safety rails */

struct sum_frame { co_frame co; int n, m; };

static co_status sums(co_task *t, void *arg)
{
    struct sum_frame *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(f->n + f->m);
    CO_END;
}

struct rails_frame {
    co_frame co;
    co_task *h;
    int rc, result;
    _Alignas(max_align_t) unsigned char storage[
        CO_TASK_STORAGE(sizeof(struct sum_frame))];
};

static co_status rails_main(co_task *t, void *arg)
{
    struct rails_frame *f = arg;
    CO_BEGIN(t, f);
    /* a compound literal as the frame: CO_SPAWN is variadic */
    ck_assert_int_gt(CO_SPAWN(t, &f->h, sums,
                              (struct sum_frame){ .n = 3, .m = 4 }), 0);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->result, 7);
    /* a second join on the freed handle: -EINVAL, not a crash.  (Caller
     * storage, so the memory is certainly still there to look at.) */
    ck_assert_int_gt(co_spawn(t, &f->h, sums,
                              &(struct sum_frame){ .n = 1, .m = 1 },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .storage = f->storage,
                                                .storage_size =
                                                    sizeof f->storage }),
                     0);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->result, 2);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_wait(t, f->h));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_cancel(t, f->h));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_task_detach(f->h), -EINVAL);
    ck_assert_int_eq(co_task_cancel_nowait(f->h), -EINVAL);
    CO_END;
}

START_TEST(test_spawn_rails)
{
    struct rails_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(rails_main, &m, sizeof m), 0);
    /* the layout check costs nothing: it adds 0 */
    ck_assert_uint_eq(CO_FRAME_CHECK(struct sum_frame), 0);
}
END_TEST

/* CO_ROUTINE_NET: a task ending with -ECONNRESET is not a crash; -EIO
 * still is. */
static co_status fails_with(co_task *t, void *arg)
{
    struct sum_frame *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(f->n);
    CO_END;
}

static co_status routine_main(co_task *t, void *arg)
{
    struct rails_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(co_spawn(t, NULL, fails_with,
                              &(struct sum_frame){ .n = -ECONNRESET },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .name = "reset",
                                                .flags = CO_DETACHED |
                                                         CO_ROUTINE_NET }),
                     0);
    ck_assert_int_gt(co_spawn(t, NULL, fails_with,
                              &(struct sum_frame){ .n = -EIO },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .name = "eio",
                                                .flags = CO_DETACHED |
                                                         CO_ROUTINE_NET }),
                     0);
    /* joined: the result is still the task's own */
    ck_assert_int_gt(co_spawn(t, &f->h, fails_with,
                              &(struct sum_frame){ .n = -EPIPE },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .flags = CO_ROUTINE_NET }),
                     0);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->result, -EPIPE);
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    CO_END;
}

START_TEST(test_routine_net_results_are_not_crashes)
{
    struct rails_frame m = { .rc = 0 };
    ck_assert_int_eq(run_capturing_stderr(routine_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "'eio' failed with -5"), "<<%s>>",
                  captured);
    ck_assert_ptr_null(strstr(captured, "'reset'"));
}
END_TEST

Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("scheduling");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_spawn_does_not_switch);
    tcase_add_test(tc, test_frames_of_many_sizes_stay_intact);
    tcase_add_test(tc, test_yield_round_robin);
    tcase_add_test(tc, test_wake_does_not_switch);
    tcase_add_test(tc, test_wake_all_fifo);
    suite_add_tcase(s, tc);

    tc = tcase_create("identity");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_ids_names_parents);
    tcase_add_test(tc, test_task_where_and_state);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);

    tc = tcase_create("join");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_join_results);
    tcase_add_test(tc, test_two_joiners);
    tcase_add_test(tc, test_wait_then_result_then_join);
    tcase_add_test(tc, test_join_self_and_null);
    tcase_add_test(tc, test_spawn_bad_args);
    tcase_add_test(tc, test_detached);
    tcase_add_test(tc, test_caller_storage);
    tcase_add_test(tc, test_spawn_rails);
    tcase_add_test(tc, test_routine_net_results_are_not_crashes);
    suite_add_tcase(s, tc);

    tc = tcase_create("kernel");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_kernel_api);
    tcase_add_test(tc, test_kernel_runs_again);
    tcase_add_test(tc, test_shutdown_cancels_newest_first);
    tcase_add_test(tc, test_shutdown_one_task_at_a_time);
    tcase_add_test(tc, test_shutdown_deadlock_cancels_the_rest);
    tcase_add_test(tc, test_nested_run_is_refused);
    tcase_add_test(tc, test_crash_reported_at_shutdown_when_never_joined);
    tcase_add_test(tc, test_crash_reported_when_daemon_ends);
    tcase_add_test(tc, test_crash_reported_when_detached_ends);
    tcase_add_test(tc, test_crash_not_reported_when_joined);
    tcase_add_test(tc, test_crash_not_reported_for_cancelled);
    tcase_add_test(tc, test_deadlock_detected);
    tcase_add_test(tc, test_shutdown_unlinks_tasks_it_gives_up_on);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_many_tasks);
    suite_add_tcase(s, tc);
    return s;
}
