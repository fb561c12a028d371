/*
 * races_prims.c -- the primitives the race scenes of test_races_outcome.c
 * run, each as hooks around one blocking call (lock, rlock, semaphores,
 * condition, event, queues, universal queue and event, join, sockets),
 * and their table.
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

/* ------------------------------------------------------------ lock */

static void lock_setup(co_task *t) { (void)t; }
static void lock_prepare(co_task *t)
{
    ck_assert_int_eq(AT_ONCE(co_lock_acquire(t, &R.lock)), 0);
}
static co_status lock_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_lock_acquire(t, &R.lock);
}
static void lock_hand(co_task *t)
{
    ck_assert_int_eq(co_lock_release(t, &R.lock), 0);
}
static void lock_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)f;
    if (rc == 0)
        ck_assert_ptr_eq(co_lock_owner(&R.lock), t);
    else                            /* not ours: the hander's, or free */
        ck_assert_ptr_eq(co_lock_owner(&R.lock), R.handed ? NULL : R.h);
}
static void lock_done(co_task *t, struct wait_frame *f)
{
    (void)f;
    ck_assert_int_eq(co_lock_release(t, &R.lock), 0);
}
static void lock_check(co_task *t)
{
    (void)t;
    ck_assert(!co_lock_locked(&R.lock));
    ck_assert(co_waitq_empty(&R.lock.priv.waiters));
}

/* ------------------------------------------------------------ rlock */

static void rlock_prepare(co_task *t)
{
    ck_assert_int_eq(AT_ONCE(co_rlock_acquire(t, &R.rlock)), 0);
    ck_assert_int_eq(AT_ONCE(co_rlock_acquire(t, &R.rlock)), 0);
}
static co_status rlock_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_rlock_acquire(t, &R.rlock);
}
static void rlock_hand(co_task *t)
{
    ck_assert_int_eq(co_rlock_release(t, &R.rlock), 0);
    ck_assert_int_eq(co_rlock_release(t, &R.rlock), 0);
}
static void rlock_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)f;
    if (rc == 0) {
        ck_assert_ptr_eq(co_rlock_owner(&R.rlock), t);
        ck_assert_int_eq(co_rlock_count(&R.rlock), 1);
    } else {
        ck_assert_ptr_eq(co_rlock_owner(&R.rlock), R.handed ? NULL : R.h);
        ck_assert_int_eq(co_rlock_count(&R.rlock), R.handed ? 0 : 2);
    }
}
static void rlock_done(co_task *t, struct wait_frame *f)
{
    (void)f;
    ck_assert_int_eq(co_rlock_release(t, &R.rlock), 0);
}
static void rlock_check(co_task *t)
{
    (void)t;
    ck_assert(!co_rlock_locked(&R.rlock));
    ck_assert_int_eq(co_rlock_count(&R.rlock), 0);
}

/* ------------------------------------------------------------ semaphores */

static void sem_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_semaphore_init(&R.sem, 0), 0);
}
static void bsem_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_bounded_semaphore_init(&R.sem, 1), 0);
}
static void bsem_prepare(co_task *t)
{
    ck_assert_int_eq(AT_ONCE(co_semaphore_acquire(t, &R.sem)), 0);
}
static co_status sem_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_semaphore_acquire(t, &R.sem);
}
static void sem_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_semaphore_release(&R.sem), 0);
}
static void sem_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    /* a permit handed to a waiter that timed out would be lost */
    ck_assert_int_eq(co_semaphore_value(&R.sem), rc < 0 && R.handed);
}
static void sem_done(co_task *t, struct wait_frame *f)
{
    (void)t, (void)f;
    ck_assert_int_eq(co_semaphore_release(&R.sem), 0);
}
static void sem_check(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_semaphore_value(&R.sem), 1);
    ck_assert(co_waitq_empty(&R.sem.priv.waiters));
}
static void bsem_check(co_task *t)
{
    sem_check(t);
    /* at its bound: no permit was duplicated */
    ck_assert_int_eq(co_semaphore_release(&R.sem), -EINVAL);
}

