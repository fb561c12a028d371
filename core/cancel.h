/*
 * cancel.h -- regions where cancellation (and timeouts) are held back, and
 * an explicit check.  Requesting cancellation is in task.h.
 */
#ifndef CO_CANCEL_H
#define CO_CANCEL_H

#include "api.h"
#include "task.h"

/* Hold back cancellation and timeouts until the matching enable. Nests.
 * A cancellation requested meanwhile is delivered at the first blocking
 * point after the outermost region ends. 0, or -EINVAL. */
CO_API int co_disable_cancellation(co_task *self);
/* -EINVAL if not disabled. */
CO_API int co_enable_cancellation(co_task *self);

/* What is pending: -ECANCELED if a cancellation is, else -ETIMEDOUT if a
 * timeout region's deadline has passed (Curio's check_cancellation()
 * returns the pending TaskTimeout too), else 0.  With cancellation enabled
 * this also delivers it, as a blocking call would (from now on every
 * blocking primitive returns the same, and an expired region counts as
 * expired); inside a disabled region it only reports. */
CO_API int co_check_cancellation(co_task *self);

#endif /* CO_CANCEL_H */
