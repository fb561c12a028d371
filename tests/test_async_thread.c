/*
 * test_async_thread.c -- async threads (core/async_thread.h): a result
 * comes back, a thread blocked in an await is cancelled, a thread takes a
 * curio Lock a task holds and reads a curio Queue, a timeout region opened
 * from the thread, misuse from a plain pthread and from the kernel's
 * thread, and no thread left behind.
 *
 * The log is written only in the kernel's thread: by tasks, and by the
 * coroutines the threads await (they run inside the backing task).  What
 * a thread sees itself goes to atomics the test reads after the join.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

static atomic_int seen[4];
static _Atomic(co_thread *) published;

static void reset(void)
{
    log_reset();
    for (int i = 0; i < 4; i++)
        atomic_store(&seen[i], 12345);
    atomic_store(&published, NULL);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void nap(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

/* A coroutine the threads await: notes its word in the kernel's thread,
 * sleeps a little, and leaves a value in its frame. */
struct say_frame {
    co_frame co;
    const char *word;
    int out, rc;
};

static co_status say(co_task *t, void *arg)
{
    struct say_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s", f->word);
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    f->out = 40;
    CO_RETURN(f->rc < 0 ? f->rc : 2);
    CO_END;
}

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

struct main_frame {
    co_frame co;
    co_task *h[5];
    co_lock lock;
    co_queue q;
    void *item;
    int i, rc, result;
};

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
    reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(result_main, f);
    ck_assert_str_eq(lg, "main:join thread:await result=42");
}
END_TEST

/* ------------------------------------------------------------ cancel */

static int sleeper(co_thread *th, void *arg)
{
    (void)arg;
    struct say_frame sf = { .word = "thread:sleep" };
    co_thread_await(th, say, &sf, sizeof sf);
    atomic_store(&seen[0], co_thread_sleep(th, 10.0));
    atomic_store(&seen[1], co_thread_sleep(th, 0));     /* sticky */
    return 7;
}

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
    reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(cancel_main, f);
    ck_assert_str_eq(lg, "thread:sleep main:cancel result=7");
    ck_assert_int_eq(atomic_load(&seen[0]), -ECANCELED);
    ck_assert_int_eq(atomic_load(&seen[1]), -ECANCELED);
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
    atomic_store(&seen[0], co_thread_sleep(th, 0));
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
    reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(cancel_busy_main, f);
    ck_assert_str_eq(lg, "thread:busy main:cancel result=3");
    ck_assert_int_eq(atomic_load(&seen[0]), -ECANCELED);
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
    reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(lock_main, f);
    ck_assert_str_eq(lg,
                     "main:release thread:locked main:got=101 result=0");
}
END_TEST

/* ------------------------------------------------------------ timeouts */

static int timed(co_thread *th, void *arg)
{
    (void)arg;
    co_timeout region;
    atomic_store(&seen[0], co_thread_timeout_after(th, &region, 0.03));
    int rc = co_thread_sleep(th, 10.0);
    atomic_store(&seen[1], co_thread_timeout_end(th, &region, rc));
    /* expired while the thread ran on its own: the next await sees it */
    co_timeout late;
    co_thread_timeout_after(th, &late, 0.01);
    nap(0.05);
    rc = co_thread_sleep(th, 0);
    atomic_store(&seen[2], co_thread_timeout_end(th, &late, rc));
    atomic_store(&seen[3], co_thread_sleep(th, 0.001));   /* regions over */
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
    reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(timeout_main, f);
    ck_assert_int_eq(atomic_load(&seen[0]), 0);
    ck_assert_int_eq(atomic_load(&seen[1]), -ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&seen[2]), -ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&seen[3]), 0);
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
    atomic_store(&seen[0], co_thread_sleep(th, 0));
    atomic_store(&seen[1], co_thread_current() == NULL);
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
    reset();
    struct main_frame f;
    memset(&f, 0, sizeof f);
    RUN(misuse_main, f);
    ck_assert_int_eq(atomic_load(&seen[0]), -EPERM);
    ck_assert_int_eq(atomic_load(&seen[1]), 1);
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
    reset();
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
    ck_assert_int_eq(atomic_load(&seen[0]), -ECANCELED);
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
    tcase_add_test(tc, test_timeout_from_thread);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_no_thread_leaks);
    suite_add_tcase(s, tc);
    return s;
}
