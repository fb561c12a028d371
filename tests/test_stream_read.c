/*
 * test_stream_read.c -- exact reads reaching the end of stream (also while
 * waiting), reads served from the buffer with no system call, readall, and
 * streams over pipes.
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

/* ------------------------------------------------------------ exact reads */

static co_status read_exactly_eof_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 4 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "0123456789ab", 12, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    /* bigger than the stream's buffer: received straight into buf */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 10, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 10);
    ck_assert(memcmp(f->buf, "0123456789", 10) == 0);
    /* 2 bytes left, then the end: they are kept and counted */
    memset(f->buf, 0, sizeof f->buf);
    f->got = 99;                                    /* reset by the call */
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 5, &f->got));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->got, 2);
    ck_assert(memcmp(f->buf, "ab", 3) == 0);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 3, &f->got));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->got, 0);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->b, f->buf, 0, &f->got));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_read_exactly_eof)
{
    struct scene m = { .bufsize = 4 };
    RUN(read_exactly_eof_main, m);
}
END_TEST

/* The end comes while the reader waits, with 3 of 8 bytes buffered. */
struct exact_frame {
    co_frame co;
    co_stream *st;
    size_t got;
    int rc;
    char buf[16];
};

static co_status exact_reader(co_task *t, void *arg)
{
    struct exact_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->st, f->buf, 8, &f->got));
    note("exact=%s got=%zu %.*s", rcs(f->rc), f->got, (int)f->got, f->buf);
    CO_END;
}

static co_status read_exactly_wait_eof_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct exact_frame e = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    e.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, exact_reader, e), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "xyz", 3, &f->sent));
    CO_AWAIT(f->rc, co_yield(t));            /* it takes xyz and waits */
    ck_assert_str_eq(co_task_state(f->t1), "blocked");
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_str_eq(lg, "exact=EPIPE got=3 xyz");
    close_pair(f);
    CO_END;
}

START_TEST(test_read_exactly_eof_while_waiting)
{
    struct scene m = { 0 };
    RUN(read_exactly_wait_eof_main, m);
}
END_TEST

/* ------------------------------------------------------------ buffered */

/* After the first line, the rest is buffered: with the socket's fd
 * replaced by /dev/null (where recv(2) fails with ENOTSOCK), reads still
 * return it -- they made no system call. */
static co_status buffered_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    int fd, saved, devnull;
    CO_BEGIN(t, f);
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, "one\ntwo\nthree", 13,
                                    &f->sent));
    ck_assert_int_eq(co_stream_close(&f->a), 0);        /* the peer is gone */
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "one\n", 4) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 9);

    fd = co_socket_fd(co_stream_socket(f->b));
    saved = dup(fd);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(devnull, 0);
    ck_assert_int_eq(dup2(devnull, fd), fd);
    close(devnull);
    f->i = saved;

    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 4);
    ck_assert(memcmp(f->buf, "two\n", 4) == 0);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 5);
    ck_assert(memcmp(f->buf, "three", 5) == 0);
    ck_assert_uint_eq(co_stream_buffered(f->b), 0);

    /* the socket back: now the end of stream comes from recv(2) */
    fd = co_socket_fd(co_stream_socket(f->b));
    ck_assert_int_eq(dup2(f->i, fd), fd);
    close(f->i);
    CO_AWAIT(f->rc, co_stream_read(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_read_buffered_without_syscall)
{
    struct scene m = { 0 };
    RUN(buffered_main, m);
}
END_TEST

/* ------------------------------------------------------------ readall */

static co_status readall_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_pair(f);                                       /* b: 8 bytes */
    CO_AWAIT(f->rc, co_stream_write(t, f->a, stream_big, 100, &f->sent));
    ck_assert_int_eq(co_socket_shutdown(f->pair[0], SHUT_WR), 0);
    /* more than maxlen: -EMSGSIZE, the rest stays readable */
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, 60, &f->got));
    ck_assert_int_eq(f->rc, -EMSGSIZE);
    ck_assert_uint_eq(f->got, 60);
    ck_assert(memcmp(sink, stream_big, 60) == 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink + 60, 40, &f->got));
    ck_assert_int_eq(f->rc, 0);              /* exactly maxlen, then end */
    ck_assert_uint_eq(f->got, 40);
    ck_assert(memcmp(sink, stream_big, 100) == 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, 10, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 0);
    close_pair(f);

    /* room to spare */
    f->pair[0] = f->pair[1] = NULL;
    open_pair(f);
    CO_AWAIT(f->rc, co_stream_write(t, f->a, stream_big, 100, &f->sent));
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, 1000, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 100);
    ck_assert(memcmp(sink, stream_big, 100) == 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_readall)
{
    stream_big_alloc(4096);
    struct scene m = { .bufsize = 8 };
    RUN(readall_main, m);
    stream_big_free();
}
END_TEST

/* ------------------------------------------------------------ pipes */

struct pipe_writer_frame {
    co_frame co;
    co_stream *st;
    size_t sent;
    int rc;
};

static co_status pipe_writer(co_task *t, void *arg)
{
    static struct iovec iov[4] = {
        { "first line\n", 11 }, { "second ", 7 }, { "line\n", 5 },
        { "third", 5 },
    };
    struct pipe_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->st, iov, 4, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->sent, 28);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_stream_write(t, f->st, "!\n", 2, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    CO_END;
}

static co_status pipe_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct pipe_writer_frame w = { 0 };
    int fds[2];
    CO_BEGIN(t, f);
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[0], fds[0]), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[1], fds[1]), 0);
    ck_assert_int_eq(co_stream_new(&f->a, f->pair[0], 0), 0);  /* read */
    ck_assert_int_eq(co_stream_new(&f->b, f->pair[1], 0), 0);  /* write */
    w.st = f->b;
    f->b = NULL;                                        /* the writer's */
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, pipe_writer, w), 0);
    for (;;) {
        CO_AWAIT(f->rc, co_stream_readline(t, f->a, f->buf, sizeof f->buf));
        ck_assert_int_ge(f->rc, 0);
        if (f->rc == 0)
            break;
        note("%.*s", f->rc - (f->buf[f->rc - 1] == '\n'), f->buf);
    }
    ck_assert_str_eq(lg, "first line second line third!");
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    close_pair(f);

    /* writing to a pipe nobody reads: -EPIPE */
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[0], fds[0]), 0);
    ck_assert_int_eq(co_socket_from_fd(&f->pair[1], fds[1]), 0);
    ck_assert_int_eq(co_stream_new(&f->a, f->pair[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->b, f->pair[1], 0), 0);
    ck_assert_int_eq(co_stream_close(&f->a), 0);
    CO_AWAIT(f->rc, co_stream_write(t, f->b, "x", 1, &f->sent));
    ck_assert_int_eq(f->rc, -EPIPE);
    ck_assert_uint_eq(f->sent, 0);
    close_pair(f);
    CO_END;
}

START_TEST(test_pipe)
{
    struct scene m = { 0 };
    RUN(pipe_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_read_suite(void)
{
    Suite *s = suite_create("stream_read");
    TCase *tc;

    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_add_test(tc, test_read_exactly_eof);
    tcase_add_test(tc, test_read_exactly_eof_while_waiting);
    tcase_add_test(tc, test_read_buffered_without_syscall);
    tcase_add_test(tc, test_readall);
    tcase_add_test(tc, test_pipe);
    suite_add_tcase(s, tc);
    return s;
}
