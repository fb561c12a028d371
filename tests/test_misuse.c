/*
 * test_misuse.c -- bad input and misuse, and the scheduler's fairness
 * guarantees under constant load.
 *
 * NULL and nonsense arguments must come back as -EINVAL; misuse that cannot
 * be reported as a value (awaiting with another task's handle, timeout
 * regions ended out of order) must abort with a message, not corrupt the
 * kernel.  Abort tests need Check's fork mode and are skipped without it
 * (valgrind runs with CK_FORK=no).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

static void setup(void)
{
    log_reset();
}

/* ------------------------------------------------------------ bad input */

static co_status returns_zero(co_task *t, void *arg)
{
    struct { co_frame co; } *f = arg;
    CO_BEGIN(t, f);
    CO_END;
}

struct bad_input_frame {
    co_frame co;
    co_task *h;
    co_timeout to;
    int rc;
};

static co_status bad_input_main(co_task *t, void *arg)
{
    struct bad_input_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_task_cancel_nowait(NULL), -EINVAL);
    ck_assert_int_eq(co_task_detach(NULL), -EINVAL);
    ck_assert_int_eq(co_disable_cancellation(NULL), -EINVAL);
    ck_assert_int_eq(co_enable_cancellation(NULL), -EINVAL);
    ck_assert_int_eq(co_check_cancellation(NULL), -EINVAL);
    ck_assert_int_eq(co_timeout_after(NULL, &f->to, 1), -EINVAL);
    ck_assert_int_eq(co_timeout_after(t, NULL, 1), -EINVAL);
    ck_assert_int_eq(co_timeout_after(t, &f->to, NAN), -EINVAL);
    ck_assert_int_eq(co_timeout_end(t, NULL, 0), -EINVAL);
    ck_assert_int_eq(co_spawn(NULL, NULL, returns_zero, NULL,
                              sizeof(co_frame), NULL), -EINVAL);
    ck_assert_int_eq(co_spawn(t, NULL, returns_zero, NULL, sizeof(co_frame),
                              &(co_spawn_opts){ .flags = 0x100 }), -EINVAL);
    ck_assert_int_eq(co_kernel_spawn(NULL, NULL, returns_zero, NULL,
                                     sizeof(co_frame), NULL), -EINVAL);
    /* a running task has no result yet */
    ck_assert_int_eq(co_task_result(t), -EINVAL);
    ck_assert_int_eq(co_task_result(NULL), -EINVAL);
    ck_assert_ptr_null(co_task_name(NULL));
    ck_assert_ptr_null(co_task_frame(NULL));
    CO_AWAIT(f->rc, co_task_wait(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_cancel(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_wait(t, t));
    ck_assert_int_eq(f->rc, -EDEADLK);
    /* detaching twice */
    ck_assert_int_gt(co_spawn(t, &f->h, returns_zero, NULL, sizeof(co_frame),
                              NULL), 0);
    ck_assert_int_eq(co_task_detach(f->h), 0);
    ck_assert_int_eq(co_task_detach(f->h), -EINVAL);
    CO_RETURN(5);
    CO_END;
}

START_TEST(test_bad_input_is_einval)
{
    struct bad_input_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(NULL, &m, sizeof m), -EINVAL);
    ck_assert_int_eq(co_run(bad_input_main, &m, 1), -EINVAL);
    ck_assert_int_eq(co_kernel_run(NULL, bad_input_main, &m, sizeof m),
                     -EINVAL);
    ck_assert_int_eq(co_run(bad_input_main, &m, sizeof m), 5);
    ck_assert_ptr_null(co_current_task());
    ck_assert_ptr_null(co_current_kernel());
}
END_TEST

/* Out of descriptors, a kernel cannot be made: co_run says so with
 * -EMFILE.  (libev makes its wake-up descriptor lazily and used to abort
 * the whole process when it could not.) */
