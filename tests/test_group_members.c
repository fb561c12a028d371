/*
 * test_group_members.c -- membership and completion: next_done in the
 * order members finish, next_result, adopt, members spawning into their
 * own group, an explicit join taking a member out, daemon members,
 * cancel_remaining.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "group_tasks.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* ------------------------------------------------------------ next_done */

struct next_frame {
    co_frame co;
    co_group g;
    co_task *done;
    int rc, result;
};

static co_status next_done_main(co_task *t, void *arg)
{
    struct next_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", 6, 1));
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("B", 1, 2));
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("C", 3, 3));
    for (;;) {
        CO_AWAIT(f->rc, co_group_next_done(t, &f->g, &f->done));
        ck_assert_int_eq(f->rc, 0);
        if (!f->done)
            break;
        /* the handle is ours now: join returns at once */
        CO_AWAIT(f->rc, co_task_join(t, f->done, &f->result));
        note("next=%d", f->result);
    }
    note("end");
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s count=%d", rcs(f->rc), co_group_results(&f->g, NULL, 0));
    CO_END;
}

START_TEST(test_next_done_in_order_of_finishing)
{
    struct next_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(next_done_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B=2 next=2 C=3 next=3 A=1 next=1 end join=0 "
                         "count=0");
}
END_TEST

static co_status next_result_main(co_task *t, void *arg)
{
    struct next_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", 4, 1));
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("B", 1, -EIO));
    CO_AWAIT(f->rc, co_group_next_result(t, &f->g, &f->result));
    note("rc=%s result=%s", rcs(f->rc), rcs(f->result));
    CO_AWAIT(f->rc, co_group_next_result(t, &f->g, &f->result));
    note("rc=%s result=%s", rcs(f->rc), rcs(f->result));
    f->result = 99;
    CO_AWAIT(f->rc, co_group_next_result(t, &f->g, &f->result));
    note("rc=%s result=%d", rcs(f->rc), f->result);
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_next_result_then_empty)
{
    struct next_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(next_result_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B=-5 rc=0 result=-5 A=1 rc=0 result=1 "
                         "rc=EPERM result=99 join=0");
}
END_TEST

/* ------------------------------------------------------------ adopt */

struct adopt_frame {
    co_frame co;
    co_group g;
    co_task *early, *finished;
    int rc;
};

static co_status adopt_main(co_task *t, void *arg)
{
    struct adopt_frame *f = arg;
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->finished, group_worker, GW("F", 0, 4));
    CO_SPAWN(t, &f->early, group_worker, GW("E", 3, 5));
    CO_AWAIT(f->rc, co_yield(t));            /* F has finished */
    ck_assert(co_task_done(f->finished));
    ck_assert_int_eq(co_group_adopt(t, &f->g, f->early), 0);
    ck_assert_int_eq(co_group_adopt(t, &f->g, f->finished), 0);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("S", 1, 6));
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    int r[4];
    ck_assert_int_eq(co_group_results(&f->g, r, 4), 3);
    note("join=%s results=%d,%d,%d", rcs(f->rc), r[0], r[1], r[2]);
    CO_END;
}

START_TEST(test_adopt_running_and_finished)
{
    struct adopt_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(adopt_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "F=4 S=6 E=5 join=0 results=4,5,6");
}
END_TEST

/* ------------------------------------------------------------ spawning */

/* A member that spawns a member into its own group. */
static co_group *shared_group;

struct spawner_frame {
    co_frame co;
    int rc;
};

static co_status spawner(co_task *t, void *arg)
{
    struct spawner_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_gt(CO_GROUP_SPAWN(t, shared_group, NULL, group_worker,
                                    GW("child", 2, 7)), 0);
    note("spawned");
    /* a member may spawn, but not reset, wait on or join its group */
    ck_assert_int_eq(co_group_init(shared_group, CO_GROUP_ANY), -EPERM);
    CO_AWAIT(f->rc, co_group_join(t, shared_group));
    ck_assert_int_eq(f->rc, -EPERM);
    CO_RETURN(1);
    CO_END;
}

struct member_spawn_frame {
    co_frame co;
    co_group g;
    int rc;
};

static co_status member_spawn_main(co_task *t, void *arg)
{
    struct member_spawn_frame *f = arg;
    CO_BEGIN(t, f);
    shared_group = &f->g;
    CO_GROUP_SPAWN(t, &f->g, NULL, spawner, (struct spawner_frame){ 0 });
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    int r[4];
    ck_assert_int_eq(co_group_results(&f->g, r, 4), 2);
    note("join=%s results=%d,%d", rcs(f->rc), r[0], r[1]);
    CO_END;
}

