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
 * How it expands.  The frame's `co.pc` records where to resume.  CO_BEGIN
 * opens a `switch` over a small selector; every suspension point stores its
 * own resume point in pc before returning.  On entry:
 *   - switch backend (portable C99): the selector IS pc and each suspension
 *     point is a `case` label, like Duff's device and protothreads.  Because
 *     the case labels must sit in our switch, a coroutine body may not
 *     contain a `switch` statement of its own that spans an await.
 *   - labels backend (GCC/Clang "labels as values"): pc holds the address of
 *     a label (`&&label`) and entry does `goto *pc`.  User `switch`
 *     statements work anywhere.
 * Define CO_USE_SWITCH to 1 or 0 before including to choose; the default is
 * labels on GCC/Clang and switch elsewhere.  Resume points are numbered with
 * __COUNTER__ where available (two awaits on one line are fine), and the
 * number is stored in a pointer-sized integer, so big files cannot truncate
 * it.  Without __COUNTER__ they fall back to __LINE__: one await per line.
 *
 * Cleanup.  CO_FINALLY starts a section that runs when the body falls off its
 * end or executes CO_RETURN, whatever the result (success, error,
 * cancellation).  Inside it CO_RESULT() is the pending result and CO_RETURN
 * replaces it.  The section may await.  Without CO_FINALLY, CO_RETURN
 * finishes at once.
 *
 * The kernel (core/task.h) is told where each task suspends or returns
 * through CO_ON_SUSPEND(task, where); on its own this header makes that a
 * no-op.  With the switch backend, an await inside a user `switch` is
 * caught at run time: resuming it aborts with a message.
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
    /* 0: not started; else the resume case number (switch backend) or
     * label address (labels backend), kept as an integer either way */
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

/* Told about every suspension (kernel: record where the task waits). */
#ifndef CO_ON_SUSPEND
#  define CO_ON_SUSPEND(task, where) ((void)(task), (void)(where))
#endif

/* Told when a coroutine finishes, with its frame's bytes (kernel: no timeout
 * region begun in this frame may still be open). */
#ifndef CO_ON_FINISH
#  define CO_ON_FINISH(task, frame, size, where)                             \
    ((void)(task), (void)(frame), (void)(size), (void)(where))
#endif

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

/* Selector values of the outer switch. Resume cases start above them. */
#define CO__SEL_START 0
#define CO__SEL_FINALLY 1
#define CO__SEL_END 2
#define CO__CASE(n) ((n) + 3)

#if CO_USE_SWITCH

