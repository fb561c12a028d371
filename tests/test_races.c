/*
 * test_races.c -- a blocking call whose own completion and its timeout
 * region's expiry come due in the same kernel cycle reports ONE outcome,
 * never both:
 *
 *   - it completes (0, the item, the lock, the byte count), and the region
 *     then ends cleanly: co_timeout_end returns the body's result and
 *     co_timeout_expired is 0 -- the expiry, never delivered to a blocking
 *     call, is discarded when the region ends (or goes to the next
 *     blocking call if the region goes on); or
 *   - it returns -ETIMEDOUT and did nothing: the item stays queued for the
 *     next getter, the lock is not held, the bytes are not consumed, the
 *     connection stays in the backlog -- and the region reports
 *     -ETIMEDOUT, as does every later call inside it.
 *
 * The race is built deterministically.  A waiter blocks inside a region
 * that expires at t0 + DEADLINE; a hander (the task that hands over:
 * releases, puts, sets, connects, writes, returns) and the main task hold
 * the kernel's thread up past that deadline -- a "slow callback", here on
 * purpose -- in one of these orders (enum scene):
 *
 *   HELD_THEN_HAND   the hander holds the kernel up, then hands over in the
 *                    same turn: in-kernel primitives wake the waiter
 *                    directly, before the kernel looks at its timers again,
 *                    so the call completes.  For I/O the readiness and the
 *                    expiry then reach the kernel in the same poll: either
 *                    outcome is allowed (libev runs the timer first today,
 *                    so it is -ETIMEDOUT), each checked precisely.
 *   HAND_THEN_HELD   the hander hands over, lets the kernel poll (I/O) so
 *                    that the waiter is woken, then holds the kernel up
 *                    before the waiter runs: completes.
 *   EXPIRY_FIRST     the hander sleeps until just after the deadline and
 *                    main holds the kernel up past both: one timer pass
 *                    wakes the waiter (earlier deadline) first, then the
 *                    hander: -ETIMEDOUT, and the hand-over that follows
 *                    goes to nobody / stays available.
 *   HANDER_FIRST     the same, but the hander's sleep ends just before the
 *                    deadline: it runs first and hands over to a waiter
 *                    the expiry has already woken.  -ETIMEDOUT for
 *                    in-kernel primitives and I/O (the waiter had left the
 *                    wait queue), 0 for the universal queue and event
 *                    (served under their mutex: a waiter served before it
 *                    ran completes, co_wait_completed).
 *   NEXT_CALL        as HAND_THEN_HELD (the call completes), then one more
 *                    blocking call inside the region: the expiry goes to
 *                    that call, and the region ends expired -- though the
 *                    first call completed and keeps what it got.
 *
 * Each primitive's check asserts the state for the outcome it saw: who
 * owns the lock, how many items are queued, which bytes are readable.  A
 * waiter that timed out tries once more outside the region and must get
 * the very thing it did not get (the retry is "the next getter"); at the
 * end everything was handed over exactly once.  Then retry-on-timeout
 * loops under random stalls check that every item / byte arrives exactly
 * once.  The stalls are the subject of these tests, not synchronisation.
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
#include "suites.h"

/* Seconds after t0 (co_clock() when the scene begins). */
#define DEADLINE 0.025              /* the waiter's region */
#define HANDER_LATE 0.035           /* EXPIRY_FIRST: the hander's sleep */
#define HANDER_EARLY 0.015          /* HANDER_FIRST */
#define STALL_END 0.05              /* the kernel is held up until then */

/* co_clock()'s scale, read now rather than once per cycle. */
static double clock_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Hold the kernel's thread, without yielding, until co_clock() would read
 * `when`: the kernel is "held up", as by a slow callback. */
static void stall_until(double when)
{
    for (;;) {
        double left = when - clock_now();
        if (left <= 0)
            return;
        struct timespec ts = { (time_t)left,
                               (long)((left - (double)(time_t)left) * 1e9) + 1 };
        nanosleep(&ts, NULL);
    }
}

