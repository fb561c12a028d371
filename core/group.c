/*
 * group.c -- task groups (group.h): membership, the wait policies, join.
 *
 * A group is two lists of its members' records of rarer data
 * (co_task_extra, linked through in_group): those still running, and
 * those finished but not collected, in the order they finished.  Only the
 * owner ever waits on the group, on its one-task queue `waiter`, and says
 * in `wants` what would wake it, so a member's end wakes it only when it
 * has something to do.
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
#include <stdio.h>

#include "cancel.h"
#include "errors_impl.h"
#include "group.h"
#include "kernel_impl.h"

enum { UNUSED = 0, OPEN, CLOSING, JOINED };        /* priv.state */
enum { WANT_NEXT = 1, WANT_POLICY, WANT_EMPTY };   /* priv.wants */
#define HELD 0x80u   /* in wants: phase 2 disabled cancellation */

/* ------------------------------------------------------------ lists */

static void list_init(co_link *h)
{
    if (!h->next)
        h->next = h->prev = h;
}

static int list_empty(const co_link *h)
{
    return !h->next || h->next == h;
}

static void list_append(co_link *h, co_link *l)
{
    list_init(h);
    l->next = h;
    l->prev = h->prev;
    h->prev->next = l;
    h->prev = l;
}

static void list_unlink(co_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

static co_task_extra *extra_of(co_link *l)
{
    return (co_task_extra *)(void *)((char *)l -
                                     offsetof(co_task_extra, in_group));
}

static co_task *task_of(co_link *l)
{
    return extra_of(l)->task;
}

/* Sort the done list by id (after join): a merge sort of the list as a
 * singly linked one, then the prev links again.  No allocation. */
static co_link *merge(co_link *a, co_link *b)
{
    co_link head = { 0 }, *tail = &head;
    while (a && b) {
        co_link **least = task_of(a)->id <= task_of(b)->id ? &a : &b;
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
    if (list_empty(h))
        return;
    h->prev->next = NULL;
    co_link *first = sort(h->next), *prev = h;
    h->next = first;
    for (co_link *l = first; l; prev = l, l = l->next)
        l->prev = prev;
    prev->next = h;
    h->prev = prev;
}

/* ------------------------------------------------------------ members */

static int own_cancellation(const co_task *t)
{
    return t->result == -ECANCELED && (t->flags & CO_F_CANCEL_REQ);
}

int co_group_member_failed(const co_task *t)
{
    return t && co__task_state(t) == CO_STATE_DONE && t->result < 0 &&
           !own_cancellation(t);
}

/* Whether finished member t completes its group's policy. */
static int completes(const co_group *g, const co_task *t)
{
    if (own_cancellation(t))
        return 0;
    switch (g->priv.policy) {
    case CO_GROUP_ALL: return t->result < 0;
    case CO_GROUP_ANY: return 1;
    case CO_GROUP_OBJECT: return t->result != 0;
    default: return 0;
    }
}

static int policy_met(const co_group *g)
{
    return g->priv.policy == CO_GROUP_NONE || g->priv.completed ||
           g->priv.counted == 0;
}

static int has_members(const co_group *g)
{
    return !list_empty(&g->priv.running) || !list_empty(&g->priv.done);
}

/* Wake the owner if it waits for what the group now has. */
static void wake_owner(co_group *g)
{
    if (co_waitq_empty(&g->priv.waiter))
        return;
    int now;
    switch (g->priv.wants & ~HELD) {
    case WANT_NEXT:
        now = !list_empty(&g->priv.done) || g->priv.counted == 0;
        break;
    case WANT_POLICY: now = policy_met(g); break;
    default: now = list_empty(&g->priv.running); break;
    }
    if (now)
        co_waitq_wake_one(&g->priv.waiter, 0);
}

/* The first finished member that completes the policy, after the one
 * that did was taken out (Curio looks again too). */
static void find_completed(co_group *g)
{
    g->priv.completed = NULL;
    if (g->priv.state == JOINED)
        return;
    for (co_link *l = g->priv.done.next; l && l != &g->priv.done;
         l = l->next)
        if (completes(g, task_of(l))) {
            g->priv.completed = task_of(l);
            return;
        }
}

/* A finished member leaves the group's done list (collected). */
static void take_out(co_group *g, co_task_extra *x)
{
    list_unlink(&x->in_group);
    x->group = NULL;
    if (g->priv.completed == x->task)
        find_completed(g);
}

/* The group frees a member nobody else holds; during a shutdown the
 * kernel's list still points at it, and co__task_release_all frees it. */
static void release(co_kernel *k, co_task *t)
{
    t->flags |= CO_F_JOINED;
    if (!k->doomed)
        co__task_release(k, t);
}

/* Finished member x of g: kept in the done list, or (a daemon) freed. */
static void finished(co_kernel *k, co_group *g, co_task_extra *x)
{
    co_task *t = x->task;
    if (t->flags & CO_F_DAEMON) {
        x->group = NULL;
        release(k, t);
        return;
    }
    list_append(&g->priv.done, &x->in_group);
    if (!g->priv.completed && completes(g, t))
        g->priv.completed = t;
}

static void add_member(co_kernel *k, co_group *g, co_task_extra *x)
{
    x->group = g;
    if (co__task_state(x->task) == CO_STATE_DONE) {
        finished(k, g, x);
        return;
    }
    list_append(&g->priv.running, &x->in_group);
    if (!(x->task->flags & CO_F_DAEMON))
        g->priv.counted++;
}

void co__group_member_done(co_kernel *k, co_task *t, co_task_extra *x)
{
    co_group *g = x->group;
    list_unlink(&x->in_group);
    if (!(t->flags & CO_F_DAEMON))
        g->priv.counted--;
    if (t->flags & CO_F_JOINED) {      /* collected by co_task_join */
        x->group = NULL;
    } else if (t->flags & CO_F_DAEMON) {
        x->group = NULL;
        t->flags |= CO_F_DETACHED;     /* co__task_finish frees it */
    } else {
        finished(k, g, x);
    }
    wake_owner(g);
}

void co__group_leave(co_kernel *k, co_task *t)
{
    co_task_extra *x = co__task_extra_get(k, t);
    if (x && x->group)
        take_out(x->group, x);
}

/* ------------------------------------------------------------ owners */

static int unlist(co_task_extra *x, co_group *g)
{
    for (co_group **p = &x->groups; *p; p = &(*p)->priv.next)
        if (*p == g) {
            *p = g->priv.next;
            g->priv.next = NULL;
            return 1;
        }
    return 0;
}

/* Free the members a joined group kept (their results were readable). */
static void dispose(co_kernel *k, co_group *g)
{
    while (!list_empty(&g->priv.done)) {
        co_task_extra *x = extra_of(g->priv.done.next);
        co_task *t = x->task;
        list_unlink(&x->in_group);
        x->group = NULL;
        release(k, t);
    }
    g->priv.completed = NULL;
}

/* self uses g: it becomes the owner of a group that has none.  0, or
 * -EPERM (another task runs it), -ENOMEM. */
static int open_group(co_kernel *k, co_task *self, co_group *g)
{
    struct co__group_private *p = &g->priv;
    if (p->owner)
        return p->owner == self ? 0 : -EPERM;
    co_task_extra *x = co__task_extra_make(k, self);
    if (!x)
        return -ENOMEM;
    list_init(&p->running);
    list_init(&p->done);
    co_waitq_init(&p->waiter);
    p->owner = self;
    p->state = OPEN;
    p->next = x->groups;
    x->groups = g;
    return 0;
}

_Noreturn static void panic_open(co_task *t, const co_group *g,
                                 const char *at)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "task group %p still has members when %s %s (task %u): a "
             "group must be joined before the coroutine whose frame holds "
             "it returns -- an early return that skips co_group_join? (join "
             "it in CO_FINALLY)",
             (const void *)g,
             at ? "the coroutine holding it finishes at"
                : "its task ends, last at",
             at ? at : t->where ? t->where : "(start)", (unsigned)t->id);
    co__error_panic_where("co_group_join", at ? at : t->where, "?", msg);
}

