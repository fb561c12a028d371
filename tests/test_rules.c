/*
 * test_rules.c -- the rules every primitive shares (core/waits.h, "THE
 * RULE"; docs/reference.md, conventions), asserted across core/, sync/
 * and net/ at once, so that a primitive that strays shows here.
 *
 *   - Bad arguments return -EINVAL at once: never CO_WOULDBLOCK (the calls
 *     below are made without CO_AWAIT on purpose: a call that blocked would
 *     return CO_WOULDBLOCK and fail the assertion), also with a
 *     cancellation or an expired timeout pending, which such a call leaves
 *     pending for the next good call.
 *   - The re-evaluation after a primitive's own wake delivers the wake,
 *     whatever its arguments look like then.
 *   - self comes first: a NULL or foreign self aborts, whatever the other
 *     arguments (fork mode only).
 *   - NULL objects in non-blocking functions, by return type: int -EINVAL,
 *     yes/no 0, pointer NULL, size_t/unsigned 0, void nothing.
 *
 * Globals are reset at the start of each test, so the suite runs with
 * CK_FORK=no too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "curio.h"
#include "log.h"
#include "helpers.h"
#include "suites.h"

/* The objects the scenes use; reset by setup(). */
static co_event ev;
static co_lock lock;
static co_rlock rlock;
static co_semaphore sem;
static co_condition cond;
static co_queue fifo;
static co_uqueue uq;
static co_uevent ue;

static void setup(void)
{
    log_reset();
    ev = (co_event){ 0 };
    lock = (co_lock){ 0 };
    rlock = (co_rlock){ 0 };
    sem = (co_semaphore){ 0 };
    cond = (co_condition){ 0 };
    fifo = (co_queue){ 0 };
    ck_assert_int_eq(co_uqueue_init(&uq, 0), 0);
    ck_assert_int_eq(co_uevent_init(&ue), 0);
}

static void teardown(void)
{
    co_queue_free(&fifo);
    co_uqueue_free(&uq);
    co_uevent_free(&ue);
}

/* ------------------------------------------------------------ sync/ */

/* Every blocking primitive of sync/ with bad arguments, not awaited:
 * each must refuse at once. */
static void sync_bad_calls(co_task *t)
{
    int pending = 0;
    void *item = NULL;
    ck_assert_int_eq(co_event_wait(t, NULL), -EINVAL);
    ck_assert_int_eq(co_lock_acquire(t, NULL), -EINVAL);
    ck_assert_int_eq(co_rlock_acquire(t, NULL), -EINVAL);
    ck_assert_int_eq(co_semaphore_acquire(t, NULL), -EINVAL);
    ck_assert_int_eq(co_condition_acquire(t, NULL), -EINVAL);
    ck_assert_int_eq(co_condition_wait(t, NULL, &pending), -EINVAL);
    ck_assert_int_eq(co_condition_wait(t, &cond, NULL), -EINVAL);
    ck_assert_int_eq(co_condition_wait_for(t, &cond, NULL, NULL, &pending),
                     -EINVAL);
    ck_assert_int_eq(co_queue_put(t, NULL, &item), -EINVAL);
    /* a priority form on a FIFO queue: wrong kind of object */
    ck_assert_int_eq(co_queue_put_priority(t, &fifo, &item, 1), -EINVAL);
    ck_assert_int_eq(co_queue_get(t, NULL, &item), -EINVAL);
    ck_assert_int_eq(co_queue_get(t, &fifo, NULL), -EINVAL);
    ck_assert_int_eq(co_queue_join(t, NULL), -EINVAL);
    ck_assert_int_eq(co_uqueue_put(t, NULL, &item), -EINVAL);
    ck_assert_int_eq(co_uqueue_get(t, &uq, NULL), -EINVAL);
    ck_assert_int_eq(co_uqueue_join(t, NULL), -EINVAL);
    ck_assert_int_eq(co_uevent_wait(t, NULL), -EINVAL);
}

