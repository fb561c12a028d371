/*
 * test_pool_room.c -- waiting for room in the pool: first come, first
 * served; a cancelled waiter gives its turn up; a woken waiter's room is
 * reserved for it; a close wakes a waiter with -EBADF, a timeout region
 * with -ETIMEDOUT, and neither leaves a reservation behind or loses the
 * socket's data.  A receive on an idle socket waits for data, not for
 * room; one reader per socket holds while that reader waits (-EBUSY).
 */
#define _GNU_SOURCE                 /* mincore, struct tcp_info */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curio.h"
#include "core/pool.h"
#include "helpers.h"
#include "log.h"
#include "pool_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ room */

struct room_frame {
    co_frame co;
    co_socket *ph[2], *p1[2], *p2[2], *p3[2], *p4[2], *p5[2], *p6[2];
    co_task *h, *w1, *w2, *w3, *w4, *w5, *w6;
    struct take_frame *hf;
    co_event go;
    co_bytes held;
    co_pool_stats st;
    int rc;
    char buf[64];
};

/* Spawn take_task on s as `name` (it runs in the next cycle). */
#define SPAWN_TAKER(t, out, s_, name_, timeout_)                             \
    do {                                                                     \
        struct take_frame tf_ = { .s = (s_), .name = (name_),                \
                                  .timeout = (timeout_) };                   \
        ck_assert_int_gt(CO_SPAWN((t), (out), take_task, tf_), 0);           \
    } while (0)

