/*
 * test_queue.c -- co_queue: Curio's test_queue.py scenarios (two consumers
 * and join, put not yielding, a bounded queue interleaving with its
 * consumer, priority and LIFO order), the order a waiting getter's item
 * follows on ordered queues, cancellation and timeouts in every wait
 * (nothing lost, nothing duplicated, the others keep their order), the
 * _nowait forms, storage growth, and a million items through a small
 * bounded queue.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "suites.h"
#include "../core/async.h"
#include "../sync/queue.h"

static co_queue q;
static char none_tag;
#define NONE ((void *)&none_tag)          /* Curio's None */
#define IT(n) ((void *)(intptr_t)(n))
#define NUM(p) ((int)(intptr_t)(p))

static void setup(void)
{
    log_reset();
    q = (co_queue){ 0 };
}

static void teardown(void)
{
    co_queue_free(&q);
}

struct main_frame {
    co_frame co;
    co_task *a, *b, *c;
    co_timeout to;
    void *item;
    int i, n, rc;
};

/* Curio: consumer() gets until None, logging each item, optionally
 * sleeping before task_done. */
struct consumer_frame {
    co_frame co;
    const char *label;
    double pause;
    void *item;
    int rc;
};

static co_status consumer(co_task *t, void *arg)
{
    struct consumer_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        ck_assert_int_eq(f->rc, 0);
        if (f->item == NONE)
            break;
        note("%s:%d", f->label, NUM(f->item));
        if (f->pause > 0)
            CO_AWAIT(f->rc, co_sleep(t, f->pause));
        ck_assert_int_eq(co_queue_task_done(&q), 0);
    }
    ck_assert_int_eq(co_queue_task_done(&q), 0);
    note("%s:done", f->label);
    CO_END;
}

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

/* ------------------------------------------------------------ cancel */

/* One get; logs what it got or its error, then whether it is cancelled
 * now (a sleep that a pending cancellation refuses). */
struct getter_frame {
    co_frame co;
    const char *label;
    co_timeout to;
    double timeout;
    void *item;
    int rc;
};

static co_status getter(co_task *t, void *arg)
{
    struct getter_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    if (f->rc == 0)
        note("%s:%d", f->label, NUM(f->item));
    else
        note("%s:%s", f->label, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->timeout > 0)
        CO_RESULT() = co_timeout_end(t, &f->to, CO_RESULT());
    CO_END;
}

/* Three getters wait; one is cancelled; the others get the items in
 * order.  victim: 0 (the first) or 1 (the middle one). */
static co_status three_getters(co_task *t, struct main_frame *f, int victim)
{
    struct getter_frame g1 = { .label = "cons1" }, g2 = { .label = "cons2" },
                        g3 = { .label = "cons3" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, getter, g1);
    CO_SPAWN(t, &f->b, getter, g2);
    CO_SPAWN(t, &f->c, getter, g3);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_AWAIT(f->rc, co_task_cancel(t, victim ? f->b : f->a));
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(1)));
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(2)));
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(3)));   /* nobody left: stored */
    ck_assert_int_eq(co_queue_qsize(&q), 3);
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert_int_eq(co_queue_qsize(&q), 1);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    note("left:%d", NUM(f->item));
    CO_END;
}

static co_status first_cancelled_main(co_task *t, void *arg)
{
    return three_getters(t, arg, 0);
}

static co_status middle_cancelled_main(co_task *t, void *arg)
{
    return three_getters(t, arg, 1);
}

START_TEST(test_queue_get_first_cancelled)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(first_cancelled_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "cons1:CANCEL cons2:1 cons3:2 left:3");
}
END_TEST

START_TEST(test_queue_get_middle_cancelled)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(middle_cancelled_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "cons2:CANCEL cons1:1 cons3:2 left:3");
}
END_TEST

/* Handed an item, then cancelled before it runs: the get still returns
 * the item (its cancellation comes at the next blocking call); a new
 * getter does not see it. */
struct handed_frame {
    co_frame co;
    void *item;
    int rc;
};

