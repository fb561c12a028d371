/*
 * test_universal.c -- the thread-safe entry into a kernel (co_kernel_post)
 * and Curio's UniversalQueue / UniversalEvent shared by tasks, POSIX
 * threads and kernels in different threads: no item lost or duplicated
 * under concurrency, cancellation and timeouts; the non-blocking calls,
 * the sizes, task_done and join from threads and tasks; the eventfd;
 * deadlock detection with waiters that another thread could wake.
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
#include "suites.h"

static void setup(void)
{
    log_reset();
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Items are 1 + producer * PER + i, as pointers (never NULL). */
#define PRODUCERS 4
#define PER 2000
#define TOTAL (PRODUCERS * PER)
#define STOP ((void *)(uintptr_t)(TOTAL + 1000))
#define ITEM(p, i) ((void *)(uintptr_t)(1 + (p) * PER + (i)))

static unsigned char seen[TOTAL + 1];   /* how often each item was taken */

static uint64_t expected_sum(void)
{
    return (uint64_t)TOTAL * (TOTAL + 1) / 2;
}

/* Every item taken exactly once. */
static void check_seen(void)
{
    for (int i = 1; i <= TOTAL; i++)
        ck_assert_msg(seen[i] == 1, "item %d taken %d times", i, seen[i]);
}

/* ------------------------------------------------------------ post */

static void post_set_event(void *arg)
{
    co_event_set(arg);
}

static void *poster(void *arg)
{
    nap_ms(10);
    co_kernel_post_fn(((void **)arg)[0], post_set_event, ((void **)arg)[1]);
    return NULL;
}

struct post_frame {
    co_frame co;
    co_event ev;
    pthread_t th;
    void *args[2];
    int rc;
};

static co_status post_main(co_task *t, void *arg)
{
    struct post_frame *f = arg;
    CO_BEGIN(t, f);
    f->args[0] = co_current_kernel();
    f->args[1] = &f->ev;
    co_kernel_hold(co_current_kernel());   /* a thread will deliver */
    pthread_create(&f->th, NULL, poster, f->args);
    CO_AWAIT(f->rc, co_event_wait(t, &f->ev));
    co_kernel_unhold(co_current_kernel());
    pthread_join(f->th, NULL);
    CO_RETURN(f->rc == 0 ? 7 : f->rc);
    CO_END;
}

START_TEST(test_post_from_thread)
{
    struct post_frame f = { .rc = 0 };
    ck_assert_int_eq(co_run(post_main, &f, sizeof f), 7);
}
END_TEST

static int early_ran;
static void mark_early(void *arg)
{
    (void)arg;
    early_ran = co_current_kernel() != NULL;
}

struct yield_frame { co_frame co; int rc; };
static co_status yield_main(co_task *t, void *arg)
{
    struct yield_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_END;
}

/* Posted before the first run: runs in the run.  Posted then taken back,
 * or still pending at free: never runs. */
START_TEST(test_post_before_run_and_unpost)
{
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    co_post p, q;
    co_post_init(&p, mark_early, NULL);
    co_post_init(&q, mark_early, NULL);
    ck_assert_int_eq(co_kernel_post(k, &p), 0);
    ck_assert_int_eq(co_kernel_post(k, &p), 0);  /* pending: runs once */
    ck_assert_int_eq(co_kernel_post(k, &q), 0);
    ck_assert_int_eq(co_kernel_unpost(k, &q), 1);
    ck_assert_int_eq(co_kernel_unpost(k, &q), 0);
    early_ran = 0;
    struct yield_frame f = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, yield_main, &f, sizeof f), 0);
    ck_assert_int_eq(early_ran, 1);
    ck_assert_int_eq(co_kernel_unpost(k, &p), 0);  /* it has run */
    ck_assert_int_eq(co_kernel_post_fn(k, mark_early, NULL), 0);
    ck_assert_int_eq(co_kernel_post(NULL, &p), -EINVAL);
    co_kernel_free(k);                               /* dropped, freed */
}
END_TEST

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

/* ------------------------------------------------------------ thread timeouts */