static void stall(double secs)
{
    stall_until(clock_now() + secs);
}

/* A blocking primitive called where it must not block (the hand-overs:
 * unlock, put on an unbounded queue, get from a non-empty one). */
static int at_once(int rc, const char *what)
{
    ck_assert_msg(rc != CO_WOULDBLOCK, "%s blocked", what);
    return rc;
}
#define AT_ONCE(expr) at_once((expr), #expr)

static int blocked(const co_task *t)
{
    return strcmp(co_task_state(t), "blocked") == 0;
}

/* Until t has blocked (or ended: a call that timed out before it could
 * block, on a machine that is itself holding the kernel up). */
static int not_yet_blocked(const co_task *t)
{
    return !blocked(t) && !co_task_done(t);
}

/* Bytes queued for reading on a stream socket. */
static int inq(int fd)
{
    int n = -1;
    ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

/* Whether a listening socket has a connection to accept. */
static int backlog_pending(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, 0);
    ck_assert_int_ge(n, 0);
    return n;
}

/* ------------------------------------------------------------ the scene */

enum scene {
    HELD_THEN_HAND,
    HAND_THEN_HELD,
    EXPIRY_FIRST,
    HANDER_FIRST,
    NEXT_CALL,
};

/* The waiter's frame; the primitives' hooks use its fields. */
struct wait_frame {
    co_frame co;
    co_timeout to;
    int rc, next, end, again;
    int pending;                    /* condition wait */
    void *item;                     /* queue get */
    co_socket *client;              /* accept */
    int result;                     /* join */
    char buf[16];                   /* recv */
};

struct prim {
    const char *name;
    int io;                 /* the hand-over is seen by polling an fd */
    int universal;          /* served under a mutex: see HANDER_FIRST */
    int joins;              /* the waiter joins the hander */
    int no_retry;           /* condition: a timed-out wait is not redone */
    co_queue_kind kind;
    void (*setup)(co_task *t);                      /* main, first */
    void (*prepare)(co_task *t);                    /* hander, first */
    void (*enter)(co_task *t, struct wait_frame *f);/* waiter, first */
    co_status (*wait)(co_task *t, struct wait_frame *f);
    void (*hand)(co_task *t);                       /* hander */
    /* waiter, as soon as a wait returned rc (>= 0 or -ETIMEDOUT): the
     * state must be the one of that outcome */
    void (*got)(co_task *t, struct wait_frame *f, int rc);
    void (*done)(co_task *t, struct wait_frame *f); /* waiter: give back */
    void (*check)(co_task *t);                      /* main, last */
};

static struct {
    const struct prim *p;
    enum scene scene;
    double t0;
    co_task *w, *h;
    int handed;             /* the hander has handed over */
    int late;               /* the machine held the kernel up before the
                               scene did: its order is not the one meant */
    int notified;           /* condition: what notify returned */
    int completions;        /* the waiter's waits that completed */
    co_lock lock;
    co_rlock rlock;
    co_semaphore sem;
    co_condition cond;
    co_event ev;
    co_queue q;
    co_uqueue uq;
    co_uevent ue;
    co_socket *pair[2];
    co_socket *listener;
    co_sockaddr addr;
    int cfd;
    size_t filled;
} R;

static void setup(void)
{
    log_reset();
    memset(&R, 0, sizeof R);
    R.cfd = -1;
}

static const char *outcome(int rc)
{
    return rc >= 0 ? "done" : rcs(rc);
}

