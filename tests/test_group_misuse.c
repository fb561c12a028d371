/*
 * test_group_misuse.c -- misuse of a group gets -EINVAL or -EPERM and
 * changes nothing; a group left with members when its coroutine returns,
 * or when its task ends, aborts naming the place; init on a joined group
 * frees what it kept, so a frame's group can be used again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "group_tasks.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* ------------------------------------------------------------ errors */

static co_group *foreign;          /* a group run by another task */

struct foreign_frame {
    co_frame co;
    co_task *done;
    int rc, result;
};

/* Not the owner: every owner-only call is -EPERM. */
static co_status stranger(co_task *t, void *arg)
{
    struct foreign_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_group_next_done(t, foreign, &f->done));
    note("next_done=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_group_next_result(t, foreign, &f->result));
    note("next_result=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_group_cancel_remaining(t, foreign));
    note("cancel_remaining=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_group_join(t, foreign));
    note("join=%s", rcs(f->rc));
    note("spawn=%s", rcs(CO_GROUP_SPAWN(t, foreign, NULL, group_worker,
                                        GW("X", 0, 0))));
    CO_END;
}

struct misuse_frame {
    co_frame co;
    co_group g, other;
    co_task *a, *b, *c, *s, *done;
    int rc, result;
};

static co_status misuse_main(co_task *t, void *arg)
{
    struct misuse_frame *f = arg;
    CO_BEGIN(t, f);
    /* bad arguments */
    ck_assert_int_eq(co_group_init(NULL, CO_GROUP_ALL), -EINVAL);
    ck_assert_int_eq(co_group_init(&f->g, (co_group_wait)9), -EINVAL);
    ck_assert_int_eq(CO_GROUP_SPAWN(t, NULL, NULL, group_worker,
                                    GW("X", 0, 0)), -EINVAL);
    ck_assert_int_eq(co_group_spawn(t, &f->g, NULL, group_worker,
                                    &GW("X", 0, 0), sizeof(struct gw_frame),
                                    &(co_spawn_opts){ .flags = CO_DETACHED }),
                     -EINVAL);
    ck_assert_int_eq(co_group_adopt(t, &f->g, NULL), -EINVAL);
    ck_assert_int_eq(co_group_adopt(t, &f->g, t), -EINVAL);
    CO_AWAIT(f->rc, co_group_next_done(t, &f->g, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_group_join(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_group_results(NULL, NULL, 0), -EINVAL);
    ck_assert_int_eq(co_group_result(&f->g, NULL), -EINVAL);

    /* results before join */
    CO_GROUP_SPAWN(t, &f->g, &f->a, group_worker, GW("A", 2, 1));
    ck_assert_int_eq(co_group_results(&f->g, NULL, 0), -EPERM);
    ck_assert_int_eq(co_group_failures(&f->g), -EPERM);
    ck_assert_int_eq(co_group_result(&f->g, &f->result), -EPERM);
    ck_assert_ptr_null(co_group_completed(&f->g));
    ck_assert_ptr_null(co_group_next_member(&f->g, NULL));
    /* a member cannot be detached: its group frees it */
    ck_assert_int_eq(co_task_detach(f->a), -EPERM);
    /* adopting a task of another group */
    CO_GROUP_SPAWN(t, &f->other, &f->b, group_worker, GW("B", 1, 2));
    ck_assert_int_eq(co_group_adopt(t, &f->g, f->b), -EPERM);
    ck_assert_int_eq(co_group_adopt(t, &f->g, f->a), -EPERM);
    /* another task may not use the group */
    foreign = &f->g;
    CO_SPAWN(t, &f->s, stranger, (struct foreign_frame){ .rc = 0 });
    CO_AWAIT(f->rc, co_task_join(t, f->s, NULL));
    /* re-initialising a group with members */
    ck_assert_int_eq(co_group_init(&f->g, CO_GROUP_ANY), -EPERM);
    CO_AWAIT(f->rc, co_group_join(t, &f->other));
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s", rcs(f->rc));
    /* after join: nothing changes */
    CO_SPAWN(t, &f->c, group_worker, GW("C", 0, 3));
    ck_assert_int_eq(CO_GROUP_SPAWN(t, &f->g, NULL, group_worker,
                                    GW("X", 0, 0)), -EPERM);
    ck_assert_int_eq(co_group_adopt(t, &f->g, f->c), -EPERM);
    CO_AWAIT(f->rc, co_group_next_done(t, &f->g, &f->done));
    ck_assert_int_eq(f->rc, -EPERM);
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_group_results(&f->g, NULL, 0), 1);
    CO_AWAIT(f->rc, co_task_join(t, f->c, NULL));
    /* init on a joined group frees its members: used again */
    ck_assert_int_eq(co_group_init(&f->g, CO_GROUP_ANY), 0);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("D", 1, 4));
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    ck_assert_int_eq(co_group_result(&f->g, &f->result), 0);
    note("again=%s result=%d", rcs(f->rc), f->result);
    CO_END;
}

START_TEST(test_misuse_changes_nothing)
{
    struct misuse_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(misuse_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "next_done=EPERM next_result=EPERM "
                         "cancel_remaining=EPERM join=EPERM spawn=EPERM "
                         "B=2 A=1 join=0 C=3 D=4 again=0 result=4");
}
END_TEST

/* A cancellation pending at the call still gets -EINVAL for bad
 * arguments (THE RULE), and -ECANCELED on a group it does not run. */
struct rule_frame {
    co_frame co;
    co_group g;
    int rc;
};

static co_status rule_main(co_task *t, void *arg)
{
    struct rule_frame *f = arg;
    CO_BEGIN(t, f);
    co_task_cancel_nowait(t);
    CO_AWAIT(f->rc, co_group_join(t, NULL));
    note("null=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("unused=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("joined=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_rule_order)
{
    struct rule_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(rule_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "null=EINVAL unused=CANCEL joined=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ rails */

struct leaky_child_frame {
    co_frame co;
    co_group g;
    int rc;
};

static co_status leaky_child(co_task *t, void *arg)
{
    struct leaky_child_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", -1, 0));
    CO_AWAIT(f->rc, co_yield(t));
    CO_RETURN(-EIO);                /* the error path forgets the join */
    CO_END;
}

struct leaky_parent_frame {
    co_frame co;
    struct leaky_child_frame child;
    int rc;
};

static co_status leaky_parent(co_task *t, void *arg)
{
    struct leaky_parent_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT_CALL(f->rc, leaky_child, &f->child);
    CO_END;
}

static void run_leaky_parent(void)
{
    struct leaky_parent_frame m;
    memset(&m, 0, sizeof m);
    co_run(leaky_parent, &m, sizeof m);
}

START_TEST(test_group_left_open_by_a_coroutine_aborts)
{
    const char *const texts[] = {
        "still has members when the coroutine holding it finishes at "
        "tests/test_group_misuse.c:", "CO_FINALLY", NULL };
    expect_abort(run_leaky_parent, texts);
}
END_TEST

static co_group outside_group;

static co_status leaves_group_open(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &outside_group, NULL, group_worker, GW("A", -1, 0));
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

static void run_leaves_group_open(void)
{
    struct { co_frame co; int rc; } m = { .rc = 0 };
    memset(&outside_group, 0, sizeof outside_group);
    co_run(leaves_group_open, &m, sizeof m);
}

START_TEST(test_group_open_at_task_end_aborts)
{
    const char *const texts[] = { "still has members when its task ends",
                                  NULL };
    expect_abort(run_leaves_group_open, texts);
}
END_TEST

/* A group outside any frame, joined, is freed when its task ends. */
static co_status joins_outside_group(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    co_group_init(&outside_group, CO_GROUP_ALL);
    CO_GROUP_SPAWN(t, &outside_group, NULL, group_worker, GW("A", 1, 1));
    CO_AWAIT(f->rc, co_group_join(t, &outside_group));
    note("join=%s count=%d", rcs(f->rc),
         co_group_results(&outside_group, NULL, 0));
    CO_END;
}

START_TEST(test_joined_group_outside_a_frame)
{
    struct { co_frame co; int rc; } m = { .rc = 0 };
    memset(&outside_group, 0, sizeof outside_group);
    ck_assert_int_eq(co_run(joins_outside_group, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A=1 join=0 count=1");
}
END_TEST

Suite *group_misuse_suite(void)
{
    Suite *s = suite_create("group_misuse");
    TCase *tc = tcase_create("misuse");
    tcase_add_checked_fixture(tc, group_setup, NULL);
    tcase_add_test(tc, test_misuse_changes_nothing);
    tcase_add_test(tc, test_rule_order);
    tcase_add_test(tc, test_joined_group_outside_a_frame);
    suite_add_tcase(s, tc);
    tc = tcase_create("rails");
    tcase_add_checked_fixture(tc, group_setup, NULL);
    tcase_add_test(tc, test_group_left_open_by_a_coroutine_aborts);
    tcase_add_test(tc, test_group_open_at_task_end_aborts);
    suite_add_tcase(s, tc);
    return s;
}
