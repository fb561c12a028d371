/*
 * io.h -- waiting for a file descriptor to become readable or writable.
 *
 * A co_io is the kernel's registration of one non-blocking fd: one libev
 * watcher per direction, started when a task first waits and kept while
 * tasks keep coming back to wait on it (no epoll_ctl per wait), plus a
 * readiness hint so that I/O is eager without wasting a system call on a
 * certain EAGAIN: after an attempt that drained the fd (a short read, or
 * EAGAIN) the next attempt waits for readiness first.  Only a task waiting
 * on an io keeps the kernel's loop alive, not a watcher kept started: so
 * deadlock detection still sees tasks that all wait for something else.
 *
 * One waiter per direction: a second task that would wait to read (or
 * write) while another already waits gets -EBUSY (Curio's
 * ReadResourceBusy / WriteResourceBusy).  One reader plus one writer is
 * fine.
 *
 * Lifetime: the owner embeds a co_io in its own object (a socket, a
 * stream) and calls co_io_close when done.  Closing wakes the tasks blocked
 * on it with -EBADF; a task woken but not yet run finds the io closed.  The
 * owner's object must outlive those tasks' return: `release`, if set, is
 * called once the io is closed and no task is inside co_io_wait on it, and
 * is where the owner frees the object.
 *
 * The fd itself is the owner's: co_io never closes it.
 *
 * Fairness.  Eager I/O never suspends while the fd keeps up: a task
 * reading from a peer that floods it could run forever, starving every
 * other task (Curio behaves so).  So each kernel gives a task an I/O
 * budget: after `budget` consecutive operations that went ahead without
 * suspending, the next one first yields -- the task goes to the back of
 * the ready queue, as co_yield -- and then proceeds.  The count restarts
 * whenever the task suspends, for any reason.  The yield happens before
 * the operation, never after it, so it cannot lose data; like any
 * blocking point, a pending timeout or cancellation may be reported
 * there instead of the operation.
 */
#ifndef CO_IO_H
#define CO_IO_H

#include <stdint.h>

#include "api.h"
#include "task.h"
#include "waits.h"

enum { CO_IO_READ = 0, CO_IO_WRITE = 1 };

/* Room for libev's ev_io (checked in io.c), so that this header does not
 * pull libev into every program. */
#define CO__EV_IO_BYTES 64

typedef struct co_io co_io;

/* Private to core/io.c (and the inlines below): owners use the functions
 * and accessors of this header, never a field. */
struct co__io_private {
    co_waitq waiters[2];            /* at most one task each */
    co_kernel *kernel;
    void (*release)(co_io *io);     /* closed and nobody inside: free */
    int fd;
    uint16_t users;                 /* tasks blocked or woken, not returned;
                                       each keeps the loop alive */
    uint8_t ready[2];               /* readiness seen since the last drain */
    uint8_t woken[2];               /* a waiter was woken and not yet back */
    uint8_t held[2];                /* co_io_hold: a task of the owner's
                                       waits elsewhere, as this direction's
                                       waiter */
    uint8_t closed;
    uint8_t weak;                   /* its waiters keep no loop alive (the
                                       monitor's sockets: co__io_set_weak) */
    _Alignas(16) unsigned char watcher[2][CO__EV_IO_BYTES];
};

/* Every field is private, in `priv`. */
struct co_io {
    struct co__io_private priv;
};

/* Register fd (already non-blocking) with the calling thread's running
 * kernel.  0, or -EINVAL (bad fd, no kernel running in this thread). */
CO_API int co_io_init(co_io *io, int fd, void (*release)(co_io *io));

/* The I/O budget of tasks in kernel k: the eager operations a task may
 * complete in a row before the next one yields (see "Fairness" above);
 * CO_IO_BUDGET_DEFAULT in a new kernel.  0 turns the limit off (Curio's
 * behaviour).  Takes effect at once, also from inside a task.  0, or
 * -EINVAL for a NULL kernel. */
