/*
 * test_stream_interrupt.c -- timeouts and cancellation that lose nothing:
 * a readline timing out, a write's progress count, a reader cancelled mid
 * line, buffered data not handed to a cancelled task; one reader at a time
 * (-EBUSY).
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

/* ------------------------------------------------------------ timeouts */

static co_status timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "hel", 3, &f->sent));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert(co_timeout_expired(&f->to));
    ck_assert_uint_eq(co_stream_buffered(f->b), 3);     /* kept */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "lo\n", 3, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "hello\n", 6) == 0);

    /* read_exactly hands over what came, counted in got */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "abc", 3, &f->sent));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 6, &f->got));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_eq(f->got, 3);
    ck_assert(memcmp(f->buf, "abc", 3) == 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "def", 3, &f->sent));
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf + 3, 3, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(f->buf, "abcdef", 6) == 0);

    /* a blocking point even when the buffer could serve it */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x\ny\n", 4, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);                         /* y\n buffered */
    co_timeout_after(t, &f->to, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_timeout_end(t, &f->to, f->rc);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert(memcmp(f->buf, "y\n", 2) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_timeout_loses_nothing)
{
    struct scene m = { 0 };
    RUN(timeout_main, m);
}
END_TEST

/* A write to a peer that does not read, under a timeout: *sent says how
 * much went, and exactly that much arrives. */
static co_status write_timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, stream_big, stream_big_len, &f->sent));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_gt(f->sent, 0);
    ck_assert_uint_lt(f->sent, stream_big_len);
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, stream_big_len, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, f->sent);
    ck_assert(memcmp(sink, stream_big, f->got) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_write_timeout_counts_progress)
{
    stream_big_alloc(16 * MIB);
    struct scene m = { 0 };
    RUN(write_timeout_main, m);
    stream_big_free();
}
END_TEST

/* ------------------------------------------------------------ cancel */

static co_status cancel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct stream_liner_frame l = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "hel", 3, &f->sent));
    l.st = f->b;
    l.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, stream_liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));                    /* A waits mid-line */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_uint_eq(co_stream_buffered(f->b), 3);
    CO_AWAIT(f->rc, co_task_cancel(t, f->t1));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -ECANCELED);

    /* B gets the whole line */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "lo\nwor", 6, &f->sent));
    l.st = f->b;
    l.name = "B";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, stream_liner, l), 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 6);

    /* C is woken by data, and cancelled before it runs: the data stays.
     * The kernel polls for I/O after a budget of task switches; when it
     * does, C is woken behind us, who are still ready. */
    l.st = f->b;                      /* l is a local: set it again */
    l.name = "C";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, stream_liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));                    /* C waits */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "ld\n", 3, &f->sent));
    for (f->i = 0; f->i < 1000000; f->i++) {
        if (strcmp(co_task_state(f->t1), "blocked") != 0)
            break;
        CO_AWAIT(f->rc, co_yield(t));
    }
    ck_assert_str_eq(co_task_state(f->t1), "ready");  /* woken, not run */
    ck_assert_int_eq(co_task_cancel_nowait(f->t1), 1);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "world\n", 6) == 0);
    ck_assert_str_eq(lg, "A:CANCEL B:hello C:CANCEL");
    close_pair(f);
    CO_END;
}

START_TEST(test_cancel_reader_mid_line)
{
    struct scene m = { 0 };
    RUN(cancel_main, m);
}
END_TEST

/* A cancelled task's stream calls fail, even those the buffer could
 * serve (cancellation is sticky). */
struct sticky_frame {
    co_frame co;
    co_stream *st;
    int rc;
    char buf[16];
};

static co_status sticky(co_task *t, void *arg)
{
    struct sticky_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 30));
    note("sleep:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    note("readline:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_read(t, f->st, f->buf, sizeof f->buf));
    note("read:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_flush(t, f->st));
    note("flush:%s", rcs(f->rc));
    CO_END;
}

static co_status sticky_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct sticky_frame s = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "a\nb\n", 4, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);                     /* "b\n" is buffered */
    s.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, sticky, s), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->t1));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_str_eq(lg, "sleep:CANCEL readline:CANCEL read:CANCEL "
                         "flush:CANCEL");
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert(memcmp(f->buf, "b\n", 2) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_cancelled_task_gets_no_buffered_data)
{
    struct scene m = { 0 };
    RUN(sticky_main, m);
}
END_TEST

/* One reader at a time: a second one that would wait gets -EBUSY. */
static co_status busy_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct stream_liner_frame l = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    l.st = f->b;
    l.name = "A";
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, stream_liner, l), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    note("main:%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "first\n", 6, &f->sent));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 6);
    ck_assert_str_eq(lg, "main:EBUSY A:first");
    close_pair(f);
    CO_END;
}

START_TEST(test_second_reader_busy)
{
    struct scene m = { 0 };
    RUN(busy_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_interrupt_suite(void)
{
    Suite *s = suite_create("stream_interrupt");
    TCase *tc;

    tc = tcase_create("interrupt");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_readline_timeout_loses_nothing);
    tcase_add_test(tc, test_write_timeout_counts_progress);
    tcase_add_test(tc, test_cancel_reader_mid_line);
    tcase_add_test(tc, test_cancelled_task_gets_no_buffered_data);
    tcase_add_test(tc, test_second_reader_busy);
    suite_add_tcase(s, tc);
    return s;
}
