/*
 * group.h -- task groups: Curio's TaskGroup, in a frame.
 *
 *     co_group g;                              // in the frame; zeros = ALL
 *     ...
 *     CO_GROUP_SPAWN(t, &f->g, NULL, worker, (struct worker_frame){ .n = 1 });
 *     CO_GROUP_SPAWN(t, &f->g, NULL, worker, (struct worker_frame){ .n = 2 });
 *     CO_AWAIT(rc, co_sleep(t, 1.0));          // the group's body
 *     CO_FINALLY;
 *     CO_AWAIT(rc, co_group_join(t, &f->g));   // always: it is the cleanup
 *     CO_END;
 *
 * The task that first spawns (or adopts) into a group runs it: its
 * *owner*.  Only the owner adopts, waits (next_done, next_result, join)
 * and cancels the rest; the owner and the members spawn into it.
 *
 * Wait policies (Curio's): ALL waits until every member has finished, or
 * one fails; ANY until the first member finishes; OBJECT until the first
 * member whose result is not 0 (or that fails); NONE not at all.  A member
 * *fails* when it ends with a negative result other than its own
 * cancellation (-ECANCELED after it was cancelled).  A member that ends by
 * its own cancellation neither completes nor fails the policy.  Daemon
 * members (CO_DAEMON) never count: they are not waited for, never given
 * by next_done, freed as soon as they end, and cancelled by join.
 *
 * Join applies the policy, then cancels every member still running and
 * waits until each has finished its cleanup.  If the owner is cancelled or
 * times out -- in the group's body, or during the join -- the members are
 * cancelled and have all finished before join returns the owner's
 * -ECANCELED / -ETIMEDOUT.  Join never returns a member's result: read
 * them afterwards (co_group_result, co_group_results, co_group_next_member).
 *
 * Memory.  Members belong to the group until they are collected: by
 * next_done (the handle becomes yours: co_task_join it, which returns at
 * once, or detach it), by next_result (freed), by an explicit co_task_join
 * (which removes the member), or by the group itself.  After join the
 * finished members stay readable, in id order, until the coroutine whose
 * frame holds the group returns, or co_group_init is called on it again:
 * then they are freed.
 *
 * Rails.  A coroutine that returns while a group in its frame still has
 * members (no join on that path -- put it in CO_FINALLY) aborts with a
 * message naming the line where it returned, as a timeout region left
 * open does; so does a task that ends with such a group elsewhere.  A
 * group that has been used must not be copied or moved.
 *
 * Misuse returns an error and changes nothing: -EINVAL for a bad argument
 * (NULL, a detached task, CO_DETACHED, the owner adopting itself);
 * -EPERM for the wrong state (spawn or adopt after join began; a caller
 * that may not; adopting a task already in a group; reading results before
 * join; next_result on a group with no member left to give).
 */
#ifndef CO_GROUP_H
#define CO_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "task.h"
#include "waits.h"

typedef enum co_group_wait {
    CO_GROUP_ALL = 0,       /* every member finished, or one failed */
    CO_GROUP_ANY,           /* the first member to finish */
    CO_GROUP_OBJECT,        /* the first whose result is not 0, or fails */
    CO_GROUP_NONE           /* at once: join cancels every member */
} co_group_wait;

struct co_group;

/* Private to core/group.c. */
struct co__group_private {
    co_link running;        /* members still running (co_task_extra links) */
    co_link done;           /* finished, not collected: in order of
                               finishing; after join, in id order */
    co_waitq waiter;        /* the owner, while it waits on the group */
    co_task *owner;
    co_task *completed;     /* the member that completed the policy */
    struct co_group *next;  /* the owner's other groups */
    uint32_t counted;       /* running members that are not daemons */
    int pending;            /* join: the owner's -ECANCELED / -ETIMEDOUT,
                               returned once the members have finished */
    uint8_t policy;         /* co_group_wait */
    uint8_t state;          /* unused, open, closing (join), joined */
    uint8_t wants;          /* what the waiting owner waits for */
};

/* Every field is private, in `priv`: use the functions below.  All zeros
 * is an empty group with the policy ALL. */
typedef struct co_group {
    struct co__group_private priv;
} co_group;

