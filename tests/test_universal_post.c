/*
 * test_universal_post.c -- the thread-safe entry into a kernel
 * (co_kernel_post, before the kernel runs too, and unposting), two kernels
 * in two threads playing ping-pong through universal queues, and the
 * eventfd a foreign loop can poll.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "core/async.h"
#include "sync/universal.h"
#include "log.h"
#include "universal_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ post */

static void post_set_event(void *arg)
{
    co_event_set(arg);
}

static void *poster(void *arg)
{
    nap_ms(10);
    co_kernel_post_fn(((void **)arg)[0], post_set_event, ((void **)arg)[1]);
    return NULL;
}

struct post_frame {
    co_frame co;
    co_event ev;
    pthread_t th;
    void *args[2];
    int rc;
};

static co_status post_main(co_task *t, void *arg)
{
    struct post_frame *f = arg;
    CO_BEGIN(t, f);
    f->args[0] = co_current_kernel();
    f->args[1] = &f->ev;
    co_kernel_hold(co_current_kernel());   /* a thread will deliver */
    pthread_create(&f->th, NULL, poster, f->args);
    CO_AWAIT(f->rc, co_event_wait(t, &f->ev));
    co_kernel_unhold(co_current_kernel());
    pthread_join(f->th, NULL);
    CO_RETURN(f->rc == 0 ? 7 : f->rc);
    CO_END;
}

START_TEST(test_post_from_thread)
{
    struct post_frame f = { .rc = 0 };
    ck_assert_int_eq(co_run(post_main, &f, sizeof f), 7);
}
END_TEST

static int early_ran;
static void mark_early(void *arg)
{
    (void)arg;
    early_ran = co_current_kernel() != NULL;
}

struct yield_frame { co_frame co; int rc; };
static co_status yield_main(co_task *t, void *arg)
{
    struct yield_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_END;
}

/* Posted before the first run: runs in the run.  Posted then taken back,
 * or still pending at free: never runs. */
START_TEST(test_post_before_run_and_unpost)
{
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    co_post p, q;
    co_post_init(&p, mark_early, NULL);
    co_post_init(&q, mark_early, NULL);
    ck_assert_int_eq(co_kernel_post(k, &p), 0);
    ck_assert_int_eq(co_kernel_post(k, &p), 0);  /* pending: runs once */
    ck_assert_int_eq(co_kernel_post(k, &q), 0);
    ck_assert_int_eq(co_kernel_unpost(k, &q), 1);
    ck_assert_int_eq(co_kernel_unpost(k, &q), 0);
    early_ran = 0;
    struct yield_frame f = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, yield_main, &f, sizeof f), 0);
    ck_assert_int_eq(early_ran, 1);
    ck_assert_int_eq(co_kernel_unpost(k, &p), 0);  /* it has run */
    ck_assert_int_eq(co_kernel_post_fn(k, mark_early, NULL), 0);
    ck_assert_int_eq(co_kernel_post(NULL, &p), -EINVAL);
    co_kernel_free(k);                               /* dropped, freed */
}
END_TEST

/* ------------------------------------------------------------ two kernels */

#define ROUNDS 500

struct shared2 { co_uqueue ping, pong; co_uevent done; };

struct ping_frame {
    co_frame co;
    struct shared2 *s;
    void *item;
    int i, rc;
    uint64_t sum;
};

/* Kernel A: send i, expect i + 1 back; then wait for B's "done". */
static co_status pinger(co_task *t, void *arg)
{
    struct ping_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= ROUNDS; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->s->ping,
                                           (void *)(uintptr_t)f->i));
        if (f->rc < 0) CO_RETURN(f->rc);
        CO_AWAIT(f->rc, co_uqueue_get(t, &f->s->pong, &f->item));
        if (f->rc < 0) CO_RETURN(f->rc);
        if ((uintptr_t)f->item != (uintptr_t)f->i + 1) CO_RETURN(-EPROTO);
        f->sum += (uintptr_t)f->item;
    }
    CO_AWAIT(f->rc, co_uqueue_put(t, &f->s->ping, NULL)); /* stop */
    CO_AWAIT(f->rc, co_uevent_wait(t, &f->s->done));
    CO_RETURN(f->rc < 0 ? f->rc : (int)(f->sum % 100000));
    CO_END;
}

/* Kernel B: answer i with i + 1 until NULL, then set "done". */
static co_status ponger(co_task *t, void *arg)
{
    struct ping_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_uqueue_get(t, &f->s->ping, &f->item));
        if (f->rc < 0) CO_RETURN(f->rc);
        if (!f->item) break;
        f->i++;
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->s->pong,
                                           (void *)((uintptr_t)f->item + 1)));
        if (f->rc < 0) CO_RETURN(f->rc);
    }
    co_uevent_set(&f->s->done);
    CO_RETURN(f->i);
    CO_END;
}

struct kthread { co_func fn; struct ping_frame f; int rc; };

static void *run_kernel(void *arg)
{
    struct kthread *k = arg;
    k->rc = co_run(k->fn, &k->f, sizeof k->f);
    return NULL;
}

START_TEST(test_two_kernels)
{
    static struct shared2 s;
    ck_assert_int_eq(co_uqueue_init(&s.ping, 1), 0);
    ck_assert_int_eq(co_uqueue_init(&s.pong, 0), 0);
    ck_assert_int_eq(co_uevent_init(&s.done), 0);
    struct kthread a = { .fn = pinger, .f = { .s = &s } };
    struct kthread b = { .fn = ponger, .f = { .s = &s } };
    pthread_t ta, tb;
    pthread_create(&tb, NULL, run_kernel, &b);
    pthread_create(&ta, NULL, run_kernel, &a);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    uint64_t sum = 0;
    for (uint64_t i = 2; i <= ROUNDS + 1; i++)
        sum += i;
    ck_assert_int_eq(a.rc, (int)(sum % 100000));
    ck_assert_int_eq(b.rc, ROUNDS);
    ck_assert_int_eq((int)co_uqueue_qsize(&s.ping), 0);
    ck_assert_int_eq((int)co_uqueue_qsize(&s.pong), 0);
    co_uqueue_free(&s.ping);
    co_uqueue_free(&s.pong);
    co_uevent_free(&s.done);
}
END_TEST

/* ------------------------------------------------------------ eventfd */

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(test_eventfd)
{
    co_uqueue q;
    void *item;
    ck_assert_int_eq(co_uqueue_init(&q, 0), 0);
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"a", 0), 0);
    int fd = co_uqueue_fd(&q);            /* created with an item queued */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(co_uqueue_fd(&q), fd);
    ck_assert(readable(fd));
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert(!readable(fd));
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"b", 0), 0);
    ck_assert(readable(fd));
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"c", 0), 0);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert_str_eq(item, "b");
    ck_assert(readable(fd));              /* "c" still pending */
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert_str_eq(item, "c");
    ck_assert(!readable(fd));
    co_uqueue_free(&q);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *universal_post_suite(void)
{
    Suite *s = suite_create("universal_post");
    TCase *tc;

    tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, universal_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_post_from_thread);
    tcase_add_test(tc, test_post_before_run_and_unpost);
    tcase_add_test(tc, test_two_kernels);
    tcase_add_test(tc, test_eventfd);
    suite_add_tcase(s, tc);
    return s;
}
