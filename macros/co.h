/*
 * co.h -- stackless coroutines in a header: no libev, no kernel, no malloc.
 *
 * A coroutine is an ordinary C function that can stop in the middle and be
 * called again to carry on where it stopped.  It has no stack of its own, so
 * anything that must survive a suspension lives in a "frame" struct the
 * caller owns.  Locals do NOT survive a suspension.
 *
 *     struct count_frame { co_frame co; int i; };
 *
 *     co_status count(co_task *t, void *arg) {
 *         struct count_frame *f = arg;
 *         CO_BEGIN(t, f);
 *         for (f->i = 0; f->i < 3; f->i++)
 *             CO_YIELD();                // return now, resume here next call
 *         CO_RETURN(f->i);
 *         CO_END;
 *     }
 *
 * The protocol.  A coroutine returns CO_WOULDBLOCK while it is suspended and
 * its result (>= 0, or a negative errno) once it has finished.  Blocking
 * primitives follow the same protocol, so awaiting a primitive and awaiting a
 * child coroutine are the same thing: CO_AWAIT(rc, expr) evaluates expr, and
 * while expr says CO_WOULDBLOCK it suspends and, when resumed, evaluates expr
 * again.  A finished coroutine called again returns its result again.
 *
 * The files.  How a function jumps back into its own middle is a separate
 * question from what the coroutine macros mean, so it has its own headers,
 * as protothreads keeps its `lc.h` apart from `pt.h`:
 *
 *   macros/co.h                this file: the frame, the hooks, and
 *                              CO_BEGIN ... CO_END, written once on top of
 *                              four resume-point operations and one
 *                              check (below)
 *   macros/co_resume_labels.h  the operations with GCC/Clang "labels as
 *                              values": a resume point is a label's address
 *   macros/co_resume_switch.h  the operations in portable C99: a resume
 *                              point is a `case` of one big switch (Duff's
 *                              device); a body may not have a `switch` of its
 *                              own around an await
 *
 * Define CO_USE_SWITCH to 1 or 0 before including to choose; the default is
 * labels on GCC/Clang and switch elsewhere.  Both keep the resume point in
 * the frame's `co.pc`, so files built with either link together.
 *
 * The shape every coroutine expands to.  CO_BEGIN lets the backend jump to
 * the saved resume point, then opens a `switch` over a small selector that
 * only this file uses: `case CO__SEL_START` starts the body, CO_FINALLY is
 * `case CO__SEL_FINALLY` and CO_END is `default`.  CO_RETURN sets the
 * selector and jumps back to that switch, which reaches the cleanup section
 * when there is one and the end when there is none.
 *
 * Resume points are numbered with __COUNTER__ where available (two awaits on
 * one line are fine).  Without __COUNTER__ they fall back to __LINE__: one
 * await per line.
 *
 * Cleanup.  CO_FINALLY starts a section that runs when the body falls off its
 * end or executes CO_RETURN, whatever the result (success, error,
 * cancellation).  Inside it CO_RESULT() is the pending result and CO_RETURN
 * replaces it.  The section may await.  Without CO_FINALLY, CO_RETURN
 * finishes at once.
 *
 * Hooks.  Define CO_ON_SUSPEND(task, where) and CO_ON_FINISH(task, frame,
 * size, where) before including to be told where coroutines suspend and
 * finish; they are no-ops otherwise.  The kernel has hooks of its own
 * (core/task.h: record where a task waits, check its timeout regions), under
 * private names, which run as well as yours.
 */
#ifndef CO_H
#define CO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The kernel's task; on its own this header only passes the pointer on. */
typedef struct co_task co_task;

/* What a coroutine or blocking primitive returns: CO_WOULDBLOCK while it is
 * suspended, otherwise its result: >= 0, or a negative errno. */
typedef int co_status;

/* Never an errno (those are small), never a valid result. */
#define CO_WOULDBLOCK (-2147483647 - 1)

typedef co_status (*co_func)(co_task *t, void *frame);

#ifndef CO_USE_SWITCH
#  if defined(__GNUC__) || defined(__clang__)
#    define CO_USE_SWITCH 0
#  else
#    define CO_USE_SWITCH 1
#  endif
#endif

/* Every frame contains one of these, named `co`. Zero it before the first
 * call (CO_AWAIT_CALL and the kernel's spawn do that). */
typedef struct co_frame {
    /* 0: not started; else the resume point as the backend encodes it (a
     * case number, a label's address), kept as an integer either way */
    uintptr_t pc;
    int ret;            /* pending result while CO_FINALLY runs */
    int in_finally;     /* CO_RETURN inside CO_FINALLY ends the coroutine */
} co_frame;