static co_status room_main(co_task *t, void *arg)
{
    struct room_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    open_socketpair(f->ph);
    open_socketpair(f->p1);
    open_socketpair(f->p2);
    open_socketpair(f->p3);
    open_socketpair(f->p4);
    open_socketpair(f->p5);
    open_socketpair(f->p6);
    send_now(f->ph[0], "hold");
    send_now(f->p1[0], "one");
    send_now(f->p2[0], "two");
    send_now(f->p3[0], "three");
    send_now(f->p4[0], "four");
    send_now(f->p5[0], "five");
    send_now(f->p6[0], "six");

    /* H takes the only chunk and keeps it */
    {
        struct take_frame h = { .s = f->ph[1], .name = "H", .go = &f->go };
        ck_assert_int_gt(CO_SPAWN(t, &f->h, take_task, h), 0);
    }
    f->hf = co_task_frame(f->h);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(in_use(), CHUNK);
    ck_assert_uint_eq(stats().waits, 0);
    /* W1, then W2: their sockets have data, the pool has no room */
    SPAWN_TAKER(t, &f->w1, f->p1[1], "W1", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_uint_eq(stats().waits, 1);
    SPAWN_TAKER(t, &f->w2, f->p2[1], "W2", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w2), "blocked");
    f->st = stats();
    ck_assert_uint_eq(f->st.waits, 2);
    ck_assert_uint_eq(f->st.in_use, CHUNK);
    ck_assert_uint_eq(f->st.peak, CHUNK);
    /* W1 gives its turn up */
    note("cancel W1");
    CO_AWAIT(f->rc, co_task_cancel(t, f->w1));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_uint_eq(in_use(), CHUNK);
    /* H's chunk goes back: it is W2's at once, reserved before W2 runs */
    note("free H");
    co_bytes_free(&f->hf->data);
    ck_assert_ptr_null(f->hf->data.data);
    ck_assert_uint_eq(f->hf->data.len, 0);
    ck_assert_str_eq(co_task_state(f->w2), "ready");
    ck_assert_uint_eq(in_use(), CHUNK);
    AWAIT_JOIN(f->rc, t, f->w2);
    ck_assert_int_eq(f->rc, 3);
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_event_set(&f->go), 0);
    AWAIT_JOIN(f->rc, t, f->h);
    ck_assert_int_eq(f->rc, 4);
    /* W1 read nothing while it waited: its data is still there */
    CO_AWAIT(f->rc, co_socket_recv(t, f->p1[1], f->buf, sizeof f->buf, 0));
    note("p1=%.*s", f->rc, f->buf);
    ck_assert_uint_eq(stats().waits, 2);

    /* Closing the socket of a task waiting for room wakes it with -EBADF;
     * the room it waited for is not reserved for it afterwards. */
    send_now(f->ph[0], "again");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 5);
    ck_assert_uint_eq(in_use(), CHUNK);
    SPAWN_TAKER(t, &f->w3, f->p3[1], "W3", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w3), "blocked");
    ck_assert_uint_eq(stats().waits, 3);
    note("close p3");
    ck_assert_int_eq(co_socket_close(&f->p3[1]), 0);
    AWAIT_JOIN(f->rc, t, f->w3);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_eq(in_use(), CHUNK);
    co_bytes_free(&f->held);
    ck_assert_uint_eq(in_use(), 0);

    /* A timeout region expiring while waiting for room: -ETIMEDOUT, and
     * the socket's data is left for a later receive. */
    send_now(f->ph[0], "again");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 5);
    SPAWN_TAKER(t, &f->w4, f->p4[1], "W4", 0.02);
    AWAIT_JOIN(f->rc, t, f->w4);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_eq(stats().waits, 4);
    ck_assert_uint_eq(in_use(), CHUNK);
    co_bytes_free(&f->held);
    ck_assert_uint_eq(in_use(), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p4[1], &f->held, 64));
    note("p4=%.*s", f->rc, (const char *)f->held.data);
    co_bytes_free(&f->held);

    /* Two waiters: the first to come is served first.  Each gives its
     * chunk back when it ends, and the next one gets it. */
    send_now(f->ph[0], "again");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 5);
    SPAWN_TAKER(t, &f->w5, f->p5[1], "W5", 0);
    CO_AWAIT(f->rc, co_yield(t));
    SPAWN_TAKER(t, &f->w6, f->p6[1], "W6", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(stats().waits, 6);
    note("free");
    co_bytes_free(&f->held);
    ck_assert_str_eq(co_task_state(f->w5), "ready");
    ck_assert_str_eq(co_task_state(f->w6), "blocked");
    AWAIT_JOIN(f->rc, t, f->w6);
    ck_assert_int_eq(f->rc, 3);
    AWAIT_JOIN(f->rc, t, f->w5);
    ck_assert_int_eq(f->rc, 4);

    co_socket_close(&f->ph[0]);
    co_socket_close(&f->ph[1]);
    co_socket_close(&f->p1[0]);
    co_socket_close(&f->p1[1]);
    co_socket_close(&f->p2[0]);
    co_socket_close(&f->p2[1]);
    co_socket_close(&f->p3[0]);
    co_socket_close(&f->p4[0]);
    co_socket_close(&f->p4[1]);
    co_socket_close(&f->p5[0]);
    co_socket_close(&f->p5[1]);
    co_socket_close(&f->p6[0]);
    co_socket_close(&f->p6[1]);
    f->st = stats();
    ck_assert_uint_eq(f->st.in_use, 0);
    ck_assert_uint_le(f->st.peak, CHUNK);
    CO_END;
}

START_TEST(test_waiting_for_room)
{
    struct room_frame m = { 0 };
    RUN(room_main, m);
    ck_assert_str_eq(lg, "H=4:hold cancel W1 W1=CANCEL free H W2=3:two "
                         "p1=one close p3 W3=EBADF W4=TIMEOUT p4=four "
                         "free W5=4:five W6=3:six");
}
END_TEST

/*
 * An idle socket's receive waits for data, not for room: with the pool at
 * its bound, a receive on a socket that has no data neither queues for
 * room nor gets room reserved for it (pool.h: a receive "borrows a chunk
 * ... only once the socket has data").  The socket is fresh, so its
 * readiness hint still says "may be ready".
 */
struct idle_frame {
    co_frame co;
    co_socket *ph[2], *q[2];
    co_task *w;
    co_bytes held;
    co_pool_stats st;
    int rc;
};

