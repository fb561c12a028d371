/*
 * test_stream_blocking.c -- lending the stream's fd to blocking code (and
 * when that is refused: data still buffered, a task waiting), and bad
 * input.
 */
#define _GNU_SOURCE                 /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "net/stream.h"
#include "helpers.h"
#include "log.h"
#include "stream_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ blocking */

static int fd_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    ck_assert_int_ge(flags, 0);
    return (flags & O_NONBLOCK) != 0;
}

/* Every stream operation refuses while the fd is lent.  None suspends,
 * so they are called without CO_AWAIT. */
static void assert_stream_refused(co_task *t, struct scene *f, co_stream *st)
{
    static struct iovec iov[1] = { { "x", 1 } };
    ck_assert_int_eq(co_stream_read(t, st, f->buf, 1), -EBUSY);
    ck_assert_int_eq(co_stream_readline(t, st, f->buf, sizeof f->buf),
                     -EBUSY);
    ck_assert_int_eq(co_stream_read_exactly(t, st, f->buf, 1, &f->got),
                     -EBUSY);
    ck_assert_int_eq(co_stream_readall(t, st, f->buf, sizeof f->buf,
                                       &f->got), -EBUSY);
    ck_assert_int_eq(co_stream_readlines(t, st, f->buf, sizeof f->buf,
                                         &f->got, &f->nlines), -EBUSY);
    ck_assert_int_eq(co_stream_write(t, st, "x", 1, &f->sent), -EBUSY);
    ck_assert_int_eq(co_stream_writelines(t, st, iov, 1, &f->sent), -EBUSY);
    ck_assert_int_eq(co_stream_flush(t, st), -EBUSY);
}

/* With bytes buffered the fd is not lent (they would be lost to the
 * blocking code), and the bytes stay readable; lent once they are read. */
static co_status blocking_buffered_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "one\ntwo\n", 8, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert_uint_eq(co_stream_buffered(f->b), 4);
    f->i = co_socket_fd(f->pair[1]);
    ck_assert_int_eq(co_stream_blocking_begin(f->b), -EBUSY);
    ck_assert(fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);  /* not lent */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "two\n", 4) == 0);
    ck_assert_int_eq(co_stream_blocking_begin(f->b), f->i);
    ck_assert(!fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    ck_assert(fd_nonblocking(f->i));
    close_pair(f);
    CO_END;
}

START_TEST(test_blocking_refused_with_buffered_data)
{
    struct scene m = { 0 };
    RUN(blocking_buffered_main, m);
}
END_TEST

/* The lent fd is blocking and read(2)/write(2) use it; meanwhile the
 * stream refuses its operations.  Given back, it is non-blocking and the
 * stream reads on from what the blocking code left -- waiting, not
 * blocking the thread, when the blocking code took everything (the
 * socket's hint still says "ready" from before). */
static co_status blocking_lend_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct stream_writer_frame w = { .name = "W", .buf = "def\n", .len = 4 };
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "abc\n", 4, &f->sent));
    f->i = co_stream_blocking_begin(f->b);
    ck_assert_int_eq(f->i, co_socket_fd(f->pair[1]));
    ck_assert(!fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_begin(f->b), -EBUSY);  /* lent */
    assert_stream_refused(t, f, f->b);
    ck_assert_int_eq(read(f->i, f->buf, sizeof f->buf), 4);     /* all */
    ck_assert(memcmp(f->buf, "abc\n", 4) == 0);
    ck_assert_int_eq(write(f->i, "pong\n", 5), 5);
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    ck_assert(fd_nonblocking(f->i));
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);

    /* the fd is empty: the stream waits for the writer, who runs only
     * once we wait */
    w.st = f->a;
    w.sent_out = &f->sent;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, writer, w), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    note("main:%.*s", f->rc > 0 ? f->rc - 1 : 0, f->buf);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_str_eq(lg, "W:0 main:def");
    CO_AWAIT(f->rc, co_stream_readline(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 5);                     /* the blocking write */
    ck_assert(memcmp(f->buf, "pong\n", 5) == 0);

    /* the blocking code reads part: the stream reads the rest */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "ghi\njkl\n", 8, &f->sent));
    f->i = co_stream_blocking_begin(f->b);
    ck_assert_int_ge(f->i, 0);
    ck_assert_int_eq(read(f->i, f->buf, 4), 4);
    ck_assert(memcmp(f->buf, "ghi\n", 4) == 0);
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "jkl\n", 4) == 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->b, "ok\n", 3, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 3);

    /* closing while lent: the stream and its fd go */
    ck_assert_int_ge(co_stream_blocking_begin(f->b), 0);
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);  /* NULL */
    CO_AWAIT(f->rc, co_stream_read(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);                     /* the peer sees it */
    close_pair(f);
    CO_END;
}

