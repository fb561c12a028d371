/*
 * universal.c -- a queue and an event shared by tasks, threads and kernels.
 *
 * Each object has one mutex.  Threads wait on condition variables.  A task
 * that must wait gets a co_uwaiter (allocated only when it blocks) in the
 * object's FIFO of waiting tasks, and blocks on a wait queue inside it that
 * nobody else uses.  Whoever completes its operation, under the mutex,
 * takes the waiter out of the FIFO, marks it delivered (with the item, for
 * a get) and wakes the task: with co_waitq_wake_one() when running in the
 * task's kernel thread, else by posting the waiter's node to that kernel.
 * So the FIFO holds only waiters still to be served, its head the oldest,
 * and every wake is O(1) however many tasks wait.
 *
 * When the task is re-evaluated -- woken by that, or by a cancellation or
 * timeout -- it finds its waiter through co_wait_solo_queue() (no search)
 * and looks at it under the mutex: delivered means the operation happened,
 * and it returns 0 even if a cancellation or a region's expiry woke it
 * (co_wait_completed: the call reports one outcome, never both); otherwise
 * nothing was handed to it, it leaves the FIFO, and the wake value is
 * returned.  A post still pending then is taken back (co_kernel_unpost)
 * before the waiter is freed.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../core/kernel.h"
#include "../core/alloc_impl.h"
#include "universal.h"

struct co_uwaiter {
    co_waitq q;                /* the task blocks here, alone */
    co_uwaiter *next, *prev;   /* circular FIFO while not delivered */
    co_kernel *kernel;
    void *item;                /* put: the item; get: the item handed over */
    int delivered;             /* under the object's mutex */
    int woke;                  /* kernel thread: its delivery woke the task */
    co_post post;
};

/* ------------------------------------------------------------ waiters */

static void wl_append(co_uwaiter **head, co_uwaiter *w)
{
    if (!*head) {
        w->next = w->prev = w;
        *head = w;
    } else {
        w->prev = (*head)->prev;
        w->next = *head;
        (*head)->prev->next = w;
        (*head)->prev = w;
    }
}

static void wl_remove(co_uwaiter **head, co_uwaiter *w)
{
    if (w->next == w) {
        *head = NULL;
    } else {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        if (*head == w)
            *head = w->next;
    }
    w->next = w->prev = NULL;
}

/* The waiter self blocked on, found from the queue it was woken from. */
static co_uwaiter *own_waiter(const co_task *self)
{
    co_waitq *q = co_wait_solo_queue(self);
    return q ? (co_uwaiter *)(void *)((char *)q - offsetof(co_uwaiter, q))
             : NULL;
}

/* In w's kernel thread, w delivered: wake the task, unless a cancellation
 * or a timeout woke it meanwhile (it is no longer in w's queue). */
static void wake_delivered(co_uwaiter *w)
{
    if (co_waitq_wake_one(&w->q, 0))
        w->woke = 1;
}

static void wake_posted(void *arg)
{
    wake_delivered(arg);
}

/* Under the object's mutex: the operation of w, the oldest waiter in
 * *list, is done; take it out and wake its task.  Posting under the mutex
 * matters: the task cannot free w meanwhile. */
static void deliver(co_uwaiter **list, co_uwaiter *w)
{
    wl_remove(list, w);
    w->delivered = 1;
    if (w->kernel == co_current_kernel())
        wake_delivered(w);
    else
        co_kernel_post(w->kernel, &w->post);
}

/* Under the object's mutex: every task waiting in *list is done waiting
 * (an event set, a queue joined). */
static void deliver_all(co_uwaiter **list)
{
    while (*list)
        deliver(list, *list);
}

