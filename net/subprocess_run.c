/*
 * subprocess_run.c -- the round trip with a child: communicate, run and
 * check_output (Curio's Popen.communicate, subprocess.run, check_output).
 *
 * communicate writes the input itself while a task per output pipe
 * collects stdout and stderr: a task waits on one thing at a time, and a
 * child that fills its stdout pipe before it has read all its input would
 * otherwise deadlock against us.  The collectors grow the result's
 * buffers as bytes come and read the pipe straight into them.
 *
 * Whatever ends communicate early -- a cancellation, a timeout, a failure
 * -- its cleanup kills the child and waits for it with cancellation held
 * back (core/cancel.h), so the child is reaped when it returns: no zombie,
 * and a caller that times out can report the child's fate.  The grace
 * period between SIGTERM and SIGKILL is kept by a small task of its own,
 * since a wait for the pidfd has no deadline and a cancelled task's
 * timeouts are disarmed.  Then the collectors are stopped and what is
 * still in the pipes is drained without blocking: a grandchild that holds
 * the pipe open cannot keep communicate waiting for an end of file.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/alloc_impl.h"
#include "../core/cancel.h"
#include "../core/timeout.h"
#include "subprocess.h"

/* What a collector reads at once, at least, and what the cleanup drains
 * from a pipe at most (a grandchild may write on). */
#define READ_ROOM 65536
#define DRAIN_MAX (1u << 20)

void co_process_result_free(co_process_result *r)
{
    if (!r)
        return;
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
}

/* ------------------------------------------------------------ buffers */

static char **buf_data(co_communicate_frame *c, int which)
{
    return which ? &c->result.err : &c->result.out;
}

static size_t *buf_len(co_communicate_frame *c, int which)
{
    return which ? &c->result.err_len : &c->result.out_len;
}

/* Room for `room` more bytes and the NUL after them: 0 or -ENOMEM. */
static int buf_reserve(co_communicate_frame *c, int which, size_t room)
{
    char **data = buf_data(c, which);
    size_t len = *buf_len(c, which), cap = c->priv.cap[which];
    if (*data && cap - len > room)
        return 0;
    size_t want = cap ? cap : 256;
    while (want - len <= room) {
        if (want > SIZE_MAX / 2)
            return -ENOMEM;
        want *= 2;
    }
    char *d = co__alloc_resize(*data, want);
    if (!d)
        return -ENOMEM;
    if (!*data)
        d[0] = '\0';
    *data = d;
    c->priv.cap[which] = want;
    return 0;
}

/* Room for a read: what is left above the NUL's place, READ_ROOM at
 * least. */
static size_t buf_room(co_communicate_frame *c, int which)
{
    return c->priv.cap[which] - *buf_len(c, which) - 1;
}

static void buf_took(co_communicate_frame *c, int which, size_t n)
{
    size_t *len = buf_len(c, which);
    *len += n;
    (*buf_data(c, which))[*len] = '\0';
}

/* ------------------------------------------------------------ collectors */

struct collector_frame {
    co_frame co;
    co_communicate_frame *owner;    /* outlives us: it joins us */
    int which;                      /* 0: stdout, 1: stderr */
    int n;
};

/* Read the pipe to its end into the owner's buffer: 0, or an error. */
static co_status collector(co_task *t, void *arg)
{
    struct collector_frame *f = arg;
    co_communicate_frame *c = f->owner;
    co_stream *st = co_process_stream(c->proc, f->which + 1);
    CO_BEGIN(t, f);
    /* Bytes the caller's reads left in the stream first, then the pipe
     * itself, bypassing the stream's buffer (no copy, nothing held back
     * there when we are cancelled: the cleanup drains the fd). */
    while (co_stream_buffered(st) > 0) {
        if (buf_reserve(c, f->which, READ_ROOM) < 0)
            CO_RETURN(-ENOMEM);
        CO_AWAIT(f->n, co_stream_read(t, st, *buf_data(c, f->which) +
                                                 *buf_len(c, f->which),
                                      buf_room(c, f->which)));
        if (f->n < 0)
            CO_RETURN(f->n);
        buf_took(c, f->which, (size_t)f->n);
    }
    for (;;) {
        if (buf_reserve(c, f->which, READ_ROOM) < 0)
            CO_RETURN(-ENOMEM);
        CO_AWAIT(f->n, co_socket_recv(t, co_stream_socket(st),
                                      *buf_data(c, f->which) +
                                          *buf_len(c, f->which),
                                      buf_room(c, f->which), 0));
        if (f->n <= 0)
            CO_RETURN(f->n);
        buf_took(c, f->which, (size_t)f->n);
    }
    CO_END;
}

