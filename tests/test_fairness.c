/*
 * test_fairness.c -- the I/O budget (core/io.h, "Fairness"): a task whose
 * eager I/O never has to wait still lets the others run.
 *
 * Every scene has a flooding peer -- the data (or the connections) are all
 * there before the reader starts, so eager I/O never meets EAGAIN -- a
 * task A working through it, and a task B that only counts its own turns
 * (a co_yield loop) and how many operations A completed since B's last
 * turn.  With a budget of n, A completes exactly n operations between two
 * of B's turns; with the budget off (0), A drains everything before B
 * first runs, as Curio does.  Nothing is sleep-timed: the order comes from
 * the scheduler's cycles (a yield goes behind every ready task).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

#define MSG 16                      /* bytes per message */

/* What A and B share (each test runs in a fresh kernel). */
static int ops;                     /* operations A has completed */
static int a_done;                  /* A has finished its loop */
static int turns;                   /* B's turns while A was not done */
static int max_gap;                 /* most operations between B's turns */
static int first_gap;               /* A's operations before B first ran */
static unsigned budget;             /* set in the kernel by each main */

static void reset(unsigned n)
{
    ops = a_done = turns = max_gap = 0;
    first_gap = -1;
    budget = n;
}

/* B: one turn per cycle until A is done. */
struct turns_frame {
    co_frame co;
    int last;
    int rc;
};

static co_status turn_counter(co_task *t, void *arg)
{
    struct turns_frame *f = arg;
    CO_BEGIN(t, f);
    while (!a_done) {
        if (first_gap < 0)
            first_gap = ops;
        turns++;
        if (ops - f->last > max_gap)
            max_gap = ops - f->last;
        f->last = ops;
        CO_AWAIT(f->rc, co_yield(t));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

/* The peer's flood, before anyone reads: n messages numbered 0 .. n-1
 * (MSG bytes each, or "%07d\n" lines) in one write, then end of stream.
 * Returns the reading end, wrapped. */
static co_socket *flooded(int n, int lines)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    static char data[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_uint_le(len + MSG + 1, sizeof data);
        if (lines)
            len += (size_t)snprintf(data + len, 9, "%07d\n", i);
        else
            len += (size_t)snprintf(data + len, MSG + 1, "%0*d", MSG, i);
    }
    ck_assert_int_eq(write(fds[1], data, len), (ssize_t)len);
    close(fds[1]);
    co_socket *s = NULL;
    ck_assert_int_eq(co_socket_from_fd(&s, fds[0]), 0);
    return s;
}

static int number_of(const char *msg, int len)
{
    char tmp[MSG + 1];
    memcpy(tmp, msg, (size_t)len);
    tmp[len] = '\0';
    return atoi(tmp);
}

/* ------------------------------------------------------------ recv */

struct recv_frame {
    co_frame co;
    co_socket *s;
    co_timeout to;
    int yield_every;                /* A also yields by itself */
    int in_region;                  /* inside a timeout region */
    int rc;
    char buf[MSG];
};

/* A: recv until end of stream, checking every message arrived in order. */
static co_status recv_flood(co_task *t, void *arg)
{
    struct recv_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->in_region)
        ck_assert_int_eq(co_timeout_after(t, &f->to, 60.0), 0);
    for (;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, MSG, 0));
        if (f->rc <= 0)
            break;
        ck_assert_int_eq(f->rc, MSG);
        ck_assert_int_eq(number_of(f->buf, MSG), ops);
        ops++;
        if (f->yield_every && ops % f->yield_every == 0) {
            CO_AWAIT(f->rc, co_yield(t));
            ck_assert_int_eq(f->rc, 0);
        }
    }
    if (f->in_region)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    a_done = 1;
    CO_END;
}

struct scene_frame {
    co_frame co;
    co_task *a, *b;
    co_socket *s, *p[2], *l;
    co_stream *st;
    int n, yield_every, in_region, rc;
    co_sockaddr addr;
    char buf[64 * MSG];
};

static co_status recv_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_kernel_set_io_budget(co_current_kernel(), budget), 0);
    f->s = flooded(f->n, 0);
    {
        struct recv_frame a = { .s = f->s, .yield_every = f->yield_every,
                                .in_region = f->in_region };
        struct turns_frame b = { 0 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, recv_flood, a), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, turn_counter, b), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(ops, f->n);
    ck_assert_int_eq(co_socket_close(&f->s), 0);
    CO_END;
}