/* A coroutine of t holding [frame, frame + size) has finished (task.h's
 * CO_END check): its groups end with it. */
void co__group_check_frame(co_task *t, const void *frame, size_t size,
                           const char *at)
{
    co_kernel *k = co__kernel;
    co_task_extra *x = k ? co__task_extra_get(k, t) : NULL;
    if (!x)
        return;
    co_group **p = &x->groups;
    while (*p) {
        co_group *g = *p;
        if ((uintptr_t)(void *)g - (uintptr_t)frame >= size) {
            p = &g->priv.next;
            continue;
        }
        if (g->priv.state != JOINED && has_members(g))
            panic_open(t, g, at);
        *p = g->priv.next;
        dispose(k, g);
    }
}

/* t ends: the groups it runs that lie outside its frames end too. */
void co__group_owner_ended(co_kernel *k, co_task *t, co_task_extra *x)
{
    while (x->groups) {
        co_group *g = x->groups;
        if (g->priv.state != JOINED && has_members(g))
            panic_open(t, g, NULL);
        x->groups = g->priv.next;
        dispose(k, g);
        g->priv.owner = NULL;
    }
}

/* ------------------------------------------------------------ calls */

int co_group_init(co_group *g, co_group_wait wait)
{
    if (!g || (unsigned)wait > CO_GROUP_NONE)
        return -EINVAL;
    co_kernel *k = co__kernel;
    co_task *self = co_current_task();
    co_task_extra *x = k && self ? co__task_extra_get(k, self) : NULL;
    if (x && x->group == g)            /* a member: not its to reset */
        return -EPERM;
    if (x && g->priv.owner == self) {
        if (g->priv.state != JOINED && has_members(g))
            return -EPERM;
        unlist(x, g);
        dispose(k, g);
    }
    *g = (co_group){ .priv.policy = (uint8_t)wait };
    return 0;
}

