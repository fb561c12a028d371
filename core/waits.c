/*
 * waits.c -- blocking and waking: the one mechanism under every primitive.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "errors_impl.h"
#include "kernel_impl.h"

void co_waitq_init(co_waitq *q)
{
    if (q)
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

/* A blocked task is in a wait queue exactly when its next link is set (the
 * ready queue holds only ready tasks).  prev is left pointing at the node
 * the task followed: for a queue only this task was in, the queue's own
 * head, which co_wait_solo_queue hands back after the wake. */
static void unlink_waiter(co_task *t)
{
    co_link *l = &t->link;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = NULL;
}

/* A blocked task leaves its wait queue and the timer heap. */
static inline void leave_queues(co_kernel *k, co_task *t)
{
    if (t->link.next)
        unlink_waiter(t);
    if (t->flags & CO_F_IN_HEAP)
        co__timer_heap_remove(k, (uint32_t)t->result);
}

/* Wake a task known to be blocked: out of its wait queue and the timer
 * heap, the wake value in `result`, to the back of the ready queue. */
static inline void wake_blocked(co_kernel *k, co_task *t, int value)
{
    leave_queues(k, t);
    t->flags = (t->flags & ~(CO_F_JOINING | CO_F_OWN_DEADLINE)) | CO_F_WOKEN;
    t->result = value;
    co__kernel_ready_push(k, t);
}

/* Shutdown gives up on a task that ignores cancellation: before it is
 * freed, it leaves every queue that points at it. */
void co__wait_forget(co_kernel *k, co_task *t)
{
    if (co__task_state(t) == CO_STATE_BLOCKED)
        leave_queues(k, t);
}

co_task *co_waitq_wake_one(co_waitq *q, int value)
{
    if (!q || co_waitq_empty(q))
        return NULL;
    co_task *t = co__task_of_link(q->head.next);
    wake_blocked(co__kernel, t, value);  /* in a wait queue: blocked */
    return t;
}

int co_waitq_wake_all(co_waitq *q, int value)
{
    int n = 0;
    if (!q)
        return -EINVAL;
    if (co_waitq_empty(q))
        return 0;
    co_kernel *k = co__kernel;
    while (q->head.next != &q->head) {
        wake_blocked(k, co__task_of_link(q->head.next), value);
        n++;
    }
    return n;
}

int64_t co_now_ns(void)
{
    co_kernel *k = co__kernel;
    if (!k)
        return co__kernel_mono_ns();
    if (!k->now_fresh) {
        k->now = co__kernel_mono_ns();
        k->now_fresh = 1;
    }
    return k->now;
}

/* The task is running its body, yet a primitive has already blocked it
 * (or put it in the ready queue): that primitive's CO_WOULDBLOCK was not
 * returned through CO_AWAIT.  The call lies between the task's last
 * suspension point (`where`, where it resumed) and now; name that place. */
_Noreturn void co__wait_panic_not_awaited(co_task *t, const char *func,
                                     const char *what)
{
    char msg[512];
    co_kernel *k = co__kernel;
    snprintf(msg, sizeof msg,
             "task %u '%s' %s while already %s: a blocking call made since "
             "it last resumed (at the line named here) was not awaited -- "
             "missing CO_AWAIT?",
             (unsigned)t->id, k && t->slot < k->reg_len ?
                 k->reg[t->slot].name : "?",
             what, co__task_state(t) == CO_STATE_BLOCKED ? "blocked" : "queued");
    co__error_panic_where(func, t->where, "(start of the task)", msg);
}

/* THE RULE's step 1 (wait.h): abort unless self is the running task,
 * running its body. */
static void check_self(co_task *self, const char *func)
{
    if (!self)
        co_panic_at(func, __FILE__, __LINE__,
                    "called with a NULL task: pass the running task (the "
                    "coroutine's own co_task *)");
    if (!co__kernel)
        co_panic_at(func, __FILE__, __LINE__,
                    "no kernel runs in this thread: blocking primitives are "
                    "awaited inside tasks (threads use the thread forms)");
    if (self != co__running)
        co_panic_at(func, __FILE__, __LINE__,
                    "awaited outside its task: the co_task passed is not the "
                    "task this thread's kernel is running");
    if (co__task_state(self) != CO_STATE_RUNNING)
        co__wait_panic_not_awaited(self, func, "entered");
}

/* Bad arguments: after self (which aborts) and the primitive's own wake
 * (delivered as usual), -EINVAL, touching nothing: a pending cancellation
 * or timeout stays pending for the next call. */
int co__wait_refuse(co_task *self, int *rc, const char *func)
{
    check_self(self, func);
    if (self->flags & CO_F_WOKEN)
        return co_wait_enter_at(self, rc, func);
    *rc = -EINVAL;
    return 1;
}

int co_wait_enter_at(co_task *self, int *rc, const char *func)
{
    check_self(self, func);
    if (self->flags & CO_F_WOKEN) {        /* re-evaluation after a wake */
        /* A region's expiry is delivered now: only now does the region
         * count as expired (co_wait_completed discards it instead). */
        if (self->flags & CO_F_EXPIRY_WAKE)
            co__timeout_mark_expired(self, co_now_ns());
        self->flags &= ~(CO_F_WOKEN | CO_F_EXPIRY_WAKE);
        *rc = self->result;
        return 1;
    }
    if (!co__task_cancellable(self))
        return 0;
    if (self->flags & CO_F_CANCEL_REQ) {   /* sticky once requested */
        self->flags |= CO_F_CANCEL_DONE;
        *rc = -ECANCELED;
        return 1;
    }
    if (self->timeouts) {
        int64_t now = co_now_ns();
        if (self->timeouts->effective <= now) {
            co__timeout_mark_expired(self, now);
            *rc = -ETIMEDOUT;
            return 1;
        }
    }
    return 0;
}

void co_wait_completed(co_task *self)
{
    if (!co_wait_resumed(self) || self != co__running)
        co_panic("not the re-evaluation of the running task's own wait");
    self->flags &= ~(CO_F_WOKEN | CO_F_EXPIRY_WAKE);
}

co_waitq *co_wait_solo_queue(const co_task *self)
{
    if (!co_wait_resumed(self) || !self->link.prev)
        return NULL;
    return (co_waitq *)(void *)self->link.prev;   /* head is the first member */
}

/* Cannot fail: every live task has its place in the timer heap reserved
 * when it is spawned (co__timer_heap_reserve), so a running task can always
 * block with a deadline. */
co_status co_block(co_task *self, co_waitq *q, int64_t deadline)
{
    co_kernel *k = co__kernel;
    uint32_t own = CO_F_OWN_DEADLINE;
    /* On a tie the region wins: it was set first (as in Curio, whose
     * sleep queue is ordered by deadline, then by arrival). */
    if (co__task_timeouts_armed(self) && self->timeouts->effective <= deadline) {
        deadline = self->timeouts->effective;
        own = 0;
    }
    if (deadline != CO_NO_DEADLINE) {
        co__timer_heap_insert(k, self, deadline);
        self->flags |= own;
    }
    if (q) {
        co__task_set_state(self, CO_STATE_BLOCKED);
        link_tail(q, self);
    } else {
        co__task_block_unqueued(self);
    }
    return CO_WOULDBLOCK;
}

int co_wake(co_task *t, int value)
{
    if (!t || co__task_state(t) != CO_STATE_BLOCKED)
        return 0;
    wake_blocked(co__kernel, t, value);
    return 1;
}