/* ------------------------------------------------------------ condition */

static void cond_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_condition_init(&R.cond, NULL), 0);
}
static void cond_enter(co_task *t, struct wait_frame *f)
{
    (void)f;
    ck_assert_int_eq(AT_ONCE(co_condition_acquire(t, &R.cond)), 0);
}
static co_status cond_wait(co_task *t, struct wait_frame *f)
{
    return co_condition_wait(t, &R.cond, &f->pending);
}
static void cond_hand(co_task *t)
{
    /* the waiter released the lock by waiting (or has it back and
     * released it again, having timed out) */
    ck_assert_int_eq(AT_ONCE(co_condition_acquire(t, &R.cond)), 0);
    R.notified = co_condition_notify(t, &R.cond, 1);
    ck_assert_int_ge(R.notified, 0);
    ck_assert_int_eq(co_condition_release(t, &R.cond), 0);
}
static void cond_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)f;
    ck_assert_ptr_eq(co_lock_owner(co_condition_lock(&R.cond)), t);
    /* notified means completed; timed out means the notify found nobody */
    ck_assert_int_eq(R.notified, rc == 0);
    ck_assert(co_waitq_empty(&R.cond.priv.waiters));
}
static void cond_done(co_task *t, struct wait_frame *f)
{
    (void)f;
    ck_assert_int_eq(co_condition_release(t, &R.cond), 0);
}
static void cond_check(co_task *t)
{
    (void)t;
    ck_assert(!co_condition_locked(&R.cond));
    ck_assert(co_waitq_empty(&R.cond.priv.waiters));
}

/* ------------------------------------------------------------ event */

static void event_setup(co_task *t) { (void)t; }
static co_status event_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_event_wait(t, &R.ev);
}
static void event_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_event_set(&R.ev), 0);
}
static void event_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    ck_assert_int_eq(co_event_is_set(&R.ev), rc == 0 || R.handed);
}
static void event_check(co_task *t)
{
    (void)t;
    ck_assert(co_event_is_set(&R.ev));
    ck_assert(co_waitq_empty(&R.ev.priv.waiters));
}

/* ------------------------------------------------------------ queues */

int item_x, item_y;

static void queue_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_queue_init(&R.q, R.p->kind, 0), 0);
}
static co_status queue_get_wait(co_task *t, struct wait_frame *f)
{
    return co_queue_get(t, &R.q, &f->item);
}
static void queue_get_hand(co_task *t)
{
    ck_assert_int_eq(AT_ONCE(co_queue_put(t, &R.q, ITEM_Y)), 0);
}
static void queue_get_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t;
    if (rc == 0) {
        ck_assert_ptr_eq(f->item, ITEM_Y);
        ck_assert_int_eq(co_queue_qsize(&R.q), 0);
    } else {                        /* still queued for the next getter */
        ck_assert_ptr_null(f->item);
        ck_assert_int_eq(co_queue_qsize(&R.q), R.handed);
    }
}
static void queue_get_done(co_task *t, struct wait_frame *f)
{
    (void)t, (void)f;
    ck_assert_int_eq(co_queue_task_done(&R.q), 0);
}
static void queue_check(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_queue_qsize(&R.q), 0);
    ck_assert_int_eq(co_queue_unfinished(&R.q), 0);
    ck_assert_int_eq(co_queue_free(&R.q), 0);   /* no waiter, no slot */
}

