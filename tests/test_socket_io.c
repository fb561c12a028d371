/*
 * test_socket_io.c -- one waiter per direction (a second reader gets
 * -EBUSY; a reader and a writer at once is fine), the same rules on a bare
 * core/io handle (busy, cancelled, closed while a task waits, released
 * once), and eager I/O: the syscall is tried first, and the drained hint
 * saves the one that would surely fail.
 */
#define _GNU_SOURCE                 /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "socket_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ busy */

static co_status busy_reader_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r1" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));             /* r1 blocks in recv */
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    /* nor can the fd be made blocking under it */
    ck_assert_int_eq(co_socket_set_blocking(f->p[0], 1), -EBUSY);
    ck_assert_int_eq(co_socket_set_blocking(f->p[0], 0), 0);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r2" };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, recv_task, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));             /* r2 runs once: refused */
    ck_assert(co_task_done(f->b));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, -EBUSY);
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "hello", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 5);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_second_reader_busy)
{
    struct scene_frame m = { 0 };
    RUN(busy_reader_main, m);
    ck_assert_str_eq(lg, "r2=EBUSY send r1=5:hello");
}
END_TEST

/* A reader and a writer both blocked on p[0]: allowed.  A second writer is
 * refused with -EBUSY and nothing sent. */
static co_status reader_and_writer_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        struct recv_frame r = { .s = f->p[0], .name = "r" };
        struct sendall_frame w = { .s = f->p[0], .buf = big, .len = big_len,
                                   .shut = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_task, r), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, sendall_task, w), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));         /* both block: nothing to read, */
    ck_assert_str_eq(co_task_state(f->a), "blocked");   /* buffer full */
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    {
        struct sendall_frame w2 = { .s = f->p[0], .buf = big, .len = 10,
                                    .sent_out = &f->sent };
        f->sent = 99;
        ck_assert_int_gt(CO_SPAWN(t, &f->d, sendall_task, w2), 0);
    }
    AWAIT_JOIN(f->rc, t, f->d);
    note("w2=%s:%zu", rcs(f->rc), f->sent);
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    CO_AWAIT(f->rc, co_socket_send(t, f->p[1], "world", 5, 0));
    ck_assert_int_eq(f->rc, 5);
    AWAIT_JOIN(f->rc, t, f->a);             /* logs r=5:world */
    ck_assert_str_eq(co_task_state(f->b), "blocked");
    {
        struct reader_frame r = { .s = f->p[1] };
        ck_assert_int_gt(CO_SPAWN(t, &f->d, reader_task, r), 0);
    }
    AWAIT_JOIN(f->rc, t, f->b);
    note("w=%d", f->rc);
    AWAIT_JOIN(f->rc, t, f->d);
    note("drained=%d", f->rc);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_one_reader_one_writer)
{
    struct scene_frame m = { 0 };
    big_alloc(4 * MIB);
    RUN(reader_and_writer_main, m);
    big_free();
    ck_assert_str_eq(lg, "w2=EBUSY:0 r=5:world w=4194304 drained=4194304");
}
END_TEST

/* ------------------------------------------------------------ eager I/O */

/* Data already there: send and recv complete without suspending, so the
 * task spawned before them has not run yet when they return.  A recv that
 * filled its buffer did not drain the fd, so the next one is eager too. */
static co_status eager_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    {
        struct mark_frame m = { .name = "other" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, mark_task, m), 0);
    }
    open_socketpair(f->p);
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "abcdef", 6, 0));
    note("send=%d", f->rc);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, 3, 0));
    note("recv=%.*s", f->rc, f->buf);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, 3, 0));
    note("recv=%.*s", f->rc, f->buf);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[1], "back", 4, &f->sent));
    note("sendall=%s:%zu", rcs(f->rc), f->sent);
    ck_assert_str_eq(co_task_state(f->a), "ready");
    CO_AWAIT(f->rc, co_yield(t));
    note("main");
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(f->rc, 4);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_eager_io)
{
    struct scene_frame m = { 0 };
    RUN(eager_main, m);
    ck_assert_str_eq(lg, "send=6 recv=abc recv=def sendall=0:4 other main");
}
END_TEST

/* The drained hint (core/io.h): after a recv that came back short, the
 * next recv waits for readiness before trying, even though data has
 * arrived meanwhile -- so it suspends once, letting a ready task run. */