/* Under m: register self in *list and block.  Unlocks m. */
static co_status block_on(co_task *self, pthread_mutex_t *m,
                          co_uwaiter **list, void *item)
{
    co_uwaiter *w = co__alloc_zeroed(1, sizeof *w);
    if (!w) {
        pthread_mutex_unlock(m);
        return -ENOMEM;
    }
    w->kernel = co_current_kernel();
    w->item = item;
    co_waitq_init(&w->q);
    co_post_init(&w->post, wake_posted, w);
    co_status st = co_block(self, &w->q, CO_NO_DEADLINE);  /* cannot fail */
    wl_append(list, w);
    pthread_mutex_unlock(m);
    co_kernel_hold(w->kernel);
    return st;
}

/* The task was woken by a cancellation or a timeout: whether w was
 * delivered all the same; if not, it leaves *list.  Either way nobody can
 * post w any more, and a post still pending is taken back. */
static int settle(co_uwaiter *w, pthread_mutex_t *m, co_uwaiter **list)
{
    pthread_mutex_lock(m);
    int delivered = w->delivered;
    if (!delivered)
        wl_remove(list, w);
    pthread_mutex_unlock(m);
    co_kernel_unpost(w->kernel, &w->post);
    return delivered;
}

/* The re-evaluation after a wake: done with self's waiter.  Returns 0 (and
 * the item, for a get) if its operation happened, whatever woke the task;
 * else the wake value (-ECANCELED, -ETIMEDOUT), delivered as usual.  Woken
 * by its delivery (the common case), the waiter is out of the list and its
 * post has run: no lock to take.  The post's mutex orders the item's
 * hand-over before this. */
static int unblock(co_task *self, pthread_mutex_t *m, co_uwaiter **list,
                   void **item)
{
    co_uwaiter *w = own_waiter(self);
    int rc;
    if (!w) {                          /* not blocked here: cannot happen */
        co_wait_enter(self, &rc);
        return rc;
    }
    int delivered = w->woke || settle(w, m, list);
    co_kernel_unhold(w->kernel);
    if (delivered) {
        co_wait_completed(self);
        if (item)
            *item = w->item;
        rc = 0;
    } else {
        co_wait_enter(self, &rc);
    }
    free(w);
    return rc;
}

/* ------------------------------------------------------------ threads */

static int cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc == 0) {
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        rc = pthread_cond_init(c, &a);
        pthread_condattr_destroy(&a);
    }
    return -rc;
}

/* The absolute CLOCK_MONOTONIC time `timeout` seconds from now. */
static struct timespec deadline_in(double timeout)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout > 1e9)
        timeout = 1e9;
    double whole = floor(timeout);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((timeout - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Wait on c (m held) until woken or the deadline; -ETIMEDOUT. */
static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, double timeout,
                     const struct timespec *deadline)
{
    if (timeout == 0)
        return -ETIMEDOUT;
    if (timeout < 0)
        return -pthread_cond_wait(c, m);
    int rc = pthread_cond_timedwait(c, m, deadline);
    return rc == ETIMEDOUT ? -ETIMEDOUT : -rc;
}

/* ------------------------------------------------------------ queue */

int co_uqueue_init(co_uqueue *q, size_t maxsize)
{
    if (!q)
        return -EINVAL;
    *q = (co_uqueue){ .priv.maxsize = maxsize, .priv.fd = -1 };
    int rc = -pthread_mutex_init(&q->priv.lock, NULL);
    if (rc < 0)
        return rc;
    if ((rc = cond_init(&q->priv.not_empty)) < 0) {
        pthread_mutex_destroy(&q->priv.lock);
        return rc;
    }
    if ((rc = cond_init(&q->priv.not_full)) < 0) {
        pthread_cond_destroy(&q->priv.not_empty);
        pthread_mutex_destroy(&q->priv.lock);
        return rc;
    }
    if ((rc = cond_init(&q->priv.all_done)) < 0) {
        pthread_cond_destroy(&q->priv.not_full);
        pthread_cond_destroy(&q->priv.not_empty);
        pthread_mutex_destroy(&q->priv.lock);
        return rc;
    }
    return 0;
}

void co_uqueue_free(co_uqueue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->priv.all_done);
    pthread_cond_destroy(&q->priv.not_full);
    pthread_cond_destroy(&q->priv.not_empty);
    pthread_mutex_destroy(&q->priv.lock);
    free(q->priv.items);
    if (q->priv.fd >= 0)
        close(q->priv.fd);
    q->priv.items = NULL;
    q->priv.fd = -1;
}