/* put on a full queue: maxsize 1, holding X; the hand-over is a get */
static void queue_put_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_queue_init(&R.q, R.p->kind, 1), 0);
}
static void queue_put_prepare(co_task *t)
{
    ck_assert_int_eq(AT_ONCE(co_queue_put(t, &R.q, ITEM_X)), 0);
}
static co_status queue_put_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_queue_put(t, &R.q, ITEM_Y);
}
static void queue_put_hand(co_task *t)
{
    void *x = NULL;
    ck_assert_int_eq(AT_ONCE(co_queue_get(t, &R.q, &x)), 0);
    ck_assert_ptr_eq(x, ITEM_X);
    ck_assert_int_eq(co_queue_task_done(&R.q), 0);
}
static void queue_put_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    /* Y is in the queue exactly when the put completed; X until taken */
    ck_assert_int_eq(co_queue_qsize(&R.q), (rc == 0) + !R.handed);
}
static void queue_put_check(co_task *t)
{
    void *y = NULL;
    ck_assert_int_eq(co_queue_qsize(&R.q), 1);
    ck_assert_int_eq(AT_ONCE(co_queue_get(t, &R.q, &y)), 0);
    ck_assert_ptr_eq(y, ITEM_Y);
    ck_assert_int_eq(co_queue_task_done(&R.q), 0);
    queue_check(t);
}

/* join: one item put and taken, not yet done; the hand-over is the
 * task_done that ends the join */
static void queue_join_prepare(co_task *t)
{
    void *x = NULL;
    ck_assert_int_eq(AT_ONCE(co_queue_put(t, &R.q, ITEM_X)), 0);
    ck_assert_int_eq(AT_ONCE(co_queue_get(t, &R.q, &x)), 0);
    ck_assert_int_eq(co_queue_unfinished(&R.q), 1);
}
static co_status queue_join_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_queue_join(t, &R.q);
}
static void queue_join_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_queue_task_done(&R.q), 0);
}
static void queue_join_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    ck_assert_int_eq(co_queue_unfinished(&R.q), rc < 0 && !R.handed);
}

/* ------------------------------------------------------------ universal */

void uq_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_init(&R.uq, 0), 0);
}
static co_status uq_get_wait(co_task *t, struct wait_frame *f)
{
    return co_uqueue_get(t, &R.uq, &f->item);
}
static void uq_get_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_put_thread(&R.uq, ITEM_Y, 0), 0);
}
static void uq_get_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t;
    if (rc == 0) {
        ck_assert_ptr_eq(f->item, ITEM_Y);
        ck_assert_int_eq(co_uqueue_qsize(&R.uq), 0);
    } else {
        ck_assert_ptr_null(f->item);
        ck_assert_int_eq(co_uqueue_qsize(&R.uq), R.handed);
    }
}
void uq_check(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_qsize(&R.uq), 0);
    ck_assert_ptr_null(R.uq.priv.getters);
    ck_assert_ptr_null(R.uq.priv.putters);
    co_uqueue_free(&R.uq);
}

static void uq_put_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_init(&R.uq, 1), 0);
}
static void uq_put_prepare(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_put_thread(&R.uq, ITEM_X, 0), 0);
}
static co_status uq_put_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_uqueue_put(t, &R.uq, ITEM_Y);
}
static void uq_put_hand(co_task *t)
{
    void *x = NULL;
    (void)t;
    ck_assert_int_eq(co_uqueue_get_thread(&R.uq, &x, 0), 0);
    ck_assert_ptr_eq(x, ITEM_X);
}
static void uq_put_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    ck_assert_int_eq(co_uqueue_qsize(&R.uq), (rc == 0) + !R.handed);
}
static void uq_put_check(co_task *t)
{
    void *y = NULL;
    ck_assert_int_eq(co_uqueue_qsize(&R.uq), 1);
    ck_assert_int_eq(co_uqueue_get_thread(&R.uq, &y, 0), 0);
    ck_assert_ptr_eq(y, ITEM_Y);
    uq_check(t);
}