static void *put_later(void *arg)
{
    nap_ms(20);
    co_uqueue_put_thread(arg, (void *)"late", -1);
    return NULL;
}

START_TEST(test_thread_get_timeout)
{
    co_uqueue q;
    void *item = NULL;
    ck_assert_int_eq(co_uqueue_init(&q, 1), 0);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0.02), -ETIMEDOUT);
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"a", 0), 0);
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"b", 0.01), -ETIMEDOUT);
    ck_assert_int_eq((int)co_uqueue_qsize(&q), 1);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert_str_eq(item, "a");
    pthread_t th;
    pthread_create(&th, NULL, put_later, &q);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 5.0), 0);   /* woken */
    ck_assert_str_eq(item, "late");
    pthread_join(th, NULL);
    ck_assert_int_eq(co_uqueue_get_thread(NULL, &item, 0), -EINVAL);
    ck_assert_int_eq(co_uqueue_put_thread(&q, NULL, 0.0 / 0.0), -EINVAL);
    co_uqueue_free(&q);
}
END_TEST

/* ------------------------------------------------------------ cancellation */

struct getter_frame {
    co_frame co;
    const char *name;
    co_uqueue *q;
    void *item;
    int rc;
};

/* Logs what its get gave, then what its next blocking call gives. */
static co_status getter(co_task *t, void *arg)
{
    struct getter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
    note("%s:get=%s:%s", f->name, rcs(f->rc),
         f->rc == 0 ? (const char *)f->item : "-");
    CO_AWAIT(f->rc, co_sleep(t, 0));
    note("%s:next=%s", f->name, rcs(f->rc));
    CO_END;
}

static void *put_one(void *arg)
{
    ck_assert_int_eq(co_uqueue_put_thread(arg, (void *)"x", -1), 0);
    return NULL;
}

struct cancel_frame {
    co_frame co;
    co_uqueue q;
    co_task *g;
    struct getter_frame gf;
    pthread_t th;
    void *item;
    int rc;
};

static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);

    /* Cancelled while waiting: no item; the next put stays queued. */
    f->gf = (struct getter_frame){ .name = "A", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_AWAIT(f->rc, co_task_cancel(t, f->g));
    AWAIT_JOIN(f->rc, t, f->g);
    co_uqueue_put_thread(&f->q, (void *)"kept", 0);
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    note("main:%s", (const char *)f->item);

    /* Handed an item (same kernel), then cancelled before it ran: it keeps
     * the item, and the cancellation shows at its next blocking call. */
    f->gf = (struct getter_frame){ .name = "B", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    co_uqueue_put_thread(&f->q, (void *)"b", 0);
    co_task_cancel_nowait(f->g);
    AWAIT_JOIN(f->rc, t, f->g);

    /* The same through another thread: the put's post is still pending in
     * this kernel (main does not let the loop run) when the cancel lands. */
    f->gf = (struct getter_frame){ .name = "C", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    pthread_create(&f->th, NULL, put_one, &f->q);
    pthread_join(f->th, NULL);
    co_task_cancel_nowait(f->g);
    AWAIT_JOIN(f->rc, t, f->g);
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_task_get_cancelled)
{
    struct cancel_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(cancel_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "A:get=CANCEL:- A:next=CANCEL qsize=1 main:kept "
                         "B:get=0:b B:next=CANCEL "
                         "C:get=0:x C:next=CANCEL qsize=0");
}
END_TEST

/* ------------------------------------------------------------ timeouts */

struct tmo_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    pthread_t th;
    void *item;
    int rc;
};

static co_status tmo_main(co_task *t, void *arg)
{
    struct tmo_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("get=%s", rcs(f->rc));
    /* a thread's item arrives well within the region */
    pthread_create(&f->th, NULL, put_later, &f->q);
    co_timeout_after(t, &f->to, 5.0);
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("get=%s:%s", rcs(f->rc), f->rc == 0 ? (char *)f->item : "-");
    pthread_join(f->th, NULL);
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_task_get_timeout)
{
    struct tmo_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(tmo_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "get=TIMEOUT get=0:late qsize=0");
}
END_TEST

/* Task puts block on a full queue, under a timeout; a timed-out put did
 * not put. */
struct tput_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    void *item;
    int rc;
};

