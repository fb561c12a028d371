/*
 * event.h -- Curio's Event: set / clear / is_set / wait.
 *
 * All zeros is a clear event, so an event can live in a frame initialised
 * with `{0}`.  It must not be copied once a task has waited on it.
 */
#ifndef CO_EVENT_H
#define CO_EVENT_H

#include "../core/api.h"
#include "../core/waits.h"

/* Private to sync/event.c. */
struct co__event_private {
    co_waitq waiters;
    int set;
};

/* Every field is private, in `priv`: use the functions below. */
typedef struct co_event {
    struct co__event_private priv;
} co_event;

/* Set the event: every waiter is woken (oldest first); the caller keeps
 * running (setting never yields). 0, or -EINVAL. */
CO_API int co_event_set(co_event *e);
CO_API int co_event_clear(co_event *e);
CO_API int co_event_is_set(const co_event *e);

/* Blocking: wait until the event is set (0 at once if it is). */
CO_API co_status co_event_wait(co_task *self, co_event *e);

#endif
