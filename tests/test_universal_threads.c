/*
 * test_universal_threads.c -- Curio's UniversalQueue and UniversalEvent
 * between POSIX threads and tasks: threads feeding tasks and tasks feeding
 * threads with no item lost or duplicated, an event set from a thread.
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

/* ------------------------------------------------------------ threads -> tasks */

struct producer { co_uqueue *q, *done; int id; };

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < PER; i++)
        ck_assert_int_eq(co_uqueue_put_thread(p->q, ITEM(p->id, i), -1), 0);
    co_uqueue_put_thread(p->done, NULL, -1);
    return NULL;
}

struct drain_frame {
    co_frame co;
    co_uqueue *q;
    void *item;
    int n, rc;
    uint64_t sum;
};

static co_status drain(co_task *t, void *arg)
{
    struct drain_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->item == STOP)
            break;
        uintptr_t v = (uintptr_t)f->item;
        ck_assert(v >= 1 && v <= TOTAL);
        seen[v]++;
        f->sum += v;
        f->n++;
        if (f->n % 97 == 0)      /* let the other drainer in */
            CO_AWAIT(f->rc, co_yield(t));
    }
    CO_RETURN(f->n);
    CO_END;
}

struct t2t_frame {
    co_frame co;
    co_uqueue q, done;
    struct producer p[PRODUCERS];
    pthread_t th[PRODUCERS];
    co_task *d[2];
    struct drain_frame df;
    void *item;
    int i, rc, n;
    uint64_t sum;
};

static co_status t2t_main(co_task *t, void *arg)
{
    struct t2t_frame *f = arg;
    CO_BEGIN(t, f);
    memset(seen, 0, sizeof seen);
    ck_assert_int_eq(co_uqueue_init(&f->q, 64), 0);  /* producers block */
    ck_assert_int_eq(co_uqueue_init(&f->done, 0), 0);
    for (f->i = 0; f->i < 2; f->i++) {
        f->df = (struct drain_frame){ .q = &f->q };
        ck_assert_int_gt(CO_SPAWN(t, &f->d[f->i], drain, f->df), 0);
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++) {
        f->p[f->i] = (struct producer){ &f->q, &f->done, f->i };
        pthread_create(&f->th[f->i], NULL, produce, &f->p[f->i]);
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++) {   /* wait for "finished" */
        CO_AWAIT(f->rc, co_uqueue_get(t, &f->done, &f->item));
        ck_assert_int_eq(f->rc, 0);
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++)
        pthread_join(f->th[f->i], NULL);
    for (f->i = 0; f->i < 2; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->q, STOP));
        ck_assert_int_eq(f->rc, 0);
    }
    for (f->i = 0; f->i < 2; f->i++) {
        /* the drainer may still be taking the last items: wait for it to
         * end before reading its sum from its frame, then join it */
        CO_AWAIT(f->rc, co_task_wait(t, f->d[f->i]));
        ck_assert_int_eq(f->rc, 0);
        f->sum += ((struct drain_frame *)co_task_frame(f->d[f->i]))->sum;
        AWAIT_JOIN(f->rc, t, f->d[f->i]);
        ck_assert_int_ge(f->rc, 0);
        f->n += f->rc;
    }
    ck_assert_int_eq(f->n, TOTAL);
    ck_assert(f->sum == expected_sum());
    check_seen();
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), 0);
    co_uqueue_free(&f->q);
    co_uqueue_free(&f->done);
    CO_END;
}

START_TEST(test_threads_feed_tasks)
{
    static struct t2t_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(t2t_main, &f, sizeof f), 0);
}
END_TEST

/* ------------------------------------------------------------ tasks -> threads */

struct consumer { co_uqueue *q; int n; uint64_t sum; unsigned char *seen; };

static void *consume(void *arg)
{
    struct consumer *c = arg;
    void *item;
    for (;;) {
        ck_assert_int_eq(co_uqueue_get_thread(c->q, &item, -1), 0);
        if (item == STOP)
            return NULL;
        uintptr_t v = (uintptr_t)item;
        c->seen[v]++;
        c->sum += v;
        c->n++;
    }
}

struct feed_frame {
    co_frame co;
    co_uqueue *q;
    int id, i, rc;
};

static co_status feed(co_task *t, void *arg)
{
    struct feed_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < PER; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_put(t, f->q, ITEM(f->id, f->i)));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_END;
}

static unsigned char seen2[2][TOTAL + 1];

struct t2th_frame {
    co_frame co;
    co_uqueue q;
    struct consumer c[2];
    pthread_t th[2];
    co_task *p[PRODUCERS];
    struct feed_frame ff;
    int i, rc;
};