static co_status tput_main(co_task *t, void *arg)
{
    struct tput_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 1);
    CO_AWAIT(f->rc, co_uqueue_put(t, &f->q, (void *)"1"));
    note("put1=%s", rcs(f->rc));
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_uqueue_put(t, &f->q, (void *)"2"));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("put2=%s qsize=%d", rcs(f->rc), (int)co_uqueue_qsize(&f->q));
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    note("got=%s qsize=%d", (char *)f->item, (int)co_uqueue_qsize(&f->q));
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_task_put_timeout)
{
    struct tput_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(tput_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "put1=0 put2=TIMEOUT qsize=1 got=1 qsize=0");
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

/* ------------------------------------------------------------ two kernels */

#define ROUNDS 500

struct shared2 { co_uqueue ping, pong; co_uevent done; };

struct ping_frame {
    co_frame co;
    struct shared2 *s;
    void *item;
    int i, rc;
    uint64_t sum;
};

/* Kernel A: send i, expect i + 1 back; then wait for B's "done". */
static co_status pinger(co_task *t, void *arg)
{
    struct ping_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= ROUNDS; f->i++) {
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->s->ping,
                                           (void *)(uintptr_t)f->i));
        if (f->rc < 0) CO_RETURN(f->rc);
        CO_AWAIT(f->rc, co_uqueue_get(t, &f->s->pong, &f->item));
        if (f->rc < 0) CO_RETURN(f->rc);
        if ((uintptr_t)f->item != (uintptr_t)f->i + 1) CO_RETURN(-EPROTO);
        f->sum += (uintptr_t)f->item;
    }
    CO_AWAIT(f->rc, co_uqueue_put(t, &f->s->ping, NULL)); /* stop */
    CO_AWAIT(f->rc, co_uevent_wait(t, &f->s->done));
    CO_RETURN(f->rc < 0 ? f->rc : (int)(f->sum % 100000));
    CO_END;
}

/* Kernel B: answer i with i + 1 until NULL, then set "done". */
static co_status ponger(co_task *t, void *arg)
{
    struct ping_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_uqueue_get(t, &f->s->ping, &f->item));
        if (f->rc < 0) CO_RETURN(f->rc);
        if (!f->item) break;
        f->i++;
        CO_AWAIT(f->rc, co_uqueue_put(t, &f->s->pong,
                                           (void *)((uintptr_t)f->item + 1)));
        if (f->rc < 0) CO_RETURN(f->rc);
    }
    co_uevent_set(&f->s->done);
    CO_RETURN(f->i);
    CO_END;
}

struct kthread { co_func fn; struct ping_frame f; int rc; };

static void *run_kernel(void *arg)
{
    struct kthread *k = arg;
    k->rc = co_run(k->fn, &k->f, sizeof k->f);
    return NULL;
}

START_TEST(test_two_kernels)
{
    static struct shared2 s;
    ck_assert_int_eq(co_uqueue_init(&s.ping, 1), 0);
    ck_assert_int_eq(co_uqueue_init(&s.pong, 0), 0);
    ck_assert_int_eq(co_uevent_init(&s.done), 0);
    struct kthread a = { .fn = pinger, .f = { .s = &s } };
    struct kthread b = { .fn = ponger, .f = { .s = &s } };
    pthread_t ta, tb;
    pthread_create(&tb, NULL, run_kernel, &b);
    pthread_create(&ta, NULL, run_kernel, &a);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    uint64_t sum = 0;
    for (uint64_t i = 2; i <= ROUNDS + 1; i++)
        sum += i;
    ck_assert_int_eq(a.rc, (int)(sum % 100000));
    ck_assert_int_eq(b.rc, ROUNDS);
    ck_assert_int_eq((int)co_uqueue_qsize(&s.ping), 0);
    ck_assert_int_eq((int)co_uqueue_qsize(&s.pong), 0);
    co_uqueue_free(&s.ping);
    co_uqueue_free(&s.pong);
    co_uevent_free(&s.done);
}
END_TEST

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

