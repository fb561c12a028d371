/*
 * test_channel_conn.c -- messages over connections (net/connection.h):
 * round trips of 0, 5 and 10 MB bytes over a socketpair and a pipe, the
 * framing as Python writes it (the 8-byte extension included), receiving
 * into a buffer too small, the maximum size, the end of the stream, and
 * what an interruption in the middle of a message leaves: a connection
 * that says it is broken, never a misframed message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel_tasks.h"
#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

struct scene {
    co_frame co;
    co_conn *p[2];
    co_socket *raw[2];
    co_task *a;
    co_timeout to;
    void *msg;
    size_t len;
    int rc;
    unsigned char buf[64];
    struct round_trips_frame trips;
};

/* ------------------------------------------------------------ round trips */

static co_status duplex_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_pipe(f->p, 1), 0);
    {
        struct conn_echo_frame e = { .c = f->p[1], .close = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, conn_echo, e), 0);
    }
    f->trips.c = f->p[0];
    CO_AWAIT_CALL(f->rc, round_trips, &f->trips);
    note("trips=%s", rcs(f->rc));
    /* offset and size: a slice of the buffer */
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "0123456789", 3, 4));
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], f->buf,
                                            sizeof f->buf, &f->len));
    note("slice=%.*s", (int)f->len, (char *)f->buf);
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    note("echoed=%d", f->rc);
    CO_END;
}

START_TEST(test_round_trips_socketpair)
{
    struct scene m = { 0 };
    RUN(duplex_main, m);
    ck_assert_str_eq(lg, "trips=0 slice=3456 echoed=4");
}
END_TEST

struct pipe_sender {
    co_frame co;
    co_conn *c;
    int i, rc;
};

static const size_t pipe_sizes[] = { 0, 5, CHAN_BIG };

static co_status pipe_sender(co_task *t, void *arg)
{
    struct pipe_sender *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        CO_AWAIT(f->rc, co_conn_send_bytes(t, f->c, chan_big, 0,
                                           pipe_sizes[f->i]));
        ck_assert_int_eq(f->rc, 0);
    }
    co_conn_close(&f->c);
    CO_END;
}

/* One-way connections over a pipe(2): each end does its one direction,
 * and the other is a bad argument. */
static co_status pipe_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_pipe(f->p, 0), 0);
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "x", 0, 1));
    note("send-on-reader=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[1], &f->msg, &f->len));
    note("recv-on-writer=%s", rcs(f->rc));
    {
        struct pipe_sender s = { .c = f->p[1] };
        f->p[1] = NULL;
        ck_assert_int_gt(CO_SPAWN(t, &f->a, pipe_sender, s), 0);
    }
    for (f->trips.i = 0; f->trips.i < 3; f->trips.i++) {
        CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->len, pipe_sizes[f->trips.i]);
        ck_assert_int_eq(memcmp(f->msg, chan_big, f->len), 0);
        free(f->msg);
    }
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("end=%s", rcs(f->rc));
    ck_assert_ptr_null(f->msg);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    CO_END;
}

START_TEST(test_round_trips_pipe)
{
    struct scene m = { 0 };
    RUN(pipe_main, m);
    ck_assert_str_eq(lg, "send-on-reader=EINVAL recv-on-writer=EINVAL "
                         "end=EPIPE");
}
END_TEST

/* ------------------------------------------------------------ framing */

/* A connection p[0] facing a raw socket raw[1] that plays the peer. */
static void open_raw(struct scene *f)
{
    open_socketpair(f->raw);
    ck_assert_int_eq(co_conn_new(&f->p[0], f->raw[0]), 0);
    f->raw[0] = NULL;
}

static void close_raw(struct scene *f)
{
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    co_socket_close(&f->raw[1]);
}

/* Python's framing, byte for byte, both ways: what we send, and the
 * 8-byte form Python uses beyond 2 GiB (any length may use it). */
