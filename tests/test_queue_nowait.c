/*
 * test_queue_nowait.c -- the non-blocking calls (outside a task, with
 * waiters, from a callback), the queue's storage growing, and a million
 * items through a producer and a consumer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "queue_tasks.h"
#include "suites.h"
#include "../core/async.h"
#include "../sync/queue.h"

/* ------------------------------------------------------------ nowait */

/* No task, no kernel: the _nowait forms on each kind of queue. */
START_TEST(test_queue_nowait_outside_task)
{
    void *item = IT(-1);
    int prio = -1;
    ck_assert_int_eq(co_queue_get_nowait(&q, &item), -EAGAIN);  /* zeros */
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 2), 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(1)), 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(2)), 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(3)), -EAGAIN);
    ck_assert(co_queue_full(&q));
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(3), 1), -EINVAL);
    ck_assert_int_eq(co_queue_get_priority_nowait(&q, &item, &prio), 0);
    ck_assert_int_eq(NUM(item), 1);
    ck_assert_int_eq(prio, 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(3)), 0);
    note_left();
    ck_assert_int_eq(co_queue_get_nowait(&q, &item), -EAGAIN);
    ck_assert_int_eq(NUM(item), 1);               /* untouched */
    ck_assert_int_eq(co_queue_unfinished(&q), 3);
    ck_assert_int_eq(co_queue_free(&q), 0);

    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_LIFO, 0), 0);
    for (int i = 1; i <= 3; i++)
        ck_assert_int_eq(co_queue_put_nowait(&q, IT(i)), 0);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(4), 1), -EINVAL);
    note_left();
    ck_assert_int_eq(co_queue_free(&q), 0);

    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(9)), 0);         /* 0 */
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(4), -1), 0);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(7), 3), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(co_queue_get_priority_nowait(&q, &item, &prio), 0);
        note("%d/%d", NUM(item), prio);
    }
    ck_assert_int_eq(co_queue_get_priority_nowait(&q, &item, NULL), -EAGAIN);

    ck_assert_int_eq(co_queue_put_nowait(NULL, IT(1)), -EINVAL);
    ck_assert_int_eq(co_queue_put_priority_nowait(NULL, IT(1), 1), -EINVAL);
    ck_assert_int_eq(co_queue_get_nowait(NULL, &item), -EINVAL);
    ck_assert_int_eq(co_queue_get_nowait(&q, NULL), -EINVAL);
    ck_assert_int_eq(co_queue_get_priority_nowait(&q, NULL, &prio), -EINVAL);
    ck_assert_str_eq(lg, "left:2 left:3 left:3 left:2 left:1 "
                         "4/-1 9/0 7/3");
}
END_TEST

/* Inside tasks: get_nowait frees room that goes to the waiting putter (a
 * put_nowait cannot take it), and put_nowait wakes a waiting getter. */
static co_status nowait_waiters_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct queue_putter_frame p = { .label = "P", .value = 2 };
    struct queue_getter_frame g = { .label = "G" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 1), 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(1)), 0);
    CO_SPAWN(t, &f->a, queue_putter, p);
    CO_AWAIT(f->rc, co_yield(t));                   /* P waits: full */
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), 0);
    note("main:%d", NUM(f->item));
    ck_assert(co_queue_full(&q));                   /* the room is P's */
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(9)), -EAGAIN);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), 0);
    note("main:%d", NUM(f->item));
    CO_SPAWN(t, &f->b, queue_getter, g);
    CO_AWAIT(f->rc, co_yield(t));                   /* G waits: empty */
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), -EAGAIN);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(3)), 0);
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), -EAGAIN); /* G's */
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(co_queue_unfinished(&q), 3);
    CO_END;
}

START_TEST(test_queue_nowait_with_waiters)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(nowait_waiters_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "main:1 P:put=0 main:2 G:3");
}
END_TEST

/* From a callback the kernel runs outside any task (here a post): a
 * put_nowait wakes the waiting main task, which gets the smallest. */
static void put_two(void *arg)
{
    (void)arg;
    ck_assert_ptr_null(co_current_task());
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(5), 5), 0);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(1), 1), 0);
}