static co_status t2th_main(co_task *t, void *arg)
{
    struct t2th_frame *f = arg;
    CO_BEGIN(t, f);
    memset(seen2, 0, sizeof seen2);
    ck_assert_int_eq(co_uqueue_init(&f->q, 16), 0);  /* tasks block */
    for (f->i = 0; f->i < 2; f->i++) {
        f->c[f->i] = (struct consumer){ .q = &f->q, .seen = seen2[f->i] };
        pthread_create(&f->th[f->i], NULL, consume, &f->c[f->i]);
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++) {
        f->ff = (struct feed_frame){ .q = &f->q, .id = f->i };
        ck_assert_int_gt(CO_SPAWN(t, &f->p[f->i], feed, f->ff), 0);
    }
    for (f->i = 0; f->i < PRODUCERS; f->i++) {
        AWAIT_JOIN(f->rc, t, f->p[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    for (f->i = 0; f->i < 2; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->q, STOP));
        ck_assert_int_eq(f->rc, 0);
    }
    for (f->i = 0; f->i < 2; f->i++)   /* the queue needs no kernel now */
        pthread_join(f->th[f->i], NULL);
    ck_assert_int_eq(f->c[0].n + f->c[1].n, TOTAL);
    ck_assert(f->c[0].sum + f->c[1].sum == expected_sum());
    for (int v = 1; v <= TOTAL; v++)
        ck_assert_msg(seen2[0][v] + seen2[1][v] == 1, "item %d", v);
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_tasks_feed_threads)
{
    static struct t2th_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(t2th_main, &f, sizeof f), 0);
}
END_TEST

/* ------------------------------------------------------------ event */

struct ewait_frame { co_frame co; co_uevent *e; int rc; };

static co_status ewaiter(co_task *t, void *arg)
{
    struct ewait_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uevent_wait(t, f->e));
    CO_RETURN(f->rc == 0 ? 1 : f->rc);
    CO_END;
}

struct ethread { co_uevent *e; int rc; };

static void *ethread_wait(void *arg)
{
    struct ethread *w = arg;
    w->rc = co_uevent_wait_thread(w->e, 5.0);
    return NULL;
}

static void *ethread_set(void *arg)
{
    nap_ms(20);
    co_uevent_set(arg);
    return NULL;
}

struct event_frame {
    co_frame co;
    co_uevent e;
    co_task *w[3];
    struct ewait_frame wf;
    struct ethread th[2];
    pthread_t tid[3];
    int i, rc, n;
};

static co_status event_main(co_task *t, void *arg)
{
    struct event_frame *f = arg;
    CO_BEGIN(t, f);
    co_uevent_init(&f->e);
    ck_assert_int_eq(co_uevent_wait_thread(&f->e, 0.01), -ETIMEDOUT);
    for (f->i = 0; f->i < 3; f->i++) {
        f->wf = (struct ewait_frame){ .e = &f->e };
        CO_SPAWN(t, &f->w[f->i], ewaiter, f->wf);
    }
    for (f->i = 0; f->i < 2; f->i++) {
        f->th[f->i] = (struct ethread){ .e = &f->e, .rc = 99 };
        pthread_create(&f->tid[f->i], NULL, ethread_wait, &f->th[f->i]);
    }
    pthread_create(&f->tid[2], NULL, ethread_set, &f->e);
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_JOIN(f->rc, t, f->w[f->i]);
        f->n += f->rc;
    }
    for (f->i = 0; f->i < 3; f->i++)
        pthread_join(f->tid[f->i], NULL);
    ck_assert_int_eq(f->n, 3);
    ck_assert_int_eq(f->th[0].rc, 0);
    ck_assert_int_eq(f->th[1].rc, 0);
    ck_assert_int_eq(co_uevent_is_set(&f->e), 1);
    CO_AWAIT(f->rc, co_uevent_wait(t, &f->e));   /* set: at once */
    ck_assert_int_eq(f->rc, 0);
    co_uevent_clear(&f->e);
    ck_assert_int_eq(co_uevent_is_set(&f->e), 0);
    ck_assert_int_eq(co_uevent_wait_thread(&f->e, 0), -ETIMEDOUT);
    co_uevent_free(&f->e);
    CO_END;
}

START_TEST(test_event_from_thread)
{
    struct event_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(event_main, &f, sizeof f), 0);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *universal_threads_suite(void)
{
    Suite *s = suite_create("universal_threads");
    TCase *tc;

    tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, universal_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_threads_feed_tasks);
    tcase_add_test(tc, test_tasks_feed_threads);
    tcase_add_test(tc, test_event_from_thread);
    suite_add_tcase(s, tc);
    return s;
}