static co_status drained_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    {
        struct mark_frame m = { .name = "other" };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, mark_task, m), 0);
    }
    open_socketpair(f->p);
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "abc", 3, 0));
    ck_assert_int_eq(f->rc, 3);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    note("recv=%.*s", f->rc, f->buf);           /* short: drained */
    CO_AWAIT(f->rc, co_socket_send(t, f->p[0], "xyz", 3, 0));
    ck_assert_int_eq(f->rc, 3);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[1], f->buf, sizeof f->buf, 0));
    note("recv=%.*s", f->rc, f->buf);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_drained_hint)
{
    struct scene_frame m = { 0 };
    RUN(drained_main, m);
    ck_assert_str_eq(lg, "recv=abc other recv=xyz");
}
END_TEST

/* ------------------------------------------------------------ core/io */

/* co_io directly, on a pipe: a waiter blocks until the fd is readable, a
 * second waiter gets -EBUSY, a cancelled waiter leaves, and release runs
 * exactly once -- after close, and only when no task is inside. */
static int io_releases;
static void io_release(co_io *io)
{
    (void)io;
    io_releases++;
}

struct io_waiter_frame {
    co_frame co;
    co_io *io;
    const char *name;
    int rc;
};

static co_status io_waiter(co_task *t, void *arg)
{
    struct io_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_io_wait(t, f->io, CO_IO_READ));
    note("%s:%s releases=%d", f->name, rcs(f->rc), io_releases);
    CO_RETURN(f->rc);
    CO_END;
}

struct io_main_frame {
    co_frame co;
    int fds[2];
    co_io io;
    co_task *a, *b;
    int rc, result;
};

static co_status io_main(co_task *t, void *arg)
{
    struct io_main_frame *f = arg;
    struct io_waiter_frame w = { .io = &f->io };
    CO_BEGIN(t, f);
    io_releases = 0;
    ck_assert_int_eq(pipe2(f->fds, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(co_io_init(&f->io, -1, io_release), -EINVAL);
    ck_assert_int_eq(co_io_init(&f->io, f->fds[0], io_release), 0);
    /* a fresh io may be ready: the first wait returns at once */
    CO_AWAIT(f->rc, co_io_wait(t, &f->io, CO_IO_READ));
    note("fresh=%s", rcs(f->rc));
    co_io_attempted(&f->io, CO_IO_READ, 1);     /* drained: waits now */
    ck_assert_int_eq(co_io_wait(t, &f->io, 2), -EINVAL);

    w.name = "A";
    CO_SPAWN(t, &f->a, io_waiter, w);
    w.name = "B";
    CO_SPAWN(t, &f->b, io_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));               /* A blocks, B is busy */
    ck_assert_int_eq(write(f->fds[1], "x", 1), 1);
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->b, &f->result));

    /* cancelled while waiting: it leaves, the io stays usable */
    char c;
    ck_assert_int_eq(read(f->fds[0], &c, 1), 1);
    co_io_attempted(&f->io, CO_IO_READ, 1);
    w.name = "C";
    CO_SPAWN(t, &f->a, io_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));

    /* closed while a task waits: it gets -EBADF; release waits for it */
    w.name = "D";
    CO_SPAWN(t, &f->a, io_waiter, w);
    CO_AWAIT(f->rc, co_yield(t));
    co_io_close(&f->io);
    note("closed releases=%d", io_releases);
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    co_io_close(&f->io);                        /* idempotent */
    note("end releases=%d", io_releases);
    close(f->fds[0]);
    close(f->fds[1]);
    CO_END;
}

START_TEST(test_io_wait_busy_cancel_close_release)
{
    struct io_main_frame m = { .rc = 0 };
    RUN(io_main, m);
    ck_assert_str_eq(lg, "fresh=0 B:EBUSY releases=0 A:0 releases=0 "
                         "C:CANCEL releases=0 closed releases=0 "
                         "D:EBADF releases=1 end releases=1");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *socket_io_suite(void)
{
    Suite *s = suite_create("socket_io");
    TCase *tc = tcase_create("busy");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_second_reader_busy);
    tcase_add_test(tc, test_one_reader_one_writer);
    suite_add_tcase(s, tc);

    tc = tcase_create("io");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_io_wait_busy_cancel_close_release);
    suite_add_tcase(s, tc);

    tc = tcase_create("eager");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_add_test(tc, test_eager_io);
    tcase_add_test(tc, test_drained_hint);
    suite_add_tcase(s, tc);
    return s;
}
