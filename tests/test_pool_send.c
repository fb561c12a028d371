/*
 * test_pool_send.c -- co_socket_recv_bytes / co_socket_sendall_bytes
 * through core/pool.h: a round trip of 1 B to 200 KiB messages (every byte
 * checked, no receive bigger than a chunk, an idle connection holds
 * nothing); a send that falls short keeps exactly its remainder (moved to
 * a block of its own size up to CO_POOL_CHUNK / 2, the chunk kept above;
 * after a partial send too); cancelling a task with a remainder gives the
 * memory back and drops the unsent bytes.
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

/* ------------------------------------------------------------ round trip */

static const size_t trip_sizes[] = { 1, 100, 64 * KIB, 200 * KIB };
#define NTRIPS (sizeof trip_sizes / sizeof *trip_sizes)

struct trip_frame {
    co_frame co;
    co_socket *p[2];            /* p[0]: the peer; p[1]: the echo's */
    co_task *echo, *writer;
    size_t off, total;
    unsigned long recvs_before;
    unsigned long rounds[NTRIPS];   /* receives each message took */
    int rc, i;
    struct verify_frame v;
};

static co_status round_trip_main(co_task *t, void *arg)
{
    struct trip_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    {
        /* asks for more than a chunk: a receive still takes at most one */
        struct pool_echo_frame e = { .s = f->p[1], .maxlen = 1u << 20,
                                .shut = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->echo, pool_echo_task, e), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));
    /* blocked in recv_bytes on an idle socket: it holds nothing */
    ck_assert_str_eq(co_task_state(f->echo), "blocked");
    ck_assert_uint_eq(in_use(), 0);
    for (f->i = 0; f->i < (int)NTRIPS; f->i++) {
        f->recvs_before = echo_recvs;
        {
            struct writer_frame w = { .s = f->p[0], .off = f->off,
                                      .len = trip_sizes[f->i] };
            ck_assert_int_gt(CO_SPAWN(t, &f->writer, pool_writer_task, w), 0);
        }
        f->v.s = f->p[0];
        f->v.off = f->off;
        f->v.want = trip_sizes[f->i];
        CO_AWAIT_CALL(f->rc, read_verify, &f->v);
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->v.got, trip_sizes[f->i]);
        AWAIT_JOIN(f->rc, t, f->writer);
        ck_assert_int_eq(f->rc, 0);
        /* every byte came back, so the echo's last send has returned and
         * the echo waits again on an idle socket, holding nothing */
        ck_assert_uint_eq(echo_sends, echo_recvs);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");
        ck_assert_uint_eq(in_use(), 0);
        f->rounds[f->i] = echo_recvs - f->recvs_before;
        f->off += trip_sizes[f->i];
    }
    /* one send of 1 or 100 bytes comes in one receive; 200 KiB needs at
     * least four receives of at most a chunk (checked in the echo) */
    ck_assert_uint_eq(f->rounds[0], 1);
    ck_assert_uint_eq(f->rounds[1], 1);
    ck_assert_uint_ge(f->rounds[2], 1);
    ck_assert_uint_ge(f->rounds[3], 4);
    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->echo);
    ck_assert_int_eq(f->rc, (int)f->off);
    ck_assert_uint_ge(stats().peak, CHUNK);     /* chunks were lent */
    ck_assert_uint_eq(in_use(), 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_round_trip)
{
    struct trip_frame m = { 0 };
    pat_alloc(1u << 20);
    RUN(round_trip_main, m);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ short sends */

/*
 * The echo's send side (p[1]) is filled first, so its send takes nothing
 * and the remainder is the whole message: its size is exactly what we
 * chose.  Up to CO_POOL_CHUNK / 2 it moves to a block of its own size;
 * one byte more and the chunk is kept.
 */
static const size_t short_sizes[] = { 1000, CO_POOL_CHUNK / 2,
                                      CO_POOL_CHUNK / 2 + 1 };
#define NSHORT (sizeof short_sizes / sizeof *short_sizes)

struct short_frame {
    co_frame co;
    co_socket *p[2];            /* p[0]: the peer; p[1]: the echo's */
    co_task *echo;
    struct pool_echo_frame *ef;      /* the echo's frame, to look at */
    size_t off, fill, m, sent, total;
    unsigned long recvs_before, sends_before;
    int rc, i;
    struct verify_frame v;
};

static co_status short_send_main(co_task *t, void *arg)
{
    struct short_frame *f = arg;
    CO_BEGIN(t, f);
    open_socketpair(f->p);
    shrink_sndbuf(f->p[1], 4096);
    {
        struct pool_echo_frame e = { .s = f->p[1], .maxlen = CHUNK, .shut = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->echo, pool_echo_task, e), 0);
    }
    f->ef = co_task_frame(f->echo);
    CO_AWAIT(f->rc, co_yield(t));
    ck_assert_uint_eq(in_use(), 0);

    /* The bytes from p[1] to p[0] are pat[0 ..] in order: the filling,
     * then the echo of the message, which p[0] sends from right after
     * the filling. */
    for (f->i = 0; f->i < (int)NSHORT; f->i++) {
        f->m = short_sizes[f->i];
        f->fill = fill_send_side(f->p[1], f->off);
        ck_assert_uint_gt(f->fill, 0);
        f->recvs_before = echo_recvs;
        f->sends_before = echo_sends;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], pat + f->off + f->fill,
                                          f->m, &f->sent));
        ck_assert_int_eq(f->rc, 0);
        AWAIT_COUNT(f->rc, t, echo_recvs, f->recvs_before + 1);
        /* it received the whole message in one go, and is suspended in
         * sendall_bytes with all of it unsent */
        ck_assert_int_eq(f->ef->n, (int)f->m);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");
        ck_assert_uint_eq(echo_sends, f->sends_before);
        ck_assert_uint_eq(f->ef->data.len, f->m);
        if (f->m <= CHUNK / 2) {
            /* moved to a block of its own size: the chunk went back */
            ck_assert_uint_eq(in_use(), f->m);
            ck_assert_ptr_eq(f->ef->data.data, f->ef->data.block);
        } else {
            ck_assert_uint_eq(in_use(), CHUNK);
        }
        /* the peer reads the filling and the echo, byte by byte */
        f->v.s = f->p[0];
        f->v.off = f->off;
        f->v.want = f->fill + f->m;
        CO_AWAIT_CALL(f->rc, read_verify, &f->v);
        ck_assert_int_eq(f->rc, 0);
        AWAIT_COUNT(f->rc, t, echo_sends, f->sends_before + 1);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");  /* idle */
        ck_assert_uint_eq(in_use(), 0);
        f->off += f->fill + f->m;
        f->total += f->m;
    }

    /*
     * A partial send.  p[1]'s send buffer is 8 KiB (Linux doubles the 4096
     * asked for): an empty buffer takes at least one segment of a 30,000
     * byte message, and at most about the buffer's size plus one segment,
     * so the send falls short with some bytes gone.  The remainder is
     * below CO_POOL_CHUNK / 2 whatever it is, so it has moved to a block
     * of exactly its size.
     */
    f->m = 30000;
    f->recvs_before = echo_recvs;
    f->sends_before = echo_sends;
    CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], pat + f->off, f->m,
                                      &f->sent));
    ck_assert_int_eq(f->rc, 0);
    AWAIT_COUNT(f->rc, t, echo_recvs, f->recvs_before + 1);
    ck_assert_str_eq(co_task_state(f->echo), "blocked");
    ck_assert_uint_eq(echo_sends, f->sends_before);
    ck_assert_uint_gt(f->ef->data.len, 0);
    ck_assert_uint_lt(f->ef->data.len, (size_t)f->ef->n);
    ck_assert_uint_eq(in_use(), f->ef->data.len);
    f->v.s = f->p[0];
    f->v.off = f->off;
    f->v.want = f->m;
    CO_AWAIT_CALL(f->rc, read_verify, &f->v);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(echo_sends, echo_recvs);
    ck_assert_uint_eq(in_use(), 0);
    f->total += f->m;

    ck_assert_int_eq(co_socket_shutdown(f->p[0], SHUT_WR), 0);
    AWAIT_JOIN(f->rc, t, f->echo);
    ck_assert_int_eq(f->rc, (int)f->total);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_short_send_keeps_remainder)
{
    struct short_frame m = { 0 };
    pat_alloc(4u << 20);
    RUN(short_send_main, m);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ cancel */

/* A remainder kept in a block of its own, and one kept in the chunk. */
static const size_t cancel_sizes[] = { 1000, 40000 };

struct cancel_frame {
    co_frame co;
    co_socket *p[2];
    co_task *echo;
    size_t off, fill, sent;
    unsigned long recvs_before;
    int rc, i;
    struct verify_frame v;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 2; f->i++) {
        open_socketpair(f->p);
        shrink_sndbuf(f->p[1], 4096);
        {
            struct pool_echo_frame e = { .s = f->p[1], .maxlen = CHUNK };
            ck_assert_int_gt(CO_SPAWN(t, &f->echo, pool_echo_task, e), 0);
        }
        CO_AWAIT(f->rc, co_yield(t));
        f->fill = fill_send_side(f->p[1], f->off);
        f->recvs_before = echo_recvs;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->p[0], pat + f->off + f->fill,
                                          cancel_sizes[f->i], &f->sent));
        ck_assert_int_eq(f->rc, 0);
        AWAIT_COUNT(f->rc, t, echo_recvs, f->recvs_before + 1);
        ck_assert_str_eq(co_task_state(f->echo), "blocked");
        ck_assert_uint_eq(in_use(), cancel_sizes[f->i] <= CHUNK / 2
                                        ? cancel_sizes[f->i] : CHUNK);
        note("in_use=%zu", in_use());
        CO_AWAIT(f->rc, co_task_cancel(t, f->echo));
        ck_assert_int_eq(f->rc, 1);
        AWAIT_JOIN(f->rc, t, f->echo);
        note("echo=%s in_use=%zu", rcs(f->rc), in_use());
        /* the unsent bytes were dropped, not sent later: the peer gets
         * the filling and then the end of stream */
        ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
        f->v.s = f->p[0];
        f->v.off = f->off;
        f->v.want = SIZE_MAX;
        CO_AWAIT_CALL(f->rc, read_verify, &f->v);
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->v.got, f->fill);
        ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
        f->off += f->fill + cancel_sizes[f->i];
    }
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_cancel_returns_remainder)
{
    struct cancel_frame m = { 0 };
    pat_alloc(4u << 20);
    RUN(cancel_main, m);
    ck_assert_str_eq(lg, "in_use=1000 echo=CANCEL in_use=0 "
                         "in_use=65536 echo=CANCEL in_use=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *pool_send_suite(void)
{
    Suite *s = suite_create("pool_send");
    TCase *tc;

    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_short_send_keeps_remainder);
    tcase_add_test(tc, test_cancel_returns_remainder);
    suite_add_tcase(s, tc);
    return s;
}