#define CO_BEGIN(t, f)                                                       \
    co_task *const co__t = (t);                                              \
    co_frame *const co__f = &(f)->co;                                        \
    const void *const co__fr = (f);                                          \
    const size_t co__fsize = sizeof *(f);                                    \
    (void)co__t;                                                             \
    (void)co__fr, (void)co__fsize;                                           \
    co__top:                                                                 \
    switch (co__f->pc) {                                                     \
    case CO__SEL_START:

#define CO__SAVE(n) (co__f->pc = CO__CASE(n))
#define CO__LABEL(n) case CO__CASE(n):
/* falling from the save into its own case label is intended */
#define CO__FALL_INTO_LABEL CO__FALLTHROUGH
#define CO__GOTO_SELECTOR(sel)                                               \
    do { co__f->pc = (sel); goto co__top; } while (0)
#define CO__DONE_LABEL
#define CO__MARK_DONE (co__f->pc = CO__SEL_END)
/* Reaching `default` with a resume case number means the case label was
 * captured by a user `switch` around an await: fail loudly, not by
 * silently finishing. */
#define CO__END_ENTRY (co__f->pc = CO__SEL_END)
#define CO__CHECK_RESUME_POINT                                               \
    if (co__f->pc > CO__SEL_END) co__lost_resume_point(CO_HERE)

static inline void co__lost_resume_point(const char *where)
{
    fprintf(stderr, "co.h: coroutine ending at %s: resume point not found -- an "
                    "await inside a switch statement needs the labels backend\n",
            where);
    abort();
}

#else /* labels as values */

#define CO_BEGIN(t, f)                                                       \
    co_task *const co__t = (t);                                              \
    co_frame *const co__f = &(f)->co;                                        \
    const void *const co__fr = (f);                                          \
    const size_t co__fsize = sizeof *(f);                                    \
    int co__sel = CO__SEL_START;                                             \
    (void)co__t;                                                             \
    (void)co__fr, (void)co__fsize;                                           \
    co__top:                                                                 \
    switch (co__sel) {                                                       \
    case CO__SEL_START:                                                      \
        if (co__f->pc) goto *(void *)co__f->pc;

/* Through an integer: GCC's -Wdangling-pointer mistakes a label address
 * stored in the frame for the address of a local. */
#define CO__SAVE(n) (co__f->pc = (uintptr_t)&&CO__CAT(co__resume_, n))
#define CO__LABEL(n) CO__CAT(co__resume_, n):
#define CO__FALL_INTO_LABEL ((void)0)
#define CO__GOTO_SELECTOR(sel)                                               \
    do { co__sel = (sel); goto co__top; } while (0)
#define CO__DONE_LABEL co__done:
#define CO__MARK_DONE (co__f->pc = (uintptr_t)&&co__done)
#define CO__END_ENTRY ((void)0)
#define CO__CHECK_RESUME_POINT ((void)0)

#endif

/* Evaluate expr (a primitive call or a child coroutine call) until it stops
 * returning CO_WOULDBLOCK; store its result in res. Suspends meanwhile.
 * (Variadic, so an expression with a compound literal's commas in it is
 * one argument.) */
#define CO_AWAIT(res, ...) CO__AWAIT_N(res, CO__UNIQUE, __VA_ARGS__)
#define CO__AWAIT_N(res, n, ...)                                             \
    do {                                                                     \
        CO__SAVE(n);                                                         \
        CO__FALL_INTO_LABEL;                                                 \
        CO__LABEL(n)                                                         \
        if (((res) = (__VA_ARGS__)) == CO_WOULDBLOCK) {                      \
            CO_ON_SUSPEND(co__t, CO_HERE);                                   \
            return CO_WOULDBLOCK;                                            \
        }                                                                    \
    } while (0)

/* Run a child coroutine whose frame (with its own `co` member) is stored in
 * the caller's frame; res gets its result. Set the child's inputs first. */
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
        CO__SAVE(n);                                                         \
        CO_ON_SUSPEND(co__t, CO_HERE);                                       \
        return CO_WOULDBLOCK;                                                \
        CO__LABEL(n);                                                        \
    } while (0)

/* The pending result (inside CO_FINALLY: what the body returned). */
#define CO_RESULT() (co__f->ret)

/* Finish with value v, running the CO_FINALLY section first if there is one
 * and we are not already inside it. */
#define CO_RETURN(v)                                                         \
    do {                                                                     \
        co__f->ret = (v);                                                    \
        CO_ON_SUSPEND(co__t, CO_HERE);                                       \
        CO__GOTO_SELECTOR(co__f->in_finally ? CO__SEL_END : CO__SEL_FINALLY);\
    } while (0)

/* Start of the cleanup section. Reached by falling off the body, too. */
#define CO_FINALLY                                                           \
    CO__FALLTHROUGH;                                                         \
    case CO__SEL_FINALLY:                                                    \
    co__f->in_finally = 1;

/* Close the body. Falling off the end finishes with CO_RESULT() (0 unless
 * CO_RETURN set it). */
#define CO_END                                                               \
    CO__END_ENTRY;                                                           \
    CO__FALLTHROUGH;                                                         \
    default:                                                                 \
    CO__CHECK_RESUME_POINT;                                                  \
    CO__DONE_LABEL                                                           \
    CO__MARK_DONE;                                                           \
    CO_ON_FINISH(co__t, co__fr, co__fsize, CO_HERE);                          \
    return co__f->ret;                                                       \
    }                                                                        \
    if (0) goto co__top

#endif /* CO_H */