static co_status waiter(co_task *t, void *arg)
{
    struct wait_frame *f = arg;
    const struct prim *p = R.p;
    CO_BEGIN(t, f);
    if (p->enter)
        p->enter(t, f);
    ck_assert_int_eq(co_timeout_at(t, &f->to, R.t0 + DEADLINE), 0);
    CO_AWAIT(f->rc, p->wait(t, f));
    ck_assert_msg(f->rc >= 0 || f->rc == -ETIMEDOUT, "%s: wait=%s", p->name,
                  rcs(f->rc));
    if (f->rc >= 0)
        R.completions++;
    p->got(t, f, f->rc);
    note("wait=%s", outcome(f->rc));
    if (R.scene == NEXT_CALL) {
        CO_AWAIT(f->next, co_yield(t));
        ck_assert_int_eq(f->next, -ETIMEDOUT);
        note("next=%s", rcs(f->next));
    }
    f->end = co_timeout_end(t, &f->to, f->rc);
    note("end=%s expired=%d", f->end >= 0 ? "ok" : rcs(f->end),
         co_timeout_expired(&f->to));
    /* one outcome: the region agrees with the calls made inside it */
    if (f->rc >= 0 && R.scene != NEXT_CALL) {
        ck_assert_int_eq(f->end, f->rc);
        ck_assert(!co_timeout_expired(&f->to));
    } else {
        ck_assert_int_eq(f->end, -ETIMEDOUT);
        ck_assert(co_timeout_expired(&f->to));
    }
    if (f->rc < 0 && !p->no_retry) {
        /* the next try, with no deadline, gets what the first did not */
        CO_AWAIT(f->again, p->wait(t, f));
        ck_assert_msg(f->again >= 0, "%s: again=%s", p->name, rcs(f->again));
        R.completions++;
        p->got(t, f, f->again);
        note("again=done");
    }
    if (p->done)
        p->done(t, f);
    CO_END;
}

struct hand_frame {
    co_frame co;
    double at;
    int i, rc;
};

static co_status hander(co_task *t, void *arg)
{
    struct hand_frame *f = arg;
    const struct prim *p = R.p;
    CO_BEGIN(t, f);
    if (p->prepare)
        p->prepare(t);
    if (R.scene == EXPIRY_FIRST || R.scene == HANDER_FIRST) {
        f->at = R.t0 + (R.scene == EXPIRY_FIRST ? HANDER_LATE
                                                : HANDER_EARLY);
        if (f->at <= co_clock())
            R.late = 1;
        CO_AWAIT(f->rc, co_sleep(t, f->at - co_clock()));
        ck_assert_int_eq(f->rc, 0);
        p->hand(t);
        R.handed = 1;
    } else {
        for (f->i = 0; not_yet_blocked(R.w); f->i++) {
            ck_assert_int_lt(f->i, 100000);
            CO_AWAIT(f->rc, co_yield(t));
        }
        if (R.scene == HAND_THEN_HELD || R.scene == NEXT_CALL) {
            p->hand(t);
            R.handed = 1;
            /* I/O: keep the kernel busy until it has polled (after a
             * bounded number of resumes) and woken the waiter */
            for (f->i = 0; blocked(R.w) && !p->joins; f->i++) {
                ck_assert_int_lt(f->i, 1000000);
                CO_AWAIT(f->rc, co_yield(t));
            }
            /* woken by the hand-over, not by its deadline */
            if (clock_now() >= R.t0 + DEADLINE)
                R.late = 1;
            stall_until(R.t0 + STALL_END);
        } else {
            /* the deadline not passed yet: no timer pass can come before
             * the hand-over, since the hander keeps the kernel's thread */
            if (clock_now() >= R.t0 + DEADLINE)
                R.late = 1;
            stall_until(R.t0 + STALL_END);
            p->hand(t);
            R.handed = 1;
        }
    }
    CO_RETURN(p->joins ? 42 : 0);
    CO_END;
}

struct race_main_frame {
    co_frame co;
    int i, rc;
};

