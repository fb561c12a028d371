/*
 * test_queue_which.c -- which item a waiting getter gets: the smallest
 * (priority), the newest (LIFO), the oldest (FIFO); two getters; a full
 * queue with getters waiting; an owed getter cancelled; a getter woken by
 * an error takes nothing.
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

/* ------------------------------------------------------------ which item */

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
    struct queue_getter_frame g = { .label = "G" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, kind, 0), 0);
    CO_SPAWN(t, &f->a, queue_getter, g);
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
    struct queue_getter_frame ga = { .label = "A" }, gb = { .label = "B" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, queue_getter, ga);
    CO_SPAWN(t, &f->b, queue_getter, gb);
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
    struct queue_getter_frame ga = { .label = "A" }, gb = { .label = "B" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 1), 0);
    CO_SPAWN(t, &f->a, queue_getter, ga);
    CO_SPAWN(t, &f->b, queue_getter, gb);
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
    struct queue_getter_frame ga = { .label = "A", .timeout = 0.005 },
                        gb = { .label = "B" }, gc = { .label = "C" };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&q, CO_QUEUE_PRIORITY, 0), 0);
    CO_SPAWN(t, &f->a, queue_getter, ga);
    CO_SPAWN(t, &f->b, queue_getter, gb);
    CO_SPAWN(t, &f->c, queue_getter, gc);
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

/* ------------------------------------------------------------ suite */

Suite *queue_which_suite(void)
{
    Suite *s = suite_create("queue_which");
    TCase *tc;

    tc = tcase_create("queue");
    tcase_add_checked_fixture(tc, queue_setup, queue_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_queue_priority_waiting_getter_gets_smallest);
    tcase_add_test(tc, test_queue_lifo_waiting_getter_gets_newest);
    tcase_add_test(tc, test_queue_fifo_waiting_getter_unchanged);
    tcase_add_test(tc, test_queue_two_waiting_getters);
    tcase_add_test(tc, test_queue_full_with_waiting_getters);
    tcase_add_test(tc, test_queue_owed_getter_cancelled_gets_smallest);
    tcase_add_test(tc, test_queue_getter_woken_by_error_takes_nothing);
    suite_add_tcase(s, tc);
    return s;
}
