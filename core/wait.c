/*
 * wait.c -- blocking and waking: the one mechanism under every primitive.
 */
#include <errno.h>
#include <stddef.h>

#include "error.h"
#include "kernel_impl.h"

void co_waitq_init(co_waitq *q)
{
    q->head.next = q->head.prev = &q->head;
}

static void link_tail(co_waitq *q, co_task *t)
{
    co_link *l = &t->link;
    if (!q->head.next)
        co_waitq_init(q);
    l->next = &q->head;
    l->prev = q->head.prev;
    q->head.prev->next = l;
    q->head.prev = l;
}

/* A task is in a wait queue exactly when its prev link is set (the ready
 * queue uses only next). */
static void unlink_waiter(co_task *t)
{
    co_link *l = &t->link;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

/* Wake a task known to be blocked: out of its wait queue and the timer
 * heap, the wake value in `result`, to the back of the ready queue. */
static inline void wake_blocked(co_kernel *k, co_task *t, int value)
{
    if (t->link.prev)
        unlink_waiter(t);
    if (t->flags & CO_F_IN_HEAP)
        co__heap_remove(k, (uint32_t)t->result);
    t->flags = (t->flags & ~CO_F_JOINING) | CO_F_WOKEN;
    t->result = value;
    co__ready_push(k, t);
}

co_task *co_waitq_wake_one(co_waitq *q, int value)
{
    if (co_waitq_empty(q))
        return NULL;
    co_task *t = co__task_of(q->head.next);
    wake_blocked(co__kernel, t, value);  /* in a wait queue: blocked */
    return t;
}

int co_waitq_wake_all(co_waitq *q, int value)
{
    int n = 0;
    if (co_waitq_empty(q))
        return 0;
    co_kernel *k = co__kernel;
    while (q->head.next != &q->head) {
        wake_blocked(k, co__task_of(q->head.next), value);
        n++;
    }
    return n;
}

int64_t co_now_ns(void)
{
    co_kernel *k = co__kernel;
    if (!k)
        return co__mono_ns();
    if (!k->now_fresh) {
        k->now = co__mono_ns();
        k->now_fresh = 1;
    }
    return k->now;
}

int co_wait_enter_at(co_task *self, int *rc, const char *func)
{
    co_kernel *k = co__kernel;
    if (!k || !self || self != co__running)
        co_panic_at(func, __FILE__, __LINE__,
                    "awaited outside its task: the co_task passed is not the "
                    "task this thread's kernel is running");
    if (self->flags & CO_F_WOKEN) {        /* re-evaluation after a wake */
        self->flags &= ~CO_F_WOKEN;
        *rc = self->result;
        return 1;
    }
    if (!co__cancellable(self))
        return 0;
    if (self->flags & CO_F_CANCEL_REQ) {   /* sticky once requested */
        self->flags |= CO_F_CANCEL_DONE;
        *rc = -ECANCELED;
        return 1;
    }
    if (self->timeouts) {
        int64_t now = co_now_ns();
        if (self->timeouts->effective <= now) {
            co__mark_expired(self, now);
            *rc = -ETIMEDOUT;
            return 1;
        }
    }
    return 0;
}

co_status co_block(co_task *self, co_waitq *q, int64_t deadline)
{
    co_kernel *k = co__kernel;
    if (co__timeouts_armed(self) && self->timeouts->effective < deadline)
        deadline = self->timeouts->effective;
    if (deadline != CO_NO_DEADLINE && co__heap_insert(k, self, deadline) < 0)
        return -ENOMEM;
    co__set_state(self, CO_STATE_BLOCKED);
    if (q)
        link_tail(q, self);
    return CO_WOULDBLOCK;
}

int co_wake(co_task *t, int value)
{
    if (!t || co__state(t) != CO_STATE_BLOCKED)
        return 0;
    wake_blocked(co__kernel, t, value);
    return 1;
}