static co_status idle_at_bound_main(co_task *t, void *arg)
{
    struct idle_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    open_socketpair(f->ph);
    open_socketpair(f->q);
    send_now(f->ph[0], "hold");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 4);
    SPAWN_TAKER(t, &f->w, f->q[1], "W", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w), "blocked");
    f->st = stats();
    note("waits=%lu", f->st.waits);
    co_bytes_free(&f->held);
    note("in_use=%zu", in_use());             /* nothing reserved for W */
    note("send");
    send_now(f->q[0], "data");
    AWAIT_JOIN(f->rc, t, f->w);
    ck_assert_int_eq(f->rc, 4);
    co_socket_close(&f->ph[0]);
    co_socket_close(&f->ph[1]);
    co_socket_close(&f->q[0]);
    co_socket_close(&f->q[1]);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_idle_receive_does_not_wait_for_room)
{
    struct idle_frame m = { 0 };
    RUN(idle_at_bound_main, m);
    ck_assert_str_eq(lg, "waits=0 in_use=0 send W=4:data");
}
END_TEST

/*
 * One reader per socket holds while the reader waits for room too
 * (socket.h: "a task that would wait to read ... while another task
 * already waits to read ... the same socket gets -EBUSY").  A second
 * receive on the socket -- plain or through the pool -- is refused, and
 * takes none of the data the first one waits to read.  Both fail at once
 * instead of hanging if the second receive is not refused.
 */
struct busy_frame {
    co_frame co;
    co_socket *ph[2], *q[2];
    co_task *w1, *w2;
    co_bytes held;
    int rc;
    char buf[16];
};

/* The pool at its bound (held by main), W1 waiting for room on q[1],
 * whose peer has sent "data". */
#define BUSY_SETUP(t, f)                                                     \
    do {                                                                     \
        ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);                       \
        open_socketpair((f)->ph);                                            \
        open_socketpair((f)->q);                                             \
        send_now((f)->ph[0], "hold");                                        \
        CO_AWAIT((f)->rc, co_socket_recv_bytes((t), (f)->ph[1], &(f)->held,  \
                                               64));                         \
        ck_assert_int_eq((f)->rc, 4);                                        \
        send_now((f)->q[0], "data");                                         \
        SPAWN_TAKER((t), &(f)->w1, (f)->q[1], "W1", 0);                      \
    } while (0)

static void busy_close(struct busy_frame *f)
{
    co_socket_close(&f->ph[0]);
    co_socket_close(&f->ph[1]);
    co_socket_close(&f->q[0]);
    co_socket_close(&f->q[1]);
}

static co_status busy_plain_main(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    BUSY_SETUP(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_uint_eq(stats().waits, 1);
    CO_AWAIT(f->rc, co_socket_recv(t, f->q[1], f->buf, sizeof f->buf, 0));
    ck_assert_msg(f->rc == -EBUSY, "a plain receive on a socket whose "
                  "reader waits for room gave %s (%.*s), not -EBUSY",
                  rcs(f->rc), f->rc > 0 ? f->rc : 0, f->buf);
    note("free");
    co_bytes_free(&f->held);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, 4);
    busy_close(f);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_plain_receive_while_one_waits_for_room)
{
    struct busy_frame m = { 0 };
    RUN(busy_plain_main, m);
    ck_assert_str_eq(lg, "free W1=4:data");
}
END_TEST

static co_status busy_pool_main(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    BUSY_SETUP(t, f);
    SPAWN_TAKER(t, &f->w2, f->q[1], "W2", 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_msg(co_task_done(f->w2), "a second receive through the pool "
                  "on a socket whose reader waits for room was not refused: "
                  "it is %s, and %lu tasks waited for room",
                  co_task_state(f->w2), stats().waits);
    ck_assert_uint_eq(stats().waits, 1);
    note("free");
    co_bytes_free(&f->held);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, 4);
    AWAIT_JOIN(f->rc, t, f->w2);
    ck_assert_int_eq(f->rc, -EBUSY);
    busy_close(f);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_pool_receive_while_one_waits_for_room)
{
    struct busy_frame m = { 0 };
    RUN(busy_pool_main, m);
    ck_assert_str_eq(lg, "W2=EBUSY free W1=4:data");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *pool_room_suite(void)
{
    Suite *s = suite_create("pool_room");
    TCase *tc;

    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_waiting_for_room);
    suite_add_tcase(s, tc);

    /* Who waits for room, and who may not. */
    tc = tcase_create("waiters");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_idle_receive_does_not_wait_for_room);
    tcase_add_test(tc, test_plain_receive_while_one_waits_for_room);
    tcase_add_test(tc, test_pool_receive_while_one_waits_for_room);
    suite_add_tcase(s, tc);
    return s;
}
