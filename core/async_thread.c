/*
 * async_thread.c -- a real OS thread backed by a task (Curio's
 * spawn_thread), whose awaits run inside that task (Curio's AWAIT).
 *
 * The thread and its backing task talk through one small record, under
 * its mutex: the thread asks (a coroutine and its frame), the task
 * answers (the result).  The thread wakes the task by posting the
 * record's node to the kernel (core/async.h, the one way in from another
 * thread); the callback wakes the task from a wait queue that only it
 * ever waits on, so a stale post finds nobody and does nothing.  The task
 * answers under the mutex and signals the condition variable the thread
 * waits on.
 *
 * Running the awaited coroutine in the backing task itself, rather than in
 * a task spawned per await, is what makes cancellation and timeouts right
 * with no code of their own: a cancellation of the backing task is the
 * task's sticky cancellation, delivered to whatever the thread awaits
 * next; a region the thread opens is the task's region.  Between awaits
 * the task waits for the next request with cancellation disabled, so
 * nothing is delivered (and nothing lost) while the thread runs on its
 * own: it all reaches the thread's next await.
 *
 * States, under the mutex: IDLE (the thread runs), ASKED (a request
 * waits for the task), ANSWERED (the thread has not yet taken the
 * answer), EXITED (the function returned; the thread is about to end).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "async.h"
#include "alloc_impl.h"
#include "async_thread.h"
#include "cancel.h"
#include "kernel.h"
#include "waits.h"
#include "../sync/lock.h"
#include "../sync/queue.h"

enum { IDLE, ASKED, ANSWERED, EXITED };

struct co_thread {
    pthread_mutex_t lock;
    pthread_cond_t answered;   /* the thread waits here for its answer */
    int state;                 /* under lock, as the three below */
    co_func req_fn;
    void *req_frame;
    int answer;
    int result;                /* the function's, once EXITED */
    /* Set before the thread starts, then only read. */
    co_kernel *kernel;
    co_thread_fn fn;
    void *arg;
    pthread_t thread;
    int started;               /* a thread to join */
    /* Kernel thread only. */
    co_waitq idle;             /* the backing task, between requests */
    co_post post;              /* wakes it */
};

static _Thread_local co_thread *current;

static int state_of(co_thread *th)
{
    pthread_mutex_lock(&th->lock);
    int st = th->state;
    pthread_mutex_unlock(&th->lock);
    return st;
}

/* ------------------------------------------------------------ kernel side */

/* The post's callback: in the kernel's thread. */
static void wake_idle(void *arg)
{
    co_thread *th = arg;
    co_waitq_wake_one(&th->idle, 0);
}

/* Block until a post wakes the task (cancellation is disabled here, so
 * only a wake ends it). */
static co_status block_idle(co_task *self, co_thread *th)
{
    int rc;
    if (co_wait_enter(self, &rc))
        return rc;
    return co_block(self, &th->idle, CO_NO_DEADLINE);
}

static void answer(co_thread *th, int rc)
{
    pthread_mutex_lock(&th->lock);
    th->answer = rc;
    th->state = ANSWERED;
    pthread_cond_signal(&th->answered);
    pthread_mutex_unlock(&th->lock);
}

static void thread_free(co_thread *th)
{
    pthread_cond_destroy(&th->answered);
    pthread_mutex_destroy(&th->lock);
    free(th);
}

struct backing_frame {
    co_frame co;
    co_thread *th;
    int rc;
};

/* The backing task: serve the thread's requests until its function
 * returns, then join it and end with its result.  The request's fields
 * are read without the lock: the thread wrote them before ASKED, which
 * this task read under the lock, and leaves them alone until answered. */
static co_status backing(co_task *t, void *arg)
{
    struct backing_frame *f = arg;
    co_thread *th = f->th;
    int st;
    CO_BEGIN(t, f);
    co_disable_cancellation(t);
    for (;;) {
        st = state_of(th);
        if (st == EXITED)
            break;
        if (st == ASKED) {
            co_enable_cancellation(t);
            CO_AWAIT(f->rc, th->req_fn(t, th->req_frame));
            co_disable_cancellation(t);
            answer(f->th, f->rc);
        } else {
            CO_AWAIT(f->rc, block_idle(t, th));
        }
    }
    co_enable_cancellation(t);
    /* EXITED is the thread's last act but one (the post): the join waits
     * microseconds, and afterwards nothing can touch th. */
    if (th->started)
        pthread_join(th->thread, NULL);
    co_kernel_unpost(th->kernel, &th->post);
    co_kernel_unhold(th->kernel);
    f->rc = th->result;
    thread_free(th);
    f->th = NULL;
    CO_RETURN(f->rc);
    CO_END;
}

/* ------------------------------------------------------------ thread side */

static void *trampoline(void *arg)
{
    co_thread *th = arg;
    current = th;
    int r = th->fn(th, th->arg);
    current = NULL;
    pthread_mutex_lock(&th->lock);
    th->result = r;
    th->state = EXITED;
    pthread_mutex_unlock(&th->lock);
    co_kernel_post(th->kernel, &th->post);
    return NULL;
}

