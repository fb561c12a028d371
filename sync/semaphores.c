/* semaphores.c -- a count of permits and a FIFO of waiters. */
#include <errno.h>
#include <limits.h>

#include "semaphores.h"

int co_semaphore_init(co_semaphore *s, int value)
{
    if (!s || value < 0)
        return -EINVAL;
    *s = (co_semaphore){ .priv.value = value };
    return 0;
}

int co_bounded_semaphore_init(co_semaphore *s, int value)
{
    int rc = co_semaphore_init(s, value);
    if (rc == 0) {
        s->priv.bound = value;
        s->priv.bounded = 1;
    }
    return rc;
}

co_status co_semaphore_acquire(co_task *self, co_semaphore *s)
{
    int rc;
    if (co_wait_begin(self, s != NULL, &rc))
        return rc;                 /* woken: a release handed us a permit */
    /* No barging: a free permit with tasks still queued cannot happen,
     * since release hands permits to waiters first. */
    if (s->priv.value > 0) {
        s->priv.value--;
        return 0;
    }
    return co_block(self, &s->priv.waiters, CO_NO_DEADLINE);
}

int co_semaphore_release(co_semaphore *s)
{
    if (!s)
        return -EINVAL;
    if (co_waitq_wake_one(&s->priv.waiters, 0))
        return 0;
    if (s->priv.bounded && s->priv.value >= s->priv.bound)
        return -EINVAL;
    if (s->priv.value == INT_MAX)
        return -EOVERFLOW;
    s->priv.value++;
    return 0;
}

int co_semaphore_value(const co_semaphore *s)
{
    return s ? s->priv.value : -EINVAL;
}

int co_semaphore_locked(const co_semaphore *s)
{
    return s && s->priv.value == 0;
}
