/*
 * test_stream_close.c -- close while tasks wait, closing twice through one
 * handle, and EPIPE without SIGPIPE when the peer has gone.
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

/* ------------------------------------------------------------ close */

/* Closing a stream a reader and a writer wait on wakes both with -EBADF;
 * the stream is freed once they have returned (ASan checks the order). */
static co_status close_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct stream_liner_frame l = { .name = "R" };
    struct stream_writer_frame w = { .name = "W" };
    CO_BEGIN(t, f);
    open_pair(f);
    l.st = w.st = f->b;
    w.buf = stream_big;
    w.len = stream_big_len;
    w.sent_out = &f->sent;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, stream_liner, l), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->t2, writer, w), 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_str_eq(co_task_state(f->t2), "blocked");   /* nobody reads */
    {
        co_stream *copy = f->b;
        ck_assert_int_eq(co_stream_close(&f->b), 0);
        ck_assert_ptr_null(f->b);
        /* a copy lives while the woken tasks have not returned: -EBADF,
         * and no new buffer for the closed stream */
        ck_assert_int_eq(co_stream_read(t, copy, f->buf, 1), -EBADF);
        ck_assert_int_eq(co_stream_readline(t, copy, f->buf, 10), -EBADF);
        ck_assert_int_eq(co_stream_blocking_begin(copy), -EBADF);
    }
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -EBADF);
    AWAIT_JOIN(f->rc, t, f->t2);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, stream_big_len);
    ck_assert_str_eq(lg, "R:EBADF W:EBADF");
    close_pair(f);
    CO_END;
}

START_TEST(test_close_while_waiting)
{
    stream_big_alloc(16 * MIB);
    struct scene m = { 0 };
    RUN(close_main, m);
    stream_big_free();
}
END_TEST

/* Closing clears the caller's handle: closing through it again is -EBADF
 * and touches nothing -- not the stream made since, which may have the
 * closed one's memory. */
struct double_close_frame {
    co_frame co;
    co_socket *p[2], *q[2];
    co_stream *a, *b, *c, *d;
    size_t sent;
    int rc;
    char buf[16];
};

static co_status double_close_main(co_task *t, void *arg)
{
    struct double_close_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    ck_assert_int_eq(co_stream_new(&f->a, f->p[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->b, f->p[1], 0), 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    ck_assert_ptr_null(f->a);
    open_socketpair(f->q);
    ck_assert_int_eq(co_stream_new(&f->c, f->q[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->d, f->q[1], 0), 0);
    ck_assert_int_eq(co_stream_close(&f->a), -EBADF);
    ck_assert_int_eq(co_stream_close(NULL), -EINVAL);
    CO_AWAIT(f->rc, co_stream_read(t, f->a, f->buf, 1));   /* NULL now */
    note("closed:read=%s", rcs(f->rc));
    /* c and d still work, both ways */
    CO_AWAIT(f->rc, co_stream_write(t, f->c, "to d\n", 5, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->d, f->buf, sizeof f->buf));
    note("d=%.*s", f->rc > 0 ? f->rc - 1 : 0, f->buf);
    CO_AWAIT(f->rc, co_stream_write(t, f->d, "to c\n", 5, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->c, f->buf, sizeof f->buf));
    note("c=%.*s", f->rc > 0 ? f->rc - 1 : 0, f->buf);
    /* the closed stream's peer sees the end */
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    note("b=%d", f->rc);
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    ck_assert_int_eq(co_stream_close(&f->b), -EBADF);
    ck_assert_int_eq(co_stream_close(&f->c), 0);
    ck_assert_int_eq(co_stream_close(&f->d), 0);
    CO_END;
}

START_TEST(test_double_close)
{
    struct double_close_frame m = { .rc = 0 };
    RUN(double_close_main, m);
    ck_assert_str_eq(lg, "closed:read=EINVAL d=to d c=to c b=0");
}
END_TEST

/* ------------------------------------------------------------ EPIPE */

static co_status epipe_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct stream_writer_frame w = { .name = "W" };
    static struct iovec iov[2] = { { "a", 1 }, { "b", 1 } };
    CO_BEGIN(t, f);
    open_pair(f);
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x", 1, &f->sent));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->sent, 0);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, iov, 2, &f->sent));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->sent, 0);
    close_pair(f);

    /* the peer reads a little, then goes away while the writer waits */
    f->pair[0] = f->pair[1] = NULL;
    open_pair(f);
    w.st = f->a;
    w.buf = stream_big;
    w.len = stream_big_len;
    w.sent_out = &f->sent;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, writer, w), 0);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 1000, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(f->buf, stream_big, 1000) == 0);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_int_eq(co_stream_close(&f->b), 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    /* Linux says ECONNRESET when the peer closed with data unread */
    ck_assert_msg(f->rc == -EPIPE || f->rc == -ECONNRESET, "rc %d", f->rc);
    ck_assert_uint_ge(f->sent, 1000);
    ck_assert_uint_lt(f->sent, stream_big_len);
    close_pair(f);
    CO_END;
}

START_TEST(test_write_closed_peer_epipe)
{
    /* SIGPIPE at its default: if it fired, it would kill the test */
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    stream_big_alloc(16 * MIB);
    struct scene m = { 0 };
    RUN(epipe_main, m);
    stream_big_free();
    signal(SIGPIPE, old);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_close_suite(void)
{
    Suite *s = suite_create("stream_close");
    TCase *tc;

    tc = tcase_create("interrupt");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_close_while_waiting);
    tcase_add_test(tc, test_double_close);
    tcase_add_test(tc, test_write_closed_peer_epipe);
    suite_add_tcase(s, tc);
    return s;
}
