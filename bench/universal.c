/*
 * universal.c -- waking many tasks through the universal (thread-safe)
 * event and queue: the cost per waiting task, and how it scales.
 *
 * Each figure is nanoseconds per waiting task, from the moment a plain
 * thread is let go to the moment the last of N waiting tasks has run:
 *
 *   uevent set      N tasks wait in co_uevent_wait; the thread calls
 *                   co_uevent_set once.  Reference: the same N tasks
 *                   waiting on a kernel-only co_event (sync/event.h), set
 *                   by a callback the thread posts to the kernel
 *                   (co_kernel_post_fn) -- one post, N direct wakes.
 *   uqueue puts     N tasks wait in co_uqueue_get; the thread puts N
 *                   items (co_uqueue_put_thread), one to each, oldest first.
 *                   Reference: N tasks waiting in co_queue_get, served by N
 *                   co_queue_put from a task of the same kernel (a
 *                   kernel-only queue cannot be fed from a thread).
 *
 * at N = 10k and N = 100k.  While the thread works, the kernel's thread is
 * held (its main task joins the thread), then runs every woken task: the
 * work is the same as when both run at once, without the lock contention
 * between two threads, whose cost on a shared machine depends on how much
 * the two overlap (more at 100k than at 10k) rather than on N.  The last
 * row of each object shows that case: 100k with both threads running.
 *
 * The targets are on scaling: the cost per waiter at 100k over the cost
 * per waiter at 10k, both measured in this run, at most 1.5 -- every wake
 * and every unblock is O(1), so the total is linear in N (it was
 * quadratic: 9 s for one set to 100k waiters, a ratio of 10).  The ratios
 * against the kernel-only objects are shown without a target: they are
 * the price of the mutex and of one post to the kernel per waiter.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "core/async.h"
#include "sync/universal.h"

#define SMALL 10000L
#define LARGE 100000L
#define MAX_SCALING 1.5

enum kind { EVENT, UEVENT, QUEUE, UQUEUE };

/* What the tasks and the thread of one run share. */
struct shared {
    enum kind kind;
    long n;                     /* waiting tasks */
    int serial;                 /* the kernel thread waits for the thread */
    co_kernel *kernel;
    co_event ev;                /* EVENT */
    co_uevent uev;              /* UEVENT */
    co_queue queue;             /* QUEUE */
    co_uqueue uq;               /* UQUEUE */
    sem_t go;                   /* main lets the thread go */
    long woken;                 /* waiters that have run */
    uint64_t sum;               /* of the items the getters got */
    co_event all_woken;         /* set by the last waiter */
};

struct waiter_frame {
    co_frame co;
    struct shared *s;
    void *item;
    int rc;
};

/* ------------------------------------------------------------ waiters */

static co_status wait_once(co_task *t, struct waiter_frame *f)
{
    struct shared *s = f->s;
    switch (s->kind) {
    case EVENT:  return co_event_wait(t, &s->ev);
    case UEVENT: return co_uevent_wait(t, &s->uev);
    case QUEUE:  return co_queue_get(t, &s->queue, &f->item);
    default:     return co_uqueue_get(t, &s->uq, &f->item);
    }
}

static co_status waiter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_once(t, f));
    if (f->rc < 0)
        bench_fail("waiter: %s", co_strerror(f->rc));
    f->s->sum += (uintptr_t)f->item;
    if (++f->s->woken == f->s->n)
        co_event_set(&f->s->all_woken);
    CO_END;
}

/* ------------------------------------------------------------ the thread */

static void set_event(void *arg)
{
    co_event_set(arg);
}

static void *release(void *arg)
{
    struct shared *s = arg;
    sem_wait(&s->go);
    if (s->kind == EVENT) {
        if (co_kernel_post_fn(s->kernel, set_event, &s->ev) < 0)
            bench_fail("post failed");
    } else if (s->kind == UEVENT) {
        co_uevent_set(&s->uev);
    } else if (s->kind == UQUEUE) {
        for (long i = 1; i <= s->n; i++)
            if (co_uqueue_put_thread(&s->uq, (void *)(uintptr_t)i, -1) < 0)
                bench_fail("co_uqueue_put_thread failed");
    }
    return NULL;
}

/* ------------------------------------------------------------ running */

struct run_frame {
    co_frame co;
    struct shared *s;
    pthread_t th;
    long i;
    int rc;
    int64_t t0, *elapsed;       /* out: co_run runs a copy of the frame */
};

