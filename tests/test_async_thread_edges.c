/*
 * test_async_thread_edges.c -- async threads at their edges: a timeout
 * region opened from the thread, misuse from a plain pthread and from the
 * kernel's thread, no thread left behind (also by a shutdown), many
 * awaits from several threads at once, and cancellations at every moment.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "async_thread_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ timeouts */

static int timed(co_thread *th, void *arg)
{
    (void)arg;
    co_timeout region;
    atomic_store(&thread_saw[0], co_thread_timeout_after(th, &region, 0.03));
    int rc = co_thread_sleep(th, 10.0);
    atomic_store(&thread_saw[1], co_thread_timeout_end(th, &region, rc));
    /* expired while the thread ran on its own: the next await sees it */
    co_timeout late;
    co_thread_timeout_after(th, &late, 0.01);
    nap(0.05);
    rc = co_thread_sleep(th, 0);
    atomic_store(&thread_saw[2], co_thread_timeout_end(th, &late, rc));
    atomic_store(&thread_saw[3], co_thread_sleep(th, 0.001));   /* regions over */
    return 0;
}

static co_status timeout_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(co_spawn_thread(t, &f->h[0], timed, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->h[0]);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_timeout_from_thread)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(timeout_main, f);
    ck_assert_int_eq(atomic_load(&thread_saw[0]), 0);
    ck_assert_int_eq(atomic_load(&thread_saw[1]), -ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&thread_saw[2]), -ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&thread_saw[3]), 0);
}
END_TEST

/* ------------------------------------------------------------ misuse */

static co_queue *gate;

/* Publishes its handle, then waits on the gate until a task opens it. */
static int waiter(co_thread *th, void *arg)
{
    (void)arg;
    atomic_store(&published, th);
    void *item;
    return co_thread_queue_get(th, gate, &item);
}

static void *plain(void *arg)
{
    (void)arg;
    co_thread *th = atomic_load(&published);
    atomic_store(&thread_saw[0], co_thread_sleep(th, 0));
    atomic_store(&thread_saw[1], co_thread_current() == NULL);
    return NULL;
}

static co_status misuse_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    gate = &f->q;
    ck_assert_int_eq(co_queue_init(&f->q, CO_QUEUE_FIFO, 0), 0);
    ck_assert_int_eq(co_spawn_thread(NULL, NULL, waiter, NULL), -EINVAL);
    ck_assert_int_eq(co_spawn_thread(t, NULL, NULL, NULL), -EINVAL);
    ck_assert_int_gt(co_spawn_thread(t, &f->h[0], waiter, NULL), 0);
    while (!atomic_load(&published))
        CO_AWAIT(f->rc, co_sleep(t, 0.005));
    {
        co_thread *th = atomic_load(&published);
        pthread_t p;
        ck_assert_int_eq(pthread_create(&p, NULL, plain, NULL), 0);
        pthread_join(p, NULL);
        /* the kernel's own thread would wait for itself */
        ck_assert_int_eq(co_thread_sleep(th, 0), -EDEADLK);
        ck_assert_int_eq(co_thread_sleep(NULL, 0), -EINVAL);
        ck_assert_int_eq(co_thread_await(th, NULL, NULL, 0), -EINVAL);
    }
    CO_AWAIT(f->rc, co_queue_put(t, &f->q, NULL));
    AWAIT_JOIN(f->rc, t, f->h[0]);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_queue_free(&f->q), 0);
    CO_END;
}

START_TEST(test_misuse)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(misuse_main, f);
    ck_assert_int_eq(atomic_load(&thread_saw[0]), -EPERM);
    ck_assert_int_eq(atomic_load(&thread_saw[1]), 1);
}
END_TEST

/* ------------------------------------------------------------ no leaks */

static int short_lived(co_thread *th, void *arg)
{
    return co_thread_sleep(th, 0.001) < 0 ? -1 : (int)(long)arg;
}

static co_status many_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 5; f->i++)
        ck_assert_int_gt(co_spawn_thread(t, &f->h[f->i], short_lived,
                                         (void *)(long)f->i), 0);
    for (f->i = 0; f->i < 5; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, f->i);
    }
    /* one left running: the shutdown cancels it at its await */
    ck_assert_int_gt(co_spawn_thread(t, NULL, sleeper, NULL), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    CO_END;
}

