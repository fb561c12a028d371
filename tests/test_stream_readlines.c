/*
 * test_stream_readlines.c -- co_stream_readlines: every line across
 * arbitrary segment boundaries, its limits, and what a timeout or a
 * cancellation hands over.
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

/* ------------------------------------------------------------ readlines */

static char lines_out[sizeof text];

/* Every line of the dribbled text until the end, in one call resumed
 * across many suspensions, the last line without its newline too. */
static co_status readlines_chunks_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct dribble_frame d = { .rng = 54321 };
    CO_BEGIN(t, f);
    open_pair(f);
    d.st = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, dribbler, d), 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, lines_out, sizeof lines_out,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, text_len);
    ck_assert(memcmp(lines_out, text, text_len) == 0);
    ck_assert_uint_eq(f->nlines, 61);
    /* ended: nothing more, and the counters are reset */
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, lines_out, sizeof lines_out,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 0);
    ck_assert_uint_eq(f->nlines, 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_chunk_boundaries)
{
    make_text();
    struct scene m = { .bufsize = chunk_bufsizes[_i] };
    RUN(readlines_chunks_main, m);
}
END_TEST

/* A line longer than the stream's buffer: -EMSGSIZE as readline gives;
 * a line that does not fit in what is left of buf: -ENOSPC.  Either way
 * the lines before are handed over and the rest stays readable. */
static co_status readlines_limits_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static const char data[] = "ab\ncd\n0123456789abcdefXYZ\n";
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 16 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, data, strlen(data), &f->sent));
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(f->got, 6);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "ab\ncd\n", 6) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 16);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 16, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(f->buf, "0123456789abcdef", 16) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "XYZ\n", 4) == 0);

    /* 10 bytes of room: two lines fit, the third does not */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "one\ntwo\nthree\n", 14,
                                    &f->sent));
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 10, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, -ENOSPC);
    ck_assert_uint_eq(f->got, 8);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "one\ntwo\n", 8) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 6);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "three\n", 6) == 0);

    /* a last line without newline that fills the room exactly fits */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x\nlast", 6, &f->sent));
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, 6, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 6);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "x\nlast", 6) == 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, NULL, 0, &f->got,
                                        &f->nlines));
    ck_assert_int_eq(f->rc, 0);                         /* ended, empty */
    ck_assert_uint_eq(f->nlines, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_limits)
{
    struct scene m = { .bufsize = 16 };
    RUN(readlines_limits_main, m);
}
END_TEST

/* Under a timeout, the whole lines that came are handed over; the part
 * of a line that came stays buffered for the next read. */
static co_status readlines_timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "a\nb\npar", 7, &f->sent));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    ck_assert_uint_eq(f->got, 4);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "a\nb\n", 4) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 3);     /* "par" kept */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "tial\nend", 8, &f->sent));
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->b, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 11);
    ck_assert_uint_eq(f->nlines, 2);
    ck_assert(memcmp(f->buf, "partial\nend", 11) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_timeout_hands_over_lines)
{
    struct scene m = { 0 };
    RUN(readlines_timeout_main, m);
}
END_TEST

/* readlines in a task of its own; logs what it was handed. */
struct lines_reader_frame {
    co_frame co;
    co_stream *st;
    size_t got, nlines;
    int rc;
    char buf[64];
};

static co_status lines_reader(co_task *t, void *arg)
{
    struct lines_reader_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_readlines(t, f->st, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    note("readlines=%s got=%zu lines=%zu [%.*s]", rcs(f->rc), f->got,
         f->nlines, (int)f->got, f->buf);
    CO_RETURN(f->rc);
    CO_END;
}

static co_status readlines_cancel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct lines_reader_frame r = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    r.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, lines_reader, r), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "x\ny\nz", 5, &f->sent));
    CO_AWAIT(f->rc, co_yield(t));           /* it takes x, y and waits */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->t1));
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_str_eq(lg, "readlines=CANCEL got=4 lines=2 [x\ny\n]");
    ck_assert_uint_eq(co_stream_buffered(f->b), 1);     /* "z" kept */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "\n", 1, &f->sent));
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert(memcmp(f->buf, "z\n", 2) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readlines_cancel_hands_over_lines)
{
    struct scene m = { 0 };
    RUN(readlines_cancel_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_readlines_suite(void)
{
    Suite *s = suite_create("stream_readlines");
    TCase *tc;

    tc = tcase_create("readlines");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_add_loop_test(tc, test_readlines_chunk_boundaries, 0, 3);
    tcase_add_test(tc, test_readlines_limits);
    tcase_add_test(tc, test_readlines_timeout_hands_over_lines);
    tcase_add_test(tc, test_readlines_cancel_hands_over_lines);
    suite_add_tcase(s, tc);
    return s;
}
