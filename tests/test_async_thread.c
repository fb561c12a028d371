/*
 * test_async_thread.c -- async threads (core/async_thread.h): a result
 * comes back, a thread blocked in an await is cancelled (and one busy on
 * its own is cancelled at its next await), a thread takes a curio Lock a
 * task holds and reads a curio Queue.
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

/* ------------------------------------------------------------ a result */

static int adder(co_thread *th, void *arg)
{
    (void)arg;
    nap(0.02);               /* blocking work: the kernel must not give up */
    if (co_thread_current() != th)
        return -1;
    struct say_frame sf = { .word = "thread:await" };
    int rc = co_thread_await(th, say, &sf, sizeof sf);
    if (rc < 0)
        return rc;
    return sf.out + rc;      /* 42 */
}


static co_status result_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_ptr_null(co_thread_current());
    ck_assert_int_gt(co_spawn_thread(t, &f->h[0], adder, NULL), 0);
    note("main:join");
    CO_AWAIT(f->rc, co_task_join(t, f->h[0], &f->result));
    ck_assert_int_eq(f->rc, 0);
    note("result=%d", f->result);
    CO_END;
}

START_TEST(test_result_comes_back)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(result_main, f);
    ck_assert_str_eq(lg, "main:join thread:await result=42");
}
END_TEST

/* ------------------------------------------------------------ cancel */


static co_status cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(co_spawn_thread(t, &f->h[0], sleeper, NULL), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    note("main:cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, f->h[0]));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_int_eq(co_task_done(f->h[0]), 1);
    CO_AWAIT(f->rc, co_task_join(t, f->h[0], &f->result));
    ck_assert_int_eq(f->rc, 0);
    note("result=%d", f->result);
    CO_END;
}

START_TEST(test_cancel_at_await)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(cancel_main, f);
    ck_assert_str_eq(lg, "thread:sleep main:cancel result=7");
    ck_assert_int_eq(atomic_load(&thread_saw[0]), -ECANCELED);
    ck_assert_int_eq(atomic_load(&thread_saw[1]), -ECANCELED);
}
END_TEST

/* A cancellation that arrives while the thread runs on its own waits for
 * its next await; the work between is not interrupted. */
static int busy(co_thread *th, void *arg)
{
    (void)arg;
    struct say_frame sf = { .word = "thread:busy" };
    co_thread_await(th, say, &sf, sizeof sf);
    nap(0.1);                          /* cancelled meanwhile */
    atomic_store(&thread_saw[0], co_thread_sleep(th, 0));
    return 3;
}

static co_status cancel_busy_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(co_spawn_thread(t, &f->h[0], busy, NULL), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.03));
    note("main:cancel");
    CO_AWAIT(f->rc, co_task_cancel(t, f->h[0]));
    CO_AWAIT(f->rc, co_task_join(t, f->h[0], &f->result));
    note("result=%d", f->result);
    CO_END;
}

START_TEST(test_cancel_waits_for_next_await)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(cancel_busy_main, f);
    ck_assert_str_eq(lg, "thread:busy main:cancel result=3");
    ck_assert_int_eq(atomic_load(&thread_saw[0]), -ECANCELED);
}
END_TEST

/* ------------------------------------------------------------ lock, queue */

static co_lock *shared_lock;
static char slots[128];        /* the queue's items point into it */
static co_queue *shared_queue;

static int locker(co_thread *th, void *arg)
{
    (void)arg;
    int rc = co_thread_lock_acquire(th, shared_lock);
    if (rc < 0)
        return rc;
    struct say_frame sf = { .word = "thread:locked" };
    co_thread_await(th, say, &sf, sizeof sf);
    rc = co_thread_lock_release(th, shared_lock);
    if (rc < 0)
        return rc;
    void *item = NULL;
    rc = co_thread_queue_get(th, shared_queue, &item);
    if (rc < 0)
        return rc;
    rc = co_thread_queue_put(th, shared_queue, (char *)item + 1);
    return rc < 0 ? rc : 0;
}

static co_status lock_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    shared_lock = &f->lock;
    shared_queue = &f->q;
    ck_assert_int_eq(co_queue_init(&f->q, CO_QUEUE_FIFO, 0), 0);
    CO_AWAIT(f->rc, co_lock_acquire(t, &f->lock));
    ck_assert_int_gt(co_spawn_thread(t, &f->h[0], locker, NULL), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    note("main:release");
    ck_assert_int_eq(co_lock_release(t, &f->lock), 0);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    ck_assert_int_eq(co_lock_locked(&f->lock), 0);
    CO_AWAIT(f->rc, co_queue_put(t, &f->q, &slots[100]));
    CO_AWAIT(f->rc, co_sleep(t, 0.02));    /* let the thread take it */
    CO_AWAIT(f->rc, co_queue_get(t, &f->q, &f->item));
    note("main:got=%d", (int)((char *)f->item - slots));
    CO_AWAIT(f->rc, co_task_join(t, f->h[0], &f->result));
    note("result=%d", f->result);
    ck_assert_int_eq(co_queue_free(&f->q), 0);
    CO_END;
}

START_TEST(test_lock_and_queue)
{
    async_thread_reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(lock_main, f);
    ck_assert_str_eq(lg,
                     "main:release thread:locked main:got=101 result=0");
}
END_TEST

Suite *async_thread_suite(void)
{
    Suite *s = suite_create("async_thread");
    TCase *tc = tcase_create("async_thread");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_result_comes_back);
    tcase_add_test(tc, test_cancel_at_await);
    tcase_add_test(tc, test_cancel_waits_for_next_await);
    tcase_add_test(tc, test_lock_and_queue);
    suite_add_tcase(s, tc);
    return s;
}
