/*
 * kernel.h -- the kernel: one libev loop, a ready queue, a timer heap, and
 * the task registry.  A kernel belongs to the thread that runs it.
 */
#ifndef CO_KERNEL_H
#define CO_KERNEL_H

#include "api.h"
#include "task.h"

/* A new kernel with its own libev loop and everything it needs to run
 * (its descriptors included: nothing is created lazily later that could
 * fail).  NULL with errno set on failure: ENOMEM, EMFILE or ENFILE. */
CO_API co_kernel *co_kernel_new(void);

/* Spawn a task into k from outside any task (before or between runs).
 * Same contract as co_spawn(). */
CO_API int co_kernel_spawn(co_kernel *k, co_task **out, co_func fn,
                           const void *frame, size_t frame_size,
                           const co_spawn_opts *opts);

/*
 * Run `main` (a copy of `frame`, frame_size bytes) and every other task
 * until main ends; then cancel the tasks still alive newest first, one at
 * a time (each once the newer one has finished its cleanup, as Curio's
 * shutdown does), and release every finished task.  Returns main's
 * result; -EDEADLK if every task blocked with nothing left that could wake
 * one (the tasks are cancelled and cleaned up first); -EINVAL for bad
 * arguments; -EBUSY if this thread already runs a kernel (a kernel is run
 * from outside any task: one kernel per thread, as in Curio) or k runs in
 * another thread.  A kernel can be run again after a run has returned.
 * Meanwhile Ctrl-C (SIGINT) cancels main (signals.h says when, and how
 * to turn it off).  To advance a kernel from another loop instead, see
 * embed.h.
 */
CO_API int co_kernel_run(co_kernel *k, co_func main, const void *frame,
                         size_t frame_size);

/* Free the kernel (and anything left in it). */
CO_API void co_kernel_free(co_kernel *k);

/* The one-call form: new kernel, run main, free, return main's result
 * (or co_kernel_new's failure: -ENOMEM, -EMFILE, -ENFILE; or -EBUSY at
 * once, from inside a running kernel). */
CO_API int co_run(co_func main, const void *frame, size_t frame_size);

/* The kernel running in the calling thread, or NULL. */
CO_API co_kernel *co_current_kernel(void);

/* The kernel's libev loop, for the parts of the library that wait on file
 * descriptors and signals (net/, sync/). */
CO_API struct ev_loop *co_kernel_loop(co_kernel *k);

#endif /* CO_KERNEL_H */
