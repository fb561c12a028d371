/*
 * embed.h -- driving a kernel from another program's loop.
 *
 * A program that already has a loop (a game loop, a GUI, a poll() or
 * epoll loop, another libev loop) advances a kernel a step at a time
 * instead of handing its thread to co_kernel_run:
 *
 *     co_kernel *k = co_kernel_new();
 *     co_kernel_spawn(k, NULL, server, &frame, sizeof frame, NULL);
 *     struct pollfd p[2] = { { .fd = co_kernel_fd(k), .events = POLLIN },
 *                            { .fd = my_fd, .events = POLLIN } };
 *     while (!quit) {
 *         poll(p, 2, co_kernel_timeout_ms(k));
 *         co_kernel_advance(k, 0);      // what is ready or due now
 *         ...                           // the program's own work
 *     }
 *     co_kernel_shutdown(k);            // cancel what is left, newest first
 *     co_kernel_free(k);
 *
 * Between calls the kernel's tasks stay where they are, and nothing runs.
 * Curio's equivalent is a Kernel used step by step (kernel.run() with no
 * coroutine, then kernel.run(shutdown=True)).
 */
#ifndef CO_EMBED_H
#define CO_EMBED_H

#include "api.h"
#include "task.h"

/*
 * Run k's tasks from outside any task, without ending them.  With seconds
 * 0: everything ready or due now runs (I/O is polled without waiting),
 * until nothing is ready; tasks that never block (a yield loop) are left
 * ready after a bounded amount of work, so the call always returns.  With
 * seconds > 0: the same, and it also waits for I/O and deadlines, until
 * that much time has passed (INFINITY: until every task has ended).  It
 * returns early once no task is alive.  Returns how many tasks are alive;
 * -EINVAL (NULL, NaN, negative), -EBUSY (this thread already runs a
 * kernel, or k runs in another thread).
 */
CO_API int co_kernel_advance(co_kernel *k, double seconds);

/*
 * A descriptor that polls readable when k has I/O to serve or a post from
 * another thread (co_kernel_post): wait for it, and for co_kernel_timeout,
 * then call co_kernel_advance.  It belongs to the kernel (do not read or
 * close it) and stays the same until co_kernel_free.  It may poll readable
 * when there turns out to be nothing to do.  Made on the first call (an
 * epoll set holding libev's backend and an eventfd for posts).  -EINVAL;
 * -ENOTSUP if the kernel's libev backend cannot be polled from outside (it
 * is epoll on Linux); -EMFILE, -ENOMEM if the descriptors cannot be made.
 */
CO_API int co_kernel_fd(co_kernel *k);

/* Seconds until k must be advanced even if its descriptor stays quiet: 0
 * when tasks are ready, the time to the earliest deadline (a sleep, a
 * timeout), or INFINITY when nothing is due.  NaN for NULL. */
CO_API double co_kernel_timeout(const co_kernel *k);

/* The same for poll() and epoll_wait(): whole milliseconds, rounded up;
 * -1 for no deadline; -EINVAL for NULL (poll() waits forever for any
 * negative timeout). */
CO_API int co_kernel_timeout_ms(const co_kernel *k);

/*
 * End every task left: cancel them newest first, one at a time (each once
 * the newer one has finished its cleanup), running the kernel until they
 * have all ended; then release them.  The kernel can be used again (or
 * freed).  0, or -EDEADLK if tasks deadlocked in their cleanup (they were
 * then cancelled all at once, and reported); -EINVAL, -EBUSY as above.
 */
CO_API int co_kernel_shutdown(co_kernel *k);

#endif /* CO_EMBED_H */
