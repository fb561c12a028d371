/*
 * io.c -- fd readiness for tasks: one ev_io per direction, kept started
 * while tasks keep coming back to it.
 *
 * libev's epoll backend is level-triggered: a started watcher on a
 * readable fd fires at every poll.  So a watcher whose waiter has gone is
 * stopped -- but not on the first such event after a wake, because the
 * woken task usually comes straight back to wait again (read, reply, read
 * ...), and stopping and restarting would cost an epoll_ctl each time.
 *
 * A watcher kept started that way must not keep ev_run going: the kernel
 * detects a deadlock when ev_run returns by itself.  So a watcher is
 * ev_unref'd as soon as it is started (libev then does not count it) and
 * ev_ref'd again just before it is stopped, and instead each task waiting
 * on the io holds one ev_ref of the loop, from the moment it blocks to its
 * re-evaluation -- however its wait ends: readiness, cancellation, timeout
 * or close.  The loop is kept alive by exactly the tasks waiting for I/O,
 * the count is balanced on every path without bookkeeping, and a wait
 * costs one ev_ref and one ev_unref (an increment each).
 *
 * The I/O budget (io.h, "Fairness") is counted here, off the scheduler's
 * path: the kernel numbers its cycles, a task runs at most once per cycle,
 * so a streak belongs to one (task, cycle) pair and a task that suspended
 * -- for I/O or anything else -- starts a new one without any work at the
 * switch.  The budget's yield holds a use of the io exactly like a wait,
 * so the re-evaluation that finishes a wait finishes a yield too, and a
 * close meanwhile is handled the same way.
 */
#include <errno.h>
#include <ev.h>
#include <stdalign.h>

#include "io_impl.h"
#include "kernel_impl.h"

_Static_assert(sizeof(ev_io) <= CO__EV_IO_BYTES, "co_io watcher storage");
_Static_assert(alignof(ev_io) <= 16, "co_io watcher alignment");

static ev_io *watcher(co_io *io, int dir)
{
    return (ev_io *)(void *)io->priv.watcher[dir];
}

static void start(struct ev_loop *loop, ev_io *w)
{
    ev_io_start(loop, w);
    ev_unref(loop);                /* polls, but keeps no loop alive */
}

static void stop(struct ev_loop *loop, ev_io *w)
{
    if (!ev_is_active(w))
        return;
    ev_ref(loop);                  /* ev_io_stop takes its own unref */
    ev_io_stop(loop, w);
}

/* A task waiting on io keeps the loop alive, unless the io is weak: a
 * task of the monitor waiting for a console must not hide a deadlock. */
static void loop_hold(co_io *io)
{
    if (!io->priv.weak)
        ev_ref(io->priv.kernel->loop);
}
static void loop_release(co_io *io)
{
    if (!io->priv.weak)
        ev_unref(io->priv.kernel->loop);
}

void co__io_set_weak(co_io *io)
{
    if (io && !io->priv.users)     /* not while a wait holds a ref */
        io->priv.weak = 1;
}

static void on_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    co_io *io = w->data;
    int dir = w == watcher(io, CO_IO_WRITE);
    io->priv.ready[dir] = 1;
    if (co_waitq_wake_one(&io->priv.waiters[dir], 0)) {
        io->priv.woken[dir] = 1;
    } else if (io->priv.woken[dir]) {
        io->priv.woken[dir] = 0;        /* one event's grace for the woken task */
    } else {
        stop(loop, w);             /* nobody is waiting: stop the polling */
    }
}

int co_io_init(co_io *io, int fd, void (*release)(co_io *io))
{
    co_kernel *k = co__kernel;
    if (!io || fd < 0 || !k)
        return -EINVAL;
    *io = (co_io){ .priv = { .kernel = k, .release = release, .fd = fd,
                             .ready = { 1, 1 } } };  /* eager: try first */
    for (int dir = 0; dir < 2; dir++) {
        co_waitq_init(&io->priv.waiters[dir]);
        ev_io_init(watcher(io, dir), on_ready, fd,
                   dir == CO_IO_READ ? EV_READ : EV_WRITE);
        watcher(io, dir)->data = io;
    }
    return 0;
}

