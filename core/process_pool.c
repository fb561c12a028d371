/*
 * process_pool.c -- the kernel's side of the worker processes (see
 * process_pool.h; the workers' own loop is process_worker.c).
 *
 * co_run_in_process is one primitive in four stages, its progress in the
 * caller's record (call->priv), so that nothing is allocated per call:
 *
 *   QUEUED  waiting for a worker: blocked on the pool's FIFO of waiters
 *   SEND    writing the request to the worker's pipe (co_io_wait to write)
 *   HEAD,   reading the response's header, then its bytes straight into
 *   BODY    the malloc'd buffer the caller gets (co_io_wait to read)
 *
 * The pool never points into a caller's frame: a worker busy with a call
 * is simply BUSY, the caller's record names the worker.  A task that
 * gives up (cancelled, timed out) with a worker that has seen part of the
 * request kills that worker, since nothing else stops a computation in
 * another process; one that gives up before sending a byte hands it back.
 *
 * No barging.  A worker freed while tasks wait is handed to the oldest
 * (reserved for it, the wake's value saying so), as a semaphore hands
 * over a unit; so is the right to start a worker, when one died or the
 * bound was raised.  A woken task that finds a cancellation due before it
 * sends anything passes what it was given to the next.
 *
 * Dying workers are reaped in the background, with no task waiting: the
 * pool drops the worker, sends SIGTERM, and watches a pidfd (pidfd_open,
 * Linux 5.3) with a plain ev_io, while an ev_timer sends SIGKILL after
 * the grace.  Where there is no pidfd, the timer polls waitpid instead.
 * Both watchers are unref'd, as async.c's is: a dying worker keeps no run
 * of the kernel alive; co_kernel_free reaps whoever is left.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc_impl.h"
#include "io.h"
#include "kernel_impl.h"
#include "process_pool_impl.h"

#ifndef SYS_pidfd_open                /* Linux 5.3, the same on every arch */
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* From SIGTERM to SIGKILL; then how often to look, should the pidfd be
 * missing. */
#define CO__PROCESS_GRACE 0.5
#define CO__PROCESS_POLL 0.02

enum { ST_START, ST_QUEUED, ST_SEND, ST_HEAD, ST_BODY };
enum { W_IDLE, W_BUSY, W_DYING };
/* The wake values of a waiter: a worker reserved for it, or the right to
 * start one. */
enum { GRANT_WORKER = 1, GRANT_START = 2 };

typedef struct co__process_worker worker;

struct co__process_worker {
    worker *next, *prev;       /* every worker of the pool */
    worker *next_idle;         /* the idle stack */
    struct co_process_pool *pool;
    co_task *reserved_for;     /* handed over, its task not yet back */
    pid_t pid;
    int state;                 /* W_* */
    int to_fd, from_fd;        /* the parent's pipe ends, -1 once closed */
    int pidfd;                 /* -1 if none could be had */
    int killed;                /* dying: SIGKILL sent */
    unsigned calls;            /* completed: a worker found dead before
                                  its first call is not retried */
    co_io to, from;
    ev_io exited;              /* pidfd readable: it has ended */
    ev_timer grace;            /* SIGKILL, then polling without pidfd */
};

struct co_process_pool {
    co_kernel *kernel;
    worker *all, *idle;
    int nworkers;              /* idle and busy: those that count */
    int nstarting;             /* GRANT_STARTs handed out, not yet used */
    int max;
    co_waitq waiters;
};

/* ------------------------------------------------------------ the pool */