static void uq_join_prepare(co_task *t)
{
    void *x = NULL;
    (void)t;
    ck_assert_int_eq(co_uqueue_put_thread(&R.uq, ITEM_X, 0), 0);
    ck_assert_int_eq(co_uqueue_get_thread(&R.uq, &x, 0), 0);
    ck_assert_uint_eq(co_uqueue_unfinished(&R.uq), 1);
}
static co_status uq_join_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_uqueue_join(t, &R.uq);
}
static void uq_join_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_task_done(&R.uq), 0);
}
static void uq_join_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    ck_assert_uint_eq(co_uqueue_unfinished(&R.uq), rc < 0 && !R.handed);
}
static void uq_join_check(co_task *t)
{
    ck_assert_uint_eq(co_uqueue_unfinished(&R.uq), 0);
    ck_assert_ptr_null(R.uq.priv.joiners);
    uq_check(t);
}

static void ue_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uevent_init(&R.ue), 0);
}
static co_status ue_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_uevent_wait(t, &R.ue);
}
static void ue_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uevent_set(&R.ue), 0);
}
static void ue_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    ck_assert_int_eq(co_uevent_is_set(&R.ue), rc == 0 || R.handed);
}
static void ue_check(co_task *t)
{
    (void)t;
    ck_assert(co_uevent_is_set(&R.ue));
    ck_assert_ptr_null(R.ue.priv.waiters);
    co_uevent_free(&R.ue);
}

/* ------------------------------------------------------------ join */

/* The hander is the task joined; its hand-over is returning 42. */
static void join_setup(co_task *t) { (void)t; }
static co_status join_wait(co_task *t, struct wait_frame *f)
{
    return co_task_join(t, R.h, &f->result);
}
static void join_hand(co_task *t) { (void)t; }
static void join_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t;
    if (rc == 0)                    /* R.h is freed now */
        ck_assert_int_eq(f->result, 42);
    else                            /* still ours to join */
        ck_assert_int_eq(co_task_done(R.h), R.handed);
}
static void join_check(co_task *t) { (void)t; }

/* ------------------------------------------------------------ sockets */

static void accept_setup(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_socket_new(&R.listener, AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(co_sockaddr_inet(&R.addr, AF_INET, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_socket_bind(R.listener, &R.addr), 0);
    ck_assert_int_eq(co_socket_listen(R.listener, 8), 0);
    ck_assert_int_eq(co_socket_getsockname(R.listener, &R.addr), 0);
}
static co_status accept_wait(co_task *t, struct wait_frame *f)
{
    return co_socket_accept(t, R.listener, &f->client, NULL);
}
static void accept_hand(co_task *t)
{
    (void)t;
    /* a plain blocking connect: on loopback it completes at once, the
     * connection waiting in the listener's backlog */
    R.cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(R.cfd, 0);
    ck_assert_int_eq(connect(R.cfd, (struct sockaddr *)&R.addr.ss,
                             R.addr.len), 0);
}
static void accept_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t;
    int lfd = co_socket_fd(R.listener);
    if (rc == 0) {                  /* this very connection, and no other */
        co_sockaddr peer, local;
        ck_assert_ptr_nonnull(f->client);
        ck_assert_int_eq(co_socket_getpeername(f->client, &peer), 0);
        local.len = sizeof local.ss;
        ck_assert_int_eq(getsockname(R.cfd, (struct sockaddr *)&local.ss,
                                     &local.len), 0);
        ck_assert_int_eq(co_sockaddr_port(&peer), co_sockaddr_port(&local));
        ck_assert_int_eq(backlog_pending(lfd), 0);
    } else {                        /* still in the backlog */
        ck_assert_ptr_null(f->client);
        ck_assert_int_eq(backlog_pending(lfd), R.handed);
    }
}
static void accept_done(co_task *t, struct wait_frame *f)
{
    (void)t;
    ck_assert_int_eq(co_socket_close(&f->client), 0);
}
static void accept_check(co_task *t)
{
    (void)t;
    ck_assert_int_eq(backlog_pending(co_socket_fd(R.listener)), 0);
    ck_assert_int_eq(co_socket_close(&R.listener), 0);
    ck_assert_int_eq(close(R.cfd), 0);
}

static void pair_setup(co_task *t)
{
    (void)t;
    open_socketpair(R.pair);
}
void pair_close(void)
{
    ck_assert_int_eq(co_socket_close(&R.pair[0]), 0);
    ck_assert_int_eq(co_socket_close(&R.pair[1]), 0);
}

static co_status recv_wait(co_task *t, struct wait_frame *f)
{
    return co_socket_recv(t, R.pair[0], f->buf, sizeof f->buf, 0);
}
static void recv_hand(co_task *t)
{
    (void)t;
    ck_assert_int_eq(write(co_socket_fd(R.pair[1]), "abc", 3), 3);
}
static void recv_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t;
    int fd = co_socket_fd(R.pair[0]);
    if (rc >= 0) {
        ck_assert_int_eq(rc, 3);
        ck_assert_mem_eq(f->buf, "abc", 3);
        ck_assert_int_eq(inq(fd), 0);
    } else {                        /* not consumed */
        ck_assert_int_eq(inq(fd), R.handed ? 3 : 0);
    }
}
static void recv_check(co_task *t)
{
    (void)t;
    ck_assert_int_eq(inq(co_socket_fd(R.pair[0])), 0);
    pair_close();
}

