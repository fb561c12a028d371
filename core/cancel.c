/*
 * cancel.c -- requesting cancellation, and regions that hold it back.
 *
 * Cancellation is delivered at blocking points: co_wait_enter (waits.c)
 * returns -ECANCELED from every primitive once a request is pending and
 * cancellation is enabled.  Here: the request itself, which also wakes the
 * target at once if it is blocked where cancellation is allowed.
 */
#include <errno.h>

#include "cancel.h"
#include "kernel_impl.h"

int co_task_cancel_nowait(co_task *target)
{
    if (!target || !target->fn)    /* fn NULL: released (task.c) */
        return -EINVAL;
    if (co__task_state(target) == CO_STATE_DONE ||
        (target->flags & CO_F_CANCEL_REQ))
        return 0;
    target->flags |= CO_F_CANCEL_REQ;
    if (co__task_state(target) == CO_STATE_BLOCKED && co__task_cancellable(target)) {
        target->flags |= CO_F_CANCEL_DONE;
        co_wake(target, -ECANCELED);
    }
    return 1;
}

int co_disable_cancellation(co_task *self)
{
    if (!self || (self->flags & CO_NOCANCEL_MASK) == CO_NOCANCEL_MASK)
        return -EINVAL;
    self->flags += CO_NOCANCEL_ONE;
    return 0;
}

int co_enable_cancellation(co_task *self)
{
    if (!self || co__task_cancellable(self))
        return -EINVAL;
    self->flags -= CO_NOCANCEL_ONE;
    return 0;
}

/* What is pending, as Curio's check_cancellation() returns it: a
 * cancellation first (it disarms timeouts), else a region's expiry.  With
 * cancellation enabled the check is a blocking point without the block: it
 * delivers what it reports.  In a disabled region it only reports. */
int co_check_cancellation(co_task *self)
{
    if (!self)
        return -EINVAL;
    int enabled = co__task_cancellable(self);
    if (self->flags & CO_F_CANCEL_REQ) {
        if (enabled)
            self->flags |= CO_F_CANCEL_DONE;
        return -ECANCELED;
    }
    if (self->timeouts) {
        int64_t now = co_now_ns();
        if (self->timeouts->effective <= now) {
            if (enabled)
                co__timeout_mark_expired(self, now);
            return -ETIMEDOUT;
        }
    }
    return 0;
}
