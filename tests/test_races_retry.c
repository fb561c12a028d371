/*
 * test_races_retry.c -- retry-on-timeout loops under random stalls: a
 * getter that retries on -ETIMEDOUT gets every item exactly once, a putter
 * that retries puts every item exactly once (FIFO, priority, LIFO and
 * universal queues, also fed by a thread), and a reader and a writer that
 * retry move every byte exactly once.
 */
#define _GNU_SOURCE                 /* MSG_DONTWAIT, SOCK_CLOEXEC */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "races_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ retry loops */

/* Under a mix of hand-overs -- at once, after a sleep that outlives the
 * getter's region, while the kernel is held up, just before it is held up
 * -- a getter that retries on -ETIMEDOUT gets every item exactly once, and
 * a putter that retries puts every item exactly once. */

#define N_ITEMS 40
#define SHORT 0.002                 /* the retrying side's region */

static unsigned rng;

static unsigned next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 16) & 0x7fff;
}

enum { Q_FIFO, Q_PRIORITY, Q_LIFO, Q_UNIVERSAL, N_QUEUES };

static struct {
    int which;
    int seen[N_ITEMS + 1];
    int order[N_ITEMS];
    int got, timeouts;
} L;

static int item_vals[N_ITEMS + 1];

static void loop_setup(void)
{
    races_setup();
    memset(&L, 0, sizeof L);
    rng = 12345;
    for (int i = 0; i <= N_ITEMS; i++)
        item_vals[i] = i;
}

static void loop_init(size_t maxsize)
{
    if (L.which == Q_UNIVERSAL)
        ck_assert_int_eq(co_uqueue_init(&R.uq, maxsize), 0);
    else
        ck_assert_int_eq(co_queue_init(&R.q, L.which == Q_FIFO ? CO_QUEUE_FIFO
                                       : L.which == Q_LIFO ? CO_QUEUE_LIFO
                                       : CO_QUEUE_PRIORITY, maxsize), 0);
}

static co_status loop_get(co_task *t, void **item)
{
    if (L.which == Q_UNIVERSAL)
        return co_uqueue_get(t, &R.uq, item);
    return co_queue_get(t, &R.q, item);
}

static co_status loop_put(co_task *t, void *item)
{
    if (L.which == Q_UNIVERSAL)
        return co_uqueue_put(t, &R.uq, item);
    return co_queue_put(t, &R.q, item);
}

static void loop_record(void *item)
{
    int v = *(int *)item;
    ck_assert_int_ge(v, 1);
    ck_assert_int_le(v, N_ITEMS);
    ck_assert_int_lt(L.got, N_ITEMS);
    L.seen[v]++;
    L.order[L.got++] = v;
    if (L.which != Q_UNIVERSAL)
        ck_assert_int_eq(co_queue_task_done(&R.q), 0);
}

static void loop_check(void)
{
    ck_assert_int_eq(L.got, N_ITEMS);
    for (int i = 1; i <= N_ITEMS; i++)
        ck_assert_msg(L.seen[i] == 1, "item %d seen %d times", i, L.seen[i]);
    /* one putter, one getter: a FIFO keeps the putter's order */
    if (L.which == Q_FIFO || L.which == Q_UNIVERSAL)
        for (int i = 0; i < N_ITEMS; i++)
            ck_assert_int_eq(L.order[i], i + 1);
    ck_assert_int_gt(L.timeouts, 0);    /* the races did happen */
    if (L.which == Q_UNIVERSAL) {
        ck_assert_int_eq(co_uqueue_qsize(&R.uq), 0);
        co_uqueue_free(&R.uq);
    } else {
        ck_assert_int_eq(co_queue_qsize(&R.q), 0);
        ck_assert_int_eq(co_queue_free(&R.q), 0);
    }
}

/* One side's random pacing: 0 sleep (longer than SHORT, sometimes),
 * 1 hold the kernel up then act, 2 act then hold it up, 3 act at once. */
struct pace_frame {
    co_frame co;
    co_timeout to;
    int i, how, rc;
    void *item;
};