static void *nothing(void *arg)
{
    return arg;
}

START_TEST(test_no_thread_leaks)
{
    async_thread_reset();
    /* A sanitizer starts a helper thread of its own at the first
     * pthread_create: let that happen before counting. */
    pthread_t p;
    ck_assert_int_eq(pthread_create(&p, NULL, nothing, NULL), 0);
    pthread_join(p, NULL);
    int before = count_threads();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(many_main, f);
    ck_assert_int_eq(count_threads(), before);
    ck_assert_int_eq(atomic_load(&thread_saw[0]), -ECANCELED);
}
END_TEST

/* ------------------------------------------------------------ many awaits */

/* A counter only the kernel's thread touches (plain int: ThreadSanitizer
 * would see an await that ran anywhere else). */
static int counted;

struct count_frame {
    co_frame co;
    int rc;
};

static co_status count_one(co_task *t, void *arg)
{
    struct count_frame *f = arg;
    CO_BEGIN(t, f);
    counted++;
    if (counted % 7 == 0)                 /* interleave with the others */
        CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

#define COUNTERS 4
#define AWAITS 2000

static int counter(co_thread *th, void *arg)
{
    (void)arg;
    struct count_frame f;
    for (int i = 0; i < AWAITS; i++)
        if (co_thread_await(th, count_one, &f, sizeof f) != 0)
            return -1;
    return AWAITS;
}

static co_status many_awaits_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    counted = 0;
    for (f->i = 0; f->i < COUNTERS; f->i++)
        ck_assert_int_gt(co_spawn_thread(t, &f->h[f->i], counter, NULL), 0);
    for (f->i = 0; f->i < COUNTERS; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, AWAITS);
    }
    ck_assert_int_eq(counted, COUNTERS * AWAITS);
    CO_END;
}

START_TEST(test_many_awaits_from_threads)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(many_awaits_main, f);
}
END_TEST

/* ------------------------------------------------------------ cancel races */

/* Awaits yields until one fails; then one more must fail the same way
 * (sticky).  Returns how many succeeded. */
static int yielder(co_thread *th, void *arg)
{
    (void)arg;
    int n = 0, rc;
    while ((rc = co_thread_sleep(th, 0)) == 0)
        n++;
    atomic_store(&thread_saw[0], rc);
    atomic_store(&thread_saw[1], co_thread_sleep(th, 0));
    return n;
}

static co_status cancel_race_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 20; f->i++) {
        atomic_store(&thread_saw[0], 12345);
        atomic_store(&thread_saw[1], 12345);
        ck_assert_int_gt(co_spawn_thread(t, &f->h[0], yielder, NULL), 0);
        if (f->i % 4)                     /* at once, or after a while */
            CO_AWAIT(f->rc, co_sleep(t, 0.0005 * f->i));
        CO_AWAIT(f->rc, co_task_cancel(t, f->h[0]));
        ck_assert_int_eq(f->rc, 1);
        CO_AWAIT(f->rc, co_task_join(t, f->h[0], &f->result));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_ge(f->result, 0);
        ck_assert_int_eq(atomic_load(&thread_saw[0]), -ECANCELED);
        ck_assert_int_eq(atomic_load(&thread_saw[1]), -ECANCELED);
    }
    CO_END;
}

START_TEST(test_cancel_at_any_moment)
{
    async_thread_reset();
    int before = count_threads();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(cancel_race_main, f);
    ck_assert_int_le(count_threads(), before + 1);   /* a sanitizer's own */
}
END_TEST

Suite *async_thread_edges_suite(void)
{
    Suite *s = suite_create("async_thread_edges");
    TCase *tc = tcase_create("async_thread_edges");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_timeout_from_thread);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_no_thread_leaks);
    tcase_add_test(tc, test_many_awaits_from_threads);
    tcase_add_test(tc, test_cancel_at_any_moment);
    suite_add_tcase(s, tc);
    return s;
}
