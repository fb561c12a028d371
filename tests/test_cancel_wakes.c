/*
 * test_cancel_wakes.c -- wakes that must not be lost to a cancellation
 * (a woken join, a woken wait), and a wait completed elsewhere: by a wake,
 * during an expiry, during a cancel; one that expired; and the abort when
 * a wait is completed outside a wake.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "log.h"
#include "cancel_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ lost wakes */

/*
 * B is blocked in co_task_join(A).  A ends, which wakes B with A's result; in
 * the same cycle, before B runs, C cancels B.  B's join still returns A's
 * result, and B's next blocking call returns -ECANCELED.
 *
 *   cycle 1: A yields; B blocks in join(A); C yields
 *   cycle 2: A returns 42 (B woken); C cancels B; B runs
 */
static co_task *lw_a, *lw_b;

struct lw_a_frame {
    co_frame co;
    int rc;
};

static co_status lw_a_fn(co_task *t, void *arg)
{
    struct lw_a_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    note("A:end");
    CO_RETURN(42);
    CO_END;
}

static co_status lw_b_fn(co_task *t, void *arg)
{
    struct lw_a_frame *f = arg;
    CO_BEGIN(t, f);
    AWAIT_JOIN(f->rc, t, lw_a);
    note("B:join=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_yield(t));
    note("B:next=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status lw_c_fn(co_task *t, void *arg)
{
    struct lw_a_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(lw_b), "ready");     /* woken, not run */
    note("C:cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, lw_b));
    note("C:cancel=%s", rcs(f->rc));
    CO_END;
}

static co_status lost_join_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct lw_a_frame z = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, lw_a_fn, z), 0);
    lw_a = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->b, lw_b_fn, z), 0);
    lw_b = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->c, lw_c_fn, z), 0);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_END;
}

START_TEST(test_woken_join_not_lost_to_cancel)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(lost_join_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A:end C:cancel B:join=42 B:next=CANCEL "
                         "C:cancel=1");
}
END_TEST

/* The same with a plain wait queue: the value handed over is kept. */
static co_status lost_wake_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct qwaiter_frame q = { .name = "X" };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, qwaiter, q), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_ptr_eq(co_waitq_wake_one(&cancel_wq, 5), f->a);
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 5);
    CO_END;
}

START_TEST(test_woken_wait_not_lost_to_cancel)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(lost_wake_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "X=5");
}
END_TEST

/* ------------------------------------------------------------ completed elsewhere */

/* A primitive built the way the universal objects are: a record per wait
 * holding a queue that only its task waits on, and an operation that
 * someone else completes (sets `done`), whatever woke the task. */
struct record {
    co_waitq q;
    int done, value;
};

static co_status record_wait(co_task *t, struct record *r)
{
    int rc;
    if (co_wait_resumed(t)) {
        ck_assert_ptr_eq(co_wait_solo_queue(t), &r->q);   /* no search */
        if (r->done) {
            co_wait_completed(t);
            return r->value;
        }
        co_wait_enter(t, &rc);
        return rc;
    }
    ck_assert_ptr_null(co_wait_solo_queue(t));   /* a fresh call */
    if (co_wait_enter(t, &rc))
        return rc;
    co_waitq_init(&r->q);
    return co_block(t, &r->q, CO_NO_DEADLINE);
}

static struct record rec;

struct record_waiter_frame {
    co_frame co;
    co_timeout to;
    double region;                 /* 0: none */
    int rc;
};

static co_status record_waiter(co_task *t, void *arg)
{
    struct record_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->region > 0)
        co_timeout_after(t, &f->to, f->region);
    CO_AWAIT(f->rc, record_wait(t, &rec));
    note("wait=%s", rcs(f->rc));
    if (f->region > 0) {
        f->rc = co_timeout_end(t, &f->to, f->rc);
        note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    note("next=%s", rcs(f->rc));
    CO_END;
}