/* One more eager operation by self: 1 if the budget is spent and it must
 * yield first.  A new streak when another task, or this one after a
 * suspension (a later cycle), did the last one. */
static void streak_begin(co_kernel *k, co_task *self, unsigned streak)
{
    k->eager_task = self;
    k->eager_cycle = k->cycle;
    k->eager_streak = streak;
}

static int budget_spent(co_kernel *k, co_task *self)
{
    if (k->eager_task != self || k->eager_cycle != k->cycle)
        streak_begin(k, self, 0);
    return ++k->eager_streak > k->io_budget && k->io_budget;
}

/* Yield as if waiting on io: the back of the ready queue, holding a use of
 * io (and of the loop, which co_io_wait's return gives back). */
static co_status budget_yield(co_task *self, co_io *io)
{
    int rc = co_yield(self);
    if (rc != CO_WOULDBLOCK)
        return rc;                 /* a timeout or cancellation was due */
    io->priv.users++;
    loop_hold(io);
    return CO_WOULDBLOCK;
}

co_status co_io_eager(co_task *self, co_io *io)
{
    if (!io)
        return -EINVAL;
    if (io->priv.closed)
        return -EBADF;
    if (!budget_spent(io->priv.kernel, self))
        return 0;
    return budget_yield(self, io);
}

co_status co_io_wait(co_task *self, co_io *io, int dir)
{
    int rc = 0;
    if (co_wait_resumed(self)) {
        /* back from our own suspension (a wait or the budget's yield): we
         * held a use of io.  The operation that follows starts a streak. */
        co_wait_enter(self, &rc);
        if (!io)                       /* the call that blocked had one */
            return rc < 0 ? rc : -EINVAL;
        streak_begin(io->priv.kernel, self, 1);
        io->priv.users--;
        loop_release(io);               /* our wait no longer keeps it */
        if (io->priv.closed) {
            if (rc == 0)
                rc = -EBADF;
            if (io->priv.users == 0 && io->priv.release)
                io->priv.release(io);   /* io is gone now */
        }
        return rc;
    }
    if (co_wait_begin(self, io && (dir == CO_IO_READ || dir == CO_IO_WRITE),
                      &rc))
        return rc;
    if (io->priv.closed)
        return -EBADF;
    if (io->priv.held[dir])                 /* its waiter waits elsewhere */
        return -EBUSY;
    if (io->priv.ready[dir])
        return budget_spent(io->priv.kernel, self) ? budget_yield(self, io) : 0;
    if (!co_waitq_empty(&io->priv.waiters[dir]))
        return -EBUSY;
    io->priv.woken[dir] = 0;
    if (!ev_is_active(watcher(io, dir)))
        start(io->priv.kernel->loop, watcher(io, dir));
    io->priv.users++;
    loop_hold(io);                          /* a waiting task keeps it alive */
    io->priv.kernel->io_waits++;            /* co_kernel_get_stats */
    return co_block(self, &io->priv.waiters[dir], CO_NO_DEADLINE);
}

int co_io_unhold(co_io *io, int dir)
{
    if (!io)
        return -EINVAL;
    io->priv.users--;
    io->priv.held[dir] = 0;
    if (!io->priv.closed)
        return 0;
    if (io->priv.users == 0 && io->priv.release)
        io->priv.release(io);
    return 1;
}

void co_io_close(co_io *io)
{
    if (!io || io->priv.closed)
        return;
    io->priv.closed = 1;
    for (int dir = 0; dir < 2; dir++) {
        stop(io->priv.kernel->loop, watcher(io, dir));
        co_waitq_wake_all(&io->priv.waiters[dir], -EBADF);
    }
    if (io->priv.users == 0 && io->priv.release)
        io->priv.release(io);
}