static co_status wire_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static const unsigned char ext[] = "\xff\xff\xff\xff\0\0\0\0\0\0\0\5hello";
    CO_BEGIN(t, f);
    open_raw(f);
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "abc", 0, 3));
    CO_AWAIT(f->rc, co_socket_recv(t, f->raw[1], f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(f->rc, 7);
    ck_assert_int_eq(memcmp(f->buf, "\0\0\0\3abc", 7), 0);
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], NULL, 0, 0));
    CO_AWAIT(f->rc, co_socket_recv(t, f->raw[1], f->buf, sizeof f->buf, 0));
    ck_assert_int_eq(f->rc, 4);
    ck_assert_int_eq(memcmp(f->buf, "\0\0\0\0", 4), 0);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], ext, sizeof ext - 1,
                                      &f->len));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("ext=%s:%.*s", rcs(f->rc), (int)f->len, (char *)f->msg);
    free(f->msg);
    /* a negative length other than -1 is no frame */
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\x80\0\0\0", 4,
                                      &f->len));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("negative=%s error=%s", rcs(f->rc), rcs(co_conn_error(f->p[0])));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "abc", 0, 3));
    note("then=%s", rcs(f->rc));
    close_raw(f);
    CO_END;
}

START_TEST(test_wire_format)
{
    struct scene m = { 0 };
    RUN(wire_main, m);
    ck_assert_str_eq(lg, "ext=0:hello negative=EPROTO error=EPROTO "
                         "then=EPROTO");
}
END_TEST

/* recv_bytes_into with too small a buffer: -EMSGSIZE with the length, the
 * message stays for the next receive, the connection is fine. */
static co_status too_small_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_pipe(f->p, 1), 0);
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[1], "hello world", 0, 11));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[1], "x", 0, 1));
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], f->buf, 5, &f->len));
    note("small=%s len=%zu error=%d", rcs(f->rc), f->len,
         co_conn_error(f->p[0]));
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], f->buf, 11, &f->len));
    note("fits=%s:%.*s", rcs(f->rc), (int)f->len, (char *)f->buf);
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], f->buf, 0, &f->len));
    note("next=%s len=%zu", rcs(f->rc), f->len);
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("alloc=%s:%.*s", rcs(f->rc), (int)f->len, (char *)f->msg);
    free(f->msg);
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    ck_assert_int_eq(co_conn_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_recv_into_too_small)
{
    struct scene m = { 0 };
    RUN(too_small_main, m);
    ck_assert_str_eq(lg, "small=EMSGSIZE len=11 error=0 fits=0:hello world "
                         "next=EMSGSIZE len=1 alloc=0:x");
}
END_TEST

/* A header announcing more than the maximum is refused at once -- a
 * terabyte is not allocated (that would be -ENOMEM) -- and breaks the
 * connection. */
static co_status max_size_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_raw(f);
    ck_assert_uint_eq(co_conn_max_size(f->p[0]), CO_CONN_DEFAULT_MAX_SIZE);
    ck_assert_int_eq(co_conn_set_max_size(f->p[0], 255), -EINVAL);
    ck_assert_int_eq(co_conn_set_max_size(f->p[0], 1000), 0);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0\3\xe8", 4,
                                      &f->len));          /* 1000: fine */
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], chan_big, 1000,
                                      &f->len));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("max=%s:%zu", rcs(f->rc), f->len);
    free(f->msg);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0\3\xe9", 4,
                                      &f->len));          /* 1001 */
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], f->buf,
                                            sizeof f->buf, &f->len));
    note("over=%s:%zu error=%s", rcs(f->rc), f->len,
         rcs(co_conn_error(f->p[0])));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("then=%s", rcs(f->rc));
    close_raw(f);
    /* a terabyte, in the 8-byte form, with the default maximum */
    open_raw(f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1],
                                      "\xff\xff\xff\xff\0\0\1\0\0\0\0\0", 12,
                                      &f->len));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("tera=%s", rcs(f->rc));
    close_raw(f);
    CO_END;
}

START_TEST(test_max_size)
{
    struct scene m = { 0 };
    RUN(max_size_main, m);
    ck_assert_str_eq(lg, "max=0:1000 over=EMSGSIZE:1001 error=EMSGSIZE "
                         "then=EPROTO tera=EMSGSIZE");
}
END_TEST