/* ------------------------------------------------------------ eventfd */

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(test_eventfd)
{
    co_uqueue q;
    void *item;
    ck_assert_int_eq(co_uqueue_init(&q, 0), 0);
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"a", 0), 0);
    int fd = co_uqueue_fd(&q);            /* created with an item queued */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(co_uqueue_fd(&q), fd);
    ck_assert(readable(fd));
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert(!readable(fd));
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"b", 0), 0);
    ck_assert(readable(fd));
    ck_assert_int_eq(co_uqueue_put_thread(&q, (void *)"c", 0), 0);
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert_str_eq(item, "b");
    ck_assert(readable(fd));              /* "c" still pending */
    ck_assert_int_eq(co_uqueue_get_thread(&q, &item, 0), 0);
    ck_assert_str_eq(item, "c");
    ck_assert(!readable(fd));
    co_uqueue_free(&q);
}
END_TEST

/* ------------------------------------------------------------ deadlocks */

/* A task waiting on a universal queue holds the kernel (another thread
 * might feed it): no deadlock is reported, so bound the wait. */
struct hold_frame {
    co_frame co;
    co_uqueue q;
    co_timeout to;
    co_task *g;
    struct getter_frame gf;
    co_event never;
    void *item;
    int rc;
};

static co_status bounded_main(co_task *t, void *arg)
{
    struct hold_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);
    co_timeout_after(t, &f->to, 0.03);
    CO_AWAIT(f->rc, co_uqueue_get(t, &f->q, &f->item));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    co_uqueue_free(&f->q);
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_waiter_holds_kernel)
{
    struct hold_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(bounded_main, &f, sizeof f), -ETIMEDOUT);
}
END_TEST

/* Once the universal waiter is gone (cancelled), its hold is released:
 * a real deadlock is reported again. */