START_TEST(test_no_free_descriptor_is_emfile)
{
    int cap = 1 << 16, n = 0;
    int *fds = malloc((size_t)cap * sizeof *fds);
    ck_assert_ptr_nonnull(fds);
    int fd;
    while (n < cap && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        fds[n++] = fd;
    int full = n < cap && errno == EMFILE;
    struct { co_frame co; } m = { { 0 } };
    int rc = co_run(returns_zero, &m, sizeof m);
    errno = 0;
    co_kernel *k = co_kernel_new();
    int err = errno;
    while (n > 0)
        close(fds[--n]);
    free(fds);
    ck_assert(full);
    ck_assert_int_eq(rc, -EMFILE);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(err, EMFILE);
    /* and with descriptors back, all is well */
    ck_assert_int_eq(co_run(returns_zero, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ aborts */

struct other_frame {
    co_frame co;
    co_task *other;
    int rc;
};

/* Awaiting with another task's handle would corrupt that task's state;
 * the kernel refuses with a message. */
static co_status await_with_other_handle(co_task *t, void *arg)
{
    struct other_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(co_spawn(t, &f->other, returns_zero, NULL,
                              sizeof(co_frame), NULL), 0);
    CO_AWAIT(f->rc, co_sleep(f->other, 0.01));
    CO_END;
}

START_TEST(test_await_outside_its_task_aborts)
{
    struct other_frame m = { .rc = 0 };
    co_run(await_with_other_handle, &m, sizeof m);
}
END_TEST

START_TEST(test_primitive_without_kernel_aborts)
{
    /* no kernel runs in this thread: a task handle cannot be current */
    co_task fake;
    memset(&fake, 0, sizeof fake);
    co_sleep(&fake, 0.01);
}
END_TEST

/* A NULL self outside any kernel: the documented misuse message and
 * abort, not a NULL dereference (the fast path once compared self with a
 * NULL "running task" and went on to read self->flags). */
START_TEST(test_sleep_null_self_aborts)
{
    co_sleep(NULL, 1.0);
}
END_TEST

START_TEST(test_yield_null_self_aborts)
{
    co_yield(NULL);
}
END_TEST

START_TEST(test_lock_null_self_aborts)
{
    co_lock lock = { 0 };
    co_lock_acquire(NULL, &lock);
}
END_TEST

START_TEST(test_recv_null_self_aborts)
{
    char b[1];
    co_socket_recv(NULL, NULL, b, 1, 0);
}
END_TEST

/* A plain thread calling a task primitive of a universal queue. */
static void *uqueue_get_task_from_thread(void *arg)
{
    void *item;
    co_uqueue_get(NULL, arg, &item);
    return NULL;
}

START_TEST(test_uqueue_task_get_from_thread_aborts)
{
    co_uqueue q;
    ck_assert_int_eq(co_uqueue_init(&q, 0), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, uqueue_get_task_from_thread,
                                    &q), 0);
    pthread_join(th, NULL);
}
END_TEST

/* Inside a running task, too. */
static co_status sleeps_with_null_self(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(NULL, 0.01));
    CO_END;
}

START_TEST(test_null_self_in_task_aborts)
{
    struct { co_frame co; int rc; } m = { .rc = 0 };
    co_run(sleeps_with_null_self, &m, sizeof m);
}
END_TEST

struct regions_frame {
    co_frame co;
    co_timeout outer, inner;
};

static co_status regions_out_of_order(co_task *t, void *arg)
{
    struct regions_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->outer, 1);
    co_timeout_after(t, &f->inner, 1);
    co_timeout_end(t, &f->outer, 0);   /* inner is still active */
    CO_END;
}

START_TEST(test_regions_out_of_order_abort)
{
    struct regions_frame m;
    memset(&m, 0, sizeof m);
    co_run(regions_out_of_order, &m, sizeof m);
}
END_TEST

/* ------------------------------------------------------------ fairness */

/* Tasks that never block (they only yield) must not starve a sleeper: the
 * kernel checks its timers between bounded batches of cycles (Curio's
 * starvation tests).  Without that bound this test never ends. */
struct spinner_frame {
    co_frame co;
    long *spins;
    int rc;
};

static co_status spinner(co_task *t, void *arg)
{
    struct spinner_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_yield(t));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        (*f->spins)++;
    }
    CO_END;
}

