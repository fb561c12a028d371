/*
 * group.c -- task groups (group.h): membership, the policies, and the
 * rails that catch a group left with members.
 *
 * A group is two lists of its members' records of rarer data
 * (co_task_extra, linked through in_group): those still running, and
 * those finished but not collected, in the order they finished.  A
 * member's end (co__task_finish) moves it from one to the other -- or,
 * for a daemon, frees it -- and wakes the owner if it waits for that.
 * The owner lists the groups it runs in its own record, so that the end
 * of the coroutine whose frame holds one (task.h's CO_END check), or of
 * the task, finds them.  The owner's waits and join: group_wait.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "errors_impl.h"
#include "group_impl.h"

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

int co__group_policy_met(const co_group *g)
{
    return g->priv.policy == CO_GROUP_NONE || g->priv.completed ||
           g->priv.counted == 0;
}

static int has_members(const co_group *g)
{
    return !co__group_list_empty(&g->priv.running) || !co__group_list_empty(&g->priv.done);
}

/* Wake the owner if it waits for what the group now has. */
static void wake_owner(co_group *g)
{
    if (co_waitq_empty(&g->priv.waiter))
        return;
    int now;
    switch (g->priv.wants & ~CO__GROUP_HELD) {
    case CO__GROUP_WANT_NEXT:
        now = !co__group_list_empty(&g->priv.done) || g->priv.counted == 0;
        break;
    case CO__GROUP_WANT_POLICY: now = co__group_policy_met(g); break;
    default: now = co__group_list_empty(&g->priv.running); break;
    }
    if (now)
        co_waitq_wake_one(&g->priv.waiter, 0);
}

/* The first finished member that completes the policy, after the one
 * that did was taken out (Curio looks again too). */
static void find_completed(co_group *g)
{
    g->priv.completed = NULL;
    if (g->priv.state == CO__GROUP_JOINED)
        return;
    for (co_link *l = g->priv.done.next; l && l != &g->priv.done;
         l = l->next)
        if (completes(g, co__group_task_of(l))) {
            g->priv.completed = co__group_task_of(l);
            return;
        }
}

/* A finished member leaves the group's done list (collected). */
void co__group_take_out(co_group *g, co_task_extra *x)
{
    co__group_list_unlink(&x->in_group);
    x->group = NULL;
    if (g->priv.completed == x->task)
        find_completed(g);
}

/* The group frees a member nobody else holds; during a shutdown the
 * kernel's list still points at it, and co__task_release_all frees it. */
void co__group_release(co_kernel *k, co_task *t)
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
        co__group_release(k, t);
        return;
    }
    co__group_list_append(&g->priv.done, &x->in_group);
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
    co__group_list_append(&g->priv.running, &x->in_group);
    if (!(x->task->flags & CO_F_DAEMON))
        g->priv.counted++;
}

void co__group_member_done(co_kernel *k, co_task *t, co_task_extra *x)
{
    co_group *g = x->group;
    co__group_list_unlink(&x->in_group);
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
        co__group_take_out(x->group, x);
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
    while (!co__group_list_empty(&g->priv.done)) {
        co_task_extra *x = co__group_extra_of(g->priv.done.next);
        co_task *t = x->task;
        co__group_list_unlink(&x->in_group);
        x->group = NULL;
        co__group_release(k, t);
    }
    g->priv.completed = NULL;
}

/* self uses g: it becomes the owner of a group that has none.  0, or
 * -EPERM (another task runs it), -ENOMEM. */
int co__group_open(co_kernel *k, co_task *self, co_group *g)
{
    struct co__group_private *p = &g->priv;
    if (p->owner)
        return p->owner == self ? 0 : -EPERM;
    co_task_extra *x = co__task_extra_make(k, self);
    if (!x)
        return -ENOMEM;
    co__group_list_init(&p->running);
    co__group_list_init(&p->done);
    co_waitq_init(&p->waiter);
    p->owner = self;
    p->state = CO__GROUP_OPEN;
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
        if (g->priv.state != CO__GROUP_JOINED && has_members(g))
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
        if (g->priv.state != CO__GROUP_JOINED && has_members(g))
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
        if (g->priv.state != CO__GROUP_JOINED && has_members(g))
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
    if (g->priv.state >= CO__GROUP_CLOSING)
        return -EPERM;
    co_task_extra *sx = co__task_extra_get(k, self);
    int rc;
    if (!(sx && sx->group == g) && (rc = co__group_open(k, self, g)) < 0)
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
    if (g->priv.state >= CO__GROUP_CLOSING || (tx && tx->group) ||
        (g->priv.owner && g->priv.owner != self))
        return -EPERM;
    int rc;
    if (!(tx = co__task_extra_make(k, t)))
        return -ENOMEM;
    if ((rc = co__group_open(k, self, g)) < 0)
        return rc;
    add_member(k, g, tx);
    return 0;
}

/* The start of the owner's blocking calls: THE RULE, then the owner
 * check.  1 with *rc set to return it; 0 to go on. */