static void fd_signal(co_uqueue *q)
{
    uint64_t one = 1;
    if (q->priv.fd >= 0 && write(q->priv.fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is already non-zero, which is all we need */
    }
}

static void fd_drain(co_uqueue *q)
{
    uint64_t n;
    if (q->priv.fd >= 0 && read(q->priv.fd, &n, sizeof n) < 0) {
        /* EAGAIN: already drained */
    }
}

static int full(const co_uqueue *q)
{
    return q->priv.maxsize && q->priv.count >= q->priv.maxsize && !q->priv.getters;
}

/* Under the lock: queue item at the ring's end. */
static int enqueue(co_uqueue *q, void *item)
{
    if (q->priv.count == q->priv.cap) {
        size_t cap = q->priv.cap ? q->priv.cap * 2 : 16;
        void **items = co__alloc(cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        for (size_t i = 0; i < q->priv.count; i++)
            items[i] = q->priv.items[(q->priv.head + i) % q->priv.cap];
        free(q->priv.items);
        q->priv.items = items;
        q->priv.head = 0;
        q->priv.cap = cap;
    }
    q->priv.items[(q->priv.head + q->priv.count) % q->priv.cap] = item;
    if (q->priv.count++ == 0)
        fd_signal(q);
    pthread_cond_signal(&q->priv.not_empty);
    return 0;
}

/* Under the lock, with room (see full()): hand item to the oldest waiting
 * task, else queue it.  Either way it is put, and unfinished until a
 * task_done. */
static int push(co_uqueue *q, void *item)
{
    co_uwaiter *w = q->priv.getters;
    if (w) {
        w->item = item;
        deliver(&q->priv.getters, w);
    } else {
        int rc = enqueue(q, item);
        if (rc < 0)
            return rc;
    }
    q->priv.unfinished++;
    return 0;
}

/* Under the lock, count > 0: take the oldest item; a slot is free, so move
 * the oldest waiting putter's item in, or let a thread try. */
static void *pop(co_uqueue *q)
{
    void *item = q->priv.items[q->priv.head];
    q->priv.head = (q->priv.head + 1) % q->priv.cap;
    if (--q->priv.count == 0)
        fd_drain(q);
    co_uwaiter *w = q->priv.putters;
    if (w && push(q, w->item) == 0)
        deliver(&q->priv.putters, w);
    else
        pthread_cond_signal(&q->priv.not_full);
    return item;
}

/* Under the lock: a put or a get that does not wait, or -EAGAIN. */
static int put_locked(co_uqueue *q, void *item)
{
    return full(q) ? -EAGAIN : push(q, item);
}

static int get_locked(co_uqueue *q, void **item)
{
    if (!q->priv.count)
        return -EAGAIN;
    *item = pop(q);
    return 0;
}

int co_uqueue_put_thread(co_uqueue *q, void *item, double timeout)
{
    if (!q || isnan(timeout))
        return -EINVAL;
    struct timespec deadline = deadline_in(timeout > 0 ? timeout : 0);
    int rc = 0;
    pthread_mutex_lock(&q->priv.lock);
    while (full(q) && rc == 0)
        rc = cond_wait(&q->priv.not_full, &q->priv.lock, timeout, &deadline);
    if (!full(q))
        rc = push(q, item);
    else if (rc == 0)
        rc = -ETIMEDOUT;
    pthread_mutex_unlock(&q->priv.lock);
    return rc;
}

int co_uqueue_get_thread(co_uqueue *q, void **item, double timeout)
{
    if (!q || !item || isnan(timeout))
        return -EINVAL;
    struct timespec deadline = deadline_in(timeout > 0 ? timeout : 0);
    int rc = 0;
    pthread_mutex_lock(&q->priv.lock);
    while (q->priv.count == 0 && rc == 0)
        rc = cond_wait(&q->priv.not_empty, &q->priv.lock, timeout, &deadline);
    if (q->priv.count) {
        *item = pop(q);
        rc = 0;
        if (q->priv.count)              /* signal passed on: more to take */
            pthread_cond_signal(&q->priv.not_empty);
    }
    pthread_mutex_unlock(&q->priv.lock);
    return rc;
}

int co_uqueue_put_nowait(co_uqueue *q, void *item)
{
    if (!q)
        return -EINVAL;
    pthread_mutex_lock(&q->priv.lock);
    int rc = put_locked(q, item);
    pthread_mutex_unlock(&q->priv.lock);
    return rc;
}

int co_uqueue_get_nowait(co_uqueue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    pthread_mutex_lock(&q->priv.lock);
    int rc = get_locked(q, item);
    pthread_mutex_unlock(&q->priv.lock);
    return rc;
}

co_status co_uqueue_put(co_task *self, co_uqueue *q, void *item)
{
    int rc;
    if (co_wait_resumed(self) && q)
        return unblock(self, &q->priv.lock, &q->priv.putters, NULL);
    if (co_wait_begin(self, q != NULL, &rc))
        return rc;
    pthread_mutex_lock(&q->priv.lock);
    if ((rc = put_locked(q, item)) != -EAGAIN) {
        pthread_mutex_unlock(&q->priv.lock);
        return rc;
    }
    return block_on(self, &q->priv.lock, &q->priv.putters, item);
}

co_status co_uqueue_get(co_task *self, co_uqueue *q, void **item)
{
    int rc;
    if (co_wait_resumed(self) && q)
        return unblock(self, &q->priv.lock, &q->priv.getters, item);
    if (co_wait_begin(self, q && item, &rc))
        return rc;
    pthread_mutex_lock(&q->priv.lock);
    if ((rc = get_locked(q, item)) != -EAGAIN) {
        pthread_mutex_unlock(&q->priv.lock);
        return rc;
    }
    return block_on(self, &q->priv.lock, &q->priv.getters, NULL);
}

int co_uqueue_task_done(co_uqueue *q)
{
    if (!q)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&q->priv.lock);
    if (q->priv.unfinished == 0) {
        rc = -EINVAL;
    } else if (--q->priv.unfinished == 0) {
        deliver_all(&q->priv.joiners);
        pthread_cond_broadcast(&q->priv.all_done);
    }
    pthread_mutex_unlock(&q->priv.lock);
    return rc;
}

int co_uqueue_join_thread(co_uqueue *q, double timeout)
{
    if (!q || isnan(timeout))
        return -EINVAL;
    struct timespec deadline = deadline_in(timeout > 0 ? timeout : 0);
    int rc = 0;
    pthread_mutex_lock(&q->priv.lock);
    while (q->priv.unfinished && rc == 0)
        rc = cond_wait(&q->priv.all_done, &q->priv.lock, timeout, &deadline);
    if (!q->priv.unfinished)
        rc = 0;
    pthread_mutex_unlock(&q->priv.lock);
    return rc;
}

co_status co_uqueue_join(co_task *self, co_uqueue *q)
{
    int rc;
    if (co_wait_resumed(self) && q)
        return unblock(self, &q->priv.lock, &q->priv.joiners, NULL);
    if (co_wait_begin(self, q != NULL, &rc))
        return rc;
    pthread_mutex_lock(&q->priv.lock);
    if (!q->priv.unfinished) {
        pthread_mutex_unlock(&q->priv.lock);
        return 0;
    }
    return block_on(self, &q->priv.lock, &q->priv.joiners, NULL);
}

size_t co_uqueue_qsize(co_uqueue *q)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->priv.lock);
    size_t n = q->priv.count;
    pthread_mutex_unlock(&q->priv.lock);
    return n;
}

