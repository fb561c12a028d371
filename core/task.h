/*
 * task.h -- tasks: spawn, join, wait, cancel, daemon and detached tasks.
 *
 * A task is one allocation: a 64-byte header (this struct, one cache line)
 * followed by the task's frame.  Cold data (the name) sits in the kernel's
 * task registry, reached through `slot`; a queue of joiners is made only
 * when some task waits for this one.
 *
 * Handle lifetime, as with POSIX threads: the co_task pointer returned by
 * spawn stays valid until co_task_join() has succeeded (join frees the
 * task) or, for a task spawned CO_DETACHED (or detached later), until the
 * task ends.  Tasks never joined nor detached are released at shutdown; if
 * they failed, that is when their crash is reported ("Task Crash", with
 * the task's name and where it returned).  Detached and daemon tasks that
 * fail are reported as soon as they end.
 */
#ifndef CO_TASK_H
#define CO_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "../macros/co.h"
#include "api.h"

typedef struct co_kernel co_kernel;
typedef struct co_timeout co_timeout;

/* Intrusive doubly linked list node (wait queues; the ready queue uses only
 * `next`). */
typedef struct co_link {
    struct co_link *next, *prev;
} co_link;

/*
 * Every field is private: read a task through the co_task_* functions
 * below.  The struct is in this header only so that its size is known
 * (CO_TASK_STORAGE) and the inline fast path (fastpath.h) can reach the
 * few fields it reads; the fields, their order and the meaning of `flags`
 * change between releases without notice.
 */
struct co_task {
    co_link link;           /* ready queue, or the wait queue it blocks on;
                               must stay the first member */
    co_func fn;             /* the task's coroutine */
    const char *where;      /* "file.c:line" of the last await or return */
    co_timeout *timeouts;   /* innermost active timeout region (in a frame) */
    uint32_t id;            /* 1, 2, 3 ... in spawn order */
    uint32_t parent_id;     /* id of the spawning task, 0 from outside */
    int32_t result;         /* blocked with a deadline: timer heap index;
                               woken: the wake value; done: the result */
    uint32_t flags;         /* state, cancellation, nocancel depth ... */
    uint32_t slot;          /* index in the kernel's task registry */
    uint32_t extra;         /* the kernel's record of this task's rarer
                               data (its joiners...); 0: none yet */
};

/* Private: the bits of co_task.flags that the inline fast path reads
 * (fastpath.h, waits.h).  The full layout is the library's own
 * (core/task_impl.h, not installed), built on these values. */
enum {
    CO__TASK_STATE_MASK = 3u,      /* the task's state: two bits */
    CO__TASK_RUNNING = 1u,         /* the state of the running task */
    CO__TASK_WOKEN = 1u << 2,      /* woken; result holds the wake value */
    CO__TASK_CANCEL_REQ = 1u << 4, /* cancellation requested */
    CO__TASK_EXPIRY_WAKE = 1u << 13, /* woken by a timeout region's expiry */
};

/* Where a task suspends, recorded by every await (see macros/co.h).  This
 * is the kernel's private hook, which co.h calls as well as a user's
 * CO_ON_SUSPEND (never replaced); co.h made it a no-op, and macros expand
 * where they are used, so the include order does not matter. */
#undef CO__TASK_ON_SUSPEND
#define CO__TASK_ON_SUSPEND(task, at, func)                                  \
    co__task_note_suspend((task), (at), (func))

/* Private: nonzero while this thread's kernel records await chains
 * (co_kernel_track_awaits, core/monitor.h), so that a suspension costs one
 * thread-local load and an untaken branch when nobody looks.  Exported
 * only for the inline hook below. */
#ifdef __cplusplus
CO_API extern thread_local int co__await_tracking
#else
CO_API extern _Thread_local int co__await_tracking
#endif
    __attribute__((tls_model("initial-exec")));
CO_API void co__task_chain_note(co_task *t, const char *at, const char *func);

static inline void co_task_note_where(co_task *t, const char *at)
{
    if (t) t->where = at;
}
/* The hook: func is NULL for a CO_RETURN (no suspension): nothing to
 * chain. */
static inline void co__task_note_suspend(co_task *t, const char *at,
                                         const char *func)
{
    if (t) {
        t->where = at;
        if (__builtin_expect(co__await_tracking, 0) && func)
            co__task_chain_note(t, at, func);
    }
}

/* When a coroutine finishes (CO_END's path), a timeout region that lies in
 * its frame must have ended: otherwise it would stay the task's innermost
 * region and time out the caller's later, unrelated awaits.  One predicted
 * test of the task's region pointer; the address compare only runs inside
 * a region.  The panic is exported only for this inline code, which a
 * program compiles into itself; it is not API. */
_Noreturn CO_API void co__timeout_panic_open_region(co_task *t,
                                                    const char *where);
/* The same for task groups (core/group.h): a group in the frame that
 * still has members aborts; a joined one frees the members it kept.  Only
 * a task with a record of rarer data (`extra`) can run a group, so other
 * tasks pay one predicted test. */
CO_API void co__group_check_frame(co_task *t, const void *frame, size_t size,
                                  const char *at);
#undef CO__TASK_ON_FINISH
#define CO__TASK_ON_FINISH(task, frame, size, at)                            \
    co__check_regions((task), (frame), (size), (at))
static inline void co__check_regions(co_task *t, const void *frame,
                                     size_t size, const char *at)
{
    if (!t)
        return;
    if (__builtin_expect(t->timeouts != NULL, 0) &&
        (uintptr_t)(void *)t->timeouts - (uintptr_t)frame < size)
        co__timeout_panic_open_region(t, at);
    if (__builtin_expect(t->extra != 0, 0))
        co__group_check_frame(t, frame, size, at);
}