/* send: the waiter's side is full; the hand-over drains the peer */
static void send_setup(co_task *t)
{
    char chunk[512];
    int small = 4096;
    pair_setup(t);
    int fd = co_socket_fd(R.pair[0]);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small,
                                sizeof small), 0);
    memset(chunk, '.', sizeof chunk);
    for (;;) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n < 0) {
            ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        R.filled += (size_t)n;
    }
    ck_assert_uint_gt(R.filled, 0);
}
static co_status send_wait(co_task *t, struct wait_frame *f)
{
    (void)f;
    return co_socket_send(t, R.pair[0], "xyz", 3, 0);
}
static void send_hand(co_task *t)
{
    char buf[4096];
    size_t total = 0;
    (void)t;
    int fd = co_socket_fd(R.pair[1]);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        ck_assert_int_gt(n, 0);
        int dots = 1;               /* one assertion, not one a byte */
        for (ssize_t i = 0; i < n; i++)
            dots &= buf[i] == '.';
        ck_assert(dots);
        total += (size_t)n;
    }
    ck_assert_uint_eq(total, R.filled);
}
static void send_got(co_task *t, struct wait_frame *f, int rc)
{
    (void)t, (void)f;
    int peer = co_socket_fd(R.pair[1]);
    if (rc >= 0) {
        ck_assert_int_eq(rc, 3);
        ck_assert_int_eq(inq(peer), 3);
    } else {                        /* nothing went */
        ck_assert_int_eq(inq(peer), R.handed ? 0 : (int)R.filled);
    }
}
static void send_check(co_task *t)
{
    char buf[8];
    (void)t;
    int peer = co_socket_fd(R.pair[1]);
    ck_assert_int_eq(inq(peer), 3);
    ck_assert_int_eq(recv(peer, buf, sizeof buf, MSG_DONTWAIT), 3);
    ck_assert_mem_eq(buf, "xyz", 3);
    pair_close();
}

/* ------------------------------------------------------------ the table */

