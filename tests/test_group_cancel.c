/*
 * test_group_cancel.c -- the task running a group is cancelled or times
 * out: in the group's body, during join's wait, during its cleanup; the
 * members are cancelled (never timed out) and have all finished before the
 * owner's own -ECANCELED / -ETIMEDOUT reaches it.  Groups nest.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "group_tasks.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* An owner: two members (one with a slow cleanup), then its body waits
 * (sleeps `body` seconds, under a timeout region of `limit` seconds if
 * limit > 0), then joins in CO_FINALLY. */
struct owner_frame {
    co_frame co;
    co_group g;
    co_timeout to;
    double body, limit;
    int in_region, rc, jrc;
};

static co_status owner(co_task *t, void *arg)
{
    struct owner_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->limit > 0) {
        co_timeout_after(t, &f->to, f->limit);
        f->in_region = 1;
    }
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", -1, 0));
    co_group_spawn(t, &f->g, NULL, group_worker,
                   &(struct gw_frame){ .name = "B", .yields = -1,
                                       .slow_cleanup = 1 },
                   sizeof(struct gw_frame), NULL);
    CO_AWAIT(f->rc, co_sleep(t, f->body));
    note("body=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    CO_AWAIT(f->jrc, co_group_join(t, &f->g));
    note("join=%s", rcs(f->jrc));
    if (f->in_region) {
        f->jrc = co_timeout_end(t, &f->to, f->jrc);
        note("region=%s", rcs(f->jrc));
    }
    CO_RETURN(f->jrc);
    CO_END;
}

struct canceller_frame {
    co_frame co;
    co_task *o;
    struct owner_frame of;
    int rc;
};

static co_status cancel_owner_main(co_task *t, void *arg)
{
    struct canceller_frame *f = arg;
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->o, owner, f->of);
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    note("cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, f->o));
    note("owner ended=%s", rcs(co_task_result(f->o)));
    CO_AWAIT(f->rc, co_task_join(t, f->o, NULL));
    CO_END;
}

START_TEST(test_owner_cancelled_in_the_body)
{
    struct canceller_frame m = { .of.body = 10 };
    ck_assert_int_eq(co_run(cancel_owner_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "cancel body=CANCEL A:CANCEL B:CANCEL B:cleaned "
                         "join=CANCEL owner ended=CANCEL");
}
END_TEST

START_TEST(test_owner_times_out_in_the_body)
{
    struct owner_frame m = { .body = 10, .limit = 0.002 };
    ck_assert_int_eq(co_run(owner, &m, sizeof m), -ETIMEDOUT);
    /* the members see a cancellation, never the owner's timeout */
    ck_assert_str_eq(lg, "body=TIMEOUT A:CANCEL B:CANCEL B:cleaned "
                         "join=TIMEOUT region=TIMEOUT");
}
END_TEST

/* Cancelled or timed out while join waits for the policy. */
struct join_wait_frame {
    co_frame co;
    co_group g;
    co_timeout to;
    int rc;
};

static co_status timeout_in_join(co_task *t, void *arg)
{
    struct join_wait_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("A", -1, 0));
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("B", 1, 5));
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.002, co_group_join(t, &f->g));
    note("join=%s", rcs(f->rc));
    int r[2];
    ck_assert_int_eq(co_group_results(&f->g, r, 2), 2);
    note("results=%s,%s", rcs(r[0]), rcs(r[1]));
    CO_END;
}