START_TEST(test_blocking_lends_fd)
{
    struct scene m = { 0 };
    RUN(blocking_lend_main, m);
}
END_TEST

/* A task waiting on the stream would find the fd blocking: refused. */
static co_status blocking_waiter_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct stream_liner_frame l = { .name = "R" };
    CO_BEGIN(t, f);
    open_pair(f);
    l.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, stream_liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_int_eq(co_stream_blocking_begin(f->b), -EBUSY);
    ck_assert(fd_nonblocking(co_socket_fd(f->pair[1])));
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "go\n", 3, &f->sent));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 3);
    ck_assert_str_eq(lg, "R:go");
    ck_assert_int_ge(co_stream_blocking_begin(f->b), 0);   /* now it may */
    ck_assert_int_eq(co_stream_blocking_end(f->b), 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_blocking_refused_while_task_waits)
{
    struct scene m = { 0 };
    RUN(blocking_waiter_main, m);
}
END_TEST

/* ------------------------------------------------------------ bad input */

static co_status bad_input_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static struct iovec bad_iov[1] = { { NULL, 5 } };
    CO_BEGIN(t, f);
    open_pair(f);
    {
        co_stream *st = NULL;
        ck_assert_int_eq(co_stream_new(NULL, f->pair[0], 0), -EINVAL);
        ck_assert_int_eq(co_stream_new(&st, NULL, 0), -EINVAL);
        ck_assert_int_eq(co_stream_new(&st, f->pair[0], (size_t)INT_MAX + 1),
                         -EINVAL);
        ck_assert_ptr_null(st);
    }
    ck_assert_int_eq(co_stream_close(NULL), -EINVAL);
    ck_assert_ptr_null(co_stream_socket(NULL));
    ck_assert_ptr_eq(co_stream_socket(f->a), f->pair[0]);
    ck_assert_uint_eq(co_stream_buffered(NULL), 0);
    CO_AWAIT(f->rc, co_stream_read(t, NULL, f->buf, 1));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, NULL, 1));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, 0));   /* as read(2) */
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, 0));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, NULL, 10));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, NULL, 1, &f->got));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, f->buf, 1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x", 1, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, NULL, 1, &f->sent));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, bad_iov, -1, &f->sent));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, bad_iov, 1, &f->sent));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_flush(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, NULL, f->buf, 1, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, NULL, 1, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 1, NULL,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 1, &f->got, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_stream_blocking_begin(NULL), -EINVAL);
    ck_assert_int_eq(co_stream_blocking_end(NULL), -EINVAL);
    ck_assert_int_eq(co_stream_blocking_end(f->b), -EINVAL);  /* not lent */
    /* nothing was sent by any of that */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "ok\n", 3, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 3);
    close_pair(f);
    CO_END;
}

START_TEST(test_bad_input)
{
    struct scene m = { 0 };
    RUN(bad_input_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_blocking_suite(void)
{
    Suite *s = suite_create("stream_blocking");
    TCase *tc;

    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("blocking");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_add_test(tc, test_blocking_refused_with_buffered_data);
    tcase_add_test(tc, test_blocking_lends_fd);
    tcase_add_test(tc, test_blocking_refused_while_task_waits);
    suite_add_tcase(s, tc);
    return s;
}