#define CO_IO_BUDGET_DEFAULT 64
CO_API int co_kernel_set_io_budget(co_kernel *k, unsigned budget);
CO_API unsigned co_kernel_io_budget(const co_kernel *k);   /* 0 for NULL */

/*
 * Blocking: wait until the fd is ready in direction `dir`.  Returns 0;
 * -EBUSY if another task already waits in that direction; -EBADF if the io
 * is (or gets) closed; -ECANCELED / -ETIMEDOUT; -EINVAL for a NULL io or
 * a bad dir, before any of those (THE RULE, core/waits.h: an owner hands
 * its own bad arguments down as a NULL io).  Returns at once when the
 * readiness hint says the fd is ready -- that counts as one eager
 * operation of the task's I/O budget, and the one after the budget yields
 * first (CO_WOULDBLOCK; the re-evaluation returns 0, or -EBADF if the io
 * was closed meanwhile).
 */
CO_API co_status co_io_wait(co_task *self, co_io *io, int dir);

/*
 * For an owner that completes an operation without reaching co_io_wait
 * (a stream serving bytes it has buffered): count it in the task's I/O
 * budget.  0: go ahead.  CO_WOULDBLOCK: the budget was spent and the task
 * yields first, holding a use of io as a waiter does -- its re-evaluation
 * must finish with co_io_wait (either direction), which returns 0 or
 * -EBADF, before the operation starts over.  -ECANCELED / -ETIMEDOUT if
 * due (as at any blocking point); -EINVAL for a NULL io, -EBADF for a
 * closed one.
 */
CO_API co_status co_io_eager(co_task *self, co_io *io);

/* Record an attempt: `drained` when it came back short or with EAGAIN. */
static inline void co_io_attempted(co_io *io, int dir, int drained)
{
    if (!io)
        return;
    io->priv.woken[dir] = 0;
    if (drained)
        io->priv.ready[dir] = 0;
}

/* Accessors for owners (net/), which never name a field.  NULL: 0. */

/* Closed (co_io_close). */
static inline int co_io_closed(const co_io *io)
{
    return io && io->priv.closed;
}

/* Some task is inside co_io_wait on io (blocked, or woken and not yet
 * back) or holds it (co_io_hold). */
static inline int co_io_in_use(const co_io *io)
{
    return io && io->priv.users != 0;
}

/* A task is blocked in direction dir, or was woken from it and has not
 * made its attempt yet: an operation that would not wait must not go
 * ahead of it. */
static inline int co_io_has_waiter(const co_io *io, int dir)
{
    return io && (!co_waitq_empty(&io->priv.waiters[dir]) ||
                  io->priv.woken[dir]);
}

/* Forget that the fd was drained, in both directions: the next attempt
 * tries the system call first (after blocking code used the fd). */
static inline void co_io_assume_ready(co_io *io)
{
    if (io)
        io->priv.ready[CO_IO_READ] = io->priv.ready[CO_IO_WRITE] = 1;
}

/*
 * For an owner whose task, inside an operation on the io, waits for
 * something else (room in the kernel's pool): co_io_hold makes that task
 * the direction's waiter -- another task that would wait or do I/O in
 * that direction through co_io_wait gets -EBUSY -- and keeps the io's
 * memory alive as a waiter in co_io_wait would, until co_io_unhold.
 * co_io_unhold returns 1 if the io was closed meanwhile -- its memory may
 * then be gone (released if this was the last user): do not touch it.
 */
static inline void co_io_hold(co_io *io, int dir)
{
    if (!io)
        return;
    io->priv.users++;
    io->priv.held[dir] = 1;
}
/* -EINVAL for NULL. */
CO_API int co_io_unhold(co_io *io, int dir);

/* Stop watching, wake the waiters with -EBADF, and call `release` once no
 * task is inside co_io_wait (at once if none is).  Idempotent. */
CO_API void co_io_close(co_io *io);

#endif /* CO_IO_H */