START_TEST(test_timeout_while_join_waits)
{
    struct join_wait_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(timeout_in_join, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B=5 A:CANCEL join=TIMEOUT results=CANCEL,5");
}
END_TEST

/* Cancelled while join waits for the members' cleanup: the cleanup is
 * not cut short, join completes, and the cancellation is delivered at the
 * next blocking call. */
struct late_frame {
    co_frame co;
    co_group g;
    co_group_wait wait;
    int rc;
};

static co_status late_owner(co_task *t, void *arg)
{
    struct late_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_group_init(&f->g, f->wait), 0);
    co_group_spawn(t, &f->g, NULL, group_worker,
                   &(struct gw_frame){ .name = "B", .yields = -1,
                                       .slow_cleanup = 1 },
                   sizeof(struct gw_frame), NULL);
    ck_assert_int_eq(co_group_init(&f->g, f->wait), -EPERM);  /* members */
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("next=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

struct late_main_frame {
    co_frame co;
    co_task *o;
    struct late_frame lf;
    co_group_wait wait;
    int rc, result;
};

static co_status late_main(co_task *t, void *arg)
{
    struct late_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->lf.wait = f->wait;
    CO_SPAWN(t, &f->o, late_owner, f->lf);
    CO_AWAIT(f->rc, co_yield(t));
    /* the owner is in join: waiting for B (ALL), or for B's cleanup
     * (NONE: B was cancelled at once) */
    co_task_cancel_nowait(f->o);
    CO_AWAIT(f->rc, co_task_join(t, f->o, &f->result));
    note("owner=%s", rcs(f->result));
    CO_END;
}

START_TEST(test_cancel_while_join_waits)
{
    struct late_main_frame m = { .wait = CO_GROUP_ALL };
    ck_assert_int_eq(co_run(late_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B:CANCEL B:cleaned join=CANCEL next=CANCEL "
                         "owner=CANCEL");
}
END_TEST

START_TEST(test_cleanup_is_not_cut_short)
{
    struct late_main_frame m = { .wait = CO_GROUP_NONE };
    ck_assert_int_eq(co_run(late_main, &m, sizeof m), 0);
    /* join had nothing to report: the cancellation comes next */
    ck_assert_str_eq(lg, "B:CANCEL B:cleaned join=0 next=CANCEL "
                         "owner=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ nesting */

/* An inner owner is a member of the outer group; cancelling the outer
 * owner cancels the inner owner, whose join ends its own members first. */
struct inner_frame {
    co_frame co;
    co_group g;
    int rc;
};

static co_status inner_owner(co_task *t, void *arg)
{
    struct inner_frame *f = arg;
    CO_BEGIN(t, f);
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("I1", -1, 0));
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("I2", -1, 0));
    CO_AWAIT(f->rc, co_sleep(t, 10));
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("inner join=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

struct outer_frame {
    co_frame co;
    co_group g;
    co_timeout to;
    int rc;
};

static co_status outer_owner(co_task *t, void *arg)
{
    struct outer_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, 0.002);
    CO_GROUP_SPAWN(t, &f->g, NULL, inner_owner, (struct inner_frame){ 0 });
    CO_GROUP_SPAWN(t, &f->g, NULL, group_worker, GW("O", -1, 0));
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("outer join=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    int r[2];
    ck_assert_int_eq(co_group_results(&f->g, r, 2), 2);
    note("results=%s,%s", rcs(r[0]), rcs(r[1]));
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_nested_groups_under_a_timeout)
{
    struct outer_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(outer_owner, &m, sizeof m), -ETIMEDOUT);
    ck_assert_str_eq(lg, "O:CANCEL I1:CANCEL I2:CANCEL inner join=CANCEL "
                         "outer join=TIMEOUT results=CANCEL,CANCEL");
}
END_TEST

/* ------------------------------------------------------------ shutdown */

/* main returns while an owner still runs its group: the shutdown cancels
 * the newest tasks first (the members), then the owner, whose join finds
 * them finished; nothing leaks, nothing is reported. */
static co_status shutdown_main(co_task *t, void *arg)
{
    struct { co_frame co; co_task *o; int rc; } *f = arg;
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->o, owner, (struct owner_frame){ .body = 10 });
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    note("main ends");
    CO_END;
}

START_TEST(test_shutdown_ends_a_running_group)
{
    struct { co_frame co; co_task *o; int rc; } m = { .rc = 0 };
    ck_assert_int_eq(run_capturing_stderr(shutdown_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "main ends B:CANCEL B:cleaned A:CANCEL body=CANCEL "
                         "join=CANCEL");
    ck_assert_ptr_null(strstr(captured, "Task Crash"));
}
END_TEST

Suite *group_cancel_suite(void)
{
    Suite *s = suite_create("group_cancel");
    TCase *tc = tcase_create("cancel");
    tcase_add_checked_fixture(tc, group_setup, NULL);
    tcase_add_test(tc, test_owner_cancelled_in_the_body);
    tcase_add_test(tc, test_owner_times_out_in_the_body);
    tcase_add_test(tc, test_timeout_while_join_waits);
    tcase_add_test(tc, test_cancel_while_join_waits);
    tcase_add_test(tc, test_cleanup_is_not_cut_short);
    tcase_add_test(tc, test_nested_groups_under_a_timeout);
    tcase_add_test(tc, test_shutdown_ends_a_running_group);
    suite_add_tcase(s, tc);
    return s;
}