/* n messages and an end of stream: n + 1 receives, none waits.  With a
 * budget of 16, A yields before receive 17, 33 ... : n / 16 times. */
START_TEST(test_recv_flood_yields)
{
    reset(16);
    struct scene_frame m = { .n = 1000 };
    RUN(recv_main, m);
    ck_assert_int_eq(first_gap, 16);
    ck_assert_int_eq(max_gap, 16);
    ck_assert_int_eq(turns, 1000 / 16);
}
END_TEST

/* The default budget. */
START_TEST(test_recv_flood_default_budget)
{
    reset(CO_IO_BUDGET_DEFAULT);
    struct scene_frame m = { .n = 1000 };
    RUN(recv_main, m);
    ck_assert_int_eq(max_gap, CO_IO_BUDGET_DEFAULT);
    ck_assert_int_eq(turns, 1000 / CO_IO_BUDGET_DEFAULT);
}
END_TEST

/* Budget off: A takes everything before B first runs (Curio's way). */
START_TEST(test_recv_flood_budget_off)
{
    reset(0);
    struct scene_frame m = { .n = 1000 };
    RUN(recv_main, m);
    ck_assert_int_eq(turns, 0);
    ck_assert_int_eq(first_gap, -1);
}
END_TEST

/* A suspension of any kind starts a new count: A yielding by itself every
 * 8 receives never reaches a budget of 8, so B's turns are exactly A's own
 * yields (after receive 8, 16 ... 64). */
START_TEST(test_suspension_restarts_count)
{
    reset(8);
    struct scene_frame m = { .n = 64, .yield_every = 8 };
    RUN(recv_main, m);
    ck_assert_int_eq(turns, 64 / 8);
    ck_assert_int_eq(max_gap, 8);
}
END_TEST

/* Inside a timeout region co_yield takes its slow path: same outcome. */
START_TEST(test_recv_flood_in_timeout_region)
{
    reset(8);
    struct scene_frame m = { .n = 64, .in_region = 1 };
    RUN(recv_main, m);
    ck_assert_int_eq(max_gap, 8);
    ck_assert_int_eq(turns, 64 / 8);
}
END_TEST

/* ------------------------------------------------------------ stream */

struct lines_frame {
    co_frame co;
    co_stream *st;
    int n, rc;
    char line[32];
};

/* A: readline n times, checking every line.  Not to the end of stream:
 * the receive that brought everything was short, so that one would wait
 * for readiness, and B would spin meanwhile. */
static co_status readline_flood(co_task *t, void *arg)
{
    struct lines_frame *f = arg;
    CO_BEGIN(t, f);
    while (ops < f->n) {
        CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->line,
                                           sizeof f->line));
        ck_assert_int_eq(f->rc, 8);
        ck_assert_int_eq(f->line[7], '\n');
        ck_assert_int_eq(number_of(f->line, 7), ops);
        ops++;
    }
    a_done = 1;
    CO_END;
}

static co_status readline_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_kernel_set_io_budget(co_current_kernel(), budget), 0);
    ck_assert_int_eq(co_stream_new(&f->st, flooded(f->n, 1), 0), 0);
    {
        struct lines_frame a = { .st = f->st, .n = f->n };
        struct turns_frame b = { 0 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, readline_flood, a), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, turn_counter, b), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(ops, f->n);
    ck_assert_int_eq(co_stream_close(&f->st), 0);
    CO_END;
}

/* One receive brings every line; the lines then come from the buffer,
 * with no system call, and still count: that receive and the readlines
 * after it, 1000 operations, yield before the 17th, 33rd ... 993rd. */
START_TEST(test_readline_flood_yields)
{
    reset(16);
    struct scene_frame m = { .n = 1000 };
    RUN(readline_main, m);
    ck_assert_int_eq(first_gap, 16);
    ck_assert_int_eq(max_gap, 16);
    ck_assert_int_eq(turns, (1000 - 1) / 16);
}
END_TEST

START_TEST(test_readline_flood_budget_off)
{
    reset(0);
    struct scene_frame m = { .n = 1000 };
    RUN(readline_main, m);
    ck_assert_int_eq(turns, 0);
    ck_assert_int_eq(first_gap, -1);
}
END_TEST

/* ------------------------------------------------------------ send */

struct send_frame {
    co_frame co;
    co_socket *s;
    int n, rc;
    char msg[MSG + 1];
};

