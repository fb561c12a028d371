/*
 * test_group_policy.c -- the four wait policies: what join waits for, which
 * members it cancels, and what can be read afterwards (the completed
 * member, its result, every member's result in id order, failures).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "group_tasks.h"
#include "log.h"
#include "suites.h"

/* The group's results after join, into the log as "results=a,b,c". */
static void note_results(const co_group *g)
{
    int r[8], n = co_group_results(g, r, 8);
    char buf[128] = "";
    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s",
                 i ? "," : "", rcs(r[i]));
    note("results=%s", buf);
}

static const char *const names[] = { "A", "B", "C" };

/* What the group says after join. */
static void note_outcome(const co_group *g)
{
    co_task *c = co_group_completed(g);
    int result = 0;
    if (c) {
        ck_assert_int_eq(co_group_result(g, &result), 0);
        note("completed=%s:%s", names[co_task_id(c) - 2], rcs(result));
    } else {
        ck_assert_int_eq(co_group_result(g, &result), -ENOENT);
        note("completed=none");
    }
    note_results(g);
    note("failures=%d", co_group_failures(g));
}

/* Spawns three members with (yields, value) from the frame, joins, and
 * notes what join returned and what the group says. */
struct policy_frame {
    co_frame co;
    co_group g;
    co_group_wait wait;
    int yields[3], value[3];
    co_task *m[3];
    struct gw_frame w;
    int rc, i;
};

static co_status policy_main(co_task *t, void *arg)
{
    struct policy_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_group_init(&f->g, f->wait), 0);
    for (f->i = 0; f->i < 3; f->i++) {
        f->w = GW(names[f->i], f->yields[f->i], f->value[f->i]);
        ck_assert_int_gt(CO_GROUP_SPAWN(t, &f->g, &f->m[f->i], group_worker,
                                        f->w), 0);
    }
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s", rcs(f->rc));
    note_outcome(&f->g);
    CO_END;
}

#define RUN_POLICY(w, y0, v0, y1, v1, y2, v2)                               \
    do {                                                                    \
        struct policy_frame m_ = { .wait = (w), .yields = { y0, y1, y2 },   \
                                   .value = { v0, v1, v2 } };               \
        ck_assert_int_eq(co_run(policy_main, &m_, sizeof m_), 0);           \
    } while (0)

START_TEST(test_all_waits_for_every_member)
{
    RUN_POLICY(CO_GROUP_ALL, 3, 1, 1, 2, 2, 3);
    ck_assert_str_eq(lg, "B=2 C=3 A=1 join=0 completed=none "
                         "results=1,2,3 failures=0");
}
END_TEST

START_TEST(test_all_stops_at_a_failure)
{
    RUN_POLICY(CO_GROUP_ALL, 1, -EIO, -1, 0, 5, 9);
    ck_assert_str_eq(lg, "A=-5 C:CANCEL B:CANCEL join=0 completed=A:-5 "
                         "results=-5,CANCEL,CANCEL failures=1");
}
END_TEST

START_TEST(test_any_takes_the_first)
{
    RUN_POLICY(CO_GROUP_ANY, 5, 7, 1, 8, -1, 0);
    ck_assert_str_eq(lg, "B=8 A:CANCEL C:CANCEL join=0 completed=B:8 "
                         "results=CANCEL,8,CANCEL failures=0");
}
END_TEST

START_TEST(test_object_takes_the_first_not_zero)
{
    RUN_POLICY(CO_GROUP_OBJECT, 1, 0, 2, 5, 4, 6);
    ck_assert_str_eq(lg, "A=0 B=5 C:CANCEL join=0 completed=B:5 "
                         "results=0,5,CANCEL failures=0");
}
END_TEST

START_TEST(test_object_takes_a_failure)
{
    RUN_POLICY(CO_GROUP_OBJECT, 1, 0, 2, -EPIPE, 4, 6);
    ck_assert_str_eq(lg, "A=0 B=EPIPE C:CANCEL join=0 completed=B:EPIPE "
                         "results=0,EPIPE,CANCEL failures=1");
}
END_TEST