/* core/'s blocking primitives too: joining, waiting for and cancelling a
 * task that is not there, and a sleep of NaN seconds. */
static void core_bad_calls(co_task *t)
{
    int result = 12345;
    ck_assert_int_eq(co_task_join(t, NULL, &result), -EINVAL);
    ck_assert_int_eq(result, 12345);
    ck_assert_int_eq(co_task_wait(t, NULL), -EINVAL);
    ck_assert_int_eq(co_task_cancel(t, NULL), -EINVAL);
    ck_assert_int_eq(co_sleep(t, NAN), -EINVAL);
}

struct scene_frame {
    co_frame co;
    co_timeout to;
    co_socket *p[2];
    co_socket *conn;
    co_stream *st;
    co_bytes b;
    co_lock *lp;
    co_task *a;
    size_t sent;
    char buf[8];
    int rc;
};

/* Bad arguments with the task's own cancellation pending: -EINVAL each
 * time, and the cancellation is still there for the first good call. */
static co_status sync_cancelled_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    sync_bad_calls(t);
    core_bad_calls(t);
    note("bad=EINVAL");
    CO_AWAIT(f->rc, co_event_wait(t, &ev));       /* good: the cancellation */
    note("good=%s", rcs(f->rc));
    sync_bad_calls(t);                           /* sticky, and still -EINVAL */
    CO_AWAIT(f->rc, co_lock_acquire(t, &lock));
    note("again=%s", rcs(f->rc));
    ck_assert_ptr_null(co_lock_owner(&lock));
    CO_RETURN(0);
    CO_END;
}

START_TEST(test_sync_bad_args_before_cancellation)
{
    struct scene_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(sync_cancelled_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "bad=EINVAL good=CANCEL again=CANCEL");
}
END_TEST

/* The same with an expired timeout region: the region is not marked
 * expired by a refused call, only by the good call that reports it. */
