/*
 * test_task_join.c -- joining and waiting for tasks (results, two
 * joiners, wait then join, joining itself or NULL), bad spawn arguments,
 * and detached tasks.
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

/* ------------------------------------------------------------ join, wait */

struct join_main_frame {
    co_frame co;
    co_task *h;
    struct task_yielder_frame y;
    struct task_leaf_frame lf;
    int rc;
};

static co_status join_main(co_task *t, void *arg)
{
    struct join_main_frame *f = arg;
    CO_BEGIN(t, f);
    /* a task that is still running when joined */
    f->y.yields = 2;
    f->y.value = 42;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_yielder, f->y), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 42);
    /* a failing task: join returns its negative errno */
    f->y.value = -EIO;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_yielder, f->y), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -EIO);
    /* a task that finished before the join */
    f->lf.value = 7;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_leaf, f->lf), 0);
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
    struct task_yielder_frame y;
    struct joiner_frame jf;
    int rc;
};

static co_status twojoin_main(co_task *t, void *arg)
{
    struct twojoin_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->y.yields = 3;
    f->y.value = 11;
    ck_assert_int_gt(CO_SPAWN(t, &f->x, task_yielder, f->y), 0);
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
    struct task_yielder_frame y;
    int rc;
};

static co_status waitjoin_main(co_task *t, void *arg)
{
    struct waitjoin_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->y.yields = 2;
    f->y.value = 3;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_yielder, f->y), 0);
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
    struct task_leaf_frame lf;
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
    ck_assert_int_eq(co_spawn(t, &f->h, task_leaf, &f->lf, sizeof(co_frame) - 1,
                              NULL), -EINVAL);
    ck_assert_int_eq(co_spawn(t, &f->h, task_leaf, &f->lf, 0, NULL), -EINVAL);
    /* caller storage too small for header + frame */
    f->opts.storage = small_storage;
    f->opts.storage_size = sizeof small_storage;
    ck_assert_int_eq(co_spawn(t, &f->h, task_leaf, &f->lf, sizeof f->lf, &f->opts),
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
    struct task_leaf_frame lf;
    struct task_yielder_frame y;
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
    ck_assert_int_gt(co_spawn(t, &f->h, task_yielder, &f->y, sizeof f->y,
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
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_leaf, f->lf), 0);
    ck_assert_int_eq(co_task_detach(f->h), 0);
    ck_assert_int_eq(co_task_detach(f->h), -EINVAL);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_yield(t));

    /* detached after it ended: freed at once */
    f->lf.name = "E";
    ck_assert_int_gt(CO_SPAWN(t, &f->h, task_leaf, f->lf), 0);
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

/* ------------------------------------------------------------ suite */

Suite *task_join_suite(void)
{
    Suite *s = suite_create("task_join");
    TCase *tc;

    tc = tcase_create("join");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_join_results);
    tcase_add_test(tc, test_two_joiners);
    tcase_add_test(tc, test_wait_then_result_then_join);
    tcase_add_test(tc, test_join_self_and_null);
    tcase_add_test(tc, test_spawn_bad_args);
    tcase_add_test(tc, test_detached);
    suite_add_tcase(s, tc);
    return s;
}