START_TEST(test_members_spawn_into_their_group)
{
    struct member_spawn_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(member_spawn_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "spawned child=7 join=0 results=1,7");
}
END_TEST

/* ------------------------------------------------------------ explicit join */

struct explicit_frame {
    co_frame co;
    co_group g;
    co_task *a, *b;
    int rc, result;
};

static co_status explicit_main(co_task *t, void *arg)
{
    struct explicit_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, &f->a, group_worker, GW("A", 2, 1));
    CO_GROUP_SPAWN(t, &f->g, &f->b, group_worker, GW("B", 4, 2));
    /* joining a running member waits for it and takes it out */
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    note("A joined=%d", f->result);
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    /* B has finished: joining it takes it out of the done list too */
    ck_assert(co_task_done(f->b));
    CO_AWAIT(f->rc, co_task_join(t, f->b, &f->result));
    note("B joined=%d", f->result);
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s count=%d", rcs(f->rc), co_group_results(&f->g, NULL, 0));
    CO_END;
}

START_TEST(test_explicit_join_removes_a_member)
{
    struct explicit_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(explicit_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A=1 A joined=1 B=2 B joined=2 join=0 count=0");
}
END_TEST

/* ------------------------------------------------------------ daemons */

struct daemon_frame {
    co_frame co;
    co_group g;
    co_task *d;
    int rc;
};

static co_status daemon_main(co_task *t, void *arg)
{
    struct daemon_frame *f = arg;
    CO_BEGIN(t, f);
    co_group_spawn(t, &f->g, &f->d, group_worker,
                   &GW("D", -1, 0), sizeof(struct gw_frame),
                   &(co_spawn_opts){ .name = "daemon", .flags = CO_DAEMON });
    co_group_spawn(t, &f->g, NULL, group_worker,
                   &GW("Q", 1, -EIO), sizeof(struct gw_frame),
                   &(co_spawn_opts){ .name = "quick", .flags = CO_DAEMON });
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", 3, 1));
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s count=%d failures=%d", rcs(f->rc),
         co_group_results(&f->g, NULL, 0), co_group_failures(&f->g));
    CO_END;
}

START_TEST(test_daemons_are_not_waited_for_nor_counted)
{
    struct daemon_frame m = { .rc = 0 };
    ck_assert_int_eq(run_capturing_stderr(daemon_main, &m, sizeof m), 0);
    /* the failing daemon is reported as any daemon, and does not fail
     * the group */
    ck_assert_str_eq(lg, "Q=-5 A=1 D:CANCEL join=0 count=1 failures=0");
    ck_assert_ptr_nonnull(strstr(captured, "Task Crash"));
}
END_TEST

/* ------------------------------------------------------------ cancel_remaining */

struct remaining_frame {
    co_frame co;
    co_group g;
    int rc;
};

static co_status remaining_main(co_task *t, void *arg)
{
    struct remaining_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", 1, 1));
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("B", -1, 2));
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    CO_AWAIT(f->rc, co_group_cancel_remaining(t, &f->g));
    note("cancel_remaining=%s", rcs(f->rc));
    /* still open: a new member */
    ck_assert_int_gt(CO_GROUP_SPAWN(t, &f->g, NULL, group_worker,
                                    GW("C", 1, 3)), 0);
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    int r[4];
    ck_assert_int_eq(co_group_results(&f->g, r, 4), 3);
    note("join=%s results=%s,%s,%s failures=%d", rcs(f->rc), rcs(r[0]),
         rcs(r[1]), rcs(r[2]), co_group_failures(&f->g));
    CO_END;
}

START_TEST(test_cancel_remaining)
{
    struct remaining_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(remaining_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A=1 B:CANCEL cancel_remaining=0 C=3 join=0 "
                         "results=1,CANCEL,3 failures=0");
}
END_TEST

Suite *group_members_suite(void)
{
    Suite *s = suite_create("group_members");
    TCase *tc = tcase_create("members");
    tcase_add_checked_fixture(tc, group_setup, NULL);
    tcase_add_test(tc, test_next_done_in_order_of_finishing);
    tcase_add_test(tc, test_next_result_then_empty);
    tcase_add_test(tc, test_adopt_running_and_finished);
    tcase_add_test(tc, test_members_spawn_into_their_group);
    tcase_add_test(tc, test_explicit_join_removes_a_member);
    tcase_add_test(tc, test_daemons_are_not_waited_for_nor_counted);
    tcase_add_test(tc, test_cancel_remaining);
    suite_add_tcase(s, tc);
    return s;
}