static co_status paced_putter(co_task *t, void *arg)
{
    struct pace_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= N_ITEMS; f->i++) {
        f->how = (int)(next_rand() % 4);
        if (f->how == 0) {
            CO_AWAIT(f->rc, co_sleep(t, 0.001 * (1 + next_rand() % 3)));
            ck_assert_int_eq(f->rc, 0);
        } else if (f->how == 1) {
            stall(0.003);
        }
        CO_AWAIT(f->rc, loop_put(t, &item_vals[f->i]));
        ck_assert_int_eq(f->rc, 0);
        if (f->how == 2)
            stall(0.003);
    }
    CO_END;
}

static co_status retrying_getter(co_task *t, void *arg)
{
    struct pace_frame *f = arg;
    CO_BEGIN(t, f);
    while (L.got < N_ITEMS) {
        f->item = NULL;
        co_timeout_after(t, &f->to, SHORT);
        CO_AWAIT(f->rc, loop_get(t, &f->item));
        f->rc = co_timeout_end(t, &f->to, f->rc);
        if (f->rc == 0) {
            ck_assert(!co_timeout_expired(&f->to));
            loop_record(f->item);
        } else {
            ck_assert_int_eq(f->rc, -ETIMEDOUT);
            ck_assert(co_timeout_expired(&f->to));
            ck_assert_ptr_null(f->item);
            L.timeouts++;
        }
    }
    CO_END;
}

static co_status retrying_putter(co_task *t, void *arg)
{
    struct pace_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= N_ITEMS;) {
        co_timeout_after(t, &f->to, SHORT);
        CO_AWAIT(f->rc, loop_put(t, &item_vals[f->i]));
        f->rc = co_timeout_end(t, &f->to, f->rc);
        if (f->rc == 0) {
            ck_assert(!co_timeout_expired(&f->to));
            f->i++;
        } else {                    /* not put: put the same item again */
            ck_assert_int_eq(f->rc, -ETIMEDOUT);
            ck_assert(co_timeout_expired(&f->to));
            L.timeouts++;
        }
    }
    CO_END;
}

static co_status paced_getter(co_task *t, void *arg)
{
    struct pace_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= N_ITEMS; f->i++) {
        f->how = (int)(next_rand() % 4);
        if (f->how == 0) {
            CO_AWAIT(f->rc, co_sleep(t, 0.001 * (1 + next_rand() % 3)));
            ck_assert_int_eq(f->rc, 0);
        } else if (f->how == 1) {
            stall(0.003);
        }
        CO_AWAIT(f->rc, loop_get(t, &f->item));
        ck_assert_int_eq(f->rc, 0);
        loop_record(f->item);
        if (f->how == 2)
            stall(0.003);
    }
    CO_END;
}

struct loop_main_frame {
    co_frame co;
    co_task *a, *b;
    int put_side, rc;
};

static co_status loop_main(co_task *t, void *arg)
{
    struct loop_main_frame *f = arg;
    struct pace_frame p = { .i = 0 };
    CO_BEGIN(t, f);
    loop_init(f->put_side ? 2 : 0);
    if (f->put_side) {
        ck_assert_int_gt(CO_SPAWN(t, &f->a, retrying_putter, p), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, paced_getter, p), 0);
    } else {
        ck_assert_int_gt(CO_SPAWN(t, &f->a, retrying_getter, p), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, paced_putter, p), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    loop_check();
    CO_END;
}

START_TEST(test_race_retrying_getter_gets_each_item_once)
{
    L.which = _i;
    struct loop_main_frame m = { .put_side = 0 };
    RUN(loop_main, m);
}
END_TEST

START_TEST(test_race_retrying_putter_puts_each_item_once)
{
    L.which = _i;
    struct loop_main_frame m = { .put_side = 1 };
    RUN(loop_main, m);
}
END_TEST

/* The same for a universal queue fed by a thread, while a task of the
 * kernel keeps holding it up: posts, expiries and hand-overs meet in every
 * order. */