/* The end of the stream: between messages -EPIPE (and the connection is
 * still whole); inside a header or a body -EPROTO, broken. */
static co_status eof_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_raw(f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0\0\1z", 5, &f->len));
    co_socket_close(&f->raw[1]);
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("msg=%s", rcs(f->rc));
    free(f->msg);
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("eof=%s error=%d", rcs(f->rc), co_conn_error(f->p[0]));
    close_raw(f);
    open_raw(f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0", 2, &f->len));
    co_socket_close(&f->raw[1]);
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("in-header=%s error=%s", rcs(f->rc), rcs(co_conn_error(f->p[0])));
    close_raw(f);
    open_raw(f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0\0\5ab", 6,
                                      &f->len));
    co_socket_close(&f->raw[1]);
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("in-body=%s error=%s", rcs(f->rc), rcs(co_conn_error(f->p[0])));
    close_raw(f);
    CO_END;
}

START_TEST(test_end_of_stream)
{
    struct scene m = { 0 };
    RUN(eof_main, m);
    ck_assert_str_eq(lg, "msg=0 eof=EPIPE error=0 in-header=EPROTO "
                         "error=EPROTO in-body=EPROTO error=EPROTO");
}
END_TEST

/* ------------------------------------------------------------ interrupted */

/* A receive that times out: before any byte, or inside the header, it
 * loses nothing (the next receive has the message); inside the body it
 * breaks the connection. */
static co_status recv_timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_raw(f);
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.01,
                     co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("idle=%s error=%d", rcs(f->rc), co_conn_error(f->p[0]));
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0", 2, &f->len));
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.01,
                     co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("header=%s error=%d", rcs(f->rc), co_conn_error(f->p[0]));
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\3abc", 5, &f->len));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("then=%s:%.*s", rcs(f->rc), (int)f->len, (char *)f->msg);
    free(f->msg);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0\0\12abc", 7,
                                      &f->len));
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.01,
                     co_conn_recv_bytes_into(t, f->p[0], f->buf,
                                             sizeof f->buf, &f->len));
    note("body=%s error=%s", rcs(f->rc), rcs(co_conn_error(f->p[0])));
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "defghij\0\0\0\1k", 12,
                                      &f->len));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("then=%s", rcs(f->rc));
    ck_assert_ptr_null(f->msg);
    close_raw(f);
    CO_END;
}

START_TEST(test_recv_interrupted)
{
    struct scene m = { 0 };
    RUN(recv_timeout_main, m);
    ck_assert_str_eq(lg, "idle=TIMEOUT error=0 header=TIMEOUT error=0 "
                         "then=0:abc body=TIMEOUT error=TIMEOUT then=EPROTO");
}
END_TEST

/* A send that times out with nothing sent (the socket was full) leaves the
 * connection whole; one that times out after part of a message went
 * breaks it. */
static co_status send_timeout_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_raw(f);
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.02,
                     co_conn_send_bytes(t, f->p[0], chan_big, 0, CHAN_BIG));
    note("partial=%s error=%s", rcs(f->rc), rcs(co_conn_error(f->p[0])));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "x", 0, 1));
    note("then=%s", rcs(f->rc));
    close_raw(f);
    open_raw(f);
    while (co_socket_try_send(co_conn_writer(f->p[0]), chan_big, 65536, 0) > 0)
        ;
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.02,
                     co_conn_send_bytes(t, f->p[0], "x", 0, 1));
    note("nothing=%s error=%d", rcs(f->rc), co_conn_error(f->p[0]));
    close_raw(f);
    CO_END;
}

START_TEST(test_send_interrupted)
{
    struct scene m = { 0 };
    RUN(send_timeout_main, m);
    ck_assert_str_eq(lg, "partial=TIMEOUT error=TIMEOUT then=EPROTO "
                         "nothing=TIMEOUT error=0");
}
END_TEST

/* A cancellation in the middle of a body breaks the connection too. */
struct receiver {
    co_frame co;
    co_conn *c;
    void *msg;
    size_t len;
    int rc;
};

