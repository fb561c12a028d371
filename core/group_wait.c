/*
 * group_wait.c -- the owner's waits on a group (next_done, next_result,
 * cancel_remaining), join, and reading the results after join.
 *
 * Only the owner waits, on the group's one-task queue `waiter`, and says
 * in `wants` what would wake it (group.c tests it when a member ends), so
 * a member's end wakes it only when it has something to do.
 *
 * join goes through two phases inside the one primitive:
 *   1. wait until the policy is met -- interruptible, as any wait;
 *   2. cancel every member still running and wait until none is, with
 *      cancellation held back (as condition.c takes its lock back): the
 *      members' cleanup must not be cut short by the owner's own
 *      cancellation or timeout, which phase 1 (or the call's start) kept
 *      in `pending` and which join returns once they have all finished.
 * `state` tells the two apart on a re-evaluation: CLOSING is phase 2.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "cancel.h"
#include "group_impl.h"

static co_link *merge(co_link *a, co_link *b)
{
    co_link head = { 0 }, *tail = &head;
    while (a && b) {
        co_link **least = co__group_task_of(a)->id <= co__group_task_of(b)->id ? &a : &b;
        tail->next = *least;
        tail = *least;
        *least = (*least)->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

static co_link *sort(co_link *l)
{
    if (!l || !l->next)
        return l;
    co_link *slow = l, *fast = l->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    co_link *second = slow->next;
    slow->next = NULL;
    return merge(sort(l), sort(second));
}

static void sort_by_id(co_link *h)
{
    if (co__group_list_empty(h))
        return;
    h->prev->next = NULL;
    co_link *first = sort(h->next), *prev = h;
    h->next = first;
    for (co_link *l = first; l; prev = l, l = l->next)
        l->prev = prev;
    prev->next = h;
    h->prev = prev;
}

static int enter(co_task *self, co_group *g, int args_ok, int *rc)
{
    if (co_wait_resumed(self)) {
        co_wait_enter(self, rc);
        return *rc < 0;
    }
    if (co_wait_begin(self, args_ok, rc))
        return 1;
    if ((*rc = co__group_open(co__kernel, self, g)) < 0)
        return 1;
    if (g->priv.state >= CO__GROUP_CLOSING) {
        *rc = -EPERM;
        return 1;
    }
    return 0;
}

static co_status wait_for(co_task *self, co_group *g, int what)
{
    g->priv.wants = (uint8_t)what;
    return co_block(self, &g->priv.waiter, CO_NO_DEADLINE);
}

static co_status next(co_task *self, co_group *g, co_task **done,
                      int *result)
{
    int rc;
    if (enter(self, g, g && (done || result), &rc))
        return rc;
    if (co__group_list_empty(&g->priv.done)) {
        if (g->priv.counted)
            return wait_for(self, g, CO__GROUP_WANT_NEXT);
        if (result)
            return -EPERM;             /* no member left to give */
        *done = NULL;
        return 0;
    }
    co_task_extra *x = co__group_extra_of(g->priv.done.next);
    co_task *t = x->task;
    co__group_take_out(g, x);
    if (result) {
        *result = t->result;
        co__group_release(co__kernel, t);
    } else {
        *done = t;
    }
    return 0;
}

co_status co_group_next_done(co_task *self, co_group *g, co_task **done)
{
    return next(self, g, done, NULL);
}

co_status co_group_next_result(co_task *self, co_group *g, int *result)
{
    return next(self, g, NULL, result);
}

static void cancel_running(co_group *g)
{
    for (co_link *l = g->priv.running.next; l && l != &g->priv.running;
         l = l->next)
        co_task_cancel_nowait(co__group_task_of(l));
}

co_status co_group_cancel_remaining(co_task *self, co_group *g)
{
    int rc;
    if (enter(self, g, g != NULL, &rc))
        return rc;
    if (co__group_list_empty(&g->priv.running))
        return 0;
    cancel_running(g);
    return wait_for(self, g, CO__GROUP_WANT_EMPTY);
}

/* ------------------------------------------------------------ join */