int co_group_spawn(co_task *self, co_group *g, co_task **out, co_func fn,
                   const void *frame, size_t frame_size,
                   const co_spawn_opts *opts)
{
    co_kernel *k = co__kernel;
    if (!self || !k || !g || (opts && (opts->flags & CO_DETACHED)))
        return -EINVAL;
    if (g->priv.state >= CLOSING)
        return -EPERM;
    co_task_extra *sx = co__task_extra_get(k, self);
    int rc;
    if (!(sx && sx->group == g) && (rc = open_group(k, self, g)) < 0)
        return rc;
    if (co__task_extra_reserve(k) < 0)
        return -ENOMEM;
    co_task *t;
    int id = co_spawn(self, &t, fn, frame, frame_size, opts);
    if (id < 0)
        return id;
    add_member(k, g, co__task_extra_make(k, t));  /* reserved: cannot fail */
    if (out)
        *out = t;
    return id;
}

int co_group_adopt(co_task *self, co_group *g, co_task *t)
{
    co_kernel *k = co__kernel;
    if (!self || !k || !g || !t || !t->fn || t == self || t == k->main ||
        (t->flags & CO_F_DETACHED))
        return -EINVAL;
    co_task_extra *tx = co__task_extra_get(k, t);
    if (g->priv.state >= CLOSING || (tx && tx->group) ||
        (g->priv.owner && g->priv.owner != self))
        return -EPERM;
    int rc;
    if (!(tx = co__task_extra_make(k, t)))
        return -ENOMEM;
    if ((rc = open_group(k, self, g)) < 0)
        return rc;
    add_member(k, g, tx);
    return 0;
}

/* The start of the owner's blocking calls: THE RULE, then the owner
 * check.  1 with *rc set to return it; 0 to go on. */
static int enter(co_task *self, co_group *g, int args_ok, int *rc)
{
    if (co_wait_resumed(self)) {
        co_wait_enter(self, rc);
        return *rc < 0;
    }
    if (co_wait_begin(self, args_ok, rc))
        return 1;
    if ((*rc = open_group(co__kernel, self, g)) < 0)
        return 1;
    if (g->priv.state >= CLOSING) {
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
    if (list_empty(&g->priv.done)) {
        if (g->priv.counted)
            return wait_for(self, g, WANT_NEXT);
        if (result)
            return -EPERM;             /* no member left to give */
        *done = NULL;
        return 0;
    }
    co_task_extra *x = extra_of(g->priv.done.next);
    co_task *t = x->task;
    take_out(g, x);
    if (result) {
        *result = t->result;
        release(co__kernel, t);
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
        co_task_cancel_nowait(task_of(l));
}

co_status co_group_cancel_remaining(co_task *self, co_group *g)
{
    int rc;
    if (enter(self, g, g != NULL, &rc))
        return rc;
    if (list_empty(&g->priv.running))
        return 0;
    cancel_running(g);
    return wait_for(self, g, WANT_EMPTY);
}

/* join's phase 2 (top of the file), until no member runs. */
static co_status cleanup(co_task *self, co_group *g)
{
    if (!list_empty(&g->priv.running)) {
        cancel_running(g);
        return wait_for(self, g, WANT_EMPTY | (g->priv.wants & HELD));
    }
    sort_by_id(&g->priv.done);
    for (co_link *l = g->priv.done.next; l && l != &g->priv.done;
         l = l->next)
        task_of(l)->flags |= CO_F_JOINED;   /* collected by the group */
    g->priv.state = JOINED;
    if (g->priv.wants & HELD)
        co_enable_cancellation(self);
    g->priv.wants = 0;
    int rc = g->priv.pending;
    g->priv.pending = 0;
    return rc;
}

static co_status begin_cleanup(co_task *self, co_group *g, int pending)
{
    g->priv.state = CLOSING;
    g->priv.pending = pending;
    g->priv.wants = co_disable_cancellation(self) == 0 ? HELD : 0;
    return cleanup(self, g);
}

co_status co_group_join(co_task *self, co_group *g)
{
    int rc;
    if (co_wait_resumed(self)) {
        co_wait_enter(self, &rc);
        if (g->priv.state == CLOSING)
            return cleanup(self, g);
        if (rc < 0)                    /* cancelled, timed out: phase 2 */
            return begin_cleanup(self, g, rc);
    } else if (co_wait_begin(self, g != NULL, &rc)) {
        /* Due before the join began: the members end first. */
        if (rc != -EINVAL && g->priv.owner == self &&
            g->priv.state == OPEN)
            return begin_cleanup(self, g, rc);
        return rc;
    } else {
        if (g->priv.owner && g->priv.owner != self)
            return -EPERM;
        if (g->priv.state == JOINED)
            return 0;
        if (g->priv.state == UNUSED) {     /* an empty group: nothing to do */
            g->priv.owner = self;
            g->priv.state = JOINED;
            return 0;
        }
    }
    if (!policy_met(g))
        return wait_for(self, g, WANT_POLICY);
    return begin_cleanup(self, g, 0);
}

/* ------------------------------------------------------------ after join */

static int joined(const co_group *g)
{
    return g && g->priv.state == JOINED;
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
            results[count] = task_of(l)->result;
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
        failed += co_group_member_failed(task_of(l));
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
    return l && l != &g->priv.done ? task_of((co_link *)l) : NULL;
}
