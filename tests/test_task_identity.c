/*
 * test_task_identity.c -- a task's identity (ids, names, parents, where it
 * waits and its state) and tasks in caller-provided storage.
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

/* ------------------------------------------------------------ identity */

static uint32_t probe_child_id, probe_grandchild_parent;

struct probe_frame {
    co_frame co;
    co_task *gc;
    struct task_leaf_frame lf;
    int rc;
};

static co_status parent_probe(co_task *t, void *arg)
{
    struct probe_frame *f = arg;
    CO_BEGIN(t, f);
    probe_child_id = co_task_id(t);
    ck_assert_int_gt(CO_SPAWN(t, &f->gc, task_leaf, f->lf), 0);
    probe_grandchild_parent = co_task_parent_id(f->gc);
    AWAIT_JOIN(f->rc, t, f->gc);
    CO_END;
}

struct ident_main_frame {
    co_frame co;
    co_task *h[6];
    int id[6];
    struct task_leaf_frame lf;
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
    f->id[0] = CO_SPAWN(t, &f->h[0], task_leaf, f->lf);
    /* explicit name */
    f->opts.name = "custom";
    f->id[1] = co_spawn(t, &f->h[1], task_leaf, &f->lf, sizeof f->lf, &f->opts);
    /* no name, and no opts at all: "task" */
    f->opts.name = NULL;
    f->id[2] = co_spawn(t, &f->h[2], task_leaf, &f->lf, sizeof f->lf, &f->opts);
    f->id[3] = co_spawn(t, &f->h[3], task_leaf, &f->lf, sizeof f->lf, NULL);
    f->opts.flags = CO_DAEMON;
    f->id[4] = co_spawn(t, &f->h[4], task_leaf, &f->lf, sizeof f->lf, &f->opts);
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
    ck_assert_str_eq(co_task_name(f->h[0]), "task_leaf");
    ck_assert_str_eq(co_task_name(f->h[1]), "custom");
    ck_assert_str_eq(co_task_name(f->h[2]), "task");
    ck_assert_str_eq(co_task_name(f->h[3]), "task");
    ck_assert_str_eq(co_task_name(f->h[5]), "parent_probe");
    ck_assert(!co_task_daemon(f->h[0]));
    ck_assert(co_task_daemon(f->h[4]));

    /* each task runs on its own copy of the frame */
    ck_assert_ptr_ne(co_task_frame(f->h[0]), &f->lf);
    ck_assert_int_eq(((struct task_leaf_frame *)co_task_frame(f->h[0]))->value, 17);
    f->lf.value = 99;       /* the caller's copy may be reused */
    ck_assert_int_eq(((struct task_leaf_frame *)co_task_frame(f->h[1]))->value, 17);

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
    struct task_waiter_frame w;
    const char *where;
    int rc;
};

static co_status where_main(co_task *t, void *arg)
{
    struct where_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->x, task_waiter, f->w), 0);
    ck_assert_ptr_null(co_task_where(f->x));
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->x), "blocked");
    f->where = co_task_where(f->x);
    ck_assert_ptr_nonnull(f->where);
    ck_assert_msg(strstr(f->where, "task_tasks.c:") != NULL,  /* the waiter */
                  "where = \"%s\"", f->where);
    ck_assert_ptr_nonnull(co_waitq_wake_one(&task_wq, 3));
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

/* ------------------------------------------------------------ storage */

static _Alignas(max_align_t) unsigned char
    task_storage[CO_TASK_STORAGE(sizeof(struct task_yielder_frame))];

struct storage_main_frame {
    co_frame co;
    co_task *h;
    struct task_yielder_frame y;
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
        ck_assert_int_gt(co_spawn(t, &f->h, task_yielder, &f->y, sizeof f->y,
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

/* ------------------------------------------------------------ suite */

Suite *task_identity_suite(void)
{
    Suite *s = suite_create("task_identity");
    TCase *tc;

    tc = tcase_create("identity");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_ids_names_parents);
    tcase_add_test(tc, test_task_where_and_state);
    suite_add_tcase(s, tc);

    tc = tcase_create("join");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_caller_storage);
    suite_add_tcase(s, tc);
    return s;
}