static co_status handed_getter(co_task *t, void *arg)
{
    struct handed_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    note("G:get=%s item=%d", rcs(f->rc), NUM(f->item));
    CO_AWAIT(f->rc, co_sleep(t, 0));
    note("G:next=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status handed_cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct handed_frame h = { .item = IT(-1) };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, handed_getter, h);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(42)));
    ck_assert_int_eq(co_queue_qsize(&q), 1);    /* handed, not yet taken */
    ck_assert_int_eq(co_queue_free(&q), -EBUSY);
    note("M:cancel");
    co_task_cancel_nowait(f->a);
    /* a new getter finds nothing: 42 is G's */
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("M:get=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    note("M:join=%s", rcs(f->rc));
    ck_assert(co_queue_empty(&q));
    ck_assert_int_eq(co_queue_unfinished(&q), 1);
    CO_END;
}

START_TEST(test_queue_get_cancelled_after_handoff)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(handed_cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "M:cancel G:get=0 item=42 G:next=CANCEL "
                         "M:get=TIMEOUT M:join=CANCEL");
}
END_TEST

/* A getter arriving while others wait queues behind them. */
static co_status getter_fifo_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct getter_frame g1 = { .label = "cons1" }, g2 = { .label = "cons2" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, getter, g1);
    CO_AWAIT(f->rc, co_yield(t));               /* cons1 waits */
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(1))); /* handed to cons1 */
    CO_SPAWN(t, &f->b, getter, g2);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(2))); /* stored */
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    note("main:%d", NUM(f->item));              /* main got 2, no yield */
    AWAIT_JOIN(f->rc, t, f->a);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(3)));
    AWAIT_JOIN(f->rc, t, f->b);
    CO_END;
}

START_TEST(test_queue_get_no_barging)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(getter_fifo_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "main:2 cons1:1 cons2:3");
}
END_TEST

/* ------------------------------------------------------------ which item */

/* Log every item left, in the order get_nowait gives them. */
static void note_left(void)
{
    void *item;
    while (co_queue_get_nowait(&q, &item) == 0)
        note("left:%d", NUM(item));
}

/* Put n, as priority n on a priority queue. */
static int put_number(co_queue_kind kind, int n)
{
    return kind == CO_QUEUE_PRIORITY
               ? co_queue_put_priority_nowait(&q, IT(n), n)
               : co_queue_put_nowait(&q, IT(n));
}

/* A getter waits; 5, then 1, then 3 are put before it runs.  It gets the
 * item the queue's order gives when it runs: the smallest on a priority
 * queue, the newest on a LIFO queue; on a FIFO queue the one put when it
 * was woken (a direct hand-off, as before). */
static co_status waiting_getter_main(co_task *t, struct main_frame *f,
                                     co_queue_kind kind)
{
    struct getter_frame g = { .label = "G" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, kind, 0), 0);
    CO_SPAWN(t, &f->a, getter, g);
    CO_AWAIT(f->rc, co_yield(t));                   /* G waits */
    ck_assert_int_eq(put_number(kind, 5), 0);       /* wakes G */
    ck_assert_int_eq(put_number(kind, 1), 0);
    ck_assert_int_eq(put_number(kind, 3), 0);
    ck_assert_int_eq(co_queue_qsize(&q), 3);
    AWAIT_JOIN(f->rc, t, f->a);
    note_left();
    ck_assert_int_eq(co_queue_unfinished(&q), 3);
    CO_END;
}

static co_status priority_getter_main(co_task *t, void *arg)
{
    return waiting_getter_main(t, arg, CO_QUEUE_PRIORITY);
}

static co_status lifo_getter_main(co_task *t, void *arg)
{
    return waiting_getter_main(t, arg, CO_QUEUE_LIFO);
}

static co_status fifo_getter_main(co_task *t, void *arg)
{
    return waiting_getter_main(t, arg, CO_QUEUE_FIFO);
}

START_TEST(test_queue_priority_waiting_getter_gets_smallest)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(priority_getter_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "G:1 left:3 left:5");
}
END_TEST

START_TEST(test_queue_lifo_waiting_getter_gets_newest)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(lifo_getter_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "G:3 left:1 left:5");
}
END_TEST

START_TEST(test_queue_fifo_waiting_getter_unchanged)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(fifo_getter_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "G:5 left:1 left:3");
}
END_TEST

/* Two getters wait; three items are put before they run.  Main, which did
 * not wait, takes the smallest, but not one owed to them: with two items
 * left, both owed, it finds the queue empty.  The two then get one each,
 * the older getter the smaller. */
static co_status two_getters_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct getter_frame ga = { .label = "A" }, gb = { .label = "B" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, getter, ga);
    CO_SPAWN(t, &f->b, getter, gb);
    CO_AWAIT(f->rc, co_yield(t));                   /* both wait */
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(5), 5), 0);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(1), 1), 0);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(3), 3), 0);
    ck_assert_int_eq(co_queue_get_priority_nowait(&q, &f->item, &f->n), 0);
    note("main:%d/%d", NUM(f->item), f->n);
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), -EAGAIN);
    ck_assert_int_eq(co_queue_qsize(&q), 2);
    ck_assert(!co_queue_empty(&q));
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert(co_queue_empty(&q));
    ck_assert_int_eq(co_queue_unfinished(&q), 3);
    CO_END;
}