static co_status sync_timed_out_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_timeout_after(t, &f->to, 0), 0);
    sync_bad_calls(t);
    core_bad_calls(t);
    note("bad=EINVAL expired=%d", co_timeout_expired(&f->to));
    CO_AWAIT(f->rc, co_semaphore_acquire(t, &sem));
    note("good=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_sync_bad_args_before_timeout)
{
    struct scene_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(sync_timed_out_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "bad=EINVAL expired=0 good=TIMEOUT expired=1 "
                         "end=TIMEOUT");
}
END_TEST

/* ------------------------------------------------------------ net/ */

/* Every blocking primitive of net/ with bad arguments, not awaited.  The
 * NULL buffer and the NULL socket of one call give the same answer. */
static void net_bad_calls(co_task *t, struct scene_frame *f)
{
    co_sockaddr addr;
    co_socket *client = NULL;
    size_t got = 0;
    ck_assert_int_eq(co_sockaddr_inet(&addr, AF_INET, "127.0.0.1", 1), 0);
    ck_assert_int_eq(co_socket_recv(t, NULL, f->buf, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_recv(t, f->p[0], NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_send(t, NULL, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_send(t, f->p[0], NULL, 1, 0), -EINVAL);
    ck_assert_int_eq(co_socket_sendall(t, NULL, "x", 1, &f->sent), -EINVAL);
    ck_assert_uint_eq(f->sent, 0);      /* sendall sets it at every return */
    ck_assert_int_eq(co_socket_sendall(t, f->p[0], "x", 1, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_sendall(t, f->p[0], "", 0, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_accept(t, NULL, &client, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_accept(t, f->p[0], NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_connect(t, NULL, &addr), -EINVAL);
    ck_assert_int_eq(co_socket_connect(t, f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_socket_recvfrom(t, f->p[0], NULL, 1, 0, NULL),
                     -EINVAL);
    ck_assert_int_eq(co_socket_sendto(t, f->p[0], "x", 1, 0, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_recv_bytes(t, f->p[0], NULL, 10), -EINVAL);
    ck_assert_int_eq(co_socket_recv_bytes(t, f->p[0], &f->b, 0), -EINVAL);
    ck_assert_int_eq(co_socket_sendall_bytes(t, NULL, &f->b), -EINVAL);
    ck_assert_int_eq(co_socket_sendall_bytes(t, f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_socket_wait_readable(t, NULL), -EINVAL);
    ck_assert_int_eq(co_socket_wait_writable(t, NULL), -EINVAL);
    ck_assert_int_eq(co_stream_read(t, NULL, f->buf, 1), -EINVAL);
    ck_assert_int_eq(co_stream_read(t, f->st, NULL, 1), -EINVAL);
    ck_assert_int_eq(co_stream_readline(t, f->st, f->buf, 0), -EINVAL);
    ck_assert_int_eq(co_stream_read_exactly(t, f->st, f->buf, 1, NULL),
                     -EINVAL);
    ck_assert_int_eq(co_stream_readall(t, f->st, NULL, 1, &got), -EINVAL);
    ck_assert_int_eq(co_stream_write(t, f->st, "x", 1, NULL), -EINVAL);
    f->sent = 7;
    ck_assert_int_eq(co_stream_writelines(t, f->st, NULL, 1, &f->sent),
                     -EINVAL);
    ck_assert_uint_eq(f->sent, 7);     /* a stream's: reset only when good */
    ck_assert_int_eq(co_stream_flush(t, NULL), -EINVAL);
    ck_assert_int_eq(co_server_wait_ready(t, NULL), -EINVAL);
    ck_assert_int_eq(co_server_task_wait_ready(t, t), -EINVAL);
    ck_assert_int_eq(co_open_connection(t, NULL, "127.0.0.1", 1), -EINVAL);
    /* a bad address is a bad argument too, a host name's included (a
     * good name is a good argument: it is looked up) */
    ck_assert_int_eq(co_open_connection(t, &f->conn, "127.0.0.1", -1),
                     -EINVAL);
    ck_assert_int_eq(co_open_connection(t, &f->conn, "example.com", 70000),
                     -EINVAL);
    ck_assert_ptr_null(f->conn);
    ck_assert_int_eq(co_io_wait(t, NULL, CO_IO_READ), -EINVAL);
    ck_assert_uint_eq(got, 0);                   /* out-parameters untouched */
}

static co_status net_cancelled_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_socketpair(f->p, SOCK_STREAM), 0);
    ck_assert_int_eq(co_stream_new(&f->st, f->p[1], 0), 0);
    f->p[1] = NULL;                              /* the stream's now */
    ck_assert_int_eq(co_task_cancel_nowait(t), 1);
    net_bad_calls(t, f);
    note("bad=EINVAL");
    /* data is there, but the first good call is the cancellation */
    ck_assert_int_eq(co_socket_try_send(f->p[0], "x", 1, 0), 1);
    CO_AWAIT(f->rc, co_stream_read(t, f->st, f->buf, 1));
    note("good=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, 1, 0));
    note("again=%s", rcs(f->rc));
    CO_FINALLY;
    co_stream_close(&f->st);
    co_socket_close(&f->p[0]);
    CO_END;
}

START_TEST(test_net_bad_args_before_cancellation)
{
    struct scene_frame m = { .rc = 0 };
    RUN(net_cancelled_main, m);     /* it handles its cancellation: 0 */
    ck_assert_str_eq(lg, "bad=EINVAL good=CANCEL again=CANCEL");
}
END_TEST

static co_status net_timed_out_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_socketpair(f->p, SOCK_STREAM), 0);
    ck_assert_int_eq(co_stream_new(&f->st, f->p[1], 0), 0);
    f->p[1] = NULL;
    ck_assert_int_eq(co_timeout_after(t, &f->to, 0), 0);
    net_bad_calls(t, f);
    note("bad=EINVAL expired=%d", co_timeout_expired(&f->to));
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, 1, 0));
    note("good=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s", rcs(f->rc));
    CO_FINALLY;
    co_stream_close(&f->st);
    co_socket_close(&f->p[0]);
    CO_END;
}

START_TEST(test_net_bad_args_before_timeout)
{
    struct scene_frame m = { .rc = 0 };
    RUN(net_timed_out_main, m);
    ck_assert_str_eq(lg, "bad=EINVAL expired=0 good=TIMEOUT expired=1 "
                         "end=TIMEOUT");
}
END_TEST

/* ------------------------------------------------------------ the wake */

/* Blocks on the lock through f->lp, which main sets to NULL meanwhile: the
 * re-evaluation delivers the hand-off all the same (it owns the lock). */
static co_status lock_waiter(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_lock_acquire(t, f->lp));
    note("waiter=%s owner=%d", rcs(f->rc), co_lock_owner(&lock) == t);
    ck_assert_int_eq(co_lock_release(t, &lock), 0);
    CO_END;
}

static co_status wake_first_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct scene_frame w = { .lp = &lock };
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_lock_acquire(t, &lock));
    CO_SPAWN(t, &f->a, lock_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));                /* it waits for the lock */
    ((struct scene_frame *)co_task_frame(f->a))->lp = NULL;
    ck_assert_int_eq(co_lock_release(t, &lock), 0);   /* handed over */
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    ck_assert(!co_lock_locked(&lock));
    CO_END;
}

START_TEST(test_own_wake_before_arguments)
{
    struct scene_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(wake_first_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "waiter=0 owner=1");
}
END_TEST

/* ------------------------------------------------------------ self */

/* self before the arguments: a NULL self aborts even with bad ones. */
START_TEST(test_null_self_with_bad_args_aborts_sync)
{
    co_event_wait(NULL, NULL);
}
END_TEST

START_TEST(test_null_self_with_bad_args_aborts_net)
{
    co_socket_sendall(NULL, NULL, "x", 1, NULL);
}
END_TEST

/* Another task's handle with bad arguments aborts too. */
static co_status sleeper(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 10));
    CO_END;
}

