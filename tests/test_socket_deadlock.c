/*
 * test_socket_deadlock.c -- deadlock detection after socket waits that
 * ended (timed out, cancelled, completed): a socket a task no longer waits
 * on must not keep the kernel from seeing that nothing can wake it.
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

/* ------------------------------------------------------------ deadlock */

/* A socket wait that has ended -- by timeout, cancellation or readiness --
 * leaves no watcher that keeps the loop alive (core/io.c): a task that then
 * waits for something that never comes is reported as deadlocked, and
 * co_run returns -EDEADLK instead of hanging. */
struct deadlock_frame {
    co_frame co;
    co_socket *p[2];
    co_task *a;
    co_timeout to;
    co_event never;                 /* nobody sets it */
    size_t sent;
    int rc;
    char buf[64];
};

/* Run fn as main: it must end in a deadlock and give its fds back. */
static void run_deadlocked(co_func fn)
{
    struct deadlock_frame m = { .rc = 0 };
    int fds_before = count_fds();
    ck_assert_int_eq(co_run(fn, &m, sizeof m), -EDEADLK);
    ck_assert_int_eq(count_fds(), fds_before);
}

static co_status recv_timeout_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("recv=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_recv_timeout)
{
    run_deadlocked(recv_timeout_deadlock_main);
    ck_assert_str_eq(lg, "recv=TIMEOUT wait=CANCEL");
}
END_TEST

static co_status recv_cancel_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_recv_cancel)
{
    run_deadlocked(recv_cancel_deadlock_main);
    ck_assert_str_eq(lg, "r=CANCEL wait=CANCEL");
}
END_TEST

static co_status send_timeout_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    co_timeout_after(t, &f->to, 0.01);      /* nobody reads: it fills up */
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], big, big_len, &f->sent));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("sendall=%s", rcs(f->rc));
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, big_len);
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_send_timeout)
{
    big_alloc(4 * MIB);
    run_deadlocked(send_timeout_deadlock_main);
    big_free();
    ck_assert_str_eq(lg, "sendall=TIMEOUT wait=CANCEL");
}
END_TEST

/* A wait that ended normally: the watcher stays started for the next wait
 * (no epoll_ctl per message) but does not keep the loop alive. */
static co_status recv_ok_deadlock_main(co_task *t, void *arg)
{
    struct deadlock_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct send_frame s = { .s = f->p[1], .msg = "hi" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, send_task, s), 0);
    }
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("recv=%d:%.*s", f->rc, f->rc, f->buf);   /* after waiting */
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));
    note("wait=%s", rcs(f->rc));
    CO_FINALLY;
    co_socket_close(&f->p[0]);
    co_socket_close(&f->p[1]);
    CO_END;
}

START_TEST(test_deadlock_after_recv_ok)
{
    run_deadlocked(recv_ok_deadlock_main);
    ck_assert_str_eq(lg, "send recv=2:hi wait=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *socket_deadlock_suite(void)
{
    Suite *s = suite_create("socket_deadlock");
    TCase *tc = tcase_create("deadlock");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_deadlock_after_recv_timeout);
    tcase_add_test(tc, test_deadlock_after_recv_cancel);
    tcase_add_test(tc, test_deadlock_after_send_timeout);
    tcase_add_test(tc, test_deadlock_after_recv_ok);
    suite_add_tcase(s, tc);
    return s;
}
