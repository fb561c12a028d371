/*
 * timeout.c -- clock, sleep, and nested timeout regions.
 *
 * Regions live in the caller's frame and are chained from the task; they
 * cost nothing while the task runs.  Only when a task blocks does the
 * innermost effective deadline join its wait (co_block puts the earlier of
 * the sleep deadline and the timeout in the timer heap).
 *
 * A region counts as expired (co_timeout_expired, co_timeout_end's
 * -ETIMEDOUT) only once its expiry has been delivered to a blocking call,
 * as in Curio: an expiry that comes due together with a primitive's own
 * completion (its sleep deadline, an item handed over) loses to it, and is
 * discarded if the region ends before another blocking call.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "errors_impl.h"
#include "kernel_impl.h"

/* seconds -> ns from now, saturating; INT64_MAX for +inf. */
static int64_t deadline_after(double seconds)
{
    int64_t now = co_now_ns();
    if (seconds <= 0)
        return now;
    double ns = seconds * 1e9;
    if (ns >= (double)(INT64_MAX - now))
        return CO_NO_DEADLINE;
    return now + (int64_t)ns;
}

double co_clock(void)
{
    return (double)co_now_ns() / 1e9;
}

co_status co_sleep(co_task *self, double seconds)
{
    int rc;
    if (co_wait_begin(self, !isnan(seconds), &rc))
        return rc;
    if (seconds <= 0)
        return co_yield(self);
    return co_block(self, NULL, deadline_after(seconds));
}

/* The outermost region whose deadline has passed takes the expiry (as in
 * Curio); inner regions see an outer region's timeout pass through. */
void co__timeout_mark_expired(co_task *t, int64_t now)
{
    co_timeout *outermost = NULL;
    for (co_timeout *r = t->timeouts; r; r = r->outer)
        if (r->deadline <= now)
            outermost = r;
    if (outermost)
        outermost->expired = 1;
}

/* The timer entry of a blocked task came due.  Its own deadline (a sleep's)
 * was earlier than every region's, so the primitive completes with 0 even
 * if a region has expired too meanwhile (the kernel was held up): that
 * expiry is delivered at the next blocking call, if the region is still
 * open then.  Otherwise a region expired: the wake carries -ETIMEDOUT, and
 * the region counts as expired once the wake is delivered (co_wait_enter),
 * not before -- a primitive that completed anyway discards it
 * (co_wait_completed). */
void co__timeout_deadline_reached(co_kernel *k, co_task *t, int64_t now)
{
    (void)k;
    if (!(t->flags & CO_F_OWN_DEADLINE) && co__task_timeouts_armed(t) &&
        t->timeouts->effective <= now) {
        co_wake(t, -ETIMEDOUT);
        t->flags |= CO_F_EXPIRY_WAKE;
    } else {
        co_wake(t, 0);
    }
}

static int begin_region(co_task *self, co_timeout *r, int64_t deadline,
                        int ignore, const char *where)
{
    if (!self || !r)
        return -EINVAL;
    co_timeout *outer = self->timeouts;
    r->deadline = deadline;
    r->effective = outer && outer->effective < deadline ? outer->effective
                                                        : deadline;
    r->outer = outer;
    r->depth = outer ? outer->depth + 1 : 1;
    r->expired = 0;
    r->ignore = (uint8_t)ignore;
    r->where = where;
    self->timeouts = r;
    return 0;
}

int co_timeout_after_here(co_task *self, co_timeout *r, double seconds,
                          const char *where)
{
    if (isnan(seconds))
        return -EINVAL;
    return begin_region(self, r, deadline_after(seconds), 0, where);
}

int co_ignore_after_here(co_task *self, co_timeout *r, double seconds,
                         const char *where)
{
    if (isnan(seconds))
        return -EINVAL;
    return begin_region(self, r, deadline_after(seconds), 1, where);
}

int co_timeout_at_here(co_task *self, co_timeout *r, double clock_time,
                       const char *where)
{
    if (isnan(clock_time))
        return -EINVAL;
    return begin_region(self, r, deadline_after(clock_time - co_clock()), 0,
                        where);
}

/* The plain functions (the macros of the same name pass the place). */
int (co_timeout_after)(co_task *self, co_timeout *r, double seconds)
{
    return co_timeout_after_here(self, r, seconds, NULL);
}

int (co_ignore_after)(co_task *self, co_timeout *r, double seconds)
{
    return co_ignore_after_here(self, r, seconds, NULL);
}

int (co_timeout_at)(co_task *self, co_timeout *r, double clock_time)
{
    return co_timeout_at_here(self, r, clock_time, NULL);
}

/* A region is still open where it must not be: when the coroutine whose
 * frame holds it finishes (at `at`, its CO_END), or (at == NULL) when its
 * task ends.  Left open, it would time out the unrelated awaits that
 * follow. */
_Noreturn void co__timeout_panic_open_region(co_task *t, const char *at)
{
    const co_timeout *r = t->timeouts;
    char msg[512];
    snprintf(msg, sizeof msg,
             "timeout region begun at %s is still open when %s %s (task "
             "%u): every region must end with co_timeout_end before the "
             "coroutine that began it returns -- an early return between "
             "co_timeout_after and co_timeout_end? (end it in CO_FINALLY, "
             "or use CO_AWAIT_TIMEOUT)",
             r->where ? r->where : "(a place not recorded)",
             at ? "the coroutine holding it finishes at"
                : "its task ends, last at",
             at ? at : t->where ? t->where : "(start)", (unsigned)t->id);
    co__error_panic_where("co_timeout_after", r->where, "?", msg);
}

int co_timeout_end(co_task *self, co_timeout *r, int rc)
{
    if (!self || !r)
        return -EINVAL;
    if (self->timeouts != r) {
        char msg[384];
        const co_timeout *open = self->timeouts;
        snprintf(msg, sizeof msg,
                 "timeout region begun at %s ended out of order: the region "
                 "begun at %s is still open inside it -- regions must end "
                 "innermost first, before their coroutine returns",
                 r->where ? r->where : "(a place not recorded)",
                 open && open->where ? open->where : "(none open)");
        co__error_panic_where("co_timeout_end", r->where, "?", msg);
    }
    self->timeouts = r->outer;
    if (r->expired)
        return r->ignore ? 0 : -ETIMEDOUT;
    return rc;
}

int co_timeout_expired(const co_timeout *r)
{
    return r && r->expired;
}
