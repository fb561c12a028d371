/*
 * test_universal_join.c -- the universal queue's non-blocking calls and
 * sizes, task_done and join from threads and from tasks (with timeouts and
 * cancellation).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "core/async.h"
#include "sync/universal.h"
#include "log.h"
#include "universal_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ nowait, join */

/* A plain thread, no kernel: the non-blocking calls, the sizes, task_done
 * and join with a timeout. */
START_TEST(test_uqueue_nowait_and_join_from_thread)
{
    co_uqueue q;
    void *item = NULL;
    ck_assert_int_eq(co_uqueue_init(&q, 2), 0);
    ck_assert_int_eq(co_uqueue_get_nowait(&q, &item), -EAGAIN);
    ck_assert_int_eq(co_uqueue_empty(&q), 1);
    ck_assert_int_eq(co_uqueue_full(&q), 0);
    ck_assert_int_eq(co_uqueue_join_thread(&q, 0), 0);         /* nothing put */
    ck_assert_int_eq(co_uqueue_put_nowait(&q, (void *)"a"), 0);
    ck_assert_int_eq(co_uqueue_put_nowait(&q, (void *)"b"), 0);
    ck_assert_int_eq(co_uqueue_put_nowait(&q, (void *)"c"), -EAGAIN);
    ck_assert_int_eq(co_uqueue_full(&q), 1);
    ck_assert_int_eq(co_uqueue_empty(&q), 0);
    ck_assert_int_eq((int)co_uqueue_qsize(&q), 2);
    ck_assert_int_eq(co_uqueue_get_nowait(&q, &item), 0);
    ck_assert_str_eq(item, "a");
    ck_assert_int_eq(co_uqueue_full(&q), 0);
    /* every item put counts until marked done, taken or not */
    ck_assert_int_eq((int)co_uqueue_unfinished(&q), 2);
    ck_assert_int_eq(co_uqueue_join_thread(&q, 0), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_join_thread(&q, 0.01), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_task_done(&q), 0);
    ck_assert_int_eq(co_uqueue_join_thread(&q, 0), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_get_nowait(&q, &item), 0);
    ck_assert_str_eq(item, "b");
    ck_assert_int_eq(co_uqueue_get_nowait(&q, &item), -EAGAIN);
    ck_assert_str_eq(item, "b");                        /* untouched */
    ck_assert_int_eq(co_uqueue_task_done(&q), 0);
    ck_assert_int_eq(co_uqueue_task_done(&q), -EINVAL); /* one too many */
    ck_assert_int_eq(co_uqueue_join_thread(&q, 0), 0);
    ck_assert_int_eq(co_uqueue_join_thread(&q, -1), 0);
    ck_assert_int_eq((int)co_uqueue_unfinished(&q), 0);

    ck_assert_int_eq(co_uqueue_put_nowait(NULL, item), -EINVAL);
    ck_assert_int_eq(co_uqueue_get_nowait(NULL, &item), -EINVAL);
    ck_assert_int_eq(co_uqueue_get_nowait(&q, NULL), -EINVAL);
    ck_assert_int_eq(co_uqueue_task_done(NULL), -EINVAL);
    ck_assert_int_eq(co_uqueue_join_thread(NULL, 0), -EINVAL);
    ck_assert_int_eq(co_uqueue_join_thread(&q, NAN), -EINVAL);
    ck_assert_int_eq(co_uqueue_empty(NULL), 0);
    ck_assert_int_eq(co_uqueue_full(NULL), 0);
    co_uqueue_free(&q);
}
END_TEST

/* A queue of JOIN_ITEMS items processed on one side, joined on the other:
 * `processed` is written before each task_done and read after the join
 * returns, so the queue's own locking orders the two. */
#define JOIN_ITEMS 200

struct join_shared {
    co_uqueue q;
    int processed, processed_at_join, join_rc;
};

static void *put_all_then_join(void *arg)
{
    struct join_shared *s = arg;
    for (int i = 1; i <= JOIN_ITEMS; i++)
        ck_assert_int_eq(co_uqueue_put_thread(&s->q, (void *)(uintptr_t)i, -1), 0);
    s->join_rc = co_uqueue_join_thread(&s->q, -1);
    s->processed_at_join = s->processed;
    return NULL;
}

static void *process_all(void *arg)
{
    struct join_shared *s = arg;
    void *item;
    for (int i = 1; i <= JOIN_ITEMS; i++) {
        ck_assert_int_eq(co_uqueue_get_thread(&s->q, &item, -1), 0);
        ck_assert_int_eq((int)(uintptr_t)item, i);
        s->processed++;
        ck_assert_int_eq(co_uqueue_task_done(&s->q), 0);
    }
    return NULL;
}

struct process_frame {
    co_frame co;
    struct join_shared *s;
    void *item;
    int i, rc;
};

static co_status process_in_task(co_task *t, void *arg)
{
    struct process_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= JOIN_ITEMS; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_get(t, &f->s->q, &f->item));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq((int)(uintptr_t)f->item, f->i);
        f->s->processed++;
        ck_assert_int_eq(co_uqueue_task_done(&f->s->q), 0);
    }
    CO_END;
}

struct join_frame {
    co_frame co;
    struct join_shared s;
    struct process_frame pf;
    co_task *worker;
    pthread_t th;
    co_timeout to;
    int i, rc;
};

/* A thread puts every item and joins; a task processes them.  The join
 * returns once the task has marked the last one done, not before. */