/* "file.c:123" as a string constant. */
#define CO__STR2(x) #x
#define CO__STR(x) CO__STR2(x)
#define CO_HERE __FILE__ ":" CO__STR(__LINE__)

#define CO__CAT2(a, b) a##b
#define CO__CAT(a, b) CO__CAT2(a, b)

#ifdef __COUNTER__
#  define CO__UNIQUE __COUNTER__
#else
#  define CO__UNIQUE __LINE__
#endif

#if defined(__GNUC__) && __GNUC__ >= 7 || defined(__clang__)
#  define CO__FALLTHROUGH __attribute__((fallthrough))
#else
#  define CO__FALLTHROUGH ((void)0)
#endif

/* ------------------------------------------------------------------ hooks */

/* The user's hooks: told about every suspension and return, and about every
 * finish with the frame's bytes.  Defined before this header, they stay. */
#ifndef CO_ON_SUSPEND
#  define CO_ON_SUSPEND(task, where) ((void)(task), (void)(where))
#endif
#ifndef CO_ON_FINISH
#  define CO_ON_FINISH(task, frame, size, where)                             \
    ((void)(task), (void)(frame), (void)(size), (void)(where))
#endif

/* The kernel's hooks, private: core/task.h #undefs and redefines these (and
 * only these), so a user's hooks above are never replaced.  A macro expands
 * where it is used, so the definition in force at a coroutine body wins. */
#define CO__TASK_ON_SUSPEND(task, where, func)                               \
    ((void)(task), (void)(where), (void)(func))
#define CO__TASK_ON_FINISH(task, frame, size, where)                         \
    ((void)(task), (void)(frame), (void)(size), (void)(where))

/* Both, kernel first (so a user's hook already sees co_task_where's new
 * value); statements, so a user's hook may be a `do { } while (0)`.
 * The kernel's hook also gets the function: a suspension calls it once per
 * level of nested awaits, innermost first, with __func__ (the await chain,
 * core/monitor.h); CO_RETURN, which records where a coroutine returned but
 * does not suspend, passes NULL instead, a constant the hook folds away. */
#define CO__ON_SUSPEND_IN(where, func)                                       \
    do {                                                                     \
        CO__TASK_ON_SUSPEND(co__t, where, func);                             \
        CO_ON_SUSPEND(co__t, where);                                         \
    } while (0)
#define CO__ON_SUSPEND(where) CO__ON_SUSPEND_IN(where, __func__)
#define CO__ON_FINISH(where)                                                 \
    do {                                                                     \
        CO__TASK_ON_FINISH(co__t, co__fr, co__fsize, where);                 \
        CO_ON_FINISH(co__t, co__fr, co__fsize, where);                       \
    } while (0)

/*
 * 0, and a compile-time error unless `type` (a frame's type) has a member
 * `co` at offset 0: the kernel's spawn resets a frame's first bytes, and
 * servers fill in the header at the start of a handler frame.  Macros that
 * know a frame's type add it to a size (CO_SPAWN, CO_TCP_SERVER_INIT).
 * Needs __typeof__ to get a type from an expression (GCC, Clang): without
 * it, CO_FRAME_CHECK_EXPR is 0 and nothing is checked.
 */
#define CO_FRAME_CHECK(type)                                                 \
    (0 * sizeof(struct {                                                     \
        _Static_assert(offsetof(type, co) == 0,                              \
                       "a frame's first member must be its `co_frame co`");  \
        int co__ok;                                                          \
    }))
#if defined(__GNUC__) || defined(__clang__)
#  define CO_FRAME_CHECK_EXPR(...) CO_FRAME_CHECK(__typeof__(__VA_ARGS__))
#else
#  define CO_FRAME_CHECK_EXPR(...) 0
#endif

/* ------------------------------------------------- the resume-point layer */

/* Values of the selector the coroutine's own switch runs on. */
#define CO__SEL_START 0     /* the body, from its first line */
#define CO__SEL_FINALLY 1   /* the CO_FINALLY section, if there is one */
#define CO__SEL_END 2       /* finish: return the result */

/*
 * A backend provides four operations on a frame's resume point `f->pc` (f
 * is the co_frame *), and one check:
 *
 *   CO__RESUME_SAVE(f, n)     expression: remember resume point n (a number
 *                             from CO__UNIQUE) in f->pc
 *   CO__RESUME_LABEL(n)       place resume point n here; control may also
 *                             fall into it from the CO__RESUME_SAVE before it
 *   CO__RESUME_ENTRY(f, sel)  statement, once per call before the switch:
 *                             jump to the saved point, or set sel, the value
 *                             the switch starts on (CO__SEL_START on a
 *                             coroutine's first call)
 *   CO__RESUME_DONE(f)        statement at the end: mark the coroutine done,
 *                             so that every later call comes straight back
 *                             here and returns the result again
 *   CO__RESUME_LOST(sel)      statement where the switch's `default` begins:
 *                             a backend that can lose a resume point (the
 *                             switch backend) fails loudly here
 */