static co_status race_main(co_task *t, void *arg)
{
    struct race_main_frame *f = arg;
    struct hand_frame h = { .i = 0 };
    struct wait_frame w = { .rc = 0 };
    CO_BEGIN(t, f);
    R.t0 = co_clock();
    R.p->setup(t);
    ck_assert_int_gt(CO_SPAWN(t, &R.h, hander, h), 0);
    ck_assert_int_gt(CO_SPAWN(t, &R.w, waiter, w), 0);
    if (R.scene == EXPIRY_FIRST || R.scene == HANDER_FIRST) {
        /* both wait for their deadlines; hold the kernel up past both,
         * so that one timer pass finds them due */
        for (f->i = 0; not_yet_blocked(R.w) || !blocked(R.h); f->i++) {
            ck_assert_int_lt(f->i, 100000);
            CO_AWAIT(f->rc, co_yield(t));
        }
        /* neither deadline passed yet: one timer pass will find both */
        if (clock_now() >= R.t0 + HANDER_EARLY)
            R.late = 1;
        stall_until(R.t0 + STALL_END);
    }
    AWAIT_JOIN(f->rc, t, R.w);
    ck_assert_int_eq(f->rc, 0);
    if (!R.p->joins) {
        AWAIT_JOIN(f->rc, t, R.h);
        ck_assert_int_eq(f->rc, 0);
    }
    ck_assert(R.handed);
    /* handed over exactly once (a condition's notify to nobody is lost,
     * but then the wait did not complete either) */
    ck_assert_int_eq(R.completions, R.p->no_retry ? R.notified : 1);
    R.p->check(t);
    CO_END;
}

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
    ck_assert(co_waitq_empty(&R.lock.waiters));
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
        ck_assert_ptr_eq(R.rlock.lock.owner, t);
        ck_assert_int_eq(co_rlock_count(&R.rlock), 1);
    } else {
        ck_assert_ptr_eq(R.rlock.lock.owner, R.handed ? NULL : R.h);
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
    ck_assert(co_waitq_empty(&R.sem.waiters));
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
    ck_assert(co_waitq_empty(&R.cond.waiters));
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
    ck_assert(co_waitq_empty(&R.cond.waiters));
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
    ck_assert(co_waitq_empty(&R.ev.waiters));
}

/* ------------------------------------------------------------ queues */

static int item_x, item_y;          /* their addresses are the items */
#define ITEM_X ((void *)&item_x)
#define ITEM_Y ((void *)&item_y)

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

