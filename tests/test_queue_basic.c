/*
 * test_queue_basic.c -- co_queue as Curio's Queue: a producer and
 * consumers, unbounded and bounded queues, priority (FIFO among ties) and
 * LIFO order.
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

/* ------------------------------------------------------------ simple */

static co_status simple_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct consumer_frame c1 = { .label = "cons1" };
    struct consumer_frame c2 = { .label = "cons2" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 0), 0);
    note("producer:start");
    CO_SPAWN(t, &f->a, consumer, c1);
    CO_SPAWN(t, &f->b, consumer, c2);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    for (f->n = 0; f->n < 4; f->n++) {
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->n)));
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
    }
    for (f->n = 0; f->n < 2; f->n++)
        CO_AWAIT(f->rc, co_queue_put(t, &q, NONE));
    note("producer:join");
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    ck_assert_int_eq(f->rc, 0);
    note("producer:done");
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    CO_END;
}

START_TEST(test_queue_simple)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(simple_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "producer:start cons1:0 cons2:1 cons1:2 cons2:3 "
                         "producer:join cons1:done cons2:done "
                         "producer:done");
}
END_TEST

/* ------------------------------------------------------------ unbounded */

/* put never yields: the producer runs to its join before the consumer
 * sees anything. */
static co_status unbounded_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct consumer_frame c1 = { .label = "cons1" };
    CO_BEGIN(t, f);
    note("producer:start");
    CO_SPAWN(t, &f->a, consumer, c1);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    for (f->n = 0; f->n < 4; f->n++) {
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->n)));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_AWAIT(f->rc, co_queue_put(t, &q, NONE));
    ck_assert_int_eq(co_queue_qsize(&q), 5);   /* one handed, four stored */
    ck_assert_int_eq(co_queue_unfinished(&q), 5);
    ck_assert(!co_queue_full(&q));
    note("producer:join");
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    note("producer:done");
    ck_assert(co_queue_empty(&q));
    CO_AWAIT(f->rc, co_queue_join(t, &q));      /* nothing unfinished */
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_queue_task_done(&q), -EINVAL);
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_queue_unbounded)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(unbounded_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "producer:start producer:join cons1:0 cons1:1 "
                         "cons1:2 cons1:3 cons1:done producer:done");
}
END_TEST

/* ------------------------------------------------------------ bounded */

static co_status bounded_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct consumer_frame c1 = { .label = "cons1", .pause = 0.01 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 2), 0);
    note("producer:start");
    CO_SPAWN(t, &f->a, consumer, c1);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    for (f->n = 0; f->n < 4; f->n++) {
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->n)));
        ck_assert_int_eq(f->rc, 0);
        note("produced:%d", f->n);
    }
    CO_AWAIT(f->rc, co_queue_put(t, &q, NONE));
    note("producer:join");
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    note("producer:done");
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_queue_bounded)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(bounded_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "producer:start produced:0 produced:1 cons1:0 "
                         "produced:2 cons1:1 produced:3 cons1:2 "
                         "producer:join cons1:3 cons1:done producer:done");
}
END_TEST

/* ------------------------------------------------------------ priority, LIFO */

/* Curio: items go in before the consumer's first get; it takes them
 * task_done-ing each, with a sleep between. */
struct order_frame {
    co_frame co;
    void *item;
    int prio, rc;
};

static co_status order_consumer(co_task *t, void *arg)
{
    struct order_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_queue_get_priority(t, &q, &f->item, &f->prio));
        ck_assert_int_eq(f->rc, 0);
        if (f->item == NONE)
            break;
        note("%d/%d", NUM(f->item), f->prio);
        co_queue_task_done(&q);
        CO_AWAIT(f->rc, co_sleep(t, 0.001));
    }
    co_queue_task_done(&q);
    CO_END;
}

static co_status priority_main(co_task *t, void *arg)
{
    static const int prios[] = { 4, 2, 1, 3 };
    struct main_frame *f = arg;
    struct order_frame o = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, order_consumer, o);
    for (f->i = 0; f->i < 4; f->i++)
        CO_AWAIT(f->rc, co_queue_put_priority(t, &q, IT(prios[f->i]),
                                              prios[f->i]));
    CO_AWAIT(f->rc, co_queue_put_priority(t, &q, NONE, 10));
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_queue_priority)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(priority_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "1/1 2/2 3/3 4/4");
}
END_TEST

/* Equal priorities come out in the order they were put; co_queue_put is
 * priority 0; a waiting getter gets the smallest item present when it
 * runs (-3, although 5 was put first). */
static co_status priority_fifo_main(co_task *t, void *arg)
{
    static const int prios[] = { 5, 1, 5, 1, 0, 5, 1, -3, 5 };
    struct main_frame *f = arg;
    struct order_frame o = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, order_consumer, o);
    CO_AWAIT(f->rc, co_yield(t));               /* the consumer waits */
    for (f->i = 0; f->i < 9; f->i++)
        CO_AWAIT(f->rc, co_queue_put_priority(t, &q, IT(10 + f->i),
                                              prios[f->i]));
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(99)));
    CO_AWAIT(f->rc, co_queue_put_priority(t, &q, NONE, 100));
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_queue_priority_fifo_ties)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(priority_fifo_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "17/-3 14/0 99/0 11/1 13/1 16/1 10/5 12/5 15/5 "
                         "18/5");
}
END_TEST

static co_status lifo_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct order_frame o = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_LIFO, 0), 0);
    CO_SPAWN(t, &f->a, order_consumer, o);
    CO_AWAIT(f->rc, co_queue_put(t, &q, NONE));
    for (f->i = 0; f->i < 4; f->i++)
        CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->i)));
    CO_AWAIT(f->rc, co_queue_put_priority(t, &q, IT(7), 1));
    ck_assert_int_eq(f->rc, -EINVAL);           /* not a priority queue */
    ck_assert_int_eq(co_queue_qsize(&q), 5);
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    AWAIT_JOIN(f->rc, t, f->a);
    CO_END;
}

START_TEST(test_queue_lifo)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(lifo_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "3/0 2/0 1/0 0/0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *queue_basic_suite(void)
{
    Suite *s = suite_create("queue_basic");
    TCase *tc;

    tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, queue_setup, queue_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_queue_simple);
    tcase_add_test(tc, test_queue_unbounded);
    tcase_add_test(tc, test_queue_bounded);
    tcase_add_test(tc, test_queue_priority);
    tcase_add_test(tc, test_queue_priority_fifo_ties);
    tcase_add_test(tc, test_queue_lifo);
    suite_add_tcase(s, tc);
    return s;
}
