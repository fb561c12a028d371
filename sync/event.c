/* event.c -- an Event is a flag and the tasks waiting for it. */
#include <errno.h>

#include "event.h"

int co_event_set(co_event *e)
{
    if (!e)
        return -EINVAL;
    e->priv.set = 1;
    co_waitq_wake_all(&e->priv.waiters, 0);
    return 0;
}

int co_event_clear(co_event *e)
{
    if (!e)
        return -EINVAL;
    e->priv.set = 0;
    return 0;
}

int co_event_is_set(const co_event *e)
{
    return e && e->priv.set;
}

co_status co_event_wait(co_task *self, co_event *e)
{
    int rc;
    if (co_wait_begin(self, e != NULL, &rc))
        return rc;
    if (e->priv.set)
        return 0;
    return co_block(self, &e->priv.waiters, CO_NO_DEADLINE);
}