/* After the collector was stopped: what the pipe still holds, without
 * blocking, and not without end. */
static void drain(co_communicate_frame *c, int which)
{
    co_stream *st = co_process_stream(c->proc, which + 1);
    int fd = co_socket_fd(co_stream_socket(st));
    size_t total = 0;
    while (fd >= 0 && total < DRAIN_MAX &&
           buf_reserve(c, which, READ_ROOM) == 0) {
        ssize_t n = read(fd, *buf_data(c, which) + *buf_len(c, which),
                         buf_room(c, which));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;                  /* EAGAIN, the end, or an error */
        buf_took(c, which, (size_t)n);
        total += (size_t)n;
    }
}

/* ------------------------------------------------------------ the killer */

struct killer_frame {
    co_frame co;
    co_process *proc;               /* outlives us: the owner joins us */
    double grace;
    int rc;
};

/* SIGKILL once the grace period is over, unless cancelled first. */
static co_status killer(co_task *t, void *arg)
{
    struct killer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, f->grace));
    if (f->rc == 0)
        co_process_kill(f->proc);   /* -ESRCH if it has been reaped */
    CO_END;
}

/* Ask the child to go: SIGTERM and a killer task for the grace period,
 * or SIGKILL now (no grace, or no memory for the task). */
static void ask_to_go(co_task *t, co_communicate_frame *f)
{
    if (f->kill_grace > 0 && co_process_terminate(f->proc) == 0) {
        struct killer_frame kf = { .proc = f->proc, .grace = f->kill_grace };
        co_spawn_opts o = { .name = "subprocess_killer" };
        if (co_spawn(t, &f->priv.killer, killer, &kf, sizeof kf, &o) > 0)
            return;
        f->priv.killer = NULL;
    }
    co_process_kill(f->proc);
}

/* ------------------------------------------------------------ communicate */

static int communicate_args_ok(const co_communicate_frame *f)
{
    return f->proc && !(f->input_len && !f->input) &&
           !(f->input_len && !co_process_stream(f->proc, 0)) &&
           f->kill_grace >= 0;              /* false for NaN too */
}