static co_status released_main(co_task *t, void *arg)
{
    struct hold_frame *f = arg;
    CO_BEGIN(t, f);
    co_uqueue_init(&f->q, 0);
    f->gf = (struct getter_frame){ .name = "G", .q = &f->q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_AWAIT(f->rc, co_task_cancel(t, f->g));
    CO_AWAIT(f->rc, co_event_wait(t, &f->never));   /* nobody sets it */
    note("main=%s", rcs(f->rc));
    co_uqueue_free(&f->q);
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_deadlock_still_detected)
{
    struct hold_frame f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(co_run(released_main, &f, sizeof f), -EDEADLK);
    ck_assert_str_eq(lg, "G:get=CANCEL:- G:next=CANCEL main=CANCEL");
}
END_TEST

/* Shutdown cancels a task still waiting on a universal object, and its
 * waiter and hold go with it.  (The queue outlives the run: main's frame
 * is a copy that ends before the getter is cancelled.) */
static co_uqueue leave_q;

static co_status leaver_main(co_task *t, void *arg)
{
    struct hold_frame *f = arg;
    CO_BEGIN(t, f);
    f->gf = (struct getter_frame){ .name = "L", .q = &leave_q };
    CO_SPAWN(t, &f->g, getter, f->gf);
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_END;
}

START_TEST(test_shutdown_cancels_waiter)
{
    struct hold_frame f;
    memset(&f, 0, sizeof f);
    co_uqueue_init(&leave_q, 0);
    ck_assert_int_eq(co_run(leaver_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "L:get=CANCEL:- L:next=CANCEL");
    ck_assert_int_eq(co_uqueue_put_thread(&leave_q, (void *)"z", 0), 0);
    ck_assert_int_eq((int)co_uqueue_qsize(&leave_q), 1);
    co_uqueue_free(&leave_q);
}
END_TEST

/* ------------------------------------------------------------ many waiters */

/* Enough waiting tasks that a wake or an unblock costing a search of the
 * waiters would show (issue 9); the tests check what happens, not speed. */
#define MANY 20000

static unsigned short hits[MANY + 1];  /* per task, or per item */

struct many_frame {
    co_frame co;
    co_uevent *e;
    co_uqueue *q;
    void *item;
    int id, rc;
};

/* Waits once; counts its own wake; returns the wait's result. */
static co_status many_ewaiter(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uevent_wait(t, f->e));
    if (f->rc == 0)
        hits[f->id]++;
    CO_RETURN(f->rc);
    CO_END;
}

/* Gets once; counts the item it got; returns the get's result, or the
 * item's number if wanted (> 0). */
static co_status many_getter(co_task *t, void *arg)
{
    struct many_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    {   /* a block: no local may be live across an await */
        uintptr_t v = (uintptr_t)f->item;
        ck_assert(v >= 1 && v <= MANY);
        hits[v]++;
        CO_RETURN((int)v);
    }
    CO_END;
}

static void *set_event(void *arg)
{
    ck_assert_int_eq(co_uevent_set(arg), 0);
    return NULL;
}

struct putn { co_uqueue *q; int first, n; };

/* Puts items first .. first + n - 1, in order. */
static void *put_n(void *arg)
{
    struct putn *p = arg;
    for (int i = 0; i < p->n; i++)
        ck_assert_int_eq(co_uqueue_put_thread(p->q, (void *)(uintptr_t)(p->first + i),
                                       -1), 0);
    return NULL;
}

struct crowd_frame {
    co_frame co;
    co_uevent e;
    co_uqueue q;
    co_task **tasks;
    struct many_frame mf;
    struct putn pn;
    pthread_t th;
    int i, rc, n;
};

/* MANY tasks running fn, in f->tasks; they run (and block) in the next
 * cycle. */
static void spawn_crowd(co_task *t, struct crowd_frame *f, co_func fn)
{
    for (int i = 0; i < MANY; i++) {
        f->mf = (struct many_frame){ .e = &f->e, .q = &f->q, .id = i + 1 };
        ck_assert_int_gt(co_spawn(t, &f->tasks[i], fn, &f->mf, sizeof f->mf,
                                  NULL), 0);
    }
}

/* One set from a plain thread wakes every waiting task, once. */
static co_status crowd_event_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    memset(hits, 0, sizeof hits);
    ck_assert_int_eq(co_uevent_init(&f->e), 0);
    spawn_crowd(t, f, many_ewaiter);
    CO_AWAIT(f->rc, co_yield(t));        /* they all block first */
    pthread_create(&f->th, NULL, set_event, &f->e);
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    pthread_join(f->th, NULL);
    for (int i = 1; i <= MANY; i++)
        ck_assert_msg(hits[i] == 1, "waiter %d woken %d times", i, hits[i]);
    co_uevent_free(&f->e);
    CO_END;
}

START_TEST(test_many_event_waiters)
{
    struct crowd_frame f = { .rc = 0 };
    f.tasks = calloc(MANY, sizeof *f.tasks);
    ck_assert_ptr_nonnull(f.tasks);
    ck_assert_int_eq(co_run(crowd_event_main, &f, sizeof f), 0);
    free(f.tasks);
}
END_TEST

/* N waiting getters get exactly the N items a thread puts, oldest getter
 * first: getter i gets item i. */
static co_status crowd_get_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    memset(hits, 0, sizeof hits);
    ck_assert_int_eq(co_uqueue_init(&f->q, 0), 0);
    spawn_crowd(t, f, many_getter);
    CO_AWAIT(f->rc, co_yield(t));        /* they all block first */
    f->pn = (struct putn){ &f->q, 1, MANY };
    pthread_create(&f->th, NULL, put_n, &f->pn);
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);
        ck_assert_int_eq(f->rc, f->i + 1);
    }
    pthread_join(f->th, NULL);
    for (int i = 1; i <= MANY; i++)
        ck_assert_msg(hits[i] == 1, "item %d taken %d times", i, hits[i]);
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), 0);
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_many_getters_from_thread)
{
    struct crowd_frame f = { .rc = 0 };
    f.tasks = calloc(MANY, sizeof *f.tasks);
    ck_assert_ptr_nonnull(f.tasks);
    ck_assert_int_eq(co_run(crowd_get_main, &f, sizeof f), 0);
    free(f.tasks);
}
END_TEST

