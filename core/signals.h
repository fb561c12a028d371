/*
 * signals.h -- Unix signals as things a task waits for (Curio's
 * SignalEvent and SignalQueue), and what Ctrl-C does to a run.  (Not
 * signal.h: that is the C library's.)
 *
 *     co_signal_event_init(&f->stop, CO_SIGNALS(SIGINT, SIGTERM));
 *     CO_AWAIT(f->sig, co_signal_event_wait(t, &f->stop));   // SIGTERM...
 *     ...
 *     CO_FINALLY;
 *     co_signal_event_free(&f->stop);
 *
 * Watching.  The first watcher of a signal in the process installs the
 * library's handler for it (sigaction, SA_RESTART); when the last one is
 * freed, the disposition it found is put back exactly.  The handler only
 * notes the signal for every kernel that watches it and wakes each one
 * (a write to a descriptor the kernel polls); the kernel then hands it to
 * its watchers.  So several kernels, in several threads, each see every
 * delivery: none takes a signal from another.  Nothing is blocked
 * process-wide.  What the system merges is merged: a standard signal sent
 * twice before the handler ran once is one delivery.
 *
 * A watcher belongs to the kernel running in the thread that made it,
 * and is used and freed there (or after that kernel is freed).  It must
 * be freed -- a frame's CO_FINALLY -- and not copied.  Freeing one that
 * was never made, or twice, does nothing, so a frame can be zeroed and
 * freed unconditionally.  If its kernel is freed first, the watcher just
 * stops seeing signals; its memory is released by its own free.
 *
 * Ctrl-C.  While co_kernel_run (and so co_run) runs a main task, SIGINT
 * cancels that main task: its cleanup runs, the other tasks are shut down
 * as after any main, and the run returns main's result (-ECANCELED
 * unless main makes something else of it).  A second SIGINT while that
 * cleanup runs ends the process the way SIGINT does by default.  This
 * applies only when SIGINT's disposition is the default one when the run
 * starts (a shell's background job, which ignores it, keeps ignoring it;
 * a program's own handler is kept), and stands aside while any
 * co_signal_event or co_signal_queue of the process watches SIGINT: the
 * program then handles Ctrl-C itself.  The disposition is put back when
 * the run returns.  A kernel advanced by co_kernel_advance (embed.h) never
 * installs it.  To turn it off: co_kernel_set_sigint(k, 0), or the
 * environment variable CURIO_SIGINT=0 (read when a run starts).
 */
#ifndef CO_SIGNALS_H
#define CO_SIGNALS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "task.h"

/* Both objects are a handle on a record the library keeps (private). */
struct co__signal_watch;
struct co__signal_handle {
    struct co__signal_watch *w;
};

/* Every field is private, in `priv`.  All zeros: not made yet. */
typedef struct co_signal_event {
    struct co__signal_handle priv;
} co_signal_event;

typedef struct co_signal_queue {
    struct co__signal_handle priv;
} co_signal_queue;

/* The (signals, count) arguments of an init from a list of signals:
 * co_signal_event_init(&e, CO_SIGNALS(SIGINT, SIGTERM)).  C only. */
#define CO_SIGNALS(...)                                                     \
    (const int[]){ __VA_ARGS__ },                                           \
    sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int)

/*
 * Watch the n signals of `signals` (repeats allowed) in the kernel
 * running in this thread.  0; -EINVAL for a NULL object, n == 0, no
 * running kernel, an object already made, or a signal that cannot be
 * watched (not 1..64; SIGKILL, SIGSTOP; SIGSEGV, SIGBUS, SIGILL and
 * SIGFPE, whose handler returning would only fault again; those the C
 * library keeps for itself); -ENOMEM; -EMFILE / -ENFILE (the kernel's
 * first watcher opens a descriptor).  Signals delivered from then on are
 * seen, none before.
 */
CO_API int co_signal_event_init(co_signal_event *e, const int *signals,
                                size_t n);
/* Blocking: wait until one of the signals has been delivered since the
 * event was made or last cleared; returns that signal's number (> 0), the
 * latest if several.  At once if the event is set already.  -EINVAL for
 * an object not made here (or NULL); -EBADF if it is freed meanwhile;
 * -ECANCELED / -ETIMEDOUT.  A waiting task keeps its run alive (it is not
 * deadlocked: a signal may come). */
CO_API co_status co_signal_event_wait(co_task *self, co_signal_event *e);
/* The signal that set it (> 0), or 0 if clear (or NULL). */
CO_API int co_signal_event_is_set(const co_signal_event *e);
/* Clear it: the next wait waits for the next delivery.  0, or -EINVAL. */
CO_API int co_signal_event_clear(co_signal_event *e);
/* Stop watching; waiting tasks are woken with -EBADF.  The signals'
 * dispositions are put back once nothing else watches them. */
CO_API void co_signal_event_free(co_signal_event *e);

/*
 * A queue of every delivery of the signals, in the order they were
 * delivered, holding at most `capacity` (0: CO_SIGNAL_QUEUE_DEFAULT) not
 * yet taken.  A delivery that finds it full is dropped and counted
 * (co_signal_queue_dropped).  Results as co_signal_event_init; the queue
 * is allocated here.
 */
#define CO_SIGNAL_QUEUE_DEFAULT 64
CO_API int co_signal_queue_init(co_signal_queue *q, const int *signals,
                                size_t n, size_t capacity);
/* Blocking: the oldest delivery's signal number (> 0).  -EINVAL, -EBADF,
 * -ECANCELED, -ETIMEDOUT as co_signal_event_wait.  A signal handed to a
 * waiting task is never lost to a cancellation that comes after. */
CO_API co_status co_signal_queue_get(co_task *self, co_signal_queue *q);
/* The oldest delivery's signal number, or -EAGAIN if none is queued
 * (-EINVAL for NULL or not made). */
CO_API int co_signal_queue_get_nowait(co_signal_queue *q);
/* Deliveries queued, not yet taken (0 for NULL). */
CO_API size_t co_signal_queue_len(const co_signal_queue *q);
/* Deliveries dropped because the queue was full (0 for NULL). */
CO_API uint64_t co_signal_queue_dropped(const co_signal_queue *q);
/* As co_signal_event_free; deliveries not taken are dropped. */
CO_API void co_signal_queue_free(co_signal_queue *q);

/* Whether co_kernel_run cancels its main task on SIGINT (1, the default)
 * or leaves SIGINT alone (0).  Takes effect at once, also from inside a
 * run.  0, or -EINVAL for NULL. */
CO_API int co_kernel_set_sigint(co_kernel *k, int on);

#endif /* CO_SIGNALS_H */