static co_status foreign_self_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct scene_frame s = { .rc = 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->a, sleeper, s);
    co_queue_get(f->a, NULL, NULL);              /* aborts */
    CO_END;
}

START_TEST(test_foreign_self_with_bad_args_aborts)
{
    struct scene_frame m = { .rc = 0 };
    co_run(foreign_self_main, &m, sizeof m);
}
END_TEST

/* ------------------------------------------------------------ NULL */

START_TEST(test_null_policy_of_accessors)
{
    /* int results: -EINVAL */
    ck_assert_int_eq(co_event_set(NULL), -EINVAL);
    ck_assert_int_eq(co_event_clear(NULL), -EINVAL);
    ck_assert_int_eq(co_lock_release(NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_rlock_count(NULL), -EINVAL);
    ck_assert_int_eq(co_semaphore_init(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_semaphore_release(NULL), -EINVAL);
    ck_assert_int_eq(co_semaphore_value(NULL), -EINVAL);
    ck_assert_int_eq(co_condition_init(NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_condition_notify(NULL, NULL, 1), -EINVAL);
    ck_assert_int_eq(co_queue_init(NULL, CO_QUEUE_FIFO, 0), -EINVAL);
    ck_assert_int_eq(co_queue_free(NULL), -EINVAL);
    ck_assert_int_eq(co_queue_put_nowait(NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_queue_task_done(NULL), -EINVAL);
    ck_assert_int_eq(co_uqueue_init(NULL, 0), -EINVAL);
    ck_assert_int_eq(co_uqueue_fd(NULL), -EINVAL);
    ck_assert_int_eq(co_uqueue_task_done(NULL), -EINVAL);
    ck_assert_int_eq(co_uevent_set(NULL), -EINVAL);
    ck_assert_int_eq(co_socket_fd(NULL), -EINVAL);
    ck_assert_int_eq(co_socket_try_send(NULL, "x", 1, 0), -EINVAL);
    ck_assert_int_eq(co_stream_blocking_begin(NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_set_io_budget(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_io_unhold(NULL, CO_IO_READ), -EINVAL);
    ck_assert_int_eq(co_waitq_wake_all(NULL, 0), -EINVAL);
    /* yes/no answers: 0 */
    ck_assert_int_eq(co_event_is_set(NULL), 0);
    ck_assert_int_eq(co_lock_locked(NULL), 0);
    ck_assert_int_eq(co_rlock_locked(NULL), 0);
    ck_assert_int_eq(co_semaphore_locked(NULL), 0);
    ck_assert_int_eq(co_condition_locked(NULL), 0);
    ck_assert_int_eq(co_queue_empty(NULL), 0);
    ck_assert_int_eq(co_queue_full(NULL), 0);
    ck_assert_int_eq(co_uqueue_empty(NULL), 0);
    ck_assert_int_eq(co_uqueue_full(NULL), 0);
    ck_assert_int_eq(co_uevent_is_set(NULL), 0);
    ck_assert_int_eq(co_waitq_empty(NULL), 0);
    ck_assert_int_eq(co_io_closed(NULL), 0);
    ck_assert_int_eq(co_io_in_use(NULL), 0);
    ck_assert_int_eq(co_io_has_waiter(NULL, CO_IO_WRITE), 0);
    /* pointers: NULL */
    ck_assert_ptr_null(co_lock_owner(NULL));
    ck_assert_ptr_null(co_rlock_owner(NULL));
    ck_assert_ptr_null(co_condition_lock(NULL));
    ck_assert_ptr_null(co_stream_socket(NULL));
    ck_assert_ptr_null(co_waitq_wake_one(NULL, 0));
    /* size_t and unsigned: 0 */
    ck_assert_uint_eq(co_queue_qsize(NULL), 0);
    ck_assert_uint_eq(co_queue_unfinished(NULL), 0);
    ck_assert_uint_eq(co_uqueue_qsize(NULL), 0);
    ck_assert_uint_eq(co_uqueue_unfinished(NULL), 0);
    ck_assert_uint_eq(co_stream_buffered(NULL), 0);
    ck_assert_uint_eq(co_kernel_io_budget(NULL), 0);
    /* void: nothing (no crash) */
    co_uqueue_free(NULL);
    co_uevent_free(NULL);
    co_waitq_init(NULL);
    co_io_attempted(NULL, CO_IO_READ, 1);
    co_io_hold(NULL, CO_IO_READ);
    co_io_assume_ready(NULL);
    co_io_close(NULL);
}
END_TEST

Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("bad arguments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sync_bad_args_before_cancellation);
    tcase_add_test(tc, test_sync_bad_args_before_timeout);
    tcase_add_test(tc, test_net_bad_args_before_cancellation);
    tcase_add_test(tc, test_net_bad_args_before_timeout);
    tcase_add_test(tc, test_own_wake_before_arguments);
    tcase_add_test(tc, test_null_policy_of_accessors);
    suite_add_tcase(s, tc);

    const char *fork_mode = getenv("CK_FORK");
    if (!fork_mode || strcmp(fork_mode, "no") != 0) {
        tc = tcase_create("self first");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test_raise_signal(tc, test_null_self_with_bad_args_aborts_sync,
                                    SIGABRT);
        tcase_add_test_raise_signal(tc, test_null_self_with_bad_args_aborts_net,
                                    SIGABRT);
        tcase_add_test_raise_signal(tc, test_foreign_self_with_bad_args_aborts,
                                    SIGABRT);
        suite_add_tcase(s, tc);
    }
    return s;
}
