/*
 * test_socket_sendall.c -- sendall to a slow reader (backpressure: the
 * writer blocks, nothing is lost), its progress count when a timeout
 * interrupts it (also kept in a frame-local), and try_send.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "socket_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ sendall */

/* 10 MiB to a peer that reads 64 KiB at a time with a 1 ms pause. */
static co_status slow_reader_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .shut = 1 };
        struct reader_frame r = { .s = f->p[1], .chunk = 65536,
                                  .pause = 0.001 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, sendall_task, w), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, reader_task, r), 0);
        writer_task = f->a;
    }
    AWAIT_JOIN(f->rc, t, f->a);
    writer_task = NULL;
    note("sent=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->b);
    note("got=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_sendall_slow_reader)
{
    struct scene_frame m = { 0 };
    big_alloc(10 * MIB);
    RUN(slow_reader_main, m);
    big_free();
    ck_assert_str_eq(lg, "sent=10485760 got=10485760");
    /* the writer really had to wait for the reader */
    ck_assert_int_gt(writer_seen_blocked, 0);
}
END_TEST

/* A timeout cuts sendall short: *sent says exactly how much the peer gets. */
static co_status sendall_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    f->sent = 12345;
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &f->sent));
    note("sendall=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, f->sent);
    note("peer got sent");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

/* co_socket_try_send: sends at once what the socket takes, -EAGAIN when it
 * takes nothing, -EBUSY while a task is blocked sending (its bytes go
 * first), every byte arrives in order, and -EBADF once closed. */
struct bulk_writer_frame {
    co_frame co;
    co_socket *s;
    size_t off, len, sent;
    int rc;
};

static co_status bulk_writer(co_task *t, void *arg)
{
    struct bulk_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, big + f->off, f->len,
                                      &f->sent));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status try_send_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_int_eq(co_socket_try_send(NULL, big, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_try_send(f->p[0], NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_try_send(f->p[0], big, 0, 0), 0);
    /* fill the socket without blocking */
    f->sent = 0;
    for (;;) {
        f->rc = co_socket_try_send(f->p[0], big + f->sent, 4096, 0);
        if (f->rc == -EAGAIN)
            break;
        ck_assert_int_gt(f->rc, 0);
        f->sent += (size_t)f->rc;
        ck_assert_uint_lt(f->sent, big_len - 4096);
    }
    note("full");
    /* a blocked sender's bytes go first */
    {
        struct bulk_writer_frame w = { .s = f->p[0], .off = f->sent,
                                       .len = 8192 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, bulk_writer, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));          /* the writer blocks */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert_int_eq(co_socket_try_send(f->p[0], big, 1, 0), -EBUSY);
    note("busy");
    /* the reader drains; the writer finishes; then ours goes at once */
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_RD), 0);
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    f->sent += 8192;
    f->rc = co_socket_try_send(f->p[0], big + f->sent, 100, 0);
    ck_assert_int_eq(f->rc, 100);
    f->sent += 100;
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->b);            /* every byte, in order */
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, f->sent);
    note("got all");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    /* closed: -EBADF through a copy of the pointer (usable while a reader
     * the close woke with -EBADF has not yet returned) */
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));          /* the reader blocks */
    f->c = f->p[0];
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_try_send(f->c, "x", 1, 0), -EBADF);
    f->c = NULL;                           /* dead once the reader is out */
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_try_send)
{
    struct scene_frame m = { 0 };
    big_alloc(16 * MIB);
    RUN(try_send_main, m);
    big_free();
    ck_assert_str_eq(lg, "full busy got all r=EBADF");
}
END_TEST

START_TEST(test_sendall_timeout_counts)
{
    struct scene_frame m = { 0 };
    big_alloc(10 * MIB);
    RUN(sendall_timeout_main, m);
    big_free();
    ck_assert_str_eq(lg, "sendall=TIMEOUT end=TIMEOUT peer got sent");
}
END_TEST

/* ------------------------------------------------------------ local count */

/* sendall with its count in a local, which does not survive a suspension
 * (here: starts at SIZE_MAX on every evaluation, as garbage would): it
 * still finishes each wait it suspended in, sends every byte in order,
 * writes the count, and leaves no wake behind for the next primitive. */
static co_status sendall_local_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    size_t sent = SIZE_MAX;         /* a local: lost at every suspension */
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, reader_task, r), 0);
    }
    writer_task = t;                /* the reader counts our suspensions */
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &sent));
    writer_task = NULL;
    note("sendall=%s", rcs(f->rc));
    ck_assert_uint_eq(sent, big_len);
    ck_assert_int_gt(writer_seen_blocked, 0);
    /* no wake left over: the sleep really suspends, so `other` runs first */
    {
        struct mark_frame m = { .name = "other" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, mark_task, m), 0);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    note("sleep=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->a);             /* the pattern, checked */
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, big_len);
    note("got all");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_sendall_local_count)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(sendall_local_main, m);
    big_free();
    ck_assert_str_eq(lg, "sendall=0 other sleep=0 got all");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *socket_sendall_suite(void)
{
    Suite *s = suite_create("socket_sendall");
    TCase *tc = tcase_create("sendall");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sendall_slow_reader);
    tcase_add_test(tc, test_sendall_timeout_counts);
    tcase_add_test(tc, test_try_send);
    tcase_add_test(tc, test_sendall_local_count);
    suite_add_tcase(s, tc);
    return s;
}