co_status co_process_communicate(co_task *t, void *arg)
{
    co_communicate_frame *f = arg;
    if (!f)
        return -EINVAL;
    struct co__communicate_private *pv = &f->priv;
    CO_BEGIN(t, f);
    *pv = (struct co__communicate_private){ 0 };
    f->result = (co_process_result){ .returncode = CO_PROC_RUNNING };
    if (!communicate_args_ok(f))
        CO_RETURN(-EINVAL);
    pv->started = 1;
    for (pv->i = 0; pv->i < 2; pv->i++) {
        if (!co_process_stream(f->proc, pv->i + 1))
            continue;
        if (buf_reserve(f, pv->i, 0) < 0)
            CO_RETURN(-ENOMEM);
        struct collector_frame cf = { .owner = f, .which = pv->i };
        co_spawn_opts o = { .name = pv->i ? "communicate_stderr"
                                          : "communicate_stdout" };
        if ((pv->rc = co_spawn(t, &pv->readers[pv->i], collector, &cf,
                               sizeof cf, &o)) < 0) {
            pv->readers[pv->i] = NULL;
            CO_RETURN(pv->rc);
        }
    }
    if (co_process_stream(f->proc, 0)) {
        if (f->input_len) {
            CO_AWAIT(pv->rc, co_stream_write(t, co_process_stream(f->proc, 0),
                                             f->input, f->input_len,
                                             &f->result.in_sent));
            /* A child that stops reading early is its own business. */
            if (pv->rc < 0 && pv->rc != -EPIPE)
                CO_RETURN(pv->rc);
        }
        co_process_close_stream(f->proc, 0);   /* end of file for it */
    }
    for (pv->i = 0; pv->i < 2; pv->i++) {
        if (!pv->readers[pv->i])
            continue;
        CO_AWAIT(pv->rc, co_task_join(t, pv->readers[pv->i], &pv->res));
        if (pv->rc < 0)
            CO_RETURN(pv->rc);                 /* the collector is ours */
        pv->readers[pv->i] = NULL;
        if (pv->res < 0)
            CO_RETURN(pv->res);
    }
    CO_AWAIT(pv->rc, co_process_wait(t, f->proc));
    CO_RETURN(pv->rc);
CO_FINALLY
    if (!pv->started)
        CO_RETURN(CO_RESULT());
    co_disable_cancellation(t);
    if (co_process_returncode(f->proc) == CO_PROC_RUNNING &&
        CO_RESULT() < 0) {
        ask_to_go(t, f);
        /* -EBUSY: another task waits for it, and reaps it. */
        CO_AWAIT(pv->rc, co_process_wait(t, f->proc));
        if (pv->killer) {
            co_task_cancel_nowait(pv->killer);
            CO_AWAIT(pv->rc, co_task_join(t, pv->killer, NULL));
            pv->killer = NULL;
        }
    }
    for (pv->i = 0; pv->i < 2; pv->i++) {
        if (!pv->readers[pv->i])
            continue;
        co_task_cancel_nowait(pv->readers[pv->i]);
        CO_AWAIT(pv->rc, co_task_join(t, pv->readers[pv->i], NULL));
        pv->readers[pv->i] = NULL;
        drain(f, pv->i);
    }
    co_enable_cancellation(t);
    for (pv->i = 0; pv->i < 3; pv->i++)
        co_process_close_stream(f->proc, pv->i);
    f->result.returncode = co_process_returncode(f->proc);
    CO_END;
}

/* ------------------------------------------------------------ run */

static int run_args_ok(const co_subprocess_frame *f)
{
    if (f->input && f->opts.in != CO_PROC_INHERIT &&
        f->opts.in != CO_PROC_PIPE)
        return 0;
    return f->timeout >= 0 && f->kill_grace >= 0 &&   /* false for NaN */
           !(f->input_len && !f->input);
}

co_status co_subprocess_run(co_task *t, void *arg)
{
    co_subprocess_frame *f = arg;
    if (!f)
        return -EINVAL;
    struct co__subprocess_private *pv = &f->priv;
    CO_BEGIN(t, f);
    pv->proc = NULL;
    f->result = (co_process_result){ .returncode = CO_PROC_RUNNING };
    if (!run_args_ok(f))
        CO_RETURN(-EINVAL);
    pv->opts = f->opts;
    if (f->input)
        pv->opts.in = CO_PROC_PIPE;
    if ((pv->rc = co_process_spawn(&pv->proc, &pv->opts)) < 0)
        CO_RETURN(pv->rc);
    pv->comm = (co_communicate_frame){
        .proc = pv->proc, .input = f->input, .input_len = f->input_len,
        .kill_grace = f->kill_grace,
    };
    if (f->timeout > 0 && !isinf(f->timeout))
        CO_AWAIT_TIMEOUT(pv->rc, &pv->to, f->timeout,
                         co_process_communicate(t, &pv->comm));
    else
        CO_AWAIT_CALL(pv->rc, co_process_communicate, &pv->comm);
    f->result = pv->comm.result;            /* the buffers are the caller's */
    if (pv->rc == 0 && f->check && f->result.returncode != 0)
        pv->rc = CO_CALLED_PROCESS_ERROR;
    CO_RETURN(pv->rc);
CO_FINALLY
    co_process_close(&pv->proc);            /* reaped by communicate */
    CO_END;
}

co_status co_subprocess_check_output(co_task *t, void *arg)
{
    co_subprocess_frame *f = arg;
    if (f) {                    /* every evaluation: the same values */
        f->opts.out = CO_PROC_PIPE;
        f->check = 1;
    }
    return co_subprocess_run(t, arg);
}
