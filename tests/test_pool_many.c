/*
 * test_pool_many.c -- the pool under load: a thousand socketpairs echoing
 * at the minimum bound (every byte intact, the peak never above the bound,
 * tasks waited for room, nothing left), and a burst of 1,000 connects to a
 * co_tcp_server echoing through the pool (a user's listen backlog is the
 * one used).
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

/* ------------------------------------------------------------ many */

#define MANY_MAX 1000
#define STRIDE 4099                 /* pair k sends pat[k * STRIDE ..] */

static size_t many_n;               /* bytes each pair sends */
static int many_pairs;

struct many_frame {
    co_frame co;
    co_socket *a[MANY_MAX], *b[MANY_MAX];   /* a: the echo's end */
    co_task *echo[MANY_MAX], *writer[MANY_MAX], *reader[MANY_MAX];
    co_timeout to;
    co_pool_stats st;
    int rc, i, bad;
};

static co_status many_main(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_pool_set_limit(CHUNK), 0);
    /* a safety net: a lost wake fails the test instead of hanging it */
    co_timeout_after(t, &f->to, 120.0);
    for (f->i = 0; f->i < many_pairs; f->i++) {
        co_socket *p[2];
        open_socketpair(p);
        f->a[f->i] = p[0];
        f->b[f->i] = p[1];
        /* A send buffer smaller than a chunk: an echo that received a
         * full chunk cannot send it at once, and suspends holding it (at
         * the minimum bound its remainder cannot move to a block of its
         * own), so the echoes whose data came meanwhile must wait for
         * room. */
        shrink_sndbuf(p[0], 16384);
        struct pool_echo_frame e = { .s = p[0], .maxlen = CHUNK, .shut = 1 };
        struct writer_frame w = { .s = p[1], .off = (size_t)f->i * STRIDE,
                                  .len = many_n, .shut = 1 };
        struct verify_frame r = { .s = p[1], .off = (size_t)f->i * STRIDE,
                                  .want = SIZE_MAX };
        ck_assert_int_gt(CO_SPAWN(t, &f->echo[f->i], pool_echo_task, e), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->writer[f->i], pool_writer_task, w), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->reader[f->i], read_verify, r), 0);
    }
    for (f->i = 0; f->i < many_pairs; f->i++) {
        /* the reader's count is in its frame: wait, look, then join */
        CO_AWAIT(f->rc, co_task_wait(t, f->reader[f->i]));
        ck_assert_int_eq(f->rc, 0);
        if (co_task_result(f->reader[f->i]) != 0 ||
            ((struct verify_frame *)co_task_frame(f->reader[f->i]))->got !=
                many_n) {
            note("pair %d: reader %s", f->i,
                 rcs(co_task_result(f->reader[f->i])));
            f->bad++;
        }
        AWAIT_JOIN(f->rc, t, f->reader[f->i]);
        AWAIT_JOIN(f->rc, t, f->writer[f->i]);
        if (f->rc != 0) {
            note("pair %d: writer %s", f->i, rcs(f->rc));
            f->bad++;
        }
        AWAIT_JOIN(f->rc, t, f->echo[f->i]);
        if (f->rc != (int)many_n) {
            note("pair %d: echo %s", f->i, rcs(f->rc));
            f->bad++;
        }
    }
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    f->st = stats();
    ck_assert_uint_eq(f->st.limit, CHUNK);
    ck_assert_uint_le(f->st.peak, f->st.limit);
    ck_assert_uint_eq(f->st.peak, CHUNK);
    ck_assert_uint_gt(f->st.waits, 0);
    ck_assert_uint_eq(f->st.in_use, 0);
    for (f->i = 0; f->i < many_pairs; f->i++) {
        ck_assert_int_eq(co_socket_close(&f->a[f->i]), 0);
        ck_assert_int_eq(co_socket_close(&f->b[f->i]), 0);
    }
    ck_assert_int_eq(f->bad, 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_many_short_at_the_bound)
{
    rlim_t hard = raise_fd_limit();
    ck_assert_uint_gt(hard, 202);
    many_pairs = hard < 2200 ? (int)((hard - 200) / 2) : MANY_MAX;
    many_n = 256 * KIB;
    ck_assert_int_gt(many_pairs, 0);
    pat_alloc((size_t)many_pairs * STRIDE + many_n);
    struct many_frame *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    int before = count_fds();
    int rc = co_run(many_main, m, sizeof *m);
    int after = count_fds();
    free(m);
    restore_fd_limit();
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(after, before);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* ------------------------------------------------------------ a burst */

#define BURST 1000
#define BURST_MSG 100

/* The server's handler: an echo through the pool. */
struct burst_handler_frame {
    CO_CLIENT_HEADER;
    co_bytes data;
    int n, rc;
};

static co_status burst_handler(co_task *t, void *arg)
{
    struct burst_handler_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv_bytes(t, f->client, &f->data, 100000));
        if (f->n <= 0)
            CO_RETURN(f->n);
        CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->client, &f->data));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_FINALLY
    co_bytes_free(&f->data);
    if (CO_RESULT() < 0)
        handler_failures++;
    bump(&handlers_ended);
    CO_END;
}

/* Connect, send pat[idx * BURST_MSG ..] (100 bytes no other client
 * sends), read the echo, compare, close.  0, -EPROTO, or the error. */
