/*
 * test_fault_group.c -- task groups out of memory: spawn and adopt fail
 * with -ENOMEM having changed nothing, and join, which allocates nothing,
 * still ends every member.  A sweep fails each allocation of a program
 * using a group in turn; every run must end with 0 or -ENOMEM, and leak
 * nothing (the valgrind and sanitizer runs of this suite check that).
 */
#include <errno.h>
#include <stdio.h>

#include "curio.h"
#include "core/fault_impl.h"
#include "../log.h"
#include "fault.h"

struct gmember_frame {
    co_frame co;
    co_group *g;        /* set: spawn one more member into it */
    int rc;
};

static co_status gmember(co_task *t, void *arg)
{
    struct gmember_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    if (f->g) {
        f->rc = CO_GROUP_SPAWN(t, f->g, NULL, gmember,
                               (struct gmember_frame){ .g = NULL });
        if (f->rc < 0)
            CO_RETURN(f->rc);         /* -ENOMEM: a failure of the group */
    }
    CO_RETURN(1);
    CO_END;
}

struct gmain_frame {
    co_frame co;
    co_group g;
    co_task *early, *done;
    struct gmember_frame m;
    int rc, i, spawned, result;
};

static co_status gmain(co_task *t, void *arg)
{
    struct gmain_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        f->m.g = f->i == 0 ? &f->g : NULL;
        if ((f->rc = CO_GROUP_SPAWN(t, &f->g, NULL, gmember, f->m)) < 0)
            CO_RETURN(f->rc);
        f->spawned++;
    }
    f->m.g = NULL;
    if ((f->rc = CO_SPAWN(t, &f->early, gmember, f->m)) < 0)
        CO_RETURN(f->rc);
    if ((f->rc = co_group_adopt(t, &f->g, f->early)) < 0) {
        CO_AWAIT(f->result, co_task_join(t, f->early, NULL));
        CO_RETURN(f->rc);
    }
    f->spawned++;
    CO_AWAIT(f->rc, co_group_next_done(t, &f->g, &f->done));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_ptr_nonnull(f->done);
    CO_AWAIT(f->rc, co_task_join(t, f->done, &f->result));
    ck_assert_int_eq(f->rc, 0);
    CO_RETURN(0);
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    ck_assert_int_eq(f->rc, 0);                /* join needs no memory */
    /* members that failed did so for want of memory only */
    for (co_task *m = co_group_next_member(&f->g, NULL); m;
         m = co_group_next_member(&f->g, m))
        ck_assert(co_task_result(m) == 1 || co_task_result(m) == -ENOMEM);
    if (CO_RESULT() == 0 && co_group_failures(&f->g) > 0)
        CO_RETURN(-ENOMEM);
    CO_END;
}

static int gsweep_once(long n)
{
    struct gmain_frame m = { .rc = 0 };
    co_fault_fail_after(n);
    int rc = co_run(gmain, &m, sizeof m);
    co_fault_fail_after(-1);
    return rc;
}

START_TEST(test_group_sweep_every_allocation)
{
    long before = co_fault_attempts();
    ck_assert_int_eq(gsweep_once(-1), 0);
    long needed = co_fault_attempts() - before;
    ck_assert_int_gt(needed, 3);
    fprintf(stderr, "group sweep: %ld allocations\n", needed);
    for (long n = 0; n < needed + 3; n++) {
        int rc = gsweep_once(n);
        ck_assert_msg(rc == 0 || rc == -ENOMEM,
                      "allocation %ld failing: co_run gave %d", n, rc);
    }
    ck_assert_int_eq(gsweep_once(needed + 3), 0);
}
END_TEST

void fault_group_tcase(Suite *s)
{
    TCase *tc = tcase_create("group");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_group_sweep_every_allocation);
    suite_add_tcase(s, tc);
}
