/*
 * test_pool_stream.c -- bad input to the pool calls, and the calls outside
 * a kernel; a stream holds a block only while bytes are buffered; closing
 * a stream (idle, with bytes, or with its reader waiting for room).
 */
#define _GNU_SOURCE                 /* mincore, struct tcp_info */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curio.h"
#include "core/pool.h"
#include "helpers.h"
#include "log.h"
#include "pool_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ bad input */

struct bad_frame {
    co_frame co;
    co_socket *p[2];
    co_bytes b, fake, empty;
    co_timeout to;
    co_pool_stats st;
    int rc;
    char buf[16];
};

static co_status bad_input_main(co_task *t, void *arg)
{
    struct bad_frame *f = arg;
    CO_BEGIN(t, f);
    f->st = stats();
    ck_assert_uint_eq(f->st.limit, CO_POOL_DEFAULT_LIMIT);
    open_socketpair(f->p);

    /* receiving: checked before anything is read or waited for */
    send_now(f->p[0], "xyz");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->b, 2));
    ck_assert_int_eq(f->rc, 2);                 /* maxlen is respected */
    ck_assert_int_eq(memcmp(f->b.data, "xy", 2), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->b, 100));
    note("nonempty=%s", rcs(f->rc));
    ck_assert_uint_eq(f->b.len, 2);             /* untouched */
    ck_assert_int_eq(memcmp(f->b.data, "xy", 2), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->empty, 0));
    note("maxlen0=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], NULL, 100));
    note("null=%s", rcs(f->rc));
    ck_assert_uint_eq(in_use(), CHUNK);         /* only b's */
    /* the byte after them was not consumed by the refused calls */
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->empty, 100));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_int_eq(f->empty.data[0], 'z');
    co_bytes_free(&f->empty);

    /* sending */
    f->fake = (co_bytes){ .data = (unsigned char *)f->buf, .len = 3 };
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], &f->fake));
    note("noblock=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], NULL));
    note("sendnull=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], &f->empty));
    note("sendempty=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->p[1], &f->b));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_ptr_null(f->b.block);
    CO_AWAIT(f->rc, co_socket_recv(t, f->p[0], f->buf, sizeof f->buf, 0));
    note("peer=%.*s", f->rc, f->buf);             /* only b's bytes */
    ck_assert_uint_eq(in_use(), 0);

    /* refused even when the readiness hint says the receive would wait */
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->p[1], &f->b, 100));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    f->rc = co_socket_recv_bytes(t, f->p[1], &f->b, 0);
    note("drained=%s", rcs(f->rc));

    /* the pool's own calls */
    ck_assert_int_eq(co_pool_set_limit(CHUNK - 1), -EINVAL);
    ck_assert_int_eq(co_pool_set_limit(0), -EINVAL);
    ck_assert_uint_eq(stats().limit, CO_POOL_DEFAULT_LIMIT);    /* kept */
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    ck_assert_uint_eq(stats().limit, CHUNK);
    ck_assert_int_eq(co_pool_get_stats(NULL), -EINVAL);
    co_bytes_free(NULL);
    co_bytes_free(&f->empty);
    ck_assert_ptr_null(f->empty.data);
    f->st = stats();
    ck_assert_uint_eq(f->st.in_use, 0);
    ck_assert_uint_eq(f->st.waits, 0);
    ck_assert_uint_eq(f->st.peak, 2 * CHUNK);  /* b's and the 'z' */
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

/* A new kernel's pool starts afresh: the bound set in another kernel was
 * that kernel's. */
struct fresh_frame {
    co_frame co;
    co_pool_stats st;
};

static co_status fresh_kernel_main(co_task *t, void *arg)
{
    struct fresh_frame *f = arg;
    CO_BEGIN(t, f);
    f->st = stats();
    ck_assert_uint_eq(f->st.limit, CO_POOL_DEFAULT_LIMIT);
    ck_assert_uint_eq(f->st.in_use, 0);
    ck_assert_uint_eq(f->st.peak, 0);
    ck_assert_uint_eq(f->st.waits, 0);
    CO_END;
}

START_TEST(test_bad_input)
{
    co_pool_stats s = { .in_use = 12345 };
    co_bytes empty = { 0 };
    /* no kernel in this thread */
    ck_assert_int_eq(co_pool_set_limit(CHUNK), -ESRCH);
    ck_assert_int_eq(co_pool_get_stats(&s), -ESRCH);
    ck_assert_uint_eq(s.in_use, 12345);
    co_bytes_free(NULL);
    co_bytes_free(&empty);
    ck_assert_ptr_null(empty.data);

    struct bad_frame m = { 0 };
    RUN(bad_input_main, m);
    ck_assert_str_eq(lg, "nonempty=EINVAL maxlen0=EINVAL null=EINVAL "
                         "noblock=EINVAL sendnull=EINVAL sendempty=0 "
                         "peer=xy drained=EINVAL");
    struct fresh_frame m2 = { 0 };
    RUN(fresh_kernel_main, m2);
    ck_assert_int_eq(co_pool_get_stats(&s), -ESRCH);
}
END_TEST

/* ------------------------------------------------------------ streams */

struct stream_frame {
    co_frame co;
    co_socket *p[2], *q[2], *ph[2];
    co_stream *st;
    co_task *r;
    co_bytes held;
    int rc, i;
    char buf[64];
};

/* p[1] wrapped in f->st; p[0] is the peer. */
static void open_stream(struct stream_frame *f)
{
    open_socketpair(f->p);
    ck_assert_int_eq(co_stream_new(&f->st, f->p[1], 0), 0);
    f->p[1] = NULL;                 /* the stream's now */
}

#define SPAWN_LINER(t, f, name_)                                             \
    do {                                                                     \
        struct stream_liner_frame l_ = { .st = (f)->st, .name = (name_) };   \
        ck_assert_int_gt(CO_SPAWN((t), &(f)->r, stream_liner, l_), 0);       \
    } while (0)

static co_status stream_main(co_task *t, void *arg)
{
    struct stream_frame *f = arg;
    CO_BEGIN(t, f);
    open_stream(f);
    send_now(f->p[0], "a\nb\nc");
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    note("%.*s", f->rc - 1, f->buf);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), CHUNK);         /* "b\nc" is buffered */
    ck_assert_uint_eq(co_stream_buffered(f->st), 3);
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    note("%.*s", f->rc - 1, f->buf);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), CHUNK);         /* "c" */
    ck_assert_uint_eq(co_stream_buffered(f->st), 1);
    /* a reader blocked on the partial line: the "c" stays buffered */
    SPAWN_LINER(t, f, "r");
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(in_use(), CHUNK);
    ck_assert_uint_eq(co_stream_buffered(f->st), 1);
    note("send");
    send_now(f->p[0], "\n");
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), 0);             /* nothing buffered */
    ck_assert_uint_eq(co_stream_buffered(f->st), 0);

    /* a reader on the idle stream holds nothing; a close wakes it */
    SPAWN_LINER(t, f, "idle");
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(in_use(), 0);
    note("close");
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);

    /* closing a stream with bytes buffered gives its block back */
    open_stream(f);
    send_now(f->p[0], "p\nq");
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), CHUNK);
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);

    /* A stream reader waiting for room in the pool: it gets its line once
     * room comes; closed while it waits, it gets -EBADF. */
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    open_socketpair(f->ph);
    send_now(f->ph[0], "hold");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 4);
    open_stream(f);
    send_now(f->p[0], "x\n");
    SPAWN_LINER(t, f, "room");
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(stats().waits, 1);
    note("free");
    co_bytes_free(&f->held);
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, 2);
    ck_assert_uint_eq(in_use(), 0);
    send_now(f->ph[0], "hold");
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->ph[1], &f->held, 64));
    ck_assert_int_eq(f->rc, 4);
    send_now(f->p[0], "y\n");
    SPAWN_LINER(t, f, "room");
    /* The last receive on this socket drained it, so the reader first
     * waits for readiness, which the kernel polls for between runs of
     * ready tasks; then it waits for room. */
    for (f->i = 0; f->i < 1000000 && stats().waits < 2; f->i++)
        CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->r), "blocked");
    ck_assert_uint_eq(stats().waits, 2);
    note("close");
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, -EBADF);
    ck_assert_uint_eq(in_use(), CHUNK);         /* the held bytes only */
    co_bytes_free(&f->held);
    ck_assert_uint_eq(in_use(), 0);             /* nothing reserved */
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->ph[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->ph[1]), 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_stream_holds_only_buffered)
{
    struct stream_frame m = { 0 };
    RUN(stream_main, m);
    ck_assert_str_eq(lg, "a b send r:c close idle:EBADF "
                         "free room:x close room:EBADF");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *pool_stream_suite(void)
{
    Suite *s = suite_create("pool_stream");
    TCase *tc;

    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_stream_holds_only_buffered);
    suite_add_tcase(s, tc);
    return s;
}
