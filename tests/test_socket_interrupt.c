/*
 * test_socket_interrupt.c -- blocked socket calls interrupted: recv,
 * accept and recvfrom timing out, recv and accept cancelled, and a reader
 * cancelled after readiness woke it but before it ran; each time the
 * socket stays usable.
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

/* ------------------------------------------------------------ timeouts */

static co_status recv_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    /* still usable: a recv that blocks again gets data sent later */
    {
        struct send_frame s = { .s = f->p[1], .msg = "later" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, send_task, s), 0);
    }
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    if (f->rc > 0)
        note("recv=%d:%.*s", f->rc, f->rc, f->buf);
    else
        note("recv=%s", rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_recv_timeout)
{
    struct scene_frame m = { 0 };
    RUN(recv_timeout_main, m);
    ck_assert_str_eq(lg, "recv=TIMEOUT end=TIMEOUT send recv=5:later");
}
END_TEST

static co_status accept_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    note("accept=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    /* the listener still works */
    ck_assert_int_eq(co_socket_new(&f->p[0], AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->p[0], &f->addr));
    note("connect=%s", rcs(f->rc));
    f->c = NULL;
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    ck_assert_int_ge(f->rc, 0);
    ck_assert_ptr_nonnull(f->c);
    note("accept=ok");
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_accept_timeout)
{
    struct scene_frame m = { 0 };
    RUN(accept_timeout_main, m);
    ck_assert_str_eq(lg, "accept=TIMEOUT end=TIMEOUT connect=0 accept=ok");
}
END_TEST

static co_status recvfrom_timeout_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &f->addr);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_socket_recvfrom(t, f->l, f->buf, sizeof f->buf, 0,
                                       &f->addr2));
    note("recvfrom=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    /* still usable: a datagram to ourselves */
    CO_AWAIT(f->rc, co_socket_sendto(t, f->l, "dg", 2, 0, &f->addr));
    ck_assert_int_eq(f->rc, 2);
    CO_AWAIT(f->rc, co_socket_recvfrom(t, f->l, f->buf, sizeof f->buf, 0,
                                       &f->addr2));
    note("recvfrom=%d", f->rc);
    ck_assert_int_eq(co_sockaddr_port(&f->addr2), co_sockaddr_port(&f->addr));
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_recvfrom_timeout)
{
    struct scene_frame m = { 0 };
    RUN(recvfrom_timeout_main, m);
    ck_assert_str_eq(lg, "recvfrom=TIMEOUT end=TIMEOUT recvfrom=2");
}
END_TEST

/* ------------------------------------------------------------ cancel */

static co_status recv_cancel_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r1" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    /* another task can wait to read now (no -EBUSY left behind) */
    {
        struct recv_frame r = { .s = f->p[0], .name = "r2" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "again", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 5);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_recv_cancel)
{
    struct scene_frame m = { 0 };
    RUN(recv_cancel_main, m);
    ck_assert_str_eq(lg, "r1=CANCEL cancel=1 send r2=5:again");
}
END_TEST

static co_status accept_cancel_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->l = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &f->addr);
    {
        struct accept_frame a = { .l = f->l, .name = "a1" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, accept_task, a), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    note("cancel=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    {
        struct accept_frame a = { .l = f->l, .name = "a2" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, accept_task, a), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    note("connect");
    ck_assert_int_eq(co_socket_new(&f->c, AF_INET, SOCK_STREAM, 0), 0);
    CO_AWAIT(f->rc, co_socket_connect(t, f->c, &f->addr));
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_ge(f->rc, 0);
    ck_assert_int_eq(co_socket_close(&f->c), 0);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

START_TEST(test_accept_cancel)
{
    struct scene_frame m = { 0 };
    RUN(accept_cancel_main, m);
    ck_assert_str_eq(lg, "a1=CANCEL cancel=1 connect a2=ok");
}
END_TEST

/* Cancelled after readiness woke it: the wake is not lost (the data is
 * received), the cancellation comes at the next blocking call. */
static co_status recv_then_sleep(co_task *t, void *arg)
{
    struct recv_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf - 1, 0));
    if (f->rc > 0)
        note("%s=%d:%.*s", f->name, f->rc, f->rc, f->buf);
    else
        note("%s=%s", f->name, rcs(f->rc));
    CO_AWAIT(f->rc, co_sleep(t, 10));
    note("%s:sleep=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status cancel_woken_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_then_sleep, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "hello", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    YIELD_UNTIL_READY(t, f);
    note("cancel");
    ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_cancel_woken_reader)
{
    struct scene_frame m = { 0 };
    RUN(cancel_woken_main, m);
    ck_assert_str_eq(lg, "cancel r=5:hello r:sleep=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *socket_interrupt_suite(void)
{
    Suite *s = suite_create("socket_interrupt");
    TCase *tc = tcase_create("interrupt");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_recv_timeout);
    tcase_add_test(tc, test_accept_timeout);
    tcase_add_test(tc, test_recvfrom_timeout);
    tcase_add_test(tc, test_recv_cancel);
    tcase_add_test(tc, test_accept_cancel);
    tcase_add_test(tc, test_cancel_woken_reader);
    suite_add_tcase(s, tc);
    return s;
}
