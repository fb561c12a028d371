/*
 * test_stream_bulk.c -- a 1 MiB echo through two streams, and gathered
 * writes (writelines) with their progress count.
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

/* ------------------------------------------------------------ bulk echo */

/* Writes stream_big[] in chunks of 1..65536 bytes, alternating co_stream_write
 * and a co_stream_writelines of the chunk cut in three, then shuts its
 * side down. */
struct producer_frame {
    co_frame co;
    co_stream *st;
    size_t off, n, sent;
    uint32_t rng;
    struct iovec iov[3];
    int rc, round;
};

static co_status producer(co_task *t, void *arg)
{
    struct producer_frame *f = arg;
    CO_BEGIN(t, f);
    while (f->off < stream_big_len) {
        f->n = 1 + next_rand(&f->rng) % 65536;
        if (f->n > stream_big_len - f->off)
            f->n = stream_big_len - f->off;
        if (f->round++ % 2 == 0) {
            CO_AWAIT(f->rc, co_stream_write(t, f->st, stream_big + f->off, f->n,
                                            &f->sent));
        } else {
            size_t cut1 = next_rand(&f->rng) % (f->n + 1);
            size_t cut2 = cut1 + next_rand(&f->rng) % (f->n - cut1 + 1);
            f->iov[0] = (struct iovec){ stream_big + f->off, cut1 };
            f->iov[1] = (struct iovec){ stream_big + f->off + cut1, cut2 - cut1 };
            f->iov[2] = (struct iovec){ stream_big + f->off + cut2, f->n - cut2 };
            CO_AWAIT(f->rc, co_stream_writelines(t, f->st, f->iov, 3,
                                                 &f->sent));
        }
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->sent, f->n);
        f->off += f->n;
    }
    CO_AWAIT(f->rc, co_stream_flush(t, f->st));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_END;
}

/* Reads with maxlen 1..8192 and writes back what came, until the end;
 * then shuts its side down.  The count. */
struct echo_frame {
    co_frame co;
    co_stream *st;
    size_t total, sent;
    uint32_t rng;
    int rc, n;
    unsigned char buf[8192];
};

static co_status echoer(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_stream_read(t, f->st, f->buf,
                                      1 + next_rand(&f->rng) % sizeof f->buf));
        ck_assert_int_ge(f->n, 0);
        if (f->n == 0)
            break;
        CO_AWAIT(f->rc, co_stream_write(t, f->st, f->buf, (size_t)f->n,
                                        &f->sent));
        ck_assert_int_eq(f->rc, 0);
        f->total += (size_t)f->n;
    }
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_RETURN((int)f->total);
    CO_END;
}

static co_status echo_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    struct producer_frame p = { .rng = 777 };
    struct echo_frame e = { .rng = 4242 };
    CO_BEGIN(t, f);
    open_pair(f);
    p.st = f->a;
    e.st = f->b;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, producer, p), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->t2, echoer, e), 0);
    f->rng = 99;
    while (f->off < stream_big_len) {
        {
            size_t n = 1 + next_rand(&f->rng) % 70000;
            f->sent = n < stream_big_len - f->off ? n : stream_big_len - f->off;
        }
        CO_AWAIT(f->rc, co_stream_read_exactly(t, f->a, sink + f->off,
                                               f->sent, &f->got));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->got, f->sent);
        f->off += f->got;
    }
    CO_AWAIT(f->rc, co_stream_read(t, f->a, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 0);                         /* nothing extra */
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->t2);
    ck_assert_int_eq(f->rc, (int)stream_big_len);
    close_pair(f);
    CO_END;
}

START_TEST(test_echo_1mib)
{
    stream_big_alloc(MIB);
    struct scene m = { .bufsize = chunk_bufsizes[_i] };
    RUN(echo_main, m);
    ck_assert(fnv1a(FNV_SEED, sink, stream_big_len) == fnv1a(FNV_SEED, stream_big, stream_big_len));
    ck_assert(memcmp(sink, stream_big, stream_big_len) == 0);
    stream_big_free();
}
END_TEST

/* ------------------------------------------------------------ writelines */

/* writelines(iov, iovcnt), then shutdown; the count sent, or the error. */
struct lines_frame {
    co_frame co;
    co_stream *st;
    const struct iovec *iov;
    int iovcnt, rc;
    size_t sent;
};

static co_status lines_writer(co_task *t, void *arg)
{
    struct lines_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->st, f->iov, f->iovcnt,
                                         &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_RETURN((int)f->sent);
    CO_END;
}

static co_status writelines_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static struct iovec iov[7];
    struct lines_frame w = { 0 };
    CO_BEGIN(t, f);
    open_pair(f);
    iov[0] = (struct iovec){ "GET / HTTP/1.0\r\n", 16 };
    iov[1] = (struct iovec){ "Host: x\r\n", 9 };
    iov[2] = (struct iovec){ NULL, 0 };             /* empty pieces count */
    iov[3] = (struct iovec){ "\r\n", 2 };
    iov[4] = (struct iovec){ stream_big, 100000 };
    iov[5] = (struct iovec){ "\n", 1 };
    iov[6] = (struct iovec){ stream_big + 100000, 300 };
    CO_AWAIT(f->rc, co_stream_writelines(t, f->a, iov, 0, &f->sent));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->sent, 0);
    w.st = f->a;
    w.iov = iov;
    w.iovcnt = 7;
    ck_assert_int_gt(CO_SPAWN(t, &f->t1, lines_writer, w), 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 16);
    ck_assert(memcmp(f->buf, "GET / HTTP/1.0\r\n", 16) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 9);
    ck_assert(memcmp(f->buf, "Host: x\r\n", 9) == 0);
    CO_AWAIT(f->rc, co_stream_readline(t, f->b, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    CO_AWAIT(f->rc, co_stream_readall(t, f->b, sink, stream_big_len, &f->got));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(f->got, 100301);
    ck_assert(memcmp(sink, stream_big, 100000) == 0);
    ck_assert_int_eq(sink[100000], '\n');
    ck_assert(memcmp(sink + 100001, stream_big + 100000, 300) == 0);
    AWAIT_JOIN(f->rc, t, f->t1);
    ck_assert_int_eq(f->rc, 16 + 9 + 2 + 100000 + 1 + 300);
    close_pair(f);
    CO_END;
}

START_TEST(test_writelines)
{
    stream_big_alloc(MIB);
    struct scene m = { 0 };
    RUN(writelines_main, m);
    stream_big_free();
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *stream_bulk_suite(void)
{
    Suite *s = suite_create("stream_bulk");
    TCase *tc;

    tc = tcase_create("bulk");
    tcase_add_checked_fixture(tc, stream_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_echo_1mib, 0, 3);
    tcase_add_test(tc, test_writelines);
    suite_add_tcase(s, tc);
    return s;
}