/* Spawn flags. */
enum {
    CO_DAEMON = 1u << 0,    /* a background task nobody joins: its failure
                               is reported when it ends, never as unjoined
                               at shutdown; cancelled at shutdown as all */
    CO_DETACHED = 1u << 1,  /* freed as soon as it ends; cannot be joined */
    CO_ROUTINE_NET = 1u << 2, /* ending with -ECONNRESET, -EPIPE or
                                 -ETIMEDOUT is routine (a peer went away,
                                 a deadline passed): not reported as a
                                 Task Crash.  Joiners still get the result. */
};

typedef struct co_spawn_opts {
    const char *name;       /* kept by pointer: a string that outlives the
                               task (a literal); NULL: "task" */
    unsigned flags;         /* CO_DAEMON | CO_DETACHED */
    void *storage;          /* caller-supplied memory for header + frame,
                               at least CO_TASK_STORAGE(frame_size) bytes,
                               aligned for any type; never freed by us */
    size_t storage_size;
} co_spawn_opts;

/* Bytes of caller storage a task with an n-byte frame needs. */
#define CO_TASK_STORAGE(n) (sizeof(co_task) + (size_t)(n))

/*
 * Create a task running fn on a copy of `frame` (frame_size bytes; NULL for
 * a zeroed frame).  The frame's first member must be the `co_frame co`
 * header; it is reset here, so the caller's copy can be reused.  Spawning
 * never switches: the caller keeps running and the new task runs in the next
 * scheduling cycle.  `self` is the spawning task.
 * Returns the new task's id (> 0) and stores the handle in *out (if out is
 * not NULL), or returns -EINVAL / -ENOMEM.
 */
CO_API int co_spawn(co_task *self, co_task **out, co_func fn,
                    const void *frame, size_t frame_size,
                    const co_spawn_opts *opts);

/* Spawn with the function's name as the task's name.  The frame is any
 * lvalue, a compound literal included (the macro is variadic, so its
 * commas are fine):
 *     CO_SPAWN(t, &h, worker, (struct worker_frame){ .n = 3, .m = 4 });
 * In C with GCC or Clang, a frame whose first member is not `co_frame co`
 * does not compile (CO_FRAME_CHECK).  (C++ has no compound literals: a
 * temporary that lives as long as the call; no layout check there.) */
#ifdef __cplusplus
#define CO_SPAWN(self, out, fn, ...)                                         \
    co_spawn((self), (out), (fn), &(__VA_ARGS__), sizeof(__VA_ARGS__),       \
             &static_cast<const co_spawn_opts &>(                            \
                 co_spawn_opts{#fn, 0, NULL, 0}))
#else
#define CO_SPAWN(self, out, fn, ...)                                         \
    co_spawn((self), (out), (fn), &(__VA_ARGS__),                            \
             sizeof(__VA_ARGS__) + CO_FRAME_CHECK_EXPR(__VA_ARGS__),         \
             &(const co_spawn_opts){ .name = #fn })
#endif

/* Blocking: wait until target ends, store its result in *result (if not
 * NULL) -- its return value, a negative errno, or -ECANCELED if it was
 * cancelled -- free it, and return 0.  A negative return is the join's own
 * failure, and the target is then still yours: -ECANCELED / -ETIMEDOUT if
 * the joining task was cancelled or timed out, -EINVAL for NULL or a
 * detached task, -EDEADLK for joining yourself.  (As pthread_join: the
 * target's result and the join's own outcome never share one value.)
 * Joining a member of a task group takes it out of the group. */
CO_API co_status co_task_join(co_task *self, co_task *target, int *result);

/* Blocking: wait until target ends; 0. The handle stays valid. */
CO_API co_status co_task_wait(co_task *self, co_task *target);

/* Blocking: cancel target and wait until it has ended (Curio's
 * `await task.cancel()`).  Returns 1 if this call cancelled it, 0 if it had
 * already ended or been cancelled; -EDEADLK for cancelling yourself (use
 * co_task_cancel_nowait). */
CO_API co_status co_task_cancel(co_task *self, co_task *target);

/* Request cancellation and return at once.  Only the first request counts.
 * The target's current blocking primitive returns -ECANCELED (if it is
 * blocked with cancellation enabled), otherwise its next one does, and every
 * later one too.  Cancelling a finished task is a harmless no-op. Returns 1
 * if this call made the request, 0 if not, -EINVAL for NULL. */
CO_API int co_task_cancel_nowait(co_task *target);

/* Free target as soon as it ends (at once if it already has).  Returns 0,
 * or -EINVAL if it is NULL or already detached, -EPERM if it is a member of
 * a task group (the group frees it: core/group.h). */
CO_API int co_task_detach(co_task *target);

/* Inspecting a task. */
CO_API uint32_t co_task_id(const co_task *t);
CO_API uint32_t co_task_parent_id(const co_task *t);
CO_API const char *co_task_name(const co_task *t);
/* NULL before it first ran. */
CO_API const char *co_task_where(const co_task *t);
CO_API void *co_task_frame(co_task *t);
CO_API int co_task_done(const co_task *t);
/* Whether cancellation was requested. */
CO_API int co_task_cancelled(const co_task *t);
CO_API int co_task_daemon(const co_task *t);
/* The result of a finished task; -EINVAL if it has not finished. */
CO_API int co_task_result(const co_task *t);
/* "ready", "running", "blocked" or "done" */
CO_API const char *co_task_state(const co_task *t);

/* The task the calling thread's kernel is running now, or NULL. */
CO_API co_task *co_current_task(void);

/* co_yield, inline, is in fastpath.h (which includes this header). */

#endif /* CO_TASK_H */