START_TEST(test_queue_two_waiting_getters)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(two_getters_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "main:1/1 A:3 B:5");
}
END_TEST

/* A bounded queue (maxsize 1) with two getters waiting: the first item
 * put is owed to A and fills the queue, so a second put waits (it does not
 * go to B directly) until A has taken its item; then B gets it. */
static co_status full_with_getters_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct getter_frame ga = { .label = "A" }, gb = { .label = "B" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 1), 0);
    CO_SPAWN(t, &f->a, getter, ga);
    CO_SPAWN(t, &f->b, getter, gb);
    CO_AWAIT(f->rc, co_yield(t));                   /* both wait */
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(5), 5), 0);
    ck_assert(co_queue_full(&q));
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(1), 1), -EAGAIN);
    CO_AWAIT(f->rc, co_queue_put_priority(t, &q, IT(1), 1));   /* waits */
    note("main:put=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert(co_queue_empty(&q));
    ck_assert_int_eq(co_queue_unfinished(&q), 2);
    ck_assert_int_eq(co_queue_task_done(&q), 0);
    ck_assert_int_eq(co_queue_task_done(&q), 0);
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_queue_full_with_waiting_getters)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(full_with_getters_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A:5 main:put=0 B:1");
}
END_TEST

/* A getter woken by a put is owed an item: cancelled before it runs, it
 * still gets one -- the smallest present when it runs -- and the
 * cancellation comes at its next blocking call. */
static co_status owed_cancel_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct handed_frame h = { .item = IT(-1) };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, handed_getter, h);
    CO_AWAIT(f->rc, co_yield(t));                   /* G waits */
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(5), 5), 0);
    co_task_cancel_nowait(f->a);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(1), 1), 0);
    ck_assert_int_eq(co_queue_free(&q), -EBUSY);    /* G is owed an item */
    AWAIT_JOIN(f->rc, t, f->a);
    note("join=%s", rcs(f->rc));
    note_left();
    CO_END;
}

START_TEST(test_queue_owed_getter_cancelled_gets_smallest)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(owed_cancel_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "G:get=0 item=1 G:next=CANCEL join=CANCEL left:5");
}
END_TEST

/* A getter woken by its timeout region's expiry (A) or by a cancellation
 * (B), that has not run yet when items arrive, is owed nothing: its get
 * returns the error having taken nothing, the first item goes to the
 * getter behind them (C, the smallest), and the other stays queued. */
static co_status woken_by_error_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct getter_frame ga = { .label = "A", .timeout = 0.005 },
                        gb = { .label = "B" }, gc = { .label = "C" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, getter, ga);
    CO_SPAWN(t, &f->b, getter, gb);
    CO_SPAWN(t, &f->c, getter, gc);
    CO_AWAIT(f->rc, co_yield(t));                   /* all three wait */
    /* Main keeps the ready queue busy, so it runs again before A once
     * A's region has expired and woken it. */
    while (strcmp(co_task_state(f->a), "blocked") == 0)
        CO_AWAIT(f->rc, co_yield(t));
    co_task_cancel_nowait(f->b);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(5), 5), 0);
    ck_assert_int_eq(co_queue_put_priority_nowait(&q, IT(1), 1), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_JOIN(f->rc, t, f->c);
    note_left();
    CO_END;
}

START_TEST(test_queue_getter_woken_by_error_takes_nothing)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(woken_by_error_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "A:TIMEOUT B:CANCEL C:1 left:5");
}
END_TEST

/* ------------------------------------------------------------ putters */

/* One put; logs its result. */
struct putter_frame {
    co_frame co;
    const char *label;
    co_timeout to;
    double timeout;
    int value, rc;
};

static co_status putter(co_task *t, void *arg)
{
    struct putter_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->value)));
    note("%s:put=%s", f->label, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->timeout > 0)
        CO_RESULT() = co_timeout_end(t, &f->to, CO_RESULT());
    CO_END;
}

/* Full queue of 1: three putters wait; the middle one times out, the
 * first is woken by a get and cancelled before it runs (its item still
 * goes in); the last keeps its turn; a new putter cannot barge. */