#if CO_USE_SWITCH
#  include "co_resume_switch.h"
#else
#  include "co_resume_labels.h"
#endif

/* ------------------------------------------------------------- the macros */

/* Open the body.  t is the task (passed on untouched), f the frame pointer.
 * The frame's address and size are kept for CO_ON_FINISH. */
#define CO_BEGIN(t, f)                                                       \
    co_task *const co__t = (t);                                              \
    co_frame *const co__f = &(f)->co;                                        \
    const void *const co__fr = (f);                                          \
    const size_t co__fsize = sizeof *(f);                                    \
    uintptr_t co__sel = CO__SEL_START;                                       \
    (void)co__t;                                                             \
    (void)co__fr, (void)co__fsize;                                           \
    CO__RESUME_ENTRY(co__f, co__sel);                                        \
    co__top:                                                                 \
    switch (co__sel) {                                                       \
    case CO__SEL_START:

/* Evaluate expr (a primitive call or a child coroutine call) until it stops
 * returning CO_WOULDBLOCK; store its result in res. Suspends meanwhile.
 * (Variadic, so an expression with a compound literal's commas in it is
 * one argument.)  The number n is drawn once and used twice: the save and
 * the label must agree. */
#define CO_AWAIT(res, ...) CO__AWAIT_N(res, CO__UNIQUE, __VA_ARGS__)
#define CO__AWAIT_N(res, n, ...)                                             \
    do {                                                                     \
        CO__RESUME_SAVE(co__f, n);                                           \
        CO__RESUME_LABEL(n)                                                  \
        if (((res) = (__VA_ARGS__)) == CO_WOULDBLOCK) {                      \
            CO__ON_SUSPEND(CO_HERE);                                         \
            return CO_WOULDBLOCK;                                            \
        }                                                                    \
    } while (0)

/* Run a child coroutine whose frame (with its own `co` member) is stored in
 * the caller's frame; res gets its result. Set the child's inputs first.
 * The reset sits before the await's resume point, so it runs once. */
#define CO_AWAIT_CALL(res, fn, ...)                                          \
    do {                                                                     \
        (__VA_ARGS__)->co.pc = 0;                                            \
        (__VA_ARGS__)->co.ret = 0;                                           \
        (__VA_ARGS__)->co.in_finally = 0;                                    \
        CO_AWAIT(res, (fn)(co__t, (__VA_ARGS__)));                           \
    } while (0)

/* Suspend once; the next call resumes after this point.  Inside a kernel
 * task this is a plain yield to the other ready tasks (as co_yield). */
#define CO_YIELD() CO__YIELD_N(CO__UNIQUE)
#define CO__YIELD_N(n)                                                       \
    do {                                                                     \
        CO__RESUME_SAVE(co__f, n);                                           \
        CO__ON_SUSPEND(CO_HERE);                                             \
        return CO_WOULDBLOCK;                                                \
        CO__RESUME_LABEL(n);                                                 \
    } while (0)

/* The pending result (inside CO_FINALLY: what the body returned). */
#define CO_RESULT() (co__f->ret)

/* Finish with value v, running the CO_FINALLY section first if there is one
 * and we are not already inside it: back to the switch, which goes to the
 * section's case, or to `default` when there is none. */
#define CO_RETURN(v)                                                         \
    do {                                                                     \
        co__f->ret = (v);                                                    \
        CO__ON_SUSPEND_IN(CO_HERE, (const char *)0);                         \
        co__sel = co__f->in_finally ? CO__SEL_END : CO__SEL_FINALLY;         \
        goto co__top;                                                        \
    } while (0)

/* Start of the cleanup section. Reached by falling off the body, too. */
#define CO_FINALLY                                                           \
    CO__FALLTHROUGH;                                                         \
    case CO__SEL_FINALLY:                                                    \
    co__f->in_finally = 1;

/* Close the body. Falling off the end finishes with CO_RESULT() (0 unless
 * CO_RETURN set it).  The `if (0) goto` only uses the label co__top, for a
 * body without CO_RETURN. */
#define CO_END                                                               \
    co__sel = CO__SEL_END;                                                   \
    CO__FALLTHROUGH;                                                         \
    default:                                                                 \
    CO__RESUME_LOST(co__sel);                                                \
    CO__RESUME_DONE(co__f);                                                  \
    CO__ON_FINISH(CO_HERE);                                                  \
    return co__f->ret;                                                       \
    }                                                                        \
    if (0) goto co__top

#endif /* CO_H */