/* (Re)initialise: empty, with policy `wait`.  On a group the calling task
 * has joined, first frees the members kept for reading.  0; -EINVAL (NULL,
 * unknown policy); -EPERM if the group has members and was not joined, or
 * the caller is one of its members. */
CO_API int co_group_init(co_group *g, co_group_wait wait);

/* co_spawn into the group: `self` is its owner (or becomes it) or one of
 * its members.  CO_DAEMON makes a daemon member; CO_DETACHED is -EINVAL.
 * Returns the new task's id, or -EINVAL, -EPERM, -ENOMEM. */
CO_API int co_group_spawn(co_task *self, co_group *g, co_task **out,
                          co_func fn, const void *frame, size_t frame_size,
                          const co_spawn_opts *opts);

/* CO_SPAWN's form: the function's name is the task's name. */
#ifdef __cplusplus
#define CO_GROUP_SPAWN(self, g, out, fn, ...)                                \
    co_group_spawn((self), (g), (out), (fn), &(__VA_ARGS__),                 \
                   sizeof(__VA_ARGS__),                                      \
                   &static_cast<const co_spawn_opts &>(                      \
                       co_spawn_opts{#fn, 0, NULL, 0}))
#else
#define CO_GROUP_SPAWN(self, g, out, fn, ...)                                \
    co_group_spawn((self), (g), (out), (fn), &(__VA_ARGS__),                 \
                   sizeof(__VA_ARGS__) + CO_FRAME_CHECK_EXPR(__VA_ARGS__),   \
                   &(const co_spawn_opts){ .name = #fn })
#endif

/* Add a task spawned earlier (running or finished; a daemon stays one).
 * 0; -EINVAL (NULL, released, detached, self); -EPERM (not the owner,
 * join begun, t already in a group); -ENOMEM. */
CO_API int co_group_adopt(co_task *self, co_group *g, co_task *t);

/* Blocking: the next member to finish, in the order they finished,
 * removed from the group: *done is yours (join it or detach it).  0 with
 * *done = NULL when no member is left.  -EPERM if self is not the owner
 * or join has begun. */
CO_API co_status co_group_next_done(co_task *self, co_group *g,
                                    co_task **done);

/* Blocking: as next_done, but stores the member's result in *result and
 * frees it.  -EPERM when no member is left (or as next_done). */
CO_API co_status co_group_next_result(co_task *self, co_group *g,
                                      int *result);

/* Blocking: cancel the members still running (daemons too) and wait until
 * they have finished; they stay in the group, ended by their own
 * cancellation.  The group stays open. 0, or the owner's -ECANCELED /
 * -ETIMEDOUT (the members are then cancelled but may still run). */
CO_API co_status co_group_cancel_remaining(co_task *self, co_group *g);

/* Blocking: apply the policy, cancel the members still running, wait for
 * them all; see the top of this file.  0, or the owner's own -ECANCELED /
 * -ETIMEDOUT (after the members have finished); -EPERM if self is not the
 * owner.  Joining a group never used, or again, is 0. */
CO_API co_status co_group_join(co_task *self, co_group *g);

/* After join.  The member that completed the policy (NULL if none did:
 * ALL with no failure, NONE, or no member finished by itself). */
CO_API co_task *co_group_completed(const co_group *g);
/* Its result (or failure) in *result: 0; -ENOENT if no member completed
 * the policy; -EPERM before join; -EINVAL for NULL. */
CO_API int co_group_result(const co_group *g, int *result);
/* The results of the members kept (not daemons, not collected), in id
 * order: up to n of them into results; returns how many there are (as
 * snprintf), or -EPERM before join, -EINVAL for NULL g. */
CO_API int co_group_results(const co_group *g, int *results, size_t n);
/* How many of those members failed; -EPERM before join. */
CO_API int co_group_failures(const co_group *g);
/* The kept members in id order: the first for prev NULL, else the one
 * after prev; NULL at the end, before join, or for NULL g. */
CO_API co_task *co_group_next_member(const co_group *g, const co_task *prev);
/* Whether a finished task failed in the sense above (1/0; 0 for NULL or a
 * task still running). */
CO_API int co_group_member_failed(const co_task *t);

#endif /* CO_GROUP_H */
