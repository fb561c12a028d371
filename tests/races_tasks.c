/* races_tasks.c -- what the races suites share (see races_tasks.h). */
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
#include "suites.h"             /* AWAIT_JOIN */

double clock_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void stall_until(double when)
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

void stall(double secs)
{
    stall_until(clock_now() + secs);
}

int at_once(int rc, const char *what)
{
    ck_assert_msg(rc != CO_WOULDBLOCK, "%s blocked", what);
    return rc;
}

int blocked(const co_task *t)
{
    return strcmp(co_task_state(t), "blocked") == 0;
}

int not_yet_blocked(const co_task *t)
{
    return !blocked(t) && !co_task_done(t);
}

int inq(int fd)
{
    int n = -1;
    ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

int backlog_pending(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, 0);
    ck_assert_int_ge(n, 0);
    return n;
}

struct races_scene R;
pthread_t feeder;

void races_setup(void)
{
    log_reset();
    memset(&R, 0, sizeof R);
    R.cfd = -1;
}

const char *outcome(int rc)
{
    return rc >= 0 ? "done" : rcs(rc);
}

co_status waiter(co_task *t, void *arg)
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

co_status hander(co_task *t, void *arg)
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

co_status race_main(co_task *t, void *arg)
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