/* A: n small sends, none of which fills the socket's buffer. */
static co_status send_flood(co_task *t, void *arg)
{
    struct send_frame *f = arg;
    CO_BEGIN(t, f);
    while (ops < f->n) {
        snprintf(f->msg, sizeof f->msg, "%0*d", MSG, ops);
        CO_AWAIT(f->rc, co_socket_send(t, f->s, f->msg, MSG, 0));
        ck_assert_int_eq(f->rc, MSG);
        ops++;
    }
    a_done = 1;
    CO_END;
}

static co_status send_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_kernel_set_io_budget(co_current_kernel(), budget), 0);
    open_socketpair(f->p);
    {
        struct send_frame a = { .s = f->p[0], .n = f->n };
        struct turns_frame b = { 0 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, send_flood, a), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, turn_counter, b), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(co_socket_close(&f->p[0]), 0);
    /* everything arrived, in order */
    for (f->rc = 0; f->rc < f->n * MSG;) {
        int n = (int)read(co_socket_fd(f->p[1]), f->buf + f->rc,
                          sizeof f->buf - (size_t)f->rc);
        ck_assert_int_gt(n, 0);
        f->rc += n;
    }
    ck_assert_int_eq(f->rc, f->n * MSG);
    for (int i = 0; i < f->n; i++)
        ck_assert_int_eq(number_of(f->buf + i * MSG, MSG), i);
    ck_assert_int_eq(co_socket_close(&f->p[1]), 0);
    CO_END;
}

/* 64 sends, budget 8: A yields before send 9, 17 ... 57. */
START_TEST(test_send_flood_yields)
{
    reset(8);
    struct scene_frame m = { .n = 64 };
    RUN(send_main, m);
    ck_assert_int_eq(first_gap, 8);
    ck_assert_int_eq(max_gap, 8);
    ck_assert_int_eq(turns, (64 - 1) / 8);
}
END_TEST

/* ------------------------------------------------------------ accept */

struct accept_frame {
    co_frame co;
    co_socket *l, *c;
    int n, rc;
};

static co_status accept_flood(co_task *t, void *arg)
{
    struct accept_frame *f = arg;
    CO_BEGIN(t, f);
    while (ops < f->n) {
        CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(co_socket_close(&f->c), 0);
        ops++;
    }
    a_done = 1;
    CO_END;
}

static co_status accept_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    static int clients[40];
    CO_BEGIN(t, f);
    ck_assert_int_le(f->n, 40);
    ck_assert_int_eq(co_kernel_set_io_budget(co_current_kernel(), budget), 0);
    ck_assert_int_eq(co_socket_new(&f->l, AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(co_sockaddr_inet(&f->addr, AF_INET, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_socket_bind(f->l, &f->addr), 0);
    ck_assert_int_eq(co_socket_listen(f->l, 64), 0);
    ck_assert_int_eq(co_socket_getsockname(f->l, &f->addr), 0);
    /* the flood of connections, all queued before A accepts */
    for (int i = 0; i < f->n; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(clients[i], 0);
        ck_assert_int_eq(connect(clients[i],
                                 (struct sockaddr *)&f->addr.ss, f->addr.len),
                         0);
    }
    {
        struct accept_frame a = { .l = f->l, .n = f->n };
        struct turns_frame b = { 0 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, accept_flood, a), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, turn_counter, b), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    for (int i = 0; i < f->n; i++)
        close(clients[i]);
    ck_assert_int_eq(co_socket_close(&f->l), 0);
    CO_END;
}

/* 40 queued connections, budget 8: yields before accept 9, 17, 25, 33. */
START_TEST(test_accept_flood_yields)
{
    reset(8);
    struct scene_frame m = { .n = 40 };
    RUN(accept_main, m);
    ck_assert_int_eq(first_gap, 8);
    ck_assert_int_eq(max_gap, 8);
    ck_assert_int_eq(turns, (40 - 1) / 8);
}
END_TEST

/* ------------------------------------------------------------ the yield */

/* B, on its first turn, acts on A while A is at the budget's yield. */
enum { CLOSE_SOCKET, CLOSE_STREAM, CANCEL };

struct actor_frame {
    co_frame co;
    co_socket **s;
    co_stream **st;
    co_task *a;
    int what;
};

static co_status actor(co_task *t, void *arg)
{
    struct actor_frame *f = arg;
    CO_BEGIN(t, f);
    note("B:after=%d", ops);
    if (f->what == CLOSE_SOCKET)
        ck_assert_int_eq(co_socket_close(f->s), 0);
    else if (f->what == CLOSE_STREAM)
        ck_assert_int_eq(co_stream_close(f->st), 0);
    else
        ck_assert_int_eq(co_task_cancel_nowait(f->a), 1);
    CO_END;
}

/* A: recv (or readline) until an error; its own pointer stays usable until
 * the operation that was under way at the close has returned. */
struct victim_frame {
    co_frame co;
    co_socket *s;
    co_stream *st;
    int rc;
    char buf[32];
};

static co_status victim(co_task *t, void *arg)
{
    struct victim_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        if (f->st)
            CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf,
                                               sizeof f->buf));
        else
            CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, MSG, 0));
        if (f->rc <= 0)
            break;
        ops++;
    }
    note("A:%s after=%d", f->rc == -EBADF ? "EBADF" : rcs(f->rc), ops);
    CO_END;
}