static void uq_setup(co_task *t)
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
static void uq_check(co_task *t)
{
    (void)t;
    ck_assert_int_eq(co_uqueue_qsize(&R.uq), 0);
    ck_assert_ptr_null(R.uq.getters);
    ck_assert_ptr_null(R.uq.putters);
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
    ck_assert_ptr_null(R.uq.joiners);
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
    ck_assert_ptr_null(R.ue.waiters);
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
static void pair_close(void)
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

static const struct prim prims[] = {
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
#define N_PRIMS ((int)(sizeof prims / sizeof *prims))

#define COMPLETED "wait=done end=ok expired=0"
#define TIMED_OUT "wait=TIMEOUT end=TIMEOUT expired=1"
#define TIMED_OUT_RETRIED TIMED_OUT " again=done"
#define NEXT_COMPLETED "wait=done next=TIMEOUT end=TIMEOUT expired=1"

/* Run the scene and compare its log with the outcome expected (or either
 * of two).  If the machine itself held the kernel up at the wrong moment
 * (a loaded machine, valgrind), the order meant did not happen: the
 * invariants were checked all the same, and the scene is run again. */
static void run_scene(int i, enum scene s, co_func fn, const char *want,
                      const char *or_want)
{
    for (int attempt = 0;; attempt++) {
        setup();
        R.p = &prims[i];
        R.scene = s;
        struct race_main_frame m = { .i = 0 };
        RUN(fn, m);
        if (!R.late)
            break;
        ck_assert_msg(attempt < 20, "%s: the kernel was always late",
                      R.p->name);
    }
    ck_assert_msg(strcmp(lg, want) == 0 ||
                  (or_want && strcmp(lg, or_want) == 0),
                  "%s: got \"%s\", want \"%s\"%s%s%s", R.p->name, lg, want,
                  or_want ? " or \"" : "", or_want ? or_want : "",
                  or_want ? "\"" : "");
}

static const char *timed_out(int i)
{
    return prims[i].no_retry ? TIMED_OUT : TIMED_OUT_RETRIED;
}

START_TEST(test_race_held_then_hand)
{
    /* I/O: readiness and expiry reach the kernel in one poll: either */
    run_scene(_i, HELD_THEN_HAND, race_main, COMPLETED,
              prims[_i].io ? timed_out(_i) : NULL);
}
END_TEST

START_TEST(test_race_hand_then_held)
{
    run_scene(_i, HAND_THEN_HELD, race_main, COMPLETED, NULL);
}
END_TEST

START_TEST(test_race_expiry_first)
{
    run_scene(_i, EXPIRY_FIRST, race_main, timed_out(_i), NULL);
}
END_TEST

START_TEST(test_race_hander_first)
{
    run_scene(_i, HANDER_FIRST, race_main,
              prims[_i].universal ? COMPLETED : timed_out(_i), NULL);
}
END_TEST

START_TEST(test_race_undelivered_expiry_goes_to_next_call)
{
    run_scene(_i, NEXT_CALL, race_main, NEXT_COMPLETED, NULL);
}
END_TEST

/* ------------------------------------------------------------ a thread */

/* The universal queue, served by a real thread while the kernel is held
 * up: the wake comes through the kernel's post queue, together with the
 * expiry.  Whichever the kernel sees first, the item is the waiter's. */
static pthread_t feeder;

static int prim_named(const char *name)
{
    for (int i = 0; i < N_PRIMS; i++)
        if (strcmp(prims[i].name, name) == 0)
            return i;
    ck_abort_msg("no primitive named %s", name);
    return -1;
}

static void *put_y(void *arg)
{
    (void)arg;
    ck_assert_int_eq(co_uqueue_put_thread(&R.uq, ITEM_Y, -1), 0);
    return NULL;
}

static co_status thread_hander(co_task *t, void *arg)
{
    struct hand_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; not_yet_blocked(R.w); f->i++) {
        ck_assert_int_lt(f->i, 100000);
        CO_AWAIT(f->rc, co_yield(t));
    }
    if (clock_now() >= R.t0 + DEADLINE)
        R.late = 1;
    stall_until(R.t0 + STALL_END);
    ck_assert_int_eq(pthread_create(&feeder, NULL, put_y, NULL), 0);
    ck_assert_int_eq(pthread_join(feeder, NULL), 0);   /* still held up */
    R.handed = 1;
    CO_END;
}

static co_status thread_race_main(co_task *t, void *arg)
{
    struct race_main_frame *f = arg;
    struct hand_frame h = { .i = 0 };
    struct wait_frame w = { .rc = 0 };
    CO_BEGIN(t, f);
    R.t0 = co_clock();
    uq_setup(t);
    ck_assert_int_gt(CO_SPAWN(t, &R.h, thread_hander, h), 0);
    ck_assert_int_gt(CO_SPAWN(t, &R.w, waiter, w), 0);
    AWAIT_JOIN(f->rc, t, R.w);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, R.h);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(R.completions, 1);
    uq_check(t);
    CO_END;
}

START_TEST(test_race_uqueue_thread_put_while_held)
{
    run_scene(prim_named("universal queue get"), HELD_THEN_HAND,
              thread_race_main, COMPLETED, NULL);
}
END_TEST

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
    setup();
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

Suite *races_suite(void)
{
    Suite *s = suite_create("races");
    TCase *tc = tcase_create("one outcome");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);          /* valgrind */
    tcase_add_loop_test(tc, test_race_held_then_hand, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_hand_then_held, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_expiry_first, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_hander_first, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_undelivered_expiry_goes_to_next_call,
                        0, N_PRIMS);
    tcase_add_test(tc, test_race_uqueue_thread_put_while_held);
    suite_add_tcase(s, tc);

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