static co_status thread_join_main(co_task *t, void *arg)
{
    struct join_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_uqueue_init(&f->s.q, 8), 0);   /* the thread waits */
    f->pf = (struct process_frame){ .s = &f->s };
    CO_SPAWN(t, &f->worker, process_in_task, f->pf);
    pthread_create(&f->th, NULL, put_all_then_join, &f->s);
    AWAIT_JOIN(f->rc, t, f->worker);
    ck_assert_int_eq(f->rc, 0);
    pthread_join(f->th, NULL);
    ck_assert_int_eq(f->s.join_rc, 0);
    ck_assert_int_eq(f->s.processed_at_join, JOIN_ITEMS);
    ck_assert_int_eq(co_uqueue_empty(&f->s.q), 1);
    co_uqueue_free(&f->s.q);
    CO_END;
}

START_TEST(test_uqueue_join_from_thread)
{
    struct join_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(thread_join_main, &f, sizeof f), 0);
}
END_TEST

/* A task puts every item and joins (its wait holds the kernel: only the
 * thread can end it); a thread processes them.  Then the sizes as a task
 * sees them, and put_nowait / get_nowait from a task. */
static co_status task_join_main(co_task *t, void *arg)
{
    struct join_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_uqueue_init(&f->s.q, 8), 0);   /* the task waits */
    pthread_create(&f->th, NULL, process_all, &f->s);
    for (f->i = 1; f->i <= JOIN_ITEMS; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->s.q,
                                           (void *)(uintptr_t)f->i));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_AWAIT(f->rc, co_uqueue_join(t, &f->s.q));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->s.processed, JOIN_ITEMS);
    pthread_join(f->th, NULL);
    CO_AWAIT(f->rc, co_uqueue_join(t, &f->s.q));   /* 0 at once */
    ck_assert_int_eq(f->rc, 0);

    ck_assert_int_eq(co_uqueue_empty(&f->s.q), 1);
    for (f->i = 0; f->i < 8; f->i++)
        ck_assert_int_eq(co_uqueue_put_nowait(&f->s.q, NULL), 0);
    ck_assert_int_eq(co_uqueue_put_nowait(&f->s.q, NULL), -EAGAIN);
    ck_assert_int_eq(co_uqueue_full(&f->s.q), 1);
    ck_assert_int_eq((int)co_uqueue_qsize(&f->s.q), 8);
    for (f->i = 0; f->i < 8; f->i++) {
        ck_assert_int_eq(co_uqueue_get_nowait(&f->s.q, &f->pf.item), 0);
        ck_assert_int_eq(co_uqueue_task_done(&f->s.q), 0);
    }
    ck_assert_int_eq(co_uqueue_get_nowait(&f->s.q, &f->pf.item), -EAGAIN);
    ck_assert_int_eq(co_uqueue_empty(&f->s.q), 1);
    ck_assert_int_eq((int)co_uqueue_unfinished(&f->s.q), 0);
    co_uqueue_free(&f->s.q);
    CO_END;
}

START_TEST(test_uqueue_join_task)
{
    struct join_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(task_join_main, &f, sizeof f), 0);
}
END_TEST

/* A thread's put_nowait hands its item to a waiting task. */
static void *put_nowait_x(void *arg)
{
    ck_assert_int_eq(co_uqueue_put_nowait(arg, (void *)"x"), 0);
    return NULL;
}

struct joiner_frame { co_frame co; co_uqueue *q; int rc; };

/* Joins once; logs and returns the result. */
static co_status joiner(co_task *t, void *arg)
{
    struct joiner_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uqueue_join(t, f->q));
    note("J:join=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

struct jwait_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    co_task *j, *g;
    struct joiner_frame jf;
    struct getter_frame gf;
    pthread_t th;
    void *item;
    int rc;
};

/* join_task under a timeout and cancelled: it returns the error and takes
 * its record away (the task_done that follows finds no joiner); a getter
 * served by a thread's put_nowait. */
static co_status join_errors_main(co_task *t, void *arg)
{
    struct jwait_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_uqueue_init(&f->q, 0), 0);
    f->gf = (struct getter_frame){ .name = "G", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_yield(t));                   /* G waits */
    pthread_create(&f->th, NULL, put_nowait_x, &f->q);
    pthread_join(f->th, NULL);
    AWAIT_JOIN(f->rc, t, f->g);
    ck_assert_int_eq((int)co_uqueue_unfinished(&f->q), 1);

    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_uqueue_join(t, &f->q));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("main:join=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));

    f->jf = (struct joiner_frame){ .q = &f->q };
    CO_SPAWN(t, &f->j, joiner, f->jf);
    CO_AWAIT(f->rc, co_yield(t));                   /* J waits */
    CO_AWAIT(f->rc, co_task_cancel(t, f->j));
    AWAIT_JOIN(f->rc, t, f->j);
    ck_assert_int_eq(co_uqueue_task_done(&f->q), 0);
    CO_AWAIT(f->rc, co_uqueue_join(t, &f->q));
    note("main:join=%s", rcs(f->rc));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_uqueue_join_task_timeout_and_cancel)
{
    struct jwait_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(join_errors_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "G:get=0:x G:next=0 main:join=TIMEOUT expired=1 "
                         "J:join=CANCEL main:join=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *universal_join_suite(void)
{
    Suite *s = suite_create("universal_join");
    TCase *tc;

    tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, universal_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_uqueue_nowait_and_join_from_thread);
    tcase_add_test(tc, test_uqueue_join_from_thread);
    tcase_add_test(tc, test_uqueue_join_task);
    tcase_add_test(tc, test_uqueue_join_task_timeout_and_cancel);
    suite_add_tcase(s, tc);
    return s;
}