int co_uqueue_empty(co_uqueue *q)
{
    return q && co_uqueue_qsize(q) == 0;
}

int co_uqueue_full(co_uqueue *q)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->priv.lock);
    int is_full = full(q);
    pthread_mutex_unlock(&q->priv.lock);
    return is_full;
}

size_t co_uqueue_unfinished(co_uqueue *q)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->priv.lock);
    size_t n = q->priv.unfinished;
    pthread_mutex_unlock(&q->priv.lock);
    return n;
}

int co_uqueue_fd(co_uqueue *q)
{
    if (!q)
        return -EINVAL;
    pthread_mutex_lock(&q->priv.lock);
    if (q->priv.fd < 0) {
        q->priv.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (q->priv.fd < 0) {
            int rc = -errno;
            pthread_mutex_unlock(&q->priv.lock);
            return rc;
        }
        if (q->priv.count)
            fd_signal(q);
    }
    int fd = q->priv.fd;
    pthread_mutex_unlock(&q->priv.lock);
    return fd;
}

/* ------------------------------------------------------------ event */

int co_uevent_init(co_uevent *e)
{
    if (!e)
        return -EINVAL;
    *e = (co_uevent){ .priv.set = 0 };
    int rc = -pthread_mutex_init(&e->priv.lock, NULL);
    if (rc < 0)
        return rc;
    if ((rc = cond_init(&e->priv.cond)) < 0)
        pthread_mutex_destroy(&e->priv.lock);
    return rc;
}