static co_status yield_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_kernel_set_io_budget(co_current_kernel(), 4), 0);
    ck_assert_uint_eq(co_kernel_io_budget(co_current_kernel()), 4);
    f->s = flooded(100, f->n == CLOSE_STREAM);
    if (f->n == CLOSE_STREAM)
        ck_assert_int_eq(co_stream_new(&f->st, f->s, 0), 0);
    {
        struct victim_frame a = { .s = f->s, .st = f->st };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, victim, a), 0);
        struct actor_frame b = { .s = &f->s, .st = &f->st, .a = f->a,
                                 .what = f->n };
        ck_assert_int_gt(CO_SPAWN(t, &f->b, actor, b), 0);
    }
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    if (f->n == CANCEL)
        ck_assert_int_eq(co_socket_close(&f->s), 0);
    CO_END;
}

/* A close while A waits at the yield: its operation returns -EBADF, as
 * from any wait, and the socket (or stream) is freed when it has. */
START_TEST(test_close_at_yield)
{
    log_reset();
    reset(4);                       /* ops counts from 0 (CK_FORK=no too) */
    struct scene_frame m = { .n = CLOSE_SOCKET };
    RUN(yield_main, m);
    ck_assert_str_eq(lg, "B:after=4 A:EBADF after=4");
}
END_TEST

START_TEST(test_stream_close_at_yield)
{
    log_reset();
    reset(4);                       /* ops counts from 0 (CK_FORK=no too) */
    struct scene_frame m = { .n = CLOSE_STREAM };
    RUN(yield_main, m);
    ck_assert_str_eq(lg, "B:after=4 A:EBADF after=4");
}
END_TEST

/* A cancellation requested while A is at the yield: the yield itself had
 * already been granted (A was back in the ready queue, as after co_yield),
 * so the operation goes ahead and nothing is lost; the next one reports
 * the cancellation. */
START_TEST(test_cancel_at_yield)
{
    log_reset();
    reset(4);                       /* ops counts from 0 (CK_FORK=no too) */
    struct scene_frame m = { .n = CANCEL };
    RUN(yield_main, m);
    ck_assert_str_eq(lg, "B:after=4 A:CANCEL after=5");
}
END_TEST

/* ------------------------------------------------------------ the API */

START_TEST(test_budget_api)
{
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(co_kernel_io_budget(k), CO_IO_BUDGET_DEFAULT);
    ck_assert_int_eq(co_kernel_set_io_budget(k, 0), 0);
    ck_assert_uint_eq(co_kernel_io_budget(k), 0);
    ck_assert_int_eq(co_kernel_set_io_budget(k, 7), 0);
    ck_assert_uint_eq(co_kernel_io_budget(k), 7);
    ck_assert_int_eq(co_kernel_set_io_budget(NULL, 7), -EINVAL);
    ck_assert_uint_eq(co_kernel_io_budget(NULL), 0);
    co_kernel_free(k);
}
END_TEST

Suite *fairness_suite(void)
{
    Suite *s = suite_create("fairness");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, test_recv_flood_yields);
    tcase_add_test(tc, test_recv_flood_default_budget);
    tcase_add_test(tc, test_recv_flood_budget_off);
    tcase_add_test(tc, test_suspension_restarts_count);
    tcase_add_test(tc, test_recv_flood_in_timeout_region);
    tcase_add_test(tc, test_readline_flood_yields);
    tcase_add_test(tc, test_readline_flood_budget_off);
    tcase_add_test(tc, test_send_flood_yields);
    tcase_add_test(tc, test_accept_flood_yields);
    tcase_add_test(tc, test_close_at_yield);
    tcase_add_test(tc, test_stream_close_at_yield);
    tcase_add_test(tc, test_cancel_at_yield);
    tcase_add_test(tc, test_budget_api);
    suite_add_tcase(s, tc);
    return s;
}
