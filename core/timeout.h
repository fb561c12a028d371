/*
 * timeout.h -- the clock, sleep, and timeout regions that nest as Curio's
 * timeout_after / ignore_after do.
 *
 *     co_timeout to;                    // lives in the frame
 *     co_timeout_after(t, &f->to, 0.5);
 *     CO_AWAIT(rc, co_sleep(t, 1.0));   // -ETIMEDOUT after 0.5 s
 *     rc = co_timeout_end(t, &f->to, rc);
 *
 * or, for a region around one await, the scoped form that cannot be left
 * open:
 *
 *     CO_AWAIT_TIMEOUT(rc, &f->to, 0.5, co_sleep(t, 1.0));
 *
 * While a region's deadline has passed, every blocking primitive inside it
 * (nested regions included) returns -ETIMEDOUT, until that region ends:
 * code inside cannot accidentally keep running.  A region can tell whether
 * the expiry was its own (co_timeout_expired) or an outer region's.
 * Regions end in reverse order of beginning, and before the coroutine that
 * began them returns (CO_FINALLY is the place).  Both rules are checked:
 * a region ended out of order, a region still open when the coroutine whose
 * frame holds it finishes, and one still open when its task ends abort with
 * a message naming the file:line where the region began.  Timeouts are held
 * back in a region where cancellation is disabled, and are disarmed once the task
 * has been cancelled, so cleanup is not interrupted.
 */
#ifndef CO_TIMEOUT_H
#define CO_TIMEOUT_H

#include <stdint.h>

#include "api.h"
#include "task.h"

struct co_timeout {
    int64_t deadline;       /* monotonic ns */
    int64_t effective;      /* min(deadline, outer's effective) */
    co_timeout *outer;
    const char *where;      /* "file.c:line" of its beginning */
    uint32_t depth;         /* catches regions ended out of order */
    uint8_t expired;        /* its own deadline was delivered */
    uint8_t ignore;         /* ignore_after: its own expiry is not an error */
};

/* Seconds on the kernel's monotonic clock (Curio's clock()). */
CO_API double co_clock(void);

/* Blocking: sleep for `seconds`; 0 or less is co_yield (a deadline that
 * has already passed is not an error), +inf sleeps until woken by
 * cancellation or a timeout.  Returns 0, or -ECANCELED / -ETIMEDOUT;
 * -EINVAL for NaN. */
CO_API co_status co_sleep(co_task *self, double seconds);

/* Begin a region whose blocking primitives fail with -ETIMEDOUT once
 * `seconds` have passed. 0, or -EINVAL (NaN, NULL).
 *
 * These three are macros that pass the caller's file:line (CO_HERE) on to
 * the *_here functions, for the messages about regions left open; the
 * plain functions exist too (take their address, or call them as
 * `(co_timeout_after)(...)`), and record no place. */
CO_API int co_timeout_after(co_task *self, co_timeout *region, double seconds);
CO_API int co_timeout_after_here(co_task *self, co_timeout *region,
                                 double seconds, const char *where);
#define co_timeout_after(self, region, seconds)                              \
    co_timeout_after_here((self), (region), (seconds), CO_HERE)

/* The same, but at an absolute co_clock() time. */
CO_API int co_timeout_at(co_task *self, co_timeout *region, double clock_time);
CO_API int co_timeout_at_here(co_task *self, co_timeout *region,
                              double clock_time, const char *where);
#define co_timeout_at(self, region, clock_time)                              \
    co_timeout_at_here((self), (region), (clock_time), CO_HERE)

/* Begin a region whose own expiry is not an error: co_timeout_end returns 0
 * for it (check co_timeout_expired). */
CO_API int co_ignore_after(co_task *self, co_timeout *region, double seconds);
CO_API int co_ignore_after_here(co_task *self, co_timeout *region,
                                double seconds, const char *where);
#define co_ignore_after(self, region, seconds)                               \
    co_ignore_after_here((self), (region), (seconds), CO_HERE)

/*
 * End the innermost region and say what the region's body amounts to,
 * given rc, the body's result:
 *   - its own deadline expired: -ETIMEDOUT (0 for ignore_after);
 *   - otherwise rc unchanged (an outer region's -ETIMEDOUT passes through to
 *     the region it belongs to).
 */
CO_API int co_timeout_end(co_task *self, co_timeout *region, int rc);

/* Whether this region's own deadline was delivered. */
CO_API int co_timeout_expired(const co_timeout *region);

/*
 * Scoped forms, inside a coroutine body: begin a region (in the frame),
 * await one call, end the region; res gets co_timeout_end's verdict (or
 * -EINVAL if the region could not begin, and then the call is not made).
 * Every path through them ends the region, so it cannot be left open.
 *     CO_AWAIT_TIMEOUT(f->rc, &f->to, 5.0, co_open_connection(t, &f->sock,
 *                                                       "127.0.0.1", 25000));
 */
#define CO_AWAIT_TIMEOUT(res, region, seconds, ...)                          \
    CO__AWAIT_REGION(res, co_timeout_after, region, seconds, __VA_ARGS__)
#define CO_AWAIT_IGNORE(res, region, seconds, ...)                           \
    CO__AWAIT_REGION(res, co_ignore_after, region, seconds, __VA_ARGS__)
#define CO__AWAIT_REGION(res, begin, region, seconds, ...)                   \
    do {                                                                     \
        if (((res) = begin(co__t, (region), (seconds))) == 0) {              \
            CO_AWAIT(res, __VA_ARGS__);                                      \
            (res) = co_timeout_end(co__t, (region), (res));                  \
        }                                                                    \
    } while (0)

#endif /* CO_TIMEOUT_H */