/* Holds the kernel's thread without yielding, once it has run once. */
static co_status staller(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    {   /* a block: no local may be live across an await */
        struct timespec ts = { 0, 60 * 1000 * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
    CO_END;
}

struct record_main_frame {
    co_frame co;
    co_task *w;
    int how, rc;
};

enum { BY_WAKE, DURING_EXPIRY, DURING_CANCEL, EXPIRED };

static co_status record_main(co_task *t, void *arg)
{
    struct record_main_frame *f = arg;
    struct record_waiter_frame w = {
        .region = f->how == DURING_EXPIRY ? 0.02 : f->how == EXPIRED ? 0.01 : 0
    };
    struct { co_frame co; int rc; } s = { .rc = 0 };
    CO_BEGIN(t, f);
    rec = (struct record){ .done = 0 };
    ck_assert_int_gt(CO_SPAWN(t, &f->w, record_waiter, w), 0);
    if (f->how == DURING_EXPIRY)
        ck_assert_int_gt(CO_SPAWN(t, NULL, staller, s), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* the waiter blocks */
    switch (f->how) {
    case BY_WAKE:
        rec.done = 1, rec.value = 5;
        ck_assert_ptr_eq(co_waitq_wake_one(&rec.q, 0), f->w);
        break;
    case DURING_EXPIRY:
        /* the staller holds the kernel past this sleep's deadline and then
         * the waiter's region's: both come due in one pass, this one
         * first, and the waiter's operation is completed after its
         * expiry woke it, before it runs */
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
        ck_assert_str_eq(co_task_state(f->w), "ready");
        rec.done = 1, rec.value = 5;
        break;
    case DURING_CANCEL:
        co_task_cancel_nowait(f->w);
        rec.done = 1, rec.value = 5;
        break;
    case EXPIRED:
        break;
    }
    CO_AWAIT(f->rc, co_task_join(t, f->w, NULL));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

static void run_record(int how)
{
    struct record_main_frame m = { .how = how };
    ck_assert_int_eq(co_run(record_main, &m, sizeof m), 0);
}

START_TEST(test_record_completed_by_wake)
{
    run_record(BY_WAKE);
    ck_assert_str_eq(lg, "wait=5 next=0");
}
END_TEST

/* co_wait_completed discards the expiry that woke the task: the call
 * returns its result and the region ends clean. */
START_TEST(test_record_completed_during_expiry)
{
    run_record(DURING_EXPIRY);
    ck_assert_str_eq(lg, "wait=5 end=5 expired=0 next=0");
}
END_TEST

/* ... but keeps a cancellation for the next blocking point. */
START_TEST(test_record_completed_during_cancel)
{
    run_record(DURING_CANCEL);
    ck_assert_str_eq(lg, "wait=5 next=CANCEL");
}
END_TEST

/* Not completed: co_wait_enter delivers the expiry, which marks the
 * region. */
START_TEST(test_record_expired)
{
    run_record(EXPIRED);
    ck_assert_str_eq(lg, "wait=TIMEOUT end=TIMEOUT expired=1 next=0");
}
END_TEST

/* co_wait_completed is for the re-evaluation of the task's own wait. */
static co_status completes_fresh(co_task *t, void *arg)
{
    struct { co_frame co; } *f = arg;
    CO_BEGIN(t, f);
    co_wait_completed(t);
    CO_END;
}

START_TEST(test_wait_completed_outside_a_wake_aborts)
{
    struct { co_frame co; } m = { { 0 } };
    co_run(completes_fresh, &m, sizeof m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *cancel_wakes_suite(void)
{
    Suite *s = suite_create("cancel_wakes");
    TCase *tc;

    tc = tcase_create("wakes");
    tcase_add_checked_fixture(tc, cancel_setup, NULL);
    tcase_add_test(tc, test_woken_join_not_lost_to_cancel);
    tcase_add_test(tc, test_woken_wait_not_lost_to_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("completed elsewhere");
    tcase_add_checked_fixture(tc, cancel_setup, NULL);
    const char *fork_mode = getenv("CK_FORK");
    tcase_add_test(tc, test_record_completed_by_wake);
    tcase_add_test(tc, test_record_completed_during_expiry);
    tcase_add_test(tc, test_record_completed_during_cancel);
    tcase_add_test(tc, test_record_expired);
    if (!fork_mode || strcmp(fork_mode, "no") != 0)
        tcase_add_test_raise_signal(tc,
                                    test_wait_completed_outside_a_wake_aborts,
                                    SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}