int co_spawn_thread(co_task *self, co_task **out, co_thread_fn fn, void *arg)
{
    if (out)
        *out = NULL;
    if (!self || !fn || !co_current_kernel())
        return -EINVAL;
    co_thread *th = co__alloc_zeroed(1, sizeof *th);
    if (!th)
        return -ENOMEM;
    if (pthread_mutex_init(&th->lock, NULL) != 0) {
        free(th);
        return -ENOMEM;
    }
    if (pthread_cond_init(&th->answered, NULL) != 0) {
        pthread_mutex_destroy(&th->lock);
        free(th);
        return -ENOMEM;
    }
    th->kernel = co_current_kernel();
    th->fn = fn;
    th->arg = arg;
    co_waitq_init(&th->idle);
    co_post_init(&th->post, wake_idle, th);

    co_task *task;
    struct backing_frame bf = { .th = th };
    int id = co_spawn(self, &task, backing, &bf, sizeof bf,
                      &(co_spawn_opts){ .name = "thread" });
    if (id < 0) {
        thread_free(th);
        return id;
    }
    co_kernel_hold(th->kernel);        /* the task unholds when it ends */

    /* Signals stay with the kernel's thread (its signal handling). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&th->thread, NULL, trampoline, th);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        /* No thread: the task ends at its first run, quietly. */
        th->state = EXITED;
        th->result = -ECANCELED;
        co_task_cancel_nowait(task);
        co_task_detach(task);
        return -EAGAIN;
    }
    th->started = 1;
    if (out)
        *out = task;
    return id;
}

co_thread *co_thread_current(void)
{
    return current;
}

int co_thread_await(co_thread *th, co_func fn, void *frame, size_t size)
{
    if (!th || !fn || !frame || size < sizeof(co_frame))
        return -EINVAL;
    if (current != th)
        return co_current_kernel() == th->kernel ? -EDEADLK : -EPERM;
    co_frame *cf = frame;
    cf->pc = 0;
    cf->ret = 0;
    cf->in_finally = 0;
    pthread_mutex_lock(&th->lock);
    th->req_fn = fn;
    th->req_frame = frame;
    th->state = ASKED;
    pthread_mutex_unlock(&th->lock);
    co_kernel_post(th->kernel, &th->post);
    pthread_mutex_lock(&th->lock);
    while (th->state != ANSWERED)
        pthread_cond_wait(&th->answered, &th->lock);
    int rc = th->answer;
    th->state = IDLE;
    pthread_mutex_unlock(&th->lock);
    return rc;
}

/* ------------------------------------------------------------ ready-made */

/* Each is a primitive called as a coroutine: it is evaluated again when
 * the task resumes, with the arguments kept in its frame. */
struct prim_frame {
    co_frame co;
    double seconds;
    void *obj;
    void *item;
    void **out;
    co_timeout *region;
    int rc;
};

static co_status sleep_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return co_sleep(t, f->seconds);
}

static co_status acquire_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return co_lock_acquire(t, f->obj);
}

static co_status release_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return co_lock_release(t, f->obj);
}

static co_status get_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return co_queue_get(t, f->obj, f->out);
}

static co_status put_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return co_queue_put(t, f->obj, f->item);
}

static co_status timeout_after_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return (co_timeout_after_here)(t, f->region, f->seconds,
                                   "co_thread_timeout_after");
}

static co_status timeout_end_co(co_task *t, void *arg)
{
    struct prim_frame *f = arg;
    return co_timeout_end(t, f->region, f->rc);
}

#define AWAIT_PRIM(th, fn, ...)                                              \
    co_thread_await((th), (fn), &(struct prim_frame){ __VA_ARGS__ },         \
                    sizeof(struct prim_frame))

int co_thread_sleep(co_thread *th, double seconds)
{
    return AWAIT_PRIM(th, sleep_co, .seconds = seconds);
}

int co_thread_lock_acquire(co_thread *th, co_lock *l)
{
    return AWAIT_PRIM(th, acquire_co, .obj = l);
}

int co_thread_lock_release(co_thread *th, co_lock *l)
{
    return AWAIT_PRIM(th, release_co, .obj = l);
}

int co_thread_queue_get(co_thread *th, co_queue *q, void **item)
{
    return AWAIT_PRIM(th, get_co, .obj = q, .out = item);
}

int co_thread_queue_put(co_thread *th, co_queue *q, void *item)
{
    return AWAIT_PRIM(th, put_co, .obj = q, .item = item);
}

int co_thread_timeout_after(co_thread *th, co_timeout *region, double seconds)
{
    return AWAIT_PRIM(th, timeout_after_co, .region = region,
                      .seconds = seconds);
}

int co_thread_timeout_end(co_thread *th, co_timeout *region, int rc)
{
    return AWAIT_PRIM(th, timeout_end_co, .region = region, .rc = rc);
}