static co_status receiver(co_task *t, void *arg)
{
    struct receiver *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->c, &f->msg, &f->len));
    ck_assert_ptr_null(f->msg);
    CO_RETURN(f->rc);
    CO_END;
}

static co_status cancel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    open_raw(f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], "\0\0\0\12abc", 7,
                                      &f->len));
    {
        struct receiver r = { .c = f->p[0] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, receiver, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_str_eq(co_task_state(f->a), "blocked");
    /* one receiver at a time */
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("second=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    note("cancelled=%s error=%s", rcs(f->rc), rcs(co_conn_error(f->p[0])));
    close_raw(f);
    CO_END;
}

START_TEST(test_recv_cancelled)
{
    struct scene m = { 0 };
    RUN(cancel_main, m);
    ck_assert_str_eq(lg, "second=EBUSY cancelled=CANCEL error=CANCEL");
}
END_TEST

/* Closing wakes a blocked receiver with -EBADF; the memory goes when it
 * is out (ASan and valgrind would see otherwise). */
static co_status close_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_pipe(f->p, 1), 0);
    {
        struct receiver r = { .c = f->p[0] };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, receiver, r), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    ck_assert_ptr_null(f->p[0]);
    ck_assert_int_eq(co_conn_close(&f->p[0]), -EBADF);
    AWAIT_JOIN(f->rc, t, f->a);
    note("woken=%s", rcs(f->rc));
    ck_assert_int_eq(co_conn_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_close_wakes)
{
    struct scene m = { 0 };
    RUN(close_main, m);
    ck_assert_str_eq(lg, "woken=EBADF");
}
END_TEST

/* Bad arguments: -EINVAL, before a pending cancellation (THE RULE). */
static co_status args_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_new(NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_conn_new(&f->p[0], NULL), -EINVAL);
    ck_assert_int_eq(co_conn_new_pair(&f->p[0], NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_conn_pipe(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_conn_close(NULL), -EINVAL);
    ck_assert_int_eq(co_conn_set_max_size(NULL, 1000), -EINVAL);
    ck_assert_int_eq(co_conn_error(NULL), -EINVAL);
    ck_assert_ptr_null(co_conn_reader(NULL));
    ck_assert_int_eq(co_conn_pipe(f->p, 1), 0);
    ck_assert_int_eq(co_conn_set_auth_digest(f->p[0], "sha1"), -EINVAL);
    ck_assert_int_eq(co_conn_set_auth_digest(f->p[0], "sha3_384"), 0);
    ck_assert_int_eq(co_conn_set_auth_digest(f->p[0], NULL), 0);
    co_task_cancel_nowait(t);
    CO_AWAIT(f->rc, co_conn_send_bytes(t, NULL, "x", 0, 1));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], NULL, 0, 1));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "x", SIZE_MAX, 2));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], NULL, &f->len));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], NULL, 1, &f->len));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_auth_client(t, f->p[0], NULL, 1));
    note("%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "x", 0, 1));
    note("%s", rcs(f->rc));
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    ck_assert_int_eq(co_conn_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_bad_arguments)
{
    struct scene m = { 0 };
    RUN(args_main, m);
    ck_assert_str_eq(lg, "EINVAL EINVAL EINVAL EINVAL EINVAL EINVAL CANCEL");
}
END_TEST

Suite *channel_conn_suite(void)
{
    Suite *s = suite_create("channel_conn");
    TCase *tc = tcase_create("conn");
    tcase_add_checked_fixture(tc, channel_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trips_socketpair);
    tcase_add_test(tc, test_round_trips_pipe);
    tcase_add_test(tc, test_wire_format);
    tcase_add_test(tc, test_recv_into_too_small);
    tcase_add_test(tc, test_max_size);
    tcase_add_test(tc, test_end_of_stream);
    tcase_add_test(tc, test_recv_interrupted);
    tcase_add_test(tc, test_send_interrupted);
    tcase_add_test(tc, test_recv_cancelled);
    tcase_add_test(tc, test_close_wakes);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