const struct prim prims[] = {
    { .name = "lock", .setup = lock_setup, .prepare = lock_prepare,
      .wait = lock_wait, .hand = lock_hand, .got = lock_got,
      .done = lock_done, .check = lock_check },
    { .name = "rlock", .setup = lock_setup, .prepare = rlock_prepare,
      .wait = rlock_wait, .hand = rlock_hand, .got = rlock_got,
      .done = rlock_done, .check = rlock_check },
    { .name = "semaphore", .setup = sem_setup, .wait = sem_wait,
      .hand = sem_hand, .got = sem_got, .done = sem_done,
      .check = sem_check },
    { .name = "bounded semaphore", .setup = bsem_setup,
      .prepare = bsem_prepare, .wait = sem_wait, .hand = sem_hand,
      .got = sem_got, .done = sem_done, .check = bsem_check },
    { .name = "condition", .no_retry = 1, .setup = cond_setup,
      .enter = cond_enter, .wait = cond_wait, .hand = cond_hand,
      .got = cond_got, .done = cond_done, .check = cond_check },
    { .name = "event", .setup = event_setup, .wait = event_wait,
      .hand = event_hand, .got = event_got, .check = event_check },
    { .name = "queue get (FIFO)", .kind = CO_QUEUE_FIFO,
      .setup = queue_setup, .wait = queue_get_wait, .hand = queue_get_hand,
      .got = queue_get_got, .done = queue_get_done, .check = queue_check },
    { .name = "queue get (priority)", .kind = CO_QUEUE_PRIORITY,
      .setup = queue_setup, .wait = queue_get_wait, .hand = queue_get_hand,
      .got = queue_get_got, .done = queue_get_done, .check = queue_check },
    { .name = "queue get (LIFO)", .kind = CO_QUEUE_LIFO,
      .setup = queue_setup, .wait = queue_get_wait, .hand = queue_get_hand,
      .got = queue_get_got, .done = queue_get_done, .check = queue_check },
    { .name = "queue put, full (FIFO)", .kind = CO_QUEUE_FIFO,
      .setup = queue_put_setup, .prepare = queue_put_prepare,
      .wait = queue_put_wait, .hand = queue_put_hand,
      .got = queue_put_got, .check = queue_put_check },
    { .name = "queue put, full (priority)", .kind = CO_QUEUE_PRIORITY,
      .setup = queue_put_setup, .prepare = queue_put_prepare,
      .wait = queue_put_wait, .hand = queue_put_hand,
      .got = queue_put_got, .check = queue_put_check },
    { .name = "queue put, full (LIFO)", .kind = CO_QUEUE_LIFO,
      .setup = queue_put_setup, .prepare = queue_put_prepare,
      .wait = queue_put_wait, .hand = queue_put_hand,
      .got = queue_put_got, .check = queue_put_check },
    { .name = "queue join", .kind = CO_QUEUE_FIFO, .setup = queue_setup,
      .prepare = queue_join_prepare, .wait = queue_join_wait,
      .hand = queue_join_hand, .got = queue_join_got, .check = queue_check },
    { .name = "universal queue get", .universal = 1, .setup = uq_setup,
      .wait = uq_get_wait, .hand = uq_get_hand, .got = uq_get_got,
      .check = uq_check },
    { .name = "universal queue put, full", .universal = 1,
      .setup = uq_put_setup, .prepare = uq_put_prepare,
      .wait = uq_put_wait, .hand = uq_put_hand, .got = uq_put_got,
      .check = uq_put_check },
    { .name = "universal queue join", .universal = 1, .setup = uq_setup,
      .prepare = uq_join_prepare, .wait = uq_join_wait,
      .hand = uq_join_hand, .got = uq_join_got, .check = uq_join_check },
    { .name = "universal event", .universal = 1, .setup = ue_setup,
      .wait = ue_wait, .hand = ue_hand, .got = ue_got, .check = ue_check },
    { .name = "join", .joins = 1, .setup = join_setup, .wait = join_wait,
      .hand = join_hand, .got = join_got, .check = join_check },
    { .name = "accept", .io = 1, .setup = accept_setup,
      .wait = accept_wait, .hand = accept_hand, .got = accept_got,
      .done = accept_done, .check = accept_check },
    { .name = "recv", .io = 1, .setup = pair_setup, .wait = recv_wait,
      .hand = recv_hand, .got = recv_got, .check = recv_check },
    { .name = "send", .io = 1, .setup = send_setup, .wait = send_wait,
      .hand = send_hand, .got = send_got, .check = send_check },
};

const int n_prims = (int)(sizeof prims / sizeof *prims);
