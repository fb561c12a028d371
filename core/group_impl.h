/*
 * group_impl.h -- what core/group.c (membership, the rails) and
 * core/group_wait.c (the owner's waits, join, reading the results) share.
 * Private to the library: not installed.
 */
#ifndef CO_GROUP_IMPL_H
#define CO_GROUP_IMPL_H

#include <stddef.h>

#include "group.h"
#include "kernel_impl.h"

enum { CO__GROUP_UNUSED = 0, CO__GROUP_OPEN, CO__GROUP_CLOSING,
       CO__GROUP_JOINED };                           /* priv.state */
enum { CO__GROUP_WANT_NEXT = 1, CO__GROUP_WANT_POLICY,
       CO__GROUP_WANT_EMPTY };                       /* priv.wants */
#define CO__GROUP_HELD 0x80u  /* in wants: join disabled cancellation */

/* The group's lists: a zeroed head is an empty list (made on first use).
 * They link the members' records of rarer data, through in_group. */
static inline void co__group_list_init(co_link *h)
{
    if (!h->next)
        h->next = h->prev = h;
}

static inline int co__group_list_empty(const co_link *h)
{
    return !h->next || h->next == h;
}

static inline void co__group_list_append(co_link *h, co_link *l)
{
    co__group_list_init(h);
    l->next = h;
    l->prev = h->prev;
    h->prev->next = l;
    h->prev = l;
}

static inline void co__group_list_unlink(co_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
}

static inline co_task_extra *co__group_extra_of(co_link *l)
{
    return (co_task_extra *)(void *)((char *)l -
                                     offsetof(co_task_extra, in_group));
}

static inline co_task *co__group_task_of(co_link *l)
{
    return co__group_extra_of(l)->task;
}

/* group.c.  open: self uses g, and becomes the owner of a group that has
 * none (0, -EPERM, -ENOMEM); take_out: a finished member x is collected
 * (leaves the done list); release: the group frees a member nobody else
 * holds; policy_met: whether join may stop waiting. */
int co__group_open(co_kernel *k, co_task *self, co_group *g);
void co__group_take_out(co_group *g, co_task_extra *x);
void co__group_release(co_kernel *k, co_task *t);
int co__group_policy_met(const co_group *g);

#endif