/* Cancel every other waiting getter: the cancelled take nothing, and items
 * put afterwards go to the others, oldest first; the rest stay queued. */
#define EXTRA 5

static co_status crowd_cancel_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    memset(hits, 0, sizeof hits);
    ck_assert_int_eq(co_uqueue_init(&f->q, 0), 0);
    spawn_crowd(t, f, many_getter);
    CO_AWAIT(f->rc, co_yield(t));        /* they all block first */
    for (f->i = 1; f->i < MANY; f->i += 2)         /* the newest first */
        ck_assert_int_eq(co_task_cancel_nowait(f->tasks[MANY - f->i]), 1);
    for (f->i = 1; f->i < MANY; f->i += 2) {
        AWAIT_JOIN(f->rc, t, f->tasks[MANY - f->i]);
        ck_assert_int_eq(f->rc, -ECANCELED);
    }
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), 0);
    f->pn = (struct putn){ &f->q, 1, MANY / 2 + EXTRA };
    pthread_create(&f->th, NULL, put_n, &f->pn);
    for (f->i = 0, f->n = 1; f->i < MANY; f->i += 2, f->n++) {
        AWAIT_JOIN(f->rc, t, f->tasks[f->i]);      /* getter 2k gets k + 1 */
        ck_assert_int_eq(f->rc, f->n);
    }
    pthread_join(f->th, NULL);
    ck_assert_int_eq((int)co_uqueue_qsize(&f->q), EXTRA);
    for (f->i = 0; f->i < EXTRA; f->i++) {
        ck_assert_int_eq(co_uqueue_get_thread(&f->q, &f->mf.item, 0), 0);
        ck_assert_int_eq((int)(uintptr_t)f->mf.item, MANY / 2 + 1 + f->i);
    }
    for (int i = 1; i <= MANY / 2; i++)
        ck_assert_msg(hits[i] == 1, "item %d taken %d times", i, hits[i]);
    co_uqueue_free(&f->q);
    CO_END;
}

START_TEST(test_cancel_many_getters)
{
    struct crowd_frame f = { .rc = 0 };
    f.tasks = calloc(MANY, sizeof *f.tasks);
    ck_assert_ptr_nonnull(f.tasks);
    ck_assert_int_eq(co_run(crowd_cancel_main, &f, sizeof f), 0);
    free(f.tasks);
}
END_TEST

/* The run ends with every getter still waiting: shutdown cancels them all,
 * and none is left in the queue (items put afterwards are queued). */
static co_uqueue crowd_q;

static co_status crowd_leave_main(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < MANY; f->i++) {
        f->mf = (struct many_frame){ .q = &crowd_q };
        ck_assert_int_gt(CO_SPAWN(t, NULL, many_getter, f->mf), 0);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.005));
    CO_END;
}

START_TEST(test_shutdown_many_getters)
{
    struct crowd_frame f = { .rc = 0 };
    struct putn pn = { &crowd_q, 1, MANY };
    ck_assert_int_eq(co_uqueue_init(&crowd_q, 0), 0);
    ck_assert_int_eq(co_run(crowd_leave_main, &f, sizeof f), 0);
    put_n(&pn);
    ck_assert_int_eq((int)co_uqueue_qsize(&crowd_q), MANY);
    co_uqueue_free(&crowd_q);
}
END_TEST

/* ------------------------------------------------------------ one outcome */

/* When a universal call completes (another thread hands it the item, takes
 * its item, sets the event) just as its enclosing region's deadline
 * passes, it reports one outcome, never both (issue 10): the call returns
 * 0 and the region does not count as expired.  To have both come due
 * together, a staller task holds the kernel thread past two deadlines:
 * main's sleep, then the racer's region.  Both are woken in that order in
 * one pass -- the racer by its region's expiry -- and main, running first,
 * has a thread complete the racer's call before the racer runs. */

static void stall_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

struct stall_frame { co_frame co; int rc; };

static co_status staller(co_task *t, void *arg)
{
    struct stall_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 0.02));
    stall_ms(100);                     /* past main's and the racer's */
    CO_END;
}