static co_status putters_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct putter_frame p1 = { .label = "P1", .value = 1 },
                        p2 = { .label = "P2", .value = 2, .timeout = 0.01 },
                        p3 = { .label = "P3", .value = 3 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 1), 0);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(0)));
    ck_assert(co_queue_full(&q));
    CO_SPAWN(t, &f->a, putter, p1);
    CO_SPAWN(t, &f->b, putter, p2);
    CO_SPAWN(t, &f->c, putter, p3);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));         /* P2 times out */
    ck_assert_int_eq(co_queue_qsize(&q), 1);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    note("got:%d", NUM(f->item));
    ck_assert(co_queue_full(&q));               /* the room is P1's */
    co_task_cancel_nowait(f->a);
    /* main cannot take P1's room: it would wait (here: times out) */
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(9)));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("main:put=%s", rcs(f->rc));
    for (f->i = 0; f->i < 2; f->i++) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        note("got:%d", NUM(f->item));
    }
    AWAIT_JOIN(f->rc, t, f->a);
    AWAIT_JOIN(f->rc, t, f->b);
    AWAIT_JOIN(f->rc, t, f->c);
    ck_assert(co_queue_empty(&q));
    ck_assert_int_eq(co_queue_unfinished(&q), 3);  /* 0, 1, 3 */
    CO_END;
}

START_TEST(test_queue_put_cancel_timeout)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(putters_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "P2:put=TIMEOUT got:0 P1:put=0 main:put=TIMEOUT "
                         "got:1 P3:put=0 got:3");
}
END_TEST

/* get and join under a timeout leave the queue as it was. */
static co_status timeouts_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct getter_frame g = { .label = "G", .timeout = 0.01 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, getter, g);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    AWAIT_JOIN(f->rc, t, f->a);
    note("join=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(5)));   /* nobody waits now */
    ck_assert_int_eq(co_queue_qsize(&q), 1);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("qjoin=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    note("get=%d", NUM(f->item));
    ck_assert_int_eq(co_queue_task_done(&q), 0);
    CO_AWAIT(f->rc, co_queue_join(t, &q));
    note("qjoin=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_queue_timeouts)
{
    struct main_frame m = { 0 };
    ck_assert_int_eq(co_run(timeouts_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "G:TIMEOUT join=TIMEOUT qjoin=TIMEOUT get=5 "
                         "qjoin=0");
}
END_TEST

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
    struct putter_frame p = { .label = "P", .value = 2 };
    struct getter_frame g = { .label = "G" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 1), 0);
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(1)), 0);
    CO_SPAWN(t, &f->a, putter, p);
    CO_AWAIT(f->rc, co_yield(t));                   /* P waits: full */
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), 0);
    note("main:%d", NUM(f->item));
    ck_assert(co_queue_full(&q));                   /* the room is P's */
    ck_assert_int_eq(co_queue_put_nowait(&q, IT(9)), -EAGAIN);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_queue_get_nowait(&q, &f->item), 0);
    note("main:%d", NUM(f->item));
    CO_SPAWN(t, &f->b, getter, g);
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

Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_queue_simple);
    tcase_add_test(tc, test_queue_unbounded);
    tcase_add_test(tc, test_queue_bounded);
    tcase_add_test(tc, test_queue_priority);
    tcase_add_test(tc, test_queue_priority_fifo_ties);
    tcase_add_test(tc, test_queue_lifo);
    tcase_add_test(tc, test_queue_get_first_cancelled);
    tcase_add_test(tc, test_queue_get_middle_cancelled);
    tcase_add_test(tc, test_queue_get_cancelled_after_handoff);
    tcase_add_test(tc, test_queue_get_no_barging);
    tcase_add_test(tc, test_queue_priority_waiting_getter_gets_smallest);
    tcase_add_test(tc, test_queue_lifo_waiting_getter_gets_newest);
    tcase_add_test(tc, test_queue_fifo_waiting_getter_unchanged);
    tcase_add_test(tc, test_queue_two_waiting_getters);
    tcase_add_test(tc, test_queue_full_with_waiting_getters);
    tcase_add_test(tc, test_queue_owed_getter_cancelled_gets_smallest);
    tcase_add_test(tc, test_queue_getter_woken_by_error_takes_nothing);
    tcase_add_test(tc, test_queue_nowait_outside_task);
    tcase_add_test(tc, test_queue_nowait_with_waiters);
    tcase_add_test(tc, test_queue_nowait_from_callback);
    tcase_add_test(tc, test_queue_put_cancel_timeout);
    tcase_add_test(tc, test_queue_timeouts);
    tcase_add_test(tc, test_queue_growth);
    tcase_add_test(tc, test_queue_million);
    suite_add_tcase(s, tc);
    return s;
}
