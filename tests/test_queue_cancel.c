/*
 * test_queue_cancel.c -- getters cancelled (first, middle, after the item
 * was handed over: it goes to the next one), no barging past a waiting
 * getter; putters cancelled and timing out, getters timing out.
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

/* ------------------------------------------------------------ cancel */

/* Three getters wait; one is cancelled; the others get the items in
 * order.  victim: 0 (the first) or 1 (the middle one). */
static co_status three_getters(co_task *t, struct main_frame *f, int victim)
{
    struct queue_getter_frame g1 = { .label = "cons1" }, g2 = { .label = "cons2" },
                        g3 = { .label = "cons3" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, queue_getter, g1);
    CO_SPAWN(t, &f->b, queue_getter, g2);
    CO_SPAWN(t, &f->c, queue_getter, g3);
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
    struct queue_getter_frame g1 = { .label = "cons1" }, g2 = { .label = "cons2" };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, queue_getter, g1);
    CO_AWAIT(f->rc, co_yield(t));               /* cons1 waits */
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(1))); /* handed to cons1 */
    CO_SPAWN(t, &f->b, queue_getter, g2);
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

/* ------------------------------------------------------------ putters */

/* Full queue of 1: three putters wait; the middle one times out, the
 * first is woken by a get and cancelled before it runs (its item still
 * goes in); the last keeps its turn; a new putter cannot barge. */
static co_status putters_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    struct queue_putter_frame p1 = { .label = "P1", .value = 1 },
                        p2 = { .label = "P2", .value = 2, .timeout = 0.01 },
                        p3 = { .label = "P3", .value = 3 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_FIFO, 1), 0);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(0)));
    ck_assert(co_queue_full(&q));
    CO_SPAWN(t, &f->a, queue_putter, p1);
    CO_SPAWN(t, &f->b, queue_putter, p2);
    CO_SPAWN(t, &f->c, queue_putter, p3);
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
    struct queue_getter_frame g = { .label = "G", .timeout = 0.01 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, queue_getter, g);
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

/* ------------------------------------------------------------ suite */

Suite *queue_cancel_suite(void)
{
    Suite *s = suite_create("queue_cancel");
    TCase *tc;

    tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, queue_setup, queue_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_queue_get_first_cancelled);
    tcase_add_test(tc, test_queue_get_middle_cancelled);
    tcase_add_test(tc, test_queue_get_cancelled_after_handoff);
    tcase_add_test(tc, test_queue_get_no_barging);
    tcase_add_test(tc, test_queue_put_cancel_timeout);
    tcase_add_test(tc, test_queue_timeouts);
    suite_add_tcase(s, tc);
    return s;
}
