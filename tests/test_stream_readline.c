/*
 * test_stream_readline.c -- co_stream_readline: lines across arbitrary
 * segment boundaries, the line limit (-EMSGSIZE) leaving data readable,
 * the buffer growing for a long line.
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

/* ------------------------------------------------------------ readline */

static co_status readline_chunks_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct dribble_frame d = { .rng = 12345 };
    CO_BEGIN(t, f);
    open_pair(f);
    d.st = f->a;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, dribbler, d), 0);
    f->off = 0;
    for (f->i = 0;; f->i++) {
        CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
        if (f->rc <= 0)
            break;
        {
            const char *nl = memchr(text + f->off, '\n', text_len - f->off);
            size_t want = nl ? (size_t)(nl - text - f->off) + 1
                             : text_len - f->off;
            ck_assert_int_eq(f->rc, (int)want);
            ck_assert(memcmp(f->buf, text + f->off, want) == 0);
            f->off += want;
        }
    }
    ck_assert_int_eq(f->rc, 0);             /* end of stream */
    ck_assert_uint_eq(f->off, text_len);    /* every line, the last too */
    ck_assert_int_eq(f->i, 61);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);             /* and it stays ended */
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_chunk_boundaries)
{
    make_text();
    struct scene m = { .bufsize = chunk_bufsizes[_i] };
    RUN(readline_chunks_main, m);
}
END_TEST

static co_status readline_limit_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static const char data[] = "0123456789abcdefXYZ\nshort\n";
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 16 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, data, strlen(data), &f->sent));
    ck_assert_int_eq(f->rc, 0);
    /* 10 bytes without a newline */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, 10));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(co_stream_buffered(f->b), 16);   /* one full buffer */
    /* a generous maxlen: the stream's buffer is the limit */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(co_stream_buffered(f->b), 16);
    /* nothing was lost */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 10, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 10);
    ck_assert(memcmp(f->buf, "0123456789", 10) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 10);
    ck_assert(memcmp(f->buf, "abcdefXYZ\n", 10) == 0);
    /* a line of exactly maxlen bytes, newline included, fits */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, 6));
    ck_assert_int_eq(f->rc, 6);
    ck_assert(memcmp(f->buf, "short\n", 6) == 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_limit)
{
    struct scene m = { .bufsize = 16 };
    RUN(readline_limit_main, m);
}
END_TEST

/* A buffer bigger than the pool's chunk grows as a long line needs (a
 * block of the pool's, twice as stream_big each time, up to bufsize), and a line
 * longer than bufsize still gives -EMSGSIZE with bufsize bytes kept. */
#define GROW_BUFSIZE 200000u
#define GROW_LINE 150000u
static unsigned char grow_text[GROW_LINE + GROW_BUFSIZE + 10];
static unsigned char grow_out[GROW_BUFSIZE + 10];

struct grow_writer_frame {
    co_frame co;
    co_stream *st;
    size_t sent;
    int rc;
};

static co_status grow_writer(co_task *t, void *arg)
{
    struct grow_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_write(t, f->st, grow_text, sizeof grow_text,
                                    &f->sent));
    CO_END;
}

static co_status readline_grows_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 200,000 */
    {
        struct grow_writer_frame w = { .st = f->a };
        ck_assert_int_ge(CO_SPAWN(t, &f->t1, grow_writer, w), 0);
    }
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, grow_out, sizeof grow_out));
    ck_assert_int_eq(f->rc, (int)GROW_LINE);
    ck_assert(memcmp(grow_out, grow_text, GROW_LINE) == 0);
    /* the next "line" has no newline within the buffer's size */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, grow_out, sizeof grow_out));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(co_stream_buffered(f->b), GROW_BUFSIZE);
    /* nothing was lost: read the rest exactly */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, grow_out, GROW_BUFSIZE + 10,
                                           &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert(memcmp(grow_out, grow_text + GROW_LINE, GROW_BUFSIZE + 10) == 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readline_buffer_grows)
{
    for (size_t i = 0; i < sizeof grow_text; i++)
        grow_text[i] = (unsigned char)('a' + i % 26);
    grow_text[GROW_LINE - 1] = '\n';
    struct scene m = { .bufsize = GROW_BUFSIZE };
    RUN(readline_grows_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_readline_suite(void)
{
    Suite *s = suite_create("stream_readline");
    TCase *tc;

    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_add_loop_test(tc, test_readline_chunk_boundaries, 0, 3);
    tcase_add_test(tc, test_readline_limit);
    tcase_add_test(tc, test_readline_buffer_grows);
    suite_add_tcase(s, tc);
    return s;
}
