/*
 * io.c -- fd readiness for tasks: one ev_io per direction, kept started
 * while tasks keep coming back to it.
 *
 * libev's epoll backend is level-triggered: a started watcher on a
 * readable fd fires at every poll.  So a watcher whose waiter has gone is
 * stopped -- but not on the first such event after a wake, because the
 * woken task usually comes straight back to wait again (read, reply, read
 * ...), and stopping and restarting would cost an epoll_ctl each time.
 */
#include <errno.h>
#include <ev.h>
#include <stdalign.h>

#include "io.h"
#include "kernel_impl.h"

_Static_assert(sizeof(ev_io) <= CO__EV_IO_BYTES, "co_io watcher storage");
_Static_assert(alignof(ev_io) <= 16, "co_io watcher alignment");

static ev_io *watcher(co_io *io, int dir)
{
    return (ev_io *)(void *)io->watcher[dir];
}

static void on_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    co_io *io = w->data;
    int dir = w == watcher(io, CO_IO_WRITE);
    io->ready[dir] = 1;
    if (co_waitq_wake_one(&io->waiters[dir], 0)) {
        io->woken[dir] = 1;
    } else if (io->woken[dir]) {
        io->woken[dir] = 0;        /* one event's grace for the woken task */
    } else {
        ev_io_stop(loop, w);       /* nobody is waiting: stop the polling */
    }
}

int co_io_init(co_io *io, int fd, void (*release)(co_io *io))
{
    co_kernel *k = co__kernel;
    if (!io || fd < 0 || !k)
        return -EINVAL;
    *io = (co_io){ .kernel = k, .release = release, .fd = fd,
                   .ready = { 1, 1 } };   /* eager: try before waiting */
    for (int dir = 0; dir < 2; dir++) {
        co_waitq_init(&io->waiters[dir]);
        ev_io_init(watcher(io, dir), on_ready, fd,
                   dir == CO_IO_READ ? EV_READ : EV_WRITE);
        watcher(io, dir)->data = io;
    }
    return 0;
}

co_status co_io_wait(co_task *self, co_io *io, int dir)
{
    int rc = 0;
    if (co_wait_resumed(self)) {
        /* back from our own suspension: we held a use of io */
        co_wait_enter(self, &rc);
        io->users--;
        if (io->closed) {
            if (rc == 0)
                rc = -EBADF;
            if (io->users == 0 && io->release)
                io->release(io);   /* io is gone now */
        }
        return rc;
    }
    if (co_wait_enter(self, &rc))
        return rc;
    if (!io || (dir != CO_IO_READ && dir != CO_IO_WRITE))
        return -EINVAL;
    if (io->closed)
        return -EBADF;
    if (io->ready[dir])
        return 0;
    if (!co_waitq_empty(&io->waiters[dir]))
        return -EBUSY;
    io->woken[dir] = 0;
    if (!ev_is_active(watcher(io, dir)))
        ev_io_start(io->kernel->loop, watcher(io, dir));
    rc = co_block(self, &io->waiters[dir], CO_NO_DEADLINE);
    if (rc == CO_WOULDBLOCK)
        io->users++;
    return rc;
}

void co_io_close(co_io *io)
{
    if (!io || io->closed)
        return;
    io->closed = 1;
    for (int dir = 0; dir < 2; dir++) {
        ev_io_stop(io->kernel->loop, watcher(io, dir));
        co_waitq_wake_all(&io->waiters[dir], -EBADF);
    }
    if (io->users == 0 && io->release)
        io->release(io);
}
