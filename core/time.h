/*
 * time.h -- the clock, sleep, and timeout regions that nest as Curio's
 * timeout_after / ignore_after do.
 *
 *     co_timeout to;                    // lives in the frame
 *     co_timeout_after(t, &f->to, 0.5);
 *     CO_AWAIT(rc, co_sleep(t, 1.0));   // -ETIMEDOUT after 0.5 s
 *     rc = co_timeout_end(t, &f->to, rc);
 *
 * While a region's deadline has passed, every blocking primitive inside it
 * (nested regions included) returns -ETIMEDOUT, until that region ends:
 * code inside cannot accidentally keep running.  A region can tell whether
 * the expiry was its own (co_timeout_expired) or an outer region's.
 * Regions end in reverse order of beginning, and before the coroutine that
 * began them returns (CO_FINALLY is the place).  Timeouts are held back in
 * a region where cancellation is disabled, and are disarmed once the task
 * has been cancelled, so cleanup is not interrupted.
 */
#ifndef CO_TIME_H
#define CO_TIME_H

#include <stdint.h>

#include "task.h"

struct co_timeout {
    int64_t deadline;       /* monotonic ns */
    int64_t effective;      /* min(deadline, outer's effective) */
    co_timeout *outer;
    uint32_t depth;         /* catches regions ended out of order */
    uint8_t expired;        /* its own deadline was delivered */
    uint8_t ignore;         /* ignore_after: its own expiry is not an error */
};

/* Seconds on the kernel's monotonic clock (Curio's clock()). */
double co_clock(void);

/* Blocking: sleep for `seconds`; 0 or less is co_yield (a deadline that
 * has already passed is not an error), +inf sleeps until woken by
 * cancellation or a timeout.  Returns 0, or -ECANCELED / -ETIMEDOUT;
 * -EINVAL for NaN. */
co_status co_sleep(co_task *self, double seconds);

/* Begin a region whose blocking primitives fail with -ETIMEDOUT once
 * `seconds` have passed. 0, or -EINVAL (NaN, NULL). */
int co_timeout_after(co_task *self, co_timeout *region, double seconds);

/* The same, but at an absolute co_clock() time. */
int co_timeout_at(co_task *self, co_timeout *region, double clock_time);

/* Begin a region whose own expiry is not an error: co_timeout_end returns 0
 * for it (check co_timeout_expired). */
int co_ignore_after(co_task *self, co_timeout *region, double seconds);

/*
 * End the innermost region and say what the region's body amounts to,
 * given rc, the body's result:
 *   - its own deadline expired: -ETIMEDOUT (0 for ignore_after);
 *   - otherwise rc unchanged (an outer region's -ETIMEDOUT passes through to
 *     the region it belongs to).
 */
int co_timeout_end(co_task *self, co_timeout *region, int rc);

/* Whether this region's own deadline was delivered. */
int co_timeout_expired(const co_timeout *region);

#endif /* CO_TIME_H */