static co_status nowait_callback_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    ck_assert_int_eq(co_kernel_post_fn(co_current_kernel(), put_two, NULL),
                     0);
    co_kernel_hold(co_current_kernel());   /* the post will deliver */
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    co_kernel_unhold(co_current_kernel());
    note("main:%s:%d", rcs(f->rc), NUM(f->item));
    note_left();
    CO_END;
}

START_TEST(test_queue_nowait_from_callback)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(nowait_callback_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "main:0:1 left:5");
}
END_TEST

/* ------------------------------------------------------------ storage */

/* The ring grows while wrapped; a bounded queue stops at maxsize. */
static co_status growth_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 0), 0);
    f->n = 0;                                    /* next expected */
    for (f->i = 0; f->i < 10; f->i++)
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->i)));
    for (f->i = 0; f->i < 7; f->i++) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        ck_assert_int_eq(NUM(f->item), f->n++);
    }
    for (f->i = 10; f->i < 100; f->i++)          /* wraps, then grows */
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->i)));
    ck_assert_int_eq(co_queue_qsize(&q), 93);
    while (!co_queue_empty(&q)) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        ck_assert_int_eq(NUM(f->item), f->n++);
    }
    ck_assert_int_eq(f->n, 100);
    ck_assert_int_eq(co_queue_free(&q), 0);
    /* heap: 200 items in a scrambled order come out sorted */
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    for (f->i = 0; f->i < 200; f->i++) {
        f->n = (f->i * 73) % 200;        /* survives the await: in f */
        CO_AWAIT(f->rc, co_queue_put_priority(t, &q, IT(f->n), f->n));
    }
    for (f->i = 0; f->i < 200; f->i++) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        ck_assert_int_eq(NUM(f->item), f->i);
    }
    ck_assert_int_eq(co_queue_free(&q), 0);
    ck_assert_int_eq(co_queue_init(&q, 7, 0), -EINVAL);
    ck_assert_int_eq(co_queue_init(NULL, CO_QUEUE_FIFO, 0), -EINVAL);
    CO_AWAIT(f->rc, co_queue_get(t, NULL, &f->item));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_queue_get(t, &q, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_queue_put(t, NULL, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_END;
}

START_TEST(test_queue_growth)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(growth_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ a million */

enum { MILLION = 1000000 };

struct pc_frame {
    co_frame co;
    void *item;
    long i, expect;
    unsigned long long sum;
    int rc;
};

static unsigned long long consumed_sum;
static long consumed_n;

static co_status million_consumer(co_task *t, void *arg)
{
    struct pc_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        ck_assert_int_eq(f->rc, 0);
        if (f->item == NONE)
            break;
        ck_assert_int_eq((long)(intptr_t)f->item, f->expect++);
        f->sum += (unsigned long long)(intptr_t)f->item;
    }
    consumed_sum = f->sum;
    consumed_n = f->expect;
    CO_END;
}

static co_status million_main(co_task *t, void *arg)
{
    struct pc_frame *f = arg;
    struct pc_frame c = { .expect = 1 };
    static co_task *cons;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 64), 0);
    CO_SPAWN(t, &cons, million_consumer, c);
    for (f->i = 1; f->i <= MILLION; f->i++) {
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->i)));
        ck_assert_int_eq(f->rc, 0);
        f->sum += (unsigned long long)f->i;
    }
    CO_AWAIT(f->rc, co_queue_put(t, &q, NONE));
    AWAIT_JOIN(f->rc, t, cons);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->sum, (unsigned long long)MILLION * (MILLION + 1) / 2);
    ck_assert_uint_eq(consumed_sum, f->sum);
    ck_assert_int_eq(consumed_n, MILLION + 1);
    ck_assert_uint_eq(q.priv.cap, 64);                /* never grew past maxsize */
    CO_END;
}

START_TEST(test_queue_million)
{
    struct pc_frame m = { 0 };
    ck_assert_int_eq(co_run(million_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *queue_nowait_suite(void)
{
    Suite *s = suite_create("queue_nowait");
    TCase *tc;

    tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, queue_setup, queue_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_queue_nowait_outside_task);
    tcase_add_test(tc, test_queue_nowait_with_waiters);
    tcase_add_test(tc, test_queue_nowait_from_callback);
    tcase_add_test(tc, test_queue_growth);
    tcase_add_test(tc, test_queue_million);
    suite_add_tcase(s, tc);
    return s;
}