enum race_op { RACE_PUT, RACE_GET, RACE_WAIT, RACE_JOIN };

struct racer_frame {
    co_frame co;
    enum race_op op;
    double within;
    co_uqueue *q;
    co_uevent *e;
    co_timeout to;
    void *item;
    int rc;
};

/* The call under a region of `within` s; logs its result, the region's,
 * and whether the region counts as expired. */
static co_status racer(co_task *t, void *arg)
{
    struct racer_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, f->within);
    if (f->op == RACE_PUT)
        CO_AWAIT(f->rc, co_uqueue_put(t, f->q, (void *)"p"));
    else if (f->op == RACE_GET)
        CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
    else if (f->op == RACE_JOIN)
        CO_AWAIT(f->rc, co_uqueue_join(t, f->q));
    else
        CO_AWAIT(f->rc, co_uevent_wait(t, f->e));
    note("call=%s", rcs(f->rc));
    if (f->op == RACE_GET && f->rc == 0)
        note("item=%s", (const char *)f->item);
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("end=%s expired=%d", rcs(f->rc), co_timeout_expired(&f->to));
    CO_END;
}

static void *get_one(void *arg)
{
    void *item = NULL;
    ck_assert_int_eq(co_uqueue_get_thread(arg, &item, -1), 0);
    note("thread=%s", (const char *)item);
    return NULL;
}

struct race_frame {
    co_frame co;
    enum race_op op;
    co_uqueue q;
    co_uevent e;
    co_task *r, *s;
    struct racer_frame rf;
    struct stall_frame sf;
    pthread_t th;
    void *item;
    int rc;
};

/* Queue of one: full for a put (holding "a"), empty for a get; for a
 * join, empty with one item ("j") taken and not yet done. */
static void race_setup(struct race_frame *f, double within)
{
    ck_assert_int_eq(co_uqueue_init(&f->q, 1), 0);
    ck_assert_int_eq(co_uevent_init(&f->e), 0);
    if (f->op == RACE_PUT)
        ck_assert_int_eq(co_uqueue_put_thread(&f->q, (void *)"a", 0), 0);
    if (f->op == RACE_JOIN) {
        ck_assert_int_eq(co_uqueue_put_thread(&f->q, (void *)"j", 0), 0);
        ck_assert_int_eq(co_uqueue_get_thread(&f->q, &f->item, 0), 0);
    }
    f->rf = (struct racer_frame){ .op = f->op, .within = within, .q = &f->q,
                                  .e = &f->e };
}

/* What is left: the queue's items, then free everything. */
static void race_teardown(struct race_frame *f)
{
    note("qsize=%d", (int)co_uqueue_qsize(&f->q));
    while (co_uqueue_get_thread(&f->q, &f->item, 0) == 0)
        note("left=%s", (const char *)f->item);
    co_uevent_free(&f->e);
    co_uqueue_free(&f->q);
}

static void *task_done_one(void *arg)
{
    ck_assert_int_eq(co_uqueue_task_done(arg), 0);
    return NULL;
}

/* A thread does the racer's counterpart: takes, puts, sets, or marks the
 * item done. */
static void race_thread(struct race_frame *f)
{
    if (f->op == RACE_PUT)
        pthread_create(&f->th, NULL, get_one, &f->q);
    else if (f->op == RACE_GET)
        pthread_create(&f->th, NULL, put_one, &f->q);
    else if (f->op == RACE_JOIN)
        pthread_create(&f->th, NULL, task_done_one, &f->q);
    else
        pthread_create(&f->th, NULL, set_event, &f->e);
    pthread_join(f->th, NULL);
}

static co_status race_main(co_task *t, void *arg)
{
    struct race_frame *f = arg;
    CO_BEGIN(t, f);
    race_setup(f, 0.06);
    CO_SPAWN(t, &f->r, racer, f->rf);
    CO_SPAWN(t, &f->s, staller, f->sf);
    CO_AWAIT(f->rc, co_yield(t));      /* both block */
    CO_AWAIT(f->rc, co_sleep(t, 0.04));
    race_thread(f);                    /* racer already woken by expiry */
    AWAIT_JOIN(f->rc, t, f->r);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->s);
    ck_assert_int_eq(f->rc, 0);
    race_teardown(f);
    CO_END;
}