struct burst_client_frame {
    co_frame co;
    int port, idx, rc;
    co_socket *sock;
    size_t sent, got;
    unsigned char echo[BURST_MSG];
};

static co_status burst_client(co_task *t, void *arg)
{
    struct burst_client_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1", f->port));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->sock,
                                      pat + (size_t)f->idx * BURST_MSG,
                                      BURST_MSG, &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->got = 0; f->got < BURST_MSG; f->got += (size_t)f->rc) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->echo + f->got,
                                       BURST_MSG - f->got, 0));
        if (f->rc <= 0)
            CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
    }
    CO_RETURN(memcmp(f->echo, pat + (size_t)f->idx * BURST_MSG,
                     BURST_MSG) == 0 ? 0 : -EPROTO);
    CO_FINALLY
    co_socket_close(&f->sock);
    CO_END;
}

struct burst_frame {
    co_frame co;
    co_task *server;
    co_server_frame *srv;
    co_task *client[BURST];
    co_timeout to;
    int port, rc, i, ok;
};

/* The listen backlog of a server's socket.  There is no public way to the
 * listening socket, so this reads the server's private priv.listener; on
 * Linux, TCP_INFO on a listening socket reports its backlog in
 * tcpi_sacked (and the connections queued now in tcpi_unacked). */
static unsigned listen_backlog(co_server_frame *srv)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    ck_assert_int_eq(co_socket_getsockopt(srv->priv.listener, IPPROTO_TCP,
                                          TCP_INFO, &ti, &len), 0);
    ck_assert_int_eq(ti.tcpi_state, TCP_LISTEN);
    return ti.tcpi_sacked;
}

static int somaxconn(void)
{
    FILE *fp = fopen("/proc/sys/net/core/somaxconn", "r");
    int n = -1;
    if (fp) {
        if (fscanf(fp, "%d", &n) != 1)
            n = -1;
        fclose(fp);
    }
    return n;
}

static co_status burst_main(co_task *t, void *arg)
{
    struct burst_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, burst_handler,
                                           struct burst_handler_frame);
    struct burst_client_frame c = { 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);
    /* the default backlog is the system's maximum */
    if (somaxconn() > 0)
        ck_assert_uint_eq(listen_backlog(f->srv), (unsigned)somaxconn());
    /* a safety net: a lost wake fails the test instead of hanging it */
    co_timeout_after(t, &f->to, 60.0);
    for (f->i = 0; f->i < BURST; f->i++) {
        c.port = f->port;
        c.idx = f->i;
        ck_assert_int_gt(CO_SPAWN(t, &f->client[f->i], burst_client, c), 0);
    }
    for (f->i = 0; f->i < BURST; f->i++) {
        AWAIT_JOIN(f->rc, t, f->client[f->i]);
        if (f->rc == 0)
            f->ok++;
        else
            note("client %d: %s", f->i, rcs(f->rc));
    }
    ck_assert_int_eq(f->ok, BURST);
    /* each handler sees its client's end of stream and ends; the server's
     * count drops as each handler's task ends, right after it */
    AWAIT_COUNT(f->rc, t, handlers_ended, BURST);
    ck_assert_int_eq(co_timeout_end(t, &f->to, 0), 0);
    ck_assert_uint_eq(handler_failures, 0);
    ck_assert_uint_eq(f->srv->accepted, BURST);
    ck_assert_uint_eq(f->srv->active, 0);
    ck_assert_uint_eq(f->srv->backoffs, 0);
    ck_assert_uint_eq(in_use(), 0);
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    ck_assert_int_eq(f->rc, 1);
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_burst_of_connects)
{
    rlim_t hard = raise_fd_limit();
    if (hard < 2300) {
        restore_fd_limit();
        fprintf(stderr, "test_pool: burst of %d connects skipped: the "
                        "descriptor hard limit is %llu (< 2300)\n", BURST,
                (unsigned long long)hard);
        return;
    }
    pat_alloc((size_t)BURST * BURST_MSG);
    struct burst_frame *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    int before = count_fds();
    int rc = co_run(burst_main, m, sizeof *m);
    int after = count_fds();
    free(m);
    restore_fd_limit();
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(after, before);
    ck_assert_str_eq(lg, "");
}
END_TEST

/* A user's backlog is the one the listening socket gets. */
struct backlog_frame {
    co_frame co;
    co_task *server;
    co_server_frame *srv;
    int port, rc;
};

static co_status backlog_main(co_task *t, void *arg)
{
    struct backlog_frame *f = arg;
    co_server_frame s = CO_TCP_SERVER_INIT("127.0.0.1", 0, burst_handler,
                                           struct burst_handler_frame);
    CO_BEGIN(t, f);
    s.backlog = 3;
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    ck_assert_int_gt(f->port, 0);
    ck_assert_uint_eq(listen_backlog(f->srv), 3);
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    AWAIT_JOIN(f->rc, t, f->server);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

START_TEST(test_server_backlog)
{
    struct backlog_frame m = { 0 };
    RUN(backlog_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *pool_many_suite(void)
{
    Suite *s = suite_create("pool_many");
    TCase *tc;

    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_server_backlog);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_many_short_at_the_bound);
    tcase_add_test(tc, test_burst_of_connects);
    suite_add_tcase(s, tc);
    return s;
}