START_TEST(test_object_all_zero_waits_for_all)
{
    RUN_POLICY(CO_GROUP_OBJECT, 2, 0, 1, 0, 3, 0);
    ck_assert_str_eq(lg, "B=0 A=0 C=0 join=0 completed=none "
                         "results=0,0,0 failures=0");
}
END_TEST

START_TEST(test_none_cancels_at_once)
{
    RUN_POLICY(CO_GROUP_NONE, 1, 1, 2, 2, -1, 3);
    ck_assert_str_eq(lg, "A:CANCEL B:CANCEL C:CANCEL join=0 completed=none "
                         "results=CANCEL,CANCEL,CANCEL failures=0");
}
END_TEST

/* A zeroed group is ALL; an empty one joins at once, and again. */
struct empty_frame {
    co_frame co;
    co_group g, h;
    int rc;
};

static co_status empty_main(co_task *t, void *arg)
{
    struct empty_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_group_results(&f->g, NULL, 0), -EPERM);
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("join=%s", rcs(f->rc));
    note("count=%d", co_group_results(&f->g, NULL, 0));
    ck_assert_ptr_null(co_group_next_member(&f->g, NULL));
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    note("again=%s", rcs(f->rc));
    /* a zeroed group that had a member: policy ALL */
    ck_assert_int_gt(CO_GROUP_SPAWN(t, &f->h, NULL, group_worker,
                                    GW("A", 1, -EIO)), 0);
    ck_assert_int_gt(CO_GROUP_SPAWN(t, &f->h, NULL, group_worker,
                                    GW("B", 3, 1)), 0);
    CO_AWAIT(f->rc, co_group_join(t, &f->h));
    note("join=%s failures=%d", rcs(f->rc), co_group_failures(&f->h));
    CO_END;
}

START_TEST(test_empty_and_zeroed_groups)
{
    struct empty_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(empty_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "join=0 count=0 again=0 A=-5 B:CANCEL join=0 "
                         "failures=1");
}
END_TEST

/* The members kept after join, in id order, with their tasks readable. */
struct members_frame {
    co_frame co;
    co_group g;
    co_task *c;
    int rc;
};

static co_status members_main(co_task *t, void *arg)
{
    struct members_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_GROUP_SPAWN(t, &f->g, NULL, group_worker,
                                    GW("A", 5, 10)), 0);
    ck_assert_int_gt(CO_GROUP_SPAWN(t, &f->g, NULL, group_worker,
                                    GW("B", 1, -EIO)), 0);
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    for (f->c = co_group_next_member(&f->g, NULL); f->c;
         f->c = co_group_next_member(&f->g, f->c))
        note("%u:%s:%s:failed=%d", co_task_id(f->c), co_task_name(f->c),
             rcs(co_task_result(f->c)), co_group_member_failed(f->c));
    CO_END;
}

START_TEST(test_members_readable_in_id_order)
{
    struct members_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(members_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "B=-5 A:CANCEL 2:group_worker:CANCEL:failed=0 "
                         "3:group_worker:-5:failed=1");
}
END_TEST

Suite *group_policy_suite(void)
{
    Suite *s = suite_create("group_policy");
    TCase *tc = tcase_create("policy");
    tcase_add_checked_fixture(tc, group_setup, NULL);
    tcase_add_test(tc, test_all_waits_for_every_member);
    tcase_add_test(tc, test_all_stops_at_a_failure);
    tcase_add_test(tc, test_any_takes_the_first);
    tcase_add_test(tc, test_object_takes_the_first_not_zero);
    tcase_add_test(tc, test_object_takes_a_failure);
    tcase_add_test(tc, test_object_all_zero_waits_for_all);
    tcase_add_test(tc, test_none_cancels_at_once);
    tcase_add_test(tc, test_empty_and_zeroed_groups);
    tcase_add_test(tc, test_members_readable_in_id_order);
    suite_add_tcase(s, tc);
    return s;
}