static struct co_process_pool *pool_of(co_kernel *k)
{
    if (k->processes)
        return k->processes;
    struct co_process_pool *p = co__alloc_zeroed(1, sizeof *p);
    if (!p)
        return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->max = cpus < 1 ? 1 : cpus > INT_MAX ? INT_MAX : (int)cpus;
    p->kernel = k;
    co_waitq_init(&p->waiters);
    /* A write to the pipe of a worker that died raises SIGPIPE; ignored
     * (as net/socket.c does for pipes), it is an EPIPE. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    return k->processes = p;
}

int co_kernel_process_count(co_kernel *k)
{
    return k && k->processes ? k->processes->nworkers : 0;
}

static void link_worker(struct co_process_pool *p, worker *w)
{
    w->prev = NULL;
    w->next = p->all;
    if (p->all)
        p->all->prev = w;
    p->all = w;
}

static void unlink_worker(struct co_process_pool *p, worker *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->all = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void close_pipes(worker *w)
{
    if (w->to_fd < 0)
        return;
    co_io_close(&w->to);
    co_io_close(&w->from);
    close(w->to_fd);
    close(w->from_fd);
    w->to_fd = w->from_fd = -1;
}

/* A new worker, busy.  0, -ENOMEM, -EMFILE/-ENFILE (pipes) or -EAGAIN
 * (fork). */
static int start_worker(struct co_process_pool *p, worker **out)
{
    worker *w = co__alloc_zeroed(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int req[2], resp[2];
    if (pipe2(req, O_CLOEXEC) < 0) {
        int rc = -errno;
        free(w);
        return rc;
    }
    if (pipe2(resp, O_CLOEXEC) < 0) {
        int rc = -errno;
        close(req[0]);
        close(req[1]);
        free(w);
        return rc;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        const int parents[2] = { req[1], resp[0] };
        co__process_worker_main(req[0], resp[1], parents, parent);
    }
    close(req[0]);
    close(resp[1]);
    if (pid < 0) {
        close(req[1]);
        close(resp[0]);
        free(w);
        return -EAGAIN;
    }
    fcntl(req[1], F_SETFL, O_NONBLOCK);
    fcntl(resp[0], F_SETFL, O_NONBLOCK);
    /* The pidfd names this process and no other, even once someone else
     * has reaped it (a program's own waitpid(-1)): signals sent through it
     * cannot hit a recycled pid.  Without one (Linux < 5.3, valgrind), the
     * pid does. */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    *w = (worker){ .pool = p, .pid = pid, .state = W_BUSY, .to_fd = req[1],
                   .from_fd = resp[0], .pidfd = pidfd < 0 ? -1 : pidfd };
    co_io_init(&w->to, w->to_fd, NULL);     /* cannot fail: a task runs */
    co_io_init(&w->from, w->from_fd, NULL);
    link_worker(p, w);
    p->nworkers++;
    *out = w;
    return 0;
}

/* ------------------------------------------------------------ reaping */

static void signal_worker(worker *w, int sig)
{
    if (w->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, w->pidfd, sig, NULL, 0);
    else
        kill(w->pid, sig);
}

static void watcher_start_io(struct ev_loop *loop, ev_io *w)
{
    ev_io_start(loop, w);
    ev_unref(loop);                /* keeps no run alive */
}

static void watcher_start_timer(struct ev_loop *loop, ev_timer *w)
{
    ev_timer_start(loop, w);
    ev_unref(loop);
}

static void watchers_stop(struct ev_loop *loop, worker *w)
{
    if (ev_is_active(&w->exited)) {
        ev_ref(loop);              /* balance the unref before stopping */
        ev_io_stop(loop, &w->exited);
    }
    if (ev_is_active(&w->grace)) {
        ev_ref(loop);
        ev_timer_stop(loop, &w->grace);
    }
}

/* A dying worker has ended (or someone else reaped it): forget it. */
static int try_reap(worker *w)
{
    int r = waitpid(w->pid, NULL, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
        return 0;
    struct co_process_pool *p = w->pool;
    watchers_stop(p->kernel->loop, w);
    if (w->pidfd >= 0)
        close(w->pidfd);
    unlink_worker(p, w);
    free(w);
    return 1;
}

static void on_exited(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop, (void)revents;
    try_reap(io->data);
}

/* The grace is over: SIGKILL, once.  The timer repeats (libev never
 * stops it behind our back, which would upset the unref): without a
 * pidfd, each tick looks for the end. */
static void on_grace(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    worker *w = t->data;
    if (try_reap(w) || w->killed)
        return;
    signal_worker(w, SIGKILL);
    w->killed = 1;
}

/* Take w out of the pool and let it die: EOF on its request pipe ends an
 * idle worker by itself; a busy one is sent SIGTERM (`term`).  Either way
 * SIGKILL follows after the grace, and the kernel reaps it. */
static void retire(struct co_process_pool *p, worker *w, int term)
{
    struct ev_loop *loop = p->kernel->loop;
    p->nworkers--;
    w->state = W_DYING;
    w->reserved_for = NULL;
    close_pipes(w);
    if (term)
        signal_worker(w, SIGTERM);
    if (w->pidfd >= 0) {
        ev_io_init(&w->exited, on_exited, w->pidfd, EV_READ);
        w->exited.data = w;
        watcher_start_io(loop, &w->exited);
    }
    ev_timer_init(&w->grace, on_grace, CO__PROCESS_GRACE, CO__PROCESS_POLL);
    w->grace.data = w;
    watcher_start_timer(loop, &w->grace);
}

/* ------------------------------------------------------------ hand-offs */

/* Room under the bound: hand the right to start a worker to the oldest
 * waiters, one each. */
static void grant_starts(struct co_process_pool *p)
{
    while (p->nworkers + p->nstarting < p->max &&
           co_waitq_wake_one(&p->waiters, GRANT_START))
        p->nstarting++;
}

/* w is free again: to the oldest waiter, else idle (or gone, over a
 * lowered bound). */
static void release(struct co_process_pool *p, worker *w)
{
    w->reserved_for = NULL;
    if (p->nworkers > p->max) {
        retire(p, w, 0);
        return;
    }
    co_task *t = co_waitq_wake_one(&p->waiters, GRANT_WORKER);
    if (t) {
        w->reserved_for = t;
        return;
    }
    w->state = W_IDLE;
    w->next_idle = p->idle;
    p->idle = w;
}

/* A worker that has seen part of a call is killed; the call is over. */
static void drop(struct co_process_pool *p, worker *w)
{
    retire(p, w, 1);
    grant_starts(p);
}

int co_kernel_set_max_processes(co_kernel *k, int n)
{
    if (!k || n < 1)
        return -EINVAL;
    struct co_process_pool *p = pool_of(k);
    if (!p)
        return -ENOMEM;
    p->max = n;
    while (p->nworkers > p->max && p->idle) {
        worker *w = p->idle;
        p->idle = w->next_idle;
        retire(p, w, 0);
    }
    grant_starts(p);
    return 0;
}

/* ------------------------------------------------------------ the calls */

void co_process_call_init(co_process_call *c, co_process_fn fn,
                          const void *in, size_t in_len)
{
    if (c)
        *c = (co_process_call){ .fn = fn, .in = in, .in_len = in_len };
}

static int over(co_process_call *call, int rc)
{
    call->priv.stage = ST_START;
    call->priv.worker = NULL;
    return rc;
}

/* The call fails with w holding part of it. */
static int fail(struct co_process_pool *p, co_process_call *call, worker *w,
                int rc)
{
    free(call->out);
    call->out = NULL;
    call->out_len = 0;
    drop(p, w);
    return over(call, rc);
}

static co_status acquire(co_task *self, struct co_process_pool *p,
                         co_process_call *call);

/* The response, as far as the pipe has it. */
static co_status receive(co_task *self, struct co_process_pool *p,
                         co_process_call *call)
{
    worker *w = call->priv.worker;
    for (;;) {
        char *buf;
        size_t want;
        if (call->priv.stage == ST_HEAD) {
            buf = (char *)call->priv.head;
            want = sizeof call->priv.head;
        } else {
            buf = call->out;
            want = call->out_len;
        }
        if (call->priv.done == want) {
            if (call->priv.stage == ST_BODY)
                break;
            uint64_t h[2];
            memcpy(h, call->priv.head, sizeof h);
            call->result = (int64_t)h[0];
            if (h[1] > SIZE_MAX)
                return fail(p, call, w, -ENOMEM);
            call->out_len = (size_t)h[1];
            if (call->out_len && !(call->out = co__alloc(call->out_len))) {
                call->out_len = 0;
                return fail(p, call, w, -ENOMEM);
            }
            call->priv.stage = ST_BODY;
            call->priv.done = 0;
            continue;
        }
        ssize_t n = read(w->from_fd, buf + call->priv.done,
                         want - call->priv.done);
        if (n > 0) {
            call->priv.done += (size_t)n;
            co_io_attempted(&w->from, CO_IO_READ, call->priv.done < want);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            co_io_attempted(&w->from, CO_IO_READ, 1);
            int rc = co_io_wait(self, &w->from, CO_IO_READ);
            if (rc == CO_WOULDBLOCK)
                return rc;
            if (rc < 0)
                return fail(p, call, w, rc);
            continue;
        }
        return fail(p, call, w, -ESRCH);       /* EOF: it died */
    }
    w->calls++;
    release(p, w);
    if (call->result < 0) {                    /* the worker sent no bytes */
        free(call->out);
        call->out = NULL;
        call->out_len = 0;
        return over(call, call->result > INT_MIN ? (int)call->result
                                                 : -ERANGE);
    }
    return over(call, 0);
}

/* The request, as far as the pipe takes it; then the response. */
static co_status send_request(co_task *self, struct co_process_pool *p,
                              co_process_call *call)
{
    worker *w = call->priv.worker;
    size_t head = sizeof call->priv.head, total = head + call->in_len;
    while (call->priv.done < total) {
        size_t off = call->priv.done;
        struct iovec iov[2];
        int n = 0;
        if (off < head) {
            iov[n++] = (struct iovec){ call->priv.head + off, head - off };
            off = 0;
        } else {
            off -= head;
        }
        if (call->in_len > off)
            iov[n++] = (struct iovec){ (char *)(uintptr_t)call->in + off,
                                       call->in_len - off };
        ssize_t r = writev(w->to_fd, iov, n);
        if (r > 0) {
            call->priv.done += (size_t)r;
            co_io_attempted(&w->to, CO_IO_WRITE, call->priv.done < total);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            co_io_attempted(&w->to, CO_IO_WRITE, 1);
            int rc = co_io_wait(self, &w->to, CO_IO_WRITE);
            if (rc == CO_WOULDBLOCK)
                return rc;
            if (rc < 0 && call->priv.done == 0) {
                release(p, w);                 /* it saw nothing */
                return over(call, rc);
            }
            if (rc < 0)
                return fail(p, call, w, rc);
            continue;
        }
        /* EPIPE: the worker has gone.  One that served calls before died
         * while idle (someone killed it): the call takes another. */
        if (call->priv.done == 0 && w->calls > 0) {
            drop(p, w);
            call->priv.worker = NULL;
            return acquire(self, p, call);
        }
        return fail(p, call, w, -ESRCH);
    }
    /* One eager operation of the task's I/O budget per call: a worker
     * can answer before the first read, and a task making call after
     * call must not keep the others from running.  If it yields, its
     * re-evaluation goes through the stage's co_io_wait. */
    call->priv.stage = ST_HEAD;
    call->priv.done = 0;
    int rc = co_io_eager(self, &w->from);
    if (rc == CO_WOULDBLOCK)
        return rc;
    if (rc < 0)
        return fail(p, call, w, rc);
    return receive(self, p, call);
}

static co_status begin_send(co_task *self, struct co_process_pool *p,
                            co_process_call *call, worker *w)
{
    uint64_t h[2] = { (uint64_t)(uintptr_t)call->fn, call->in_len };
    memcpy(call->priv.head, h, sizeof h);
    call->priv.worker = w;
    call->priv.stage = ST_SEND;
    call->priv.done = 0;
    return send_request(self, p, call);
}

/* An idle worker, or a new one if the bound allows, or a place in line. */
static co_status acquire(co_task *self, struct co_process_pool *p,
                         co_process_call *call)
{
    worker *w = NULL;
    if (co_waitq_empty(&p->waiters)) {         /* no barging */
        if ((w = p->idle)) {
            p->idle = w->next_idle;
            w->state = W_BUSY;
        } else if (p->nworkers + p->nstarting < p->max) {
            int rc = start_worker(p, &w);
            if (rc < 0 && p->nworkers == 0)
                return over(call, rc);        /* nobody to wait for */
        }
    }
    if (w)
        return begin_send(self, p, call, w);
    call->priv.stage = ST_QUEUED;
    return co_block(self, &p->waiters, CO_NO_DEADLINE);
}

/* Back from waiting in line: what the wake brought. */
static co_status dequeued(co_task *self, struct co_process_pool *p,
                          co_process_call *call)
{
    int rc = 0;
    co_wait_enter(self, &rc);          /* resumed: always 1, with the wake */
    worker *w = NULL;
    if (rc == GRANT_WORKER) {
        for (w = p->all; w && w->reserved_for != self; w = w->next) {
        }
        if (!w)
            return acquire(self, p, call);     /* (cannot happen) */
        w->reserved_for = NULL;
    } else if (rc == GRANT_START) {
        p->nstarting--;
    } else if (rc < 0) {
        return over(call, rc);                 /* cancelled, timed out */
    } else {
        return acquire(self, p, call);         /* (no other wake) */
    }
    /* Handed over; a cancellation that came since is due now, at what is
     * this call's next blocking point, and passes the gift on. */
    if (co_wait_enter(self, &rc)) {
        if (w)
            release(p, w);
        else
            grant_starts(p);
        return over(call, rc);
    }
    if (!w) {
        int err = start_worker(p, &w);
        if (err < 0 && p->nworkers == 0) {
            grant_starts(p);
            return over(call, err);
        }
        if (err < 0) {                         /* wait for a busy one */
            call->priv.stage = ST_QUEUED;
            return co_block(self, &p->waiters, CO_NO_DEADLINE);
        }
    }
    return begin_send(self, p, call, w);
}

co_status co_run_in_process(co_task *self, co_process_call *call)
{
    int rc;
    if (co_wait_resumed(self) && call && call->priv.stage != ST_START) {
        struct co_process_pool *p = co__kernel->processes;
        worker *w = call->priv.worker;
        switch (call->priv.stage) {
        case ST_QUEUED:
            return dequeued(self, p, call);
        case ST_SEND:
            rc = co_io_wait(self, &w->to, CO_IO_WRITE);
            if (rc < 0 && call->priv.done == 0) {
                release(p, w);
                return over(call, rc);
            }
            if (rc < 0)
                return fail(p, call, w, rc);
            return send_request(self, p, call);
        default:
            rc = co_io_wait(self, &w->from, CO_IO_READ);
            if (rc < 0)
                return fail(p, call, w, rc);
            return receive(self, p, call);
        }
    }
    if (co_wait_begin(self, call && call->fn && (call->in || !call->in_len),
                      &rc))
        return rc;
    call->result = 0;
    call->out = NULL;
    call->out_len = 0;
    memset(&call->priv, 0, sizeof call->priv);
    struct co_process_pool *p = pool_of(co__kernel);
    if (!p)
        return -ENOMEM;
    return acquire(self, p, call);
}

/* ------------------------------------------------------------ the end */

void co__process_pool_free(co_kernel *k)
{
    struct co_process_pool *p = k->processes;
    if (!p)
        return;
    for (worker *w = p->all, *next; w; w = next) {
        next = w->next;
        watchers_stop(k->loop, w);
        close_pipes(w);
        signal_worker(w, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        if (w->pidfd >= 0)
            close(w->pidfd);
        free(w);
    }
    free(p);
    k->processes = NULL;
}