void co_uevent_free(co_uevent *e)
{
    if (!e)
        return;
    pthread_cond_destroy(&e->priv.cond);
    pthread_mutex_destroy(&e->priv.lock);
}

int co_uevent_set(co_uevent *e)
{
    if (!e)
        return -EINVAL;
    pthread_mutex_lock(&e->priv.lock);
    e->priv.set = 1;
    deliver_all(&e->priv.waiters);
    pthread_cond_broadcast(&e->priv.cond);
    pthread_mutex_unlock(&e->priv.lock);
    return 0;
}

int co_uevent_clear(co_uevent *e)
{
    if (!e)
        return -EINVAL;
    pthread_mutex_lock(&e->priv.lock);
    e->priv.set = 0;
    pthread_mutex_unlock(&e->priv.lock);
    return 0;
}

int co_uevent_is_set(co_uevent *e)
{
    if (!e)
        return 0;
    pthread_mutex_lock(&e->priv.lock);
    int set = e->priv.set;
    pthread_mutex_unlock(&e->priv.lock);
    return set;
}

int co_uevent_wait_thread(co_uevent *e, double timeout)
{
    if (!e || isnan(timeout))
        return -EINVAL;
    struct timespec deadline = deadline_in(timeout > 0 ? timeout : 0);
    int rc = 0;
    pthread_mutex_lock(&e->priv.lock);
    while (!e->priv.set && rc == 0)
        rc = cond_wait(&e->priv.cond, &e->priv.lock, timeout, &deadline);
    if (e->priv.set)
        rc = 0;
    pthread_mutex_unlock(&e->priv.lock);
    return rc;
}

co_status co_uevent_wait(co_task *self, co_uevent *e)
{
    int rc;
    if (co_wait_resumed(self) && e)
        return unblock(self, &e->priv.lock, &e->priv.waiters, NULL);
    if (co_wait_begin(self, e != NULL, &rc))
        return rc;
    pthread_mutex_lock(&e->priv.lock);
    if (e->priv.set) {
        pthread_mutex_unlock(&e->priv.lock);
        return 0;
    }
    return block_on(self, &e->priv.lock, &e->priv.waiters, NULL);
}
