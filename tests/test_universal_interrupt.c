/*
 * test_universal_interrupt.c -- universal queue calls interrupted: a
 * thread's get timing out, a task's get cancelled, a task's get and put
 * timing out -- nothing lost, nothing taken twice.
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

/* ------------------------------------------------------------ thread timeouts */

static void *put_later(void *arg)
{
    nap_ms(20);
    co_uqueue_put_thread(arg, (void *)"late", -1);
    return NULL;
}

START_TEST(test_thread_get_timeout)
{
    co_uqueue q;
    void *item = NULL;
    ck_assert_int_eq(co_uqueue_init(&q, 1), 0);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0.02), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"a", 0), 0);
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"b", 0.01), -ETIMEDOUT);
    ck_assert_int_eq((int)co_uqueue_qsize(&q), 1);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert_str_eq(item, "a");
    pthread_t th;
    pthread_create(&th, NULL, put_later, &q);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 5.0), 0);   /* woken */
    ck_assert_str_eq(item, "late");
    pthread_join(th, NULL);
    ck_assert_int_eq(co_uqueue_get_thread(NULL, &item, 0), -EINVAL);
    ck_assert_int_eq(co_uqueue_put_thread(&q, NULL, 0.0 / 0.0), -EINVAL);
    co_uqueue_free(&q);
}
END_TEST

/* ------------------------------------------------------------ cancellation */

struct cancel_frame {
    co_frame co;
    co_uqueue q;
    co_task *g;
    struct getter_frame gf;
    pthread_t th;
    void *item;
    int rc;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);

    /* Cancelled while waiting: no item; the next put stays queued. */
    f->gf = (struct getter_frame){ .name = "A", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_AWAIT(f->rc, co_task_cancel(t, f->g));
    AWAIT_JOIN(f->rc, t, f->g);
    co_uqueue_put_thread(&f->q, (void *)"kept", 0);
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    note("main:%s", (const char *)f->item);

    /* Handed an item (same kernel), then cancelled before it ran: it keeps
     * the item, and the cancellation shows at its next blocking call. */
    f->gf = (struct getter_frame){ .name = "B", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    co_uqueue_put_thread(&f->q, (void *)"b", 0);
    co_task_cancel_nowait(f->g);
    AWAIT_JOIN(f->rc, t, f->g);

    /* The same through another thread: the put's post is still pending in
     * this kernel (main does not let the loop run) when the cancel lands. */
    f->gf = (struct getter_frame){ .name = "C", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    pthread_create(&f->th, NULL, put_one, &f->q);
    pthread_join(f->th, NULL);
    co_task_cancel_nowait(f->g);
    AWAIT_JOIN(f->rc, t, f->g);
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_task_get_cancelled)
{
    struct cancel_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(cancel_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "A:get=CANCEL:- A:next=CANCEL qsize=1 main:kept "
                         "B:get=0:b B:next=CANCEL "
                         "C:get=0:x C:next=CANCEL qsize=0");
}
END_TEST

/* ------------------------------------------------------------ timeouts */

struct tmo_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    pthread_t th;
    void *item;
    int rc;
};

static co_status tmo_main(co_task *t, void *arg)
{
    struct tmo_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("get=%s", rcs(f->rc));
    /* a thread's item arrives well within the region */
    pthread_create(&f->th, NULL, put_later, &f->q);
    co_timeout_after(t, &f->to, 5.0);
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("get=%s:%s", rcs(f->rc), f->rc == 0 ? (char *)f->item : "-");
    pthread_join(f->th, NULL);
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_task_get_timeout)
{
    struct tmo_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(tmo_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "get=TIMEOUT get=0:late qsize=0");
}
END_TEST

/* Task puts block on a full queue, under a timeout; a timed-out put did
 * not put. */
struct tput_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    void *item;
    int rc;
};

static co_status tput_main(co_task *t, void *arg)
{
    struct tput_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 1);
    CO_AWAIT(f->rc, co_uqueue_put(t, &f->q, (void *)"1"));
    note("put1=%s", rcs(f->rc));
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_uqueue_put(t, &f->q, (void *)"2"));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("put2=%s qsize=%d", rcs(f->rc), (int)co_uqueue_qsize(&f->q));
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    note("got=%s qsize=%d", (char *)f->item, (int)co_uqueue_qsize(&f->q));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_task_put_timeout)
{
    struct tput_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(tput_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "put1=0 put2=TIMEOUT qsize=1 got=1 qsize=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *universal_interrupt_suite(void)
{
    Suite *s = suite_create("universal_interrupt");
    TCase *tc;

    tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, universal_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_thread_get_timeout);
    tcase_add_test(tc, test_task_get_cancelled);
    tcase_add_test(tc, test_task_get_timeout);
    tcase_add_test(tc, test_task_put_timeout);
    suite_add_tcase(s, tc);
    return s;
}
