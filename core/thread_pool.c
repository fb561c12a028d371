/*
 * thread_pool.c -- the kernel's worker threads (see thread_pool.h).
 *
 * Ownership is the whole design.  The caller's co_thread_call lives in its
 * frame, which is gone once a cancelled task has moved on, while the
 * thread may still be running the function.  So the thread never sees the
 * caller's record: the call is copied into a job the pool owns, and the
 * thread reads and writes only the job.  Jobs are recycled through a free
 * list, so a steady stream of calls allocates nothing (a job is made only
 * when more calls are in flight than ever before).
 *
 * A job's life, and who may touch what:
 *   - pool->lock guards `state` and the FIFOs a queued job sits in.  A
 *     queued job that its task gives up on is simply taken out: no
 *     thread has seen it.
 *   - A thread runs fn unlocked, stores the result under the lock, marks
 *     the job finished and posts it to the kernel (core/async.h).  That
 *     post is its last touch: the kernel may recycle the job as soon as
 *     the post's callback has started.
 *   - Everything else is the kernel thread's alone: `done` (the post ran)
 *     and `abandoned` (the task left).  Both change only in the kernel
 *     thread, so the two ends cannot race: when the task is re-evaluated,
 *     either the post has run (done: the call completed, even if a
 *     cancellation or a timeout woke the task -- co_wait_completed, one
 *     outcome, as the universal queue does) or it has not, and the job is
 *     marked abandoned; the post's callback then hands the result to the
 *     cleanup callback and recycles the job.
 *
 * block_in_thread: a "lane" per function being called.  The first call of
 * a lane goes through the pool's FIFO like any other; later calls of the
 * same function wait in the lane, and the thread that finishes one call
 * takes the lane's next itself, so a lane never holds more than one thread.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "alloc_impl.h"
#include "kernel_impl.h"
#include "thread_pool_impl.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

typedef struct co__job co__job;
typedef struct co__lane co__lane;

struct co__job {
    co_waitq q;                /* the task blocks here, alone */
    co__job *next, *prev;      /* the pool's or a lane's FIFO (lock) */
    co__job *next_all;         /* every job made (kernel thread) */
    co__job *next_free;        /* on the free list (kernel thread) */
    struct co_thread_pool *pool;
    co__lane *lane;            /* block_in_thread's lane, or NULL */
    co_thread_call_fn fn;           /* copied from the caller's record */
    void *arg;
    co_thread_call_cleanup cleanup;
    intptr_t result;           /* written by the thread before its post */
    int state;                 /* JOB_*, under the lock */
    int in_lane;               /* queued in its lane, not the pool (lock) */
    int in_use;                /* kernel thread: not on the free list */
    int done;                  /* kernel thread: the post has run */
    int abandoned;             /* kernel thread: its task went without it */
    int detached;              /* no task ever waited (co__thread_pool_start):
                                  run even if the pool ends first */
    co_post post;
};

/* One function's serialised calls: those waiting behind the one queued
 * or running.  Exists while any is (under the lock). */
struct co__lane {
    co_thread_call_fn fn;
    co__job *head, *tail;
    co__lane *next;
};

typedef struct co__worker {
    pthread_t th;
    struct co_thread_pool *pool;
    struct co__worker *next;
    int exited;                /* ended while idle: to be joined (lock) */
} co__worker;

/* An idle thread ends after this long without work (a burst of calls
 * should not leave 64 threads behind for the program's lifetime). */
#define CO__THREAD_IDLE_NS (30 * 1000000000LL)

struct co_thread_pool {
    co_kernel *kernel;
    pthread_mutex_t lock;
    pthread_cond_t work;       /* idle threads wait here */
    co__job *head, *tail;      /* calls waiting for any thread */
    int npending;              /* their number */
    co__lane *lanes;
    co__worker *workers;       /* every thread started, for the join */
    int nthreads, nidle, max, stopping;
    int nexited;               /* workers ended while idle, not joined yet */
    int64_t idle_ns;           /* see CO__THREAD_IDLE_NS */
    co__job *all, *free;       /* kernel thread */
};

/* ------------------------------------------------------------ FIFOs */