/* join's phase 2 (top of the file), until no member runs. */
static co_status cleanup(co_task *self, co_group *g)
{
    if (!co__group_list_empty(&g->priv.running)) {
        cancel_running(g);
        return wait_for(self, g, CO__GROUP_WANT_EMPTY | (g->priv.wants & CO__GROUP_HELD));
    }
    sort_by_id(&g->priv.done);
    for (co_link *l = g->priv.done.next; l && l != &g->priv.done;
         l = l->next)
        co__group_task_of(l)->flags |= CO_F_JOINED;   /* collected by the group */
    g->priv.state = CO__GROUP_JOINED;
    if (g->priv.wants & CO__GROUP_HELD)
        co_enable_cancellation(self);
    g->priv.wants = 0;
    int rc = g->priv.pending;
    g->priv.pending = 0;
    return rc;
}

static co_status begin_cleanup(co_task *self, co_group *g, int pending)
{
    g->priv.state = CO__GROUP_CLOSING;
    g->priv.pending = pending;
    g->priv.wants = co_disable_cancellation(self) == 0 ? CO__GROUP_HELD : 0;
    return cleanup(self, g);
}

co_status co_group_join(co_task *self, co_group *g)
{
    int rc;
    if (co_wait_resumed(self)) {
        co_wait_enter(self, &rc);
        if (g->priv.state == CO__GROUP_CLOSING)
            return cleanup(self, g);
        if (rc < 0)                    /* cancelled, timed out: phase 2 */
            return begin_cleanup(self, g, rc);
    } else if (co_wait_begin(self, g != NULL, &rc)) {
        /* Due before the join began: the members end first. */
        if (rc != -EINVAL && g->priv.owner == self &&
            g->priv.state == CO__GROUP_OPEN)
            return begin_cleanup(self, g, rc);
        return rc;
    } else {
        if (g->priv.owner && g->priv.owner != self)
            return -EPERM;
        if (g->priv.state == CO__GROUP_JOINED)
            return 0;
        if (g->priv.state == CO__GROUP_UNUSED) {     /* an empty group: nothing to do */
            g->priv.owner = self;
            g->priv.state = CO__GROUP_JOINED;
            return 0;
        }
    }
    if (!co__group_policy_met(g))
        return wait_for(self, g, CO__GROUP_WANT_POLICY);
    return begin_cleanup(self, g, 0);
}

/* ------------------------------------------------------------ after join */

static int joined(const co_group *g)
{
    return g && g->priv.state == CO__GROUP_JOINED;
}

co_task *co_group_completed(const co_group *g)
{
    return joined(g) ? g->priv.completed : NULL;
}

int co_group_result(const co_group *g, int *result)
{
    if (!g || !result)
        return -EINVAL;
    if (!joined(g))
        return -EPERM;
    if (!g->priv.completed)
        return -ENOENT;
    *result = g->priv.completed->result;
    return 0;
}

int co_group_results(const co_group *g, int *results, size_t n)
{
    if (!g || (!results && n))
        return -EINVAL;
    if (!joined(g))
        return -EPERM;
    int count = 0;
    for (co_link *l = g->priv.done.next; l && l != &g->priv.done;
         l = l->next, count++)
        if ((size_t)count < n)
            results[count] = co__group_task_of(l)->result;
    return count;
}

int co_group_failures(const co_group *g)
{
    if (!g)
        return -EINVAL;
    if (!joined(g))
        return -EPERM;
    int failed = 0;
    for (co_link *l = g->priv.done.next; l && l != &g->priv.done;
         l = l->next)
        failed += co_group_member_failed(co__group_task_of(l));
    return failed;
}

co_task *co_group_next_member(const co_group *g, const co_task *prev)
{
    co_kernel *k = co__kernel;
    if (!joined(g) || !k)
        return NULL;
    const co_link *l;
    if (!prev) {
        l = g->priv.done.next;
    } else {
        co_task_extra *x = co__task_extra_get(k, prev);
        if (!x || x->group != g)
            return NULL;
        l = x->in_group.next;
    }
    return l && l != &g->priv.done ? co__group_task_of((co_link *)l) : NULL;
}