struct starve_frame {
    co_frame co;
    co_task *a, *b;
    long spins;
    int rc, result;
};

static co_status starve_main(co_task *t, void *arg)
{
    struct starve_frame *f = arg;
    struct spinner_frame s = { .spins = &f->spins };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, spinner, s);
    CO_SPAWN(t, &f->b, spinner, s);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    note("woke=%s spun=%s", rcs(f->rc), f->spins > 0 ? "yes" : "no");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    CO_AWAIT(f->rc, co_task_cancel(t, f->b));
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    note("a=%s", rcs(f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->b, &f->result));
    note("b=%s", rcs(f->result));
    CO_END;
}

START_TEST(test_yielders_do_not_starve_timers)
{
    struct starve_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(starve_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "woke=0 spun=yes a=CANCEL b=CANCEL");
}
END_TEST

/* A bare CO_YIELD() inside a task suspends without waiting on anything;
 * the kernel treats it as co_yield (go behind the ready tasks), so the
 * task is not lost. */
struct bare_frame {
    co_frame co;
    const char *name;
    int i;
};

static co_status bare_yielder(co_task *t, void *arg)
{
    struct bare_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 2; f->i++) {
        note("%s%d", f->name, f->i);
        CO_YIELD();
    }
    CO_END;
}

struct bare_main_frame {
    co_frame co;
    co_task *a, *b;
    int rc, result;
};

static co_status bare_main(co_task *t, void *arg)
{
    struct bare_main_frame *f = arg;
    struct bare_frame x = { .name = "A" }, y = { .name = "B" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, bare_yielder, x);
    CO_SPAWN(t, &f->b, bare_yielder, y);
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->b, &f->result));
    note("done");
    CO_END;
}

START_TEST(test_bare_yield_in_task_is_a_yield)
{
    struct bare_main_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(bare_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A0 B0 A1 B1 done");
}
END_TEST

/* ------------------------------------------------------------ safety rails */


/* The out-of-order abort names both regions: the one ended and the one
 * still open inside it, each where it began. */
static void run_regions_out_of_order(void)
{
    struct regions_frame m;
    memset(&m, 0, sizeof m);
    co_run(regions_out_of_order, &m, sizeof m);
}

START_TEST(test_regions_out_of_order_names_both)
{
    const char *const texts[] = {
        "curio: co_timeout_end (tests/test_misuse.c:",
        "timeout region begun at tests/test_misuse.c:",
        "ended out of order: the region begun at tests/test_misuse.c:",
        "is still open inside it", NULL };
    expect_abort(run_regions_out_of_order, texts);
}
END_TEST

/* A primitive called without CO_AWAIT: the next await aborts. */
static co_status sleeps_without_await(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));      /* the line named: resumed here */
    f->rc = co_sleep(t, 0.05);         /* CO_WOULDBLOCK, and blocked */
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_END;
}

static void run_sleeps_without_await(void)
{
    struct { co_frame co; int rc; } m = { .rc = 0 };
    co_run(sleeps_without_await, &m, sizeof m);
}

START_TEST(test_missing_await_aborts)
{
    const char *const texts[] = {
        "curio: co_sleep (tests/test_misuse.c:", "already blocked",
        "missing CO_AWAIT?", NULL };
    expect_abort(run_sleeps_without_await, texts);
}
END_TEST

/* ... or, if the task returns instead, its end does. */
static co_status returns_while_blocked(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    f->rc = co_sleep(t, 0.05);
    CO_RETURN(0);
    CO_END;
}

static void run_returns_while_blocked(void)
{
    struct { co_frame co; int rc; } m = { .rc = 0 };
    co_run(returns_while_blocked, &m, sizeof m);
}