START_TEST(test_put_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_PUT };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "thread=a call=0 end=0 expired=0 qsize=1 left=p");
}
END_TEST

START_TEST(test_get_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_GET };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=0 item=x end=0 expired=0 qsize=0");
}
END_TEST

START_TEST(test_event_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_WAIT };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=0 end=0 expired=0 qsize=0");
}
END_TEST

START_TEST(test_join_completes_at_expiry)
{
    struct race_frame f = { .op = RACE_JOIN };
    ck_assert_int_eq(co_run(race_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=0 end=0 expired=0 qsize=0");
}
END_TEST

/* The converse: a call whose region expires first, with nothing handed
 * over, times out -- both the call and the region say so -- and took
 * nothing: an item put afterwards stays queued for the next getter; a put
 * that timed out left the queue as it was. */
static co_status expire_main(co_task *t, void *arg)
{
    struct race_frame *f = arg;
    CO_BEGIN(t, f);
    race_setup(f, 0.02);
    CO_SPAWN(t, &f->r, racer, f->rf);
    AWAIT_JOIN(f->rc, t, f->r);        /* it timed out */
    ck_assert_int_eq(f->rc, 0);
    race_thread(f);                    /* nobody waits now */
    race_teardown(f);
    CO_END;
}

START_TEST(test_timed_out_calls_take_nothing)
{
    struct race_frame f = { .op = RACE_PUT };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    f = (struct race_frame){ .op = RACE_GET };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    f = (struct race_frame){ .op = RACE_WAIT };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    f = (struct race_frame){ .op = RACE_JOIN };
    ck_assert_int_eq(co_run(expire_main, &f, sizeof f), 0);
    ck_assert_str_eq(lg, "call=TIMEOUT end=TIMEOUT expired=1 thread=a qsize=0 "
                         "call=TIMEOUT end=TIMEOUT expired=1 qsize=1 left=x "
                         "call=TIMEOUT end=TIMEOUT expired=1 qsize=0 "
                         "call=TIMEOUT end=TIMEOUT expired=1 qsize=0");
}
END_TEST

Suite *universal_suite(void)
{
    Suite *s = suite_create("universal");
    TCase *tc = tcase_create("universal");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_post_from_thread);
    tcase_add_test(tc, test_post_before_run_and_unpost);
    tcase_add_test(tc, test_threads_feed_tasks);
    tcase_add_test(tc, test_tasks_feed_threads);
    tcase_add_test(tc, test_thread_get_timeout);
    tcase_add_test(tc, test_task_get_cancelled);
    tcase_add_test(tc, test_task_get_timeout);
    tcase_add_test(tc, test_task_put_timeout);
    tcase_add_test(tc, test_event_from_thread);
    tcase_add_test(tc, test_two_kernels);
    tcase_add_test(tc, test_uqueue_nowait_and_join_from_thread);
    tcase_add_test(tc, test_uqueue_join_from_thread);
    tcase_add_test(tc, test_uqueue_join_task);
    tcase_add_test(tc, test_uqueue_join_task_timeout_and_cancel);
    tcase_add_test(tc, test_eventfd);
    tcase_add_test(tc, test_waiter_holds_kernel);
    tcase_add_test(tc, test_deadlock_still_detected);
    tcase_add_test(tc, test_shutdown_cancels_waiter);
    tcase_add_test(tc, test_many_event_waiters);
    tcase_add_test(tc, test_many_getters_from_thread);
    tcase_add_test(tc, test_cancel_many_getters);
    tcase_add_test(tc, test_shutdown_many_getters);
    tcase_add_test(tc, test_put_completes_at_expiry);
    tcase_add_test(tc, test_get_completes_at_expiry);
    tcase_add_test(tc, test_event_completes_at_expiry);
    tcase_add_test(tc, test_join_completes_at_expiry);
    tcase_add_test(tc, test_timed_out_calls_take_nothing);
    suite_add_tcase(s, tc);
    return s;
}
