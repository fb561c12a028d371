/*
 * test_socket_close.c -- closing a socket under the tasks that use it: a
 * reader woken by readiness that has not run yet, tasks blocked in recv,
 * send and accept, and closing twice through one handle.
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

/* ------------------------------------------------------------ woken */

/* Closed after readiness woke the reader but before it ran: it finds the
 * socket closed (-EBADF) and does not touch the freed socket. */
static co_status close_woken_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "hello", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    YIELD_UNTIL_READY(t, f);
    note("close");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_close_woken_reader)
{
    struct scene_frame m = { 0 };
    RUN(close_woken_main, m);
    ck_assert_str_eq(lg, "close r=EBADF");
}
END_TEST

/* ------------------------------------------------------------ blocked */

/* Closing a socket while other tasks are blocked reading and writing it:
 * both are woken with -EBADF; the writer's count says what went. */
static co_status close_while_blocked_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .sent_out = &f->sent };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, sendall_task, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    note("close");
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_ptr_null(f->p[0]);            /* the handle is cleared */
    AWAIT_JOIN(f->rc, t, f->a);             /* logs r=EBADF */
    ck_assert_int_eq(f->rc, -EBADF);
    AWAIT_JOIN(f->rc, t, f->b);
    note("w=%s", rcs(f->rc));
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    /* the peer sees EOF after what was sent */
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_ge(f->rc, 0);
    ck_assert_uint_eq((size_t)f->rc, f->sent);
    note("peer got sent");
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_close_while_blocked)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(close_while_blocked_main, m);
    big_free();
    ck_assert_str_eq(lg, "close r=EBADF w=EBADF peer got sent");
}
END_TEST

/* ------------------------------------------------------------ twice */

/* Closing clears the caller's handle: closing through it again is -EBADF
 * and touches nothing -- not the socket made since, which may have the
 * closed one's memory (closing by value closed that one instead). */
struct double_close_frame {
    co_frame co;
    co_socket *p[2], *q[2];
    int rc;
    char buf[8];
};

static co_status double_close_main(co_task *t, void *arg)
{
    struct double_close_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_ptr_null(f->p[0]);
    open_socketpair(f->q);
    ck_assert_int_eq(co_socket_close(&f->p[0]), -EBADF);
    ck_assert_int_eq(co_socket_close(NULL), -EINVAL);
    ck_assert_int_eq(co_socket_send(t, f->p[0], "x", 1, 0), -EINVAL);
    /* q works, both ways */
    CO_AWAIT(f->rc, co_socket_send(t, f->q[0], "a", 1, 0));
    ck_assert_int_eq(f->rc, 1);
    CO_AWAIT(f->rc, co_socket_recv(t, f->q[1], f->buf, sizeof f->buf, 0));
    note("q1=%d:%.*s", f->rc, f->rc, f->buf);
    CO_AWAIT(f->rc, co_socket_send(t, f->q[1], "b", 1, 0));
    ck_assert_int_eq(f->rc, 1);
    CO_AWAIT(f->rc, co_socket_recv(t, f->q[0], f->buf, sizeof f->buf, 0));
    note("q0=%d:%.*s", f->rc, f->rc, f->buf);
    /* the closed socket's peer sees the end */
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    note("p1=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), -EBADF);
    ck_assert_int_eq(co_socket_close(&f->q[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->q[1]), 0);
    CO_END;
}

START_TEST(test_double_close)
{
    struct double_close_frame m = { .rc = 0 };
    RUN(double_close_main, m);
    ck_assert_str_eq(lg, "q1=1:a q0=1:b p1=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *socket_close_suite(void)
{
    Suite *s = suite_create("socket_close");
    TCase *tc = tcase_create("close");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_close_while_blocked);
    tcase_add_test(tc, test_close_woken_reader);
    tcase_add_test(tc, test_double_close);
    suite_add_tcase(s, tc);
    return s;
}