START_TEST(test_missing_await_then_return_aborts)
{
    const char *const texts[] = {
        "task end (tests/test_misuse.c:", "returned while already blocked",
        "missing CO_AWAIT?", NULL };
    expect_abort(run_returns_while_blocked, texts);
}
END_TEST

/* A child coroutine returns early between co_timeout_after and
 * co_timeout_end: its region would time out the parent's later sleeps. */
struct leaky_child { co_frame co; co_timeout to; int rc; };
struct leaky_parent { co_frame co; struct leaky_child child; int rc; };

static co_status leaky_child(co_task *t, void *arg)
{
    struct leaky_child *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_yield(t));
    if (f->rc == 0)
        CO_RETURN(-EIO);               /* the error path forgets the end */
    f->rc = co_timeout_end(t, &f->to, f->rc);
    CO_END;
}

static co_status leaky_parent(co_task *t, void *arg)
{
    struct leaky_parent *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT_CALL(f->rc, leaky_child, &f->child);
    CO_AWAIT(f->rc, co_sleep(t, 0.05)); /* would be -ETIMEDOUT */
    CO_END;
}

static void run_leaky_parent(void)
{
    struct leaky_parent m;
    memset(&m, 0, sizeof m);
    co_run(leaky_parent, &m, sizeof m);
}

START_TEST(test_region_left_open_by_child_aborts)
{
    const char *const texts[] = {
        "timeout region begun at tests/test_misuse.c:",
        "still open when the coroutine holding it finishes at "
        "tests/test_misuse.c:", "early return", NULL };
    expect_abort(run_leaky_parent, texts);
}
END_TEST

/* A region kept outside the frame (not found by CO_END's check) still
 * cannot outlive its task. */
static co_timeout outside_region;

static co_status leaves_region_open(co_task *t, void *arg)
{
    struct { co_frame co; int rc; } *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &outside_region, 10);
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

static void run_leaves_region_open(void)
{
    struct { co_frame co; int rc; } m = { .rc = 0 };
    co_run(leaves_region_open, &m, sizeof m);
}

START_TEST(test_region_open_at_task_end_aborts)
{
    const char *const texts[] = {
        "co_timeout_after (tests/test_misuse.c:",
        "still open when its task ends", NULL };
    expect_abort(run_leaves_region_open, texts);
}
END_TEST

Suite *misuse_suite(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc = tcase_create("bad input");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_bad_input_is_einval);
    tcase_add_test(tc, test_no_free_descriptor_is_emfile);
    suite_add_tcase(s, tc);

    const char *fork_mode = getenv("CK_FORK");
    if (!fork_mode || strcmp(fork_mode, "no") != 0) {
        tc = tcase_create("aborts");
        tcase_add_test_raise_signal(tc, test_await_outside_its_task_aborts,
                                    SIGABRT);
        tcase_add_test_raise_signal(tc, test_primitive_without_kernel_aborts,
                                    SIGABRT);
        tcase_add_test_raise_signal(tc, test_regions_out_of_order_abort,
                                    SIGABRT);
        tcase_add_test_raise_signal(tc, test_sleep_null_self_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_yield_null_self_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_lock_null_self_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_recv_null_self_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc,
                                    test_uqueue_task_get_from_thread_aborts,
                                    SIGABRT);
        tcase_add_test_raise_signal(tc, test_null_self_in_task_aborts,
                                    SIGABRT);
        tcase_add_test(tc, test_missing_await_aborts);
        tcase_add_test(tc, test_regions_out_of_order_names_both);
        tcase_add_test(tc, test_missing_await_then_return_aborts);
        tcase_add_test(tc, test_region_left_open_by_child_aborts);
        tcase_add_test(tc, test_region_open_at_task_end_aborts);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("fairness");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_yielders_do_not_starve_timers);
    tcase_add_test(tc, test_bare_yield_in_task_is_a_yield);
    suite_add_tcase(s, tc);
    return s;
}