static void fifo_push(co__job **head, co__job **tail, co__job *j)
{
    j->next = NULL;
    j->prev = *tail;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void fifo_remove(co__job **head, co__job **tail, co__job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        *tail = j->prev;
    j->next = j->prev = NULL;
}

/* Under the lock: the lane's call in the pool (queued or running) is
 * over.  Its next call, taken out of the lane, or NULL with the lane gone. */
static co__job *lane_next(struct co_thread_pool *p, co__lane *lane)
{
    co__job *j = lane->head;
    if (j) {
        fifo_remove(&lane->head, &lane->tail, j);
        j->in_lane = 0;
        return j;
    }
    for (co__lane **l = &p->lanes; *l; l = &(*l)->next)
        if (*l == lane) {
            *l = lane->next;
            break;
        }
    free(lane);
    return NULL;
}

/* ------------------------------------------------------------ workers */

static struct timespec idle_deadline(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ns += ts.tv_nsec;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

static void *worker_main(void *arg)
{
    co__worker *w = arg;
    struct co_thread_pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct timespec until = idle_deadline(p->idle_ns);
        int idle_end = 0;
        while (!p->head && !p->stopping && p->nthreads <= p->max) {
            p->nidle++;
            int rc = pthread_cond_timedwait(&p->work, &p->lock, &until);
            p->nidle--;
            if (rc == ETIMEDOUT && !p->head) {
                idle_end = 1;
                break;
            }
        }
        if (idle_end) {                /* the kernel joins it (reap) */
            w->exited = 1;
            p->nexited++;
            break;
        }
        if (p->stopping || p->nthreads > p->max)   /* bound lowered */
            break;
        co__job *j = p->head;
        fifo_remove(&p->head, &p->tail, j);
        p->npending--;
        while (j) {
            j->state = JOB_RUNNING;
            pthread_mutex_unlock(&p->lock);
            intptr_t r = j->fn(j->arg);
            pthread_mutex_lock(&p->lock);
            j->result = r;
            j->state = JOB_FINISHED;
            co__job *next = j->lane ? lane_next(p, j->lane) : NULL;
            co_kernel_post(p->kernel, &j->post);   /* last touch of j */
            j = p->stopping ? NULL : next;
        }
    }
    p->nthreads--;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Under the lock: one more thread.  Signals stay with the program's own
 * threads: a worker blocks them all. */
static int start_worker(struct co_thread_pool *p)
{
    co__worker *w = co__alloc(sizeof *w);
    if (!w)
        return -ENOMEM;
    w->pool = p;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->exited = 0;
    int rc = pthread_create(&w->th, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free(w);
        return -rc;
    }
    w->next = p->workers;
    p->workers = w;
    p->nthreads++;
    return 0;
}

/* Under the lock: join the threads that ended while idle.  Each set
 * `exited` and released the lock as its last steps, so the joins are
 * immediate. */
static void reap(struct co_thread_pool *p)
{
    if (!p->nexited)                /* the common case: nothing to walk */
        return;
    p->nexited = 0;
    for (co__worker **l = &p->workers; *l;) {
        co__worker *w = *l;
        if (!w->exited) {
            l = &w->next;
            continue;
        }
        *l = w->next;
        pthread_join(w->th, NULL);
        free(w);
    }
}

/* ------------------------------------------------------------ the pool */

static struct co_thread_pool *pool_of(co_kernel *k)
{
    if (k->threads)
        return k->threads;
    struct co_thread_pool *p = co__alloc_zeroed(1, sizeof *p);
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_condattr_t a;              /* idle deadlines: monotonic */
    int rc = pthread_condattr_init(&a);
    if (rc == 0) {
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        rc = pthread_cond_init(&p->work, &a);
        pthread_condattr_destroy(&a);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    p->idle_ns = CO__THREAD_IDLE_NS;
    p->kernel = k;
    p->max = CO_THREADS_DEFAULT_MAX;
    return k->threads = p;
}

int co_kernel_set_max_threads(co_kernel *k, int n)
{
    if (!k || n < 1)
        return -EINVAL;
    struct co_thread_pool *p = pool_of(k);
    if (!p)
        return -ENOMEM;
    pthread_mutex_lock(&p->lock);
    p->max = n;
    pthread_cond_broadcast(&p->work);  /* idle threads over it end */
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int co__thread_pool_set_idle(co_kernel *k, double seconds)
{
    struct co_thread_pool *p = k ? pool_of(k) : NULL;
    if (!p || !(seconds > 0))
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    p->idle_ns = (int64_t)(seconds * 1e9);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int co_kernel_thread_count(co_kernel *k)
{
    if (!k || !k->threads)
        return 0;
    pthread_mutex_lock(&k->threads->lock);
    int n = k->threads->nthreads;
    pthread_mutex_unlock(&k->threads->lock);
    return n;
}

static void recycle(struct co_thread_pool *p, co__job *j)
{
    j->in_use = 0;
    j->next_free = p->free;
    p->free = j;
}

/* The kernel thread runs this when a thread has finished j. */
static void on_done(void *arg)
{
    co__job *j = arg;
    j->done = 1;
    if (j->abandoned) {
        if (j->cleanup)
            j->cleanup(j->arg, j->result);
        recycle(j->pool, j);
        return;
    }
    co_waitq_wake_one(&j->q, 0);       /* none if a cancel woke it */
}

static co__job *new_job(struct co_thread_pool *p, const co_thread_call *c)
{
    co__job *j = p->free;
    if (j) {
        p->free = j->next_free;
    } else {
        if (!(j = co__alloc(sizeof *j)))
            return NULL;
        j->next_all = p->all;
        p->all = j;
    }
    co__job *keep = j->next_all;
    *j = (co__job){ .next_all = keep, .pool = p, .fn = c->fn, .arg = c->arg,
                    .cleanup = c->cleanup, .in_use = 1 };
    co_waitq_init(&j->q);
    co_post_init(&j->post, on_done, j);
    return j;
}

/* Queue j (on its function's lane if serial) and make sure a thread will
 * take it.  0, -ENOMEM or -EAGAIN (no thread and none can be made). */
static int submit(struct co_thread_pool *p, co__job *j, int serial)
{
    pthread_mutex_lock(&p->lock);
    if (serial) {
        co__lane *lane = p->lanes;
        while (lane && lane->fn != j->fn)
            lane = lane->next;
        if (lane) {                     /* its turn comes from the thread */
            j->lane = lane;
            j->in_lane = 1;
            fifo_push(&lane->head, &lane->tail, j);
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        if (!(lane = co__alloc_zeroed(1, sizeof *lane))) {
            pthread_mutex_unlock(&p->lock);
            return -ENOMEM;
        }
        lane->fn = j->fn;
        lane->next = p->lanes;
        p->lanes = lane;
        j->lane = lane;
    }
    reap(p);
    fifo_push(&p->head, &p->tail, j);
    p->npending++;
    int rc = 0;
    if (p->npending > p->nidle && p->nthreads < p->max)
        rc = start_worker(p);
    if (rc < 0 && p->nthreads > 0)
        rc = 0;                         /* it waits for a busy thread */
    if (rc < 0) {
        fifo_remove(&p->head, &p->tail, j);
        p->npending--;
        if (j->lane)
            lane_next(p, j->lane);      /* empty: the lane goes */
    } else {
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    return rc == -ENOMEM ? -ENOMEM : rc < 0 ? -EAGAIN : 0;
}

/* Under the lock: take queued j out of its FIFO; a lane's head call that
 * leaves hands the lane's turn to the next. */
static void unqueue(struct co_thread_pool *p, co__job *j)
{
    if (j->in_lane) {
        fifo_remove(&j->lane->head, &j->lane->tail, j);
        return;
    }
    fifo_remove(&p->head, &p->tail, j);
    p->npending--;
    if (j->lane) {
        co__job *next = lane_next(p, j->lane);
        if (next) {
            fifo_push(&p->head, &p->tail, next);
            p->npending++;
            pthread_cond_signal(&p->work);
        }
    }
}

/* ------------------------------------------------------------ the calls */

void co_thread_call_init(co_thread_call *c, co_thread_call_fn fn, void *arg,
                         co_thread_call_cleanup cleanup)
{
    if (c)
        *c = (co_thread_call){ .fn = fn, .arg = arg, .cleanup = cleanup };
}

static int result_rc(intptr_t r)
{
    if (r >= 0)
        return 0;
    return r > INT_MIN ? (int)r : -ERANGE;
}

/* The re-evaluation after a wake: the call's outcome. */
static int finish(co_task *self, co__job *j, co_thread_call *call)
{
    struct co_thread_pool *p = j->pool;
    int rc;
    co_kernel_unhold(p->kernel);
    if (j->done) {                     /* it ran, whatever woke us */
        co_wait_completed(self);
        call->result = j->result;
        call->arg = j->arg;
        rc = result_rc(j->result);
        recycle(p, j);
        return rc;
    }
    pthread_mutex_lock(&p->lock);
    int queued = j->state == JOB_QUEUED;
    if (queued)
        unqueue(p, j);
    pthread_mutex_unlock(&p->lock);
    if (queued) {                      /* no thread saw it */
        if (j->cleanup)
            j->cleanup(j->arg, -ECANCELED);
        recycle(p, j);
    }
    else
        j->abandoned = 1;              /* on_done cleans up */
    if (j->cleanup)
        call->arg = NULL;              /* the cleanup's now */
    co_wait_enter(self, &rc);
    return rc;
}

/* A call refused before it reached the pool: its cleanup takes arg at
 * once, as it would have once abandoned, so that an error from
 * co_run_in_thread always means the same thing for arg. */
static int refused(co_thread_call *call, int rc)
{
    if (call && call->cleanup) {
        call->cleanup(call->arg, -ECANCELED);
        call->arg = NULL;
    }
    return rc;
}

static co_status run(co_task *self, co_thread_call *call, int serial,
                     const char *func)
{
    int rc;
    co_waitq *q;
    if (co_wait_resumed(self) && call && (q = co_wait_solo_queue(self)))
        return finish(self, (co__job *)(void *)q, call);   /* q is first */
    if (co__wait_begin(self, call && call->fn, &rc, func))
        return refused(call, rc);
    co_kernel *k = co_current_kernel();
    struct co_thread_pool *p = pool_of(k);
    co__job *j = p ? new_job(p, call) : NULL;
    if (!j)
        return refused(call, -ENOMEM);
    if ((rc = submit(p, j, serial)) < 0) {
        recycle(p, j);
        return refused(call, rc);
    }
    co_kernel_hold(k);                 /* a thread will post: no deadlock */
    return co_block(self, &j->q, CO_NO_DEADLINE);
}

/* A call nobody waits for: abandoned from the start, so on_done (or the
 * pool's end) hands the result to `done`. */
int co__thread_pool_start(co_kernel *k, co_thread_call_fn fn, void *arg,
                          co_thread_call_cleanup done)
{
    struct co_thread_pool *p = k ? pool_of(k) : NULL;
    co_thread_call c;
    co_thread_call_init(&c, fn, arg, done);
    co__job *j = p ? new_job(p, &c) : NULL;
    if (!j)
        return -ENOMEM;
    j->abandoned = j->detached = 1;
    int rc = submit(p, j, 0);
    if (rc < 0)
        recycle(p, j);
    return rc;
}

co_status co_run_in_thread(co_task *self, co_thread_call *call)
{
    return run(self, call, 0, "co_run_in_thread");
}

co_status co_block_in_thread(co_task *self, co_thread_call *call)
{
    return run(self, call, 1, "co_block_in_thread");
}

/* ------------------------------------------------------------ the end */

void co__thread_pool_free(co_kernel *k)
{
    struct co_thread_pool *p = k->threads;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (co__worker *w = p->workers, *next; w; w = next) {
        next = w->next;
        pthread_join(w->th, NULL);
        free(w);
    }
    /* No thread left: results nobody took go to their cleanup.  A call
     * no task waited for and no thread started yet -- a file's write
     * behind, which its writer was told had gone -- runs here, in the
     * kernel's thread, rather than be lost; one a task abandoned is
     * dropped. */
    for (co__job *j = p->all, *next; j; j = next) {
        next = j->next_all;
        co_kernel_unpost(k, &j->post);
        if (j->in_use) {
            intptr_t r = j->state == JOB_FINISHED ? j->result : -ECANCELED;
            if (j->state == JOB_QUEUED && j->detached)
                r = j->fn(j->arg);
            if (j->cleanup)
                j->cleanup(j->arg, r);
        }
        free(j);
    }
    while (p->lanes) {
        co__lane *l = p->lanes;
        p->lanes = l->next;
        free(l);
    }
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
    k->threads = NULL;
}