static void *feed_thread(void *arg)
{
    (void)arg;
    unsigned seed = 777;
    for (int i = 1; i <= N_ITEMS; i++) {
        seed = seed * 1103515245u + 12345u;
        struct timespec ts = { 0, (long)((seed >> 16) % 3000) * 1000 };
        nanosleep(&ts, NULL);
        ck_assert_int_eq(co_uqueue_put_thread(&R.uq, &item_vals[i], -1), 0);
    }
    return NULL;
}

static co_status holder_upper(co_task *t, void *arg)
{
    struct pace_frame *f = arg;
    CO_BEGIN(t, f);
    while (L.got < N_ITEMS) {
        stall(0.001 + 0.001 * (next_rand() % 3));
        CO_AWAIT(f->rc, co_sleep(t, 0.001 * (next_rand() % 3)));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

static co_status thread_loop_main(co_task *t, void *arg)
{
    struct loop_main_frame *f = arg;
    struct pace_frame p = { .i = 0 };
    CO_BEGIN(t, f);
    loop_init(0);
    ck_assert_int_gt(CO_SPAWN(t, &f->a, retrying_getter, p), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->b, holder_upper, p), 0);
    ck_assert_int_eq(pthread_create(&feeder, NULL, feed_thread, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(pthread_join(feeder, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(L.got, N_ITEMS);
    for (int i = 0; i < N_ITEMS; i++)
        ck_assert_int_eq(L.order[i], i + 1);
    ck_assert_int_eq(co_uqueue_qsize(&R.uq), 0);
    co_uqueue_free(&R.uq);
    CO_END;
}

START_TEST(test_race_retrying_getter_thread_fed)
{
    L.which = Q_UNIVERSAL;
    struct loop_main_frame m = { .put_side = 0 };
    RUN(thread_loop_main, m);
}
END_TEST

/* Bytes: a reader that retries recv on -ETIMEDOUT, and a writer that
 * retries send on -ETIMEDOUT over a small buffer, move every byte exactly
 * once, in order, while the other side is paced at random. */

#define N_BYTES 60000

/* the reader's test moves a tenth of it: the writer's chunks are small */
static size_t n_bytes;
static unsigned char sent_bytes[N_BYTES], recvd_bytes[N_BYTES];
static size_t n_recvd;

struct byte_frame {
    co_frame co;
    co_timeout to;
    size_t off;
    int how, rc, timeouts;
    size_t n;
};

static co_status retrying_reader(co_task *t, void *arg)
{
    struct byte_frame *f = arg;
    CO_BEGIN(t, f);
    while (n_recvd < n_bytes) {
        co_timeout_after(t, &f->to, SHORT);
        f->n = n_bytes - n_recvd < 97 ? n_bytes - n_recvd : 97;
        CO_AWAIT(f->rc, co_socket_recv(t, R.pair[0], recvd_bytes + n_recvd,
                                       f->n, 0));
        ck_assert_int_ne(f->rc, 0);             /* no end of stream */
        if (co_timeout_end(t, &f->to, f->rc) == -ETIMEDOUT) {
            ck_assert_int_eq(f->rc, -ETIMEDOUT);
            f->timeouts++;
        } else {
            ck_assert_int_gt(f->rc, 0);
            ck_assert(!co_timeout_expired(&f->to));
            n_recvd += (size_t)f->rc;
        }
    }
    ck_assert_int_gt(f->timeouts, 0);
    CO_END;
}

static co_status paced_writer(co_task *t, void *arg)
{
    struct byte_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->off = 0; f->off < n_bytes; f->off += f->n) {
        f->n = 1 + next_rand() % 300;
        if (f->n > n_bytes - f->off)
            f->n = n_bytes - f->off;
        f->how = (int)(next_rand() % 4);
        if (f->how == 0) {
            CO_AWAIT(f->rc, co_sleep(t, 0.001 * (1 + next_rand() % 3)));
            ck_assert_int_eq(f->rc, 0);
        } else if (f->how == 1) {
            stall(0.003);
        }
        ck_assert_int_eq(write(co_socket_fd(R.pair[1]), sent_bytes + f->off,
                               f->n), (ssize_t)f->n);
        if (f->how == 2)
            stall(0.003);
    }
    CO_END;
}

static co_status retrying_writer(co_task *t, void *arg)
{
    struct byte_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->off = 0; f->off < n_bytes;) {
        co_timeout_after(t, &f->to, SHORT);
        CO_AWAIT(f->rc, co_socket_send(t, R.pair[1], sent_bytes + f->off,
                                       n_bytes - f->off, 0));
        if (co_timeout_end(t, &f->to, f->rc) == -ETIMEDOUT) {
            ck_assert_int_eq(f->rc, -ETIMEDOUT);
            f->timeouts++;
        } else {
            ck_assert_int_gt(f->rc, 0);
            f->off += (size_t)f->rc;
        }
    }
    ck_assert_int_gt(f->timeouts, 0);
    CO_END;
}

static co_status paced_reader(co_task *t, void *arg)
{
    struct byte_frame *f = arg;
    CO_BEGIN(t, f);
    while (n_recvd < n_bytes) {
        f->how = (int)(next_rand() % 4);
        if (f->how == 0) {
            CO_AWAIT(f->rc, co_sleep(t, 0.001 * (1 + next_rand() % 3)));
            ck_assert_int_eq(f->rc, 0);
        } else if (f->how == 1) {
            stall(0.003);
        }
        f->n = n_bytes - n_recvd < 4000 ? n_bytes - n_recvd : 4000;
        CO_AWAIT(f->rc, co_socket_recv(t, R.pair[0], recvd_bytes + n_recvd,
                                       f->n, 0));
        ck_assert_int_gt(f->rc, 0);
        n_recvd += (size_t)f->rc;
        if (f->how == 2)
            stall(0.003);
    }
    CO_END;
}

struct bytes_main_frame {
    co_frame co;
    co_task *a, *b;
    int send_side, rc;
};

static co_status bytes_main(co_task *t, void *arg)
{
    struct bytes_main_frame *f = arg;
    struct byte_frame b = { .off = 0 };
    CO_BEGIN(t, f);
    n_bytes = f->send_side ? N_BYTES : N_BYTES / 10;
    for (size_t i = 0; i < n_bytes; i++)
        sent_bytes[i] = pattern_byte(i);
    n_recvd = 0;
    rng = 4242;
    open_socketpair(R.pair);
    if (f->send_side) {
        int small = 4096;           /* the writer waits for room often */
        ck_assert_int_eq(setsockopt(co_socket_fd(R.pair[1]), SOL_SOCKET,
                                    SO_SNDBUF, &small, sizeof small), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->a, retrying_writer, b), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, paced_reader, b), 0);
    } else {
        ck_assert_int_gt(CO_SPAWN(t, &f->a, retrying_reader, b), 0);
        ck_assert_int_gt(CO_SPAWN(t, &f->b, paced_writer, b), 0);
    }
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->b);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_uint_eq(n_recvd, n_bytes);
    ck_assert_mem_eq(recvd_bytes, sent_bytes, n_bytes);
    ck_assert_int_eq(inq(co_socket_fd(R.pair[0])), 0);
    pair_close();
    CO_END;
}

START_TEST(test_race_retrying_reader_gets_each_byte_once)
{
    struct bytes_main_frame m = { .send_side = 0 };
    RUN(bytes_main, m);
}
END_TEST

START_TEST(test_race_retrying_writer_sends_each_byte_once)
{
    struct bytes_main_frame m = { .send_side = 1 };
    RUN(bytes_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *races_retry_suite(void)
{
    Suite *s = suite_create("races_retry");
    TCase *tc;

    tc = tcase_create("retry loops");
    tcase_add_checked_fixture(tc, loop_setup, NULL);
    tcase_set_timeout(tc, 20);          /* a lost item hangs the loop */
    tcase_add_loop_test(tc, test_race_retrying_getter_gets_each_item_once, 0,
                        N_QUEUES);
    tcase_add_loop_test(tc, test_race_retrying_putter_puts_each_item_once, 0,
                        N_QUEUES);
    tcase_add_test(tc, test_race_retrying_getter_thread_fed);
    tcase_add_test(tc, test_race_retrying_reader_gets_each_byte_once);
    tcase_add_test(tc, test_race_retrying_writer_sends_each_byte_once);
    suite_add_tcase(s, tc);
    return s;
}