static co_status run_main(co_task *t, void *arg)
{
    struct run_frame *f = arg;
    CO_BEGIN(t, f);
    f->s->kernel = co_current_kernel();
    for (f->i = 0; f->i < f->s->n; f->i++) {
        struct waiter_frame w = { .s = f->s };
        if (co_spawn(t, NULL, waiter, &w, sizeof w,
                     &(co_spawn_opts){ .flags = CO_DETACHED }) < 0)
            CO_RETURN(-ENOMEM);
    }
    CO_AWAIT(f->rc, co_yield(t));       /* every waiter runs and blocks */
    if (pthread_create(&f->th, NULL, release, f->s) != 0)
        CO_RETURN(-EAGAIN);
    co_kernel_hold(f->s->kernel);       /* the thread will wake us */
    f->t0 = bench_now_ns();
    sem_post(&f->s->go);
    if (f->s->serial)                   /* hold the kernel thread meanwhile */
        pthread_join(f->th, NULL);
    if (f->s->kind == QUEUE)
        for (f->i = 1; f->i <= f->s->n; f->i++) {
            CO_AWAIT(f->rc, co_queue_put(t, &f->s->queue,
                                         (void *)(uintptr_t)f->i));
            if (f->rc < 0)
                CO_RETURN(f->rc);
        }
    CO_AWAIT(f->rc, co_event_wait(t, &f->s->all_woken));
    *f->elapsed = bench_now_ns() - f->t0;
    co_kernel_unhold(f->s->kernel);
    if (!f->s->serial)
        pthread_join(f->th, NULL);
    CO_RETURN(f->rc);
    CO_END;
}

struct wake_case {
    enum kind kind;
    long n;
    int serial;
};

/* One run: ns per waiting task. */
static double wake_ns(void *arg)
{
    const struct wake_case *c = arg;
    static struct shared s;
    int64_t elapsed = 0;
    s = (struct shared){ .kind = c->kind, .n = c->n, .serial = c->serial };
    if (sem_init(&s.go, 0, 0) < 0 || co_uevent_init(&s.uev) < 0 ||
        co_uqueue_init(&s.uq, 0) < 0 ||
        co_queue_init(&s.queue, CO_QUEUE_FIFO, 0) < 0)
        bench_fail("set-up failed");
    struct run_frame f = { .s = &s, .elapsed = &elapsed };
    int rc = co_run(run_main, &f, sizeof f);
    if (rc != 0 || s.woken != c->n)
        bench_fail("%s, %ld of %ld waiters ran", co_strerror(rc), s.woken,
                   c->n);
    if ((c->kind == QUEUE || c->kind == UQUEUE) &&
        s.sum != (uint64_t)c->n * (uint64_t)(c->n + 1) / 2)
        bench_fail("items lost or duplicated");
    co_queue_free(&s.queue);
    co_uqueue_free(&s.uq);
    co_uevent_free(&s.uev);
    sem_destroy(&s.go);
    return (double)elapsed / (double)c->n;
}

static void row(const char *what, long n, const char *how, bench_stat v,
                const char *ref_name, long ref_n, bench_stat ref,
                double target)
{
    char metric[96], ref_label[64];
    snprintf(metric, sizeof metric, "%s, N=%ldk%s (per waiter)", what,
             n / 1000, how);
    snprintf(ref_label, sizeof ref_label, "%s %ldk", ref_name, ref_n / 1000);
    bench_row_ratio("univ", metric, "ns", v, ref_label, ref, target);
}

/* The reference and the subject at SMALL and LARGE, and the subject at
 * LARGE with the kernel running alongside the thread; interleaved. */
static void measure(enum kind reference, enum kind subject, const char *what,
                    const char *ref_name)
{
    const struct wake_case wc[] = {
        { reference, SMALL, 1 }, { subject, SMALL, 1 },
        { reference, LARGE, 1 }, { subject, LARGE, 1 },
        { subject, LARGE, 0 },
    };
    bench_case cases[5];
    bench_stat s[5];
    for (int i = 0; i < 5; i++)
        cases[i] = (bench_case){ what, wake_ns, (void *)&wc[i] };
    bench_interleave(cases, 5, BENCH_RUNS, s);

    row(what, SMALL, "", s[1], ref_name, SMALL, s[0], BENCH_NO_TARGET);
    row(what, LARGE, "", s[3], ref_name, LARGE, s[2], BENCH_NO_TARGET);
    row(what, LARGE, " vs 10k", s[3], "same", SMALL, s[1], MAX_SCALING);
    row(what, LARGE, " in parallel", s[4], "held", LARGE, s[3],
        BENCH_NO_TARGET);
}

int main(void)
{
    printf("universal: a thread wakes N waiting tasks, N = %ld and %ld; ns "
           "per task, %d runs each (median [min .. max])\n", SMALL, LARGE,
           BENCH_RUNS);
    measure(EVENT, UEVENT, "uevent set by a thread", "event");
    measure(QUEUE, UQUEUE, "uqueue puts by a thread", "queue");
    return 0;
}
