/*
 * subprocess.c -- starting a child, waiting for it, signalling it, and the
 * process object (the round trip is in subprocess_run.c).
 *
 * Starting is posix_spawn(3): glibc runs the child in a vfork-like clone
 * and reports a failed exec (or chdir, or dup2) as the call's own result,
 * so a missing program is -ENOENT from co_process_spawn itself, with no
 * error pipe of ours.  The child's fds are arranged by file actions: a
 * dup2 onto 0, 1 and 2 each, then "close every fd from 3 up", so nothing
 * leaks into it whatever other code of the program opened.
 *
 * The exit is a pidfd: readable once the child has exited, so waiting for
 * it is waiting on an fd (core/io.h), in whichever kernel spawned it --
 * no SIGCHLD handler, which would be one per process, shared by every
 * kernel and at the mercy of any other code that reaps.  The pidfd also
 * keeps the pid from being reused until we reap, so waitpid(pid) and
 * signals through the pidfd can never reach a stranger.
 *
 * Without pidfds (a kernel before 5.3, some sandboxes, valgrind, which
 * does not know the system call) a wait polls instead: waitpid(WNOHANG),
 * then a sleep on the process's own queue that doubles from 1 ms to
 * 50 ms.  Slower to notice an exit, but the same everywhere else; an
 * unreaped child keeps its pid, so kill(2) is as safe as the pidfd.
 */
/* posix_spawn_file_actions_addchdir_np / _addclosefrom_np, syscall(2) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/alloc_impl.h"
#include "../core/io.h"
#include "../core/kernel.h"
#include "../core/waits.h"
#include "subprocess.h"

extern char **environ;

/* glibc 2.34 has both (addchdir_np since 2.29, addclosefrom_np since
 * 2.34).  Elsewhere: no cwd (-ENOTSUP), and close-on-exec alone. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
#define HAVE_SPAWN_NP 1
#else
#define HAVE_SPAWN_NP 0
#endif

struct co_process {
    co_io io;               /* first: release() casts back.  The pidfd. */
    co_stream *pipes[3];    /* the parent's ends; NULL: none, or closed */
    pid_t pid;
    int pidfd;              /* -1: no pidfds, the wait polls */
    int returncode;         /* CO_PROC_RUNNING until reaped */
    uint8_t reaped;         /* nothing left to reap (or someone else did) */
    /* Polling (pidfd -1): the waiter's queue, the next interval, and the
     * tasks inside a wait (the memory outlives them, as an io's does). */
    uint8_t closed;
    uint16_t users;
    int64_t poll_ns;
    co_waitq pollq;
};

enum { POLL_FIRST_NS = 1000000, POLL_MAX_NS = 50000000 };

static void release(co_io *io)
{
    free((co_process *)(void *)io);
}

/* ------------------------------------------------------------ the pidfd */

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);   /* always close-on-exec */
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int signal_child(co_process *p, int sig)
{
#ifdef SYS_pidfd_send_signal
    if (p->pidfd >= 0)
        return syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) == 0
                   ? 0 : -errno;
#endif
    return kill(p->pid, sig) == 0 ? 0 : -errno;   /* unreaped: still ours */
}

static void set_status(co_process *p, int status)
{
    p->reaped = 1;
    if (WIFEXITED(status))
        p->returncode = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        p->returncode = -WTERMSIG(status);
}

/* Reap the child if it has exited: 1 (reaped, or lost: -ECHILD in *rc),
 * 0 if it still runs.  `block`: wait for it (only after a SIGKILL). */
static int reap(co_process *p, int block, int *rc)
{
    int status;
    pid_t r;
    *rc = 0;
    if (p->reaped)
        return 1;
    while ((r = waitpid(p->pid, &status, block ? 0 : WNOHANG)) < 0 &&
           errno == EINTR)
        ;
    if (r == 0)
        return 0;
    if (r < 0) {                    /* ECHILD: reaped behind our back */
        p->reaped = 1;
        *rc = -errno;
        return 1;
    }
    set_status(p, status);
    return 1;
}

/* ------------------------------------------------------------ starting */

/* What the child's fd i becomes: an fd of ours, or one of these. */
enum { SRC_INHERIT = -1, SRC_STDOUT = -2 };

struct plan {
    int src[3];
    int close_after[6];     /* the child's pipe ends, /dev/null, dups */
    int nclose;
    int devnull;
    co_process *from;       /* CO_PROC_FROM: its stdout pipe, blocking now */
    int from_fd;
};

static void plan_close(struct plan *pl)
{
    for (int i = 0; i < pl->nclose; i++)
        close(pl->close_after[i]);
    pl->nclose = 0;
}

static int opts_ok(const co_process_opts *o)
{
    if (!o || !o->argv || !o->argv[0])
        return 0;
    const int *mode[3] = { &o->in, &o->out, &o->err };
    const int *fd[3] = { &o->in_fd, &o->out_fd, &o->err_fd };
    for (int i = 0; i < 3; i++) {
        switch (*mode[i]) {
        case CO_PROC_INHERIT: case CO_PROC_PIPE: case CO_PROC_DEVNULL:
            break;
        case CO_PROC_FD:
            if (*fd[i] < 0)
                return 0;
            break;
        case CO_PROC_STDOUT:
            if (i != 2)
                return 0;
            break;
        case CO_PROC_FROM:
            if (i != 0 || !o->in_from)
                return 0;
            break;
        default:
            return 0;
        }
    }
    return 1;
}

/* A pipe for the child's fd i: the parent's end becomes p->pipes[i]. */
static int make_pipe(co_process *p, struct plan *pl, int i)
{
    int fds[2];
    co_socket *s;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    int child = i == 0 ? fds[0] : fds[1], mine = i == 0 ? fds[1] : fds[0];
    pl->close_after[pl->nclose++] = child;
    int rc = co_socket_from_fd(&s, mine);      /* makes it non-blocking */
    if (rc < 0) {
        close(mine);
        return rc;
    }
    if ((rc = co_stream_new(&p->pipes[i], s, 0)) < 0) {
        co_socket_close(&s);                   /* closes mine */
        return rc;
    }
    pl->src[i] = child;
    return 0;
}

static int plan_fd(co_process *p, struct plan *pl, const co_process_opts *o,
                   int i)
{
    const int mode = i == 0 ? o->in : i == 1 ? o->out : o->err;
    const int fd = i == 0 ? o->in_fd : i == 1 ? o->out_fd : o->err_fd;
    pl->src[i] = SRC_INHERIT;
    switch (mode) {
    case CO_PROC_PIPE:
        return make_pipe(p, pl, i);
    case CO_PROC_DEVNULL:
        if (pl->devnull < 0) {
            pl->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (pl->devnull < 0)
                return -errno;
            pl->close_after[pl->nclose++] = pl->devnull;
        }
        pl->src[i] = pl->devnull;
        return 0;
    case CO_PROC_FD:
        if (fcntl(fd, F_GETFD) < 0)
            return -EBADF;
        if (fd != i)
            pl->src[i] = fd;
        return 0;
    case CO_PROC_STDOUT:
        pl->src[i] = SRC_STDOUT;
        return 0;
    case CO_PROC_FROM: {
        co_stream *st = co_process_stream(o->in_from, 1);
        if (!st)
            return -EINVAL;
        if (co_stream_buffered(st))
            return -EBUSY;
        int from = co_socket_fd(co_stream_socket(st));
        int flags = fcntl(from, F_GETFL);
        /* The description is shared with the child, which expects a
         * blocking stdin; the parent's end is closed once it runs. */
        if (flags < 0 || fcntl(from, F_SETFL, flags & ~O_NONBLOCK) < 0)
            return -errno;
        pl->from = o->in_from;
        pl->from_fd = from;
        pl->src[i] = from;
        return 0;
    }
    }
    return 0;                               /* CO_PROC_INHERIT */
}

/* A source fd among 0-2 other than its target would be overwritten by an
 * earlier dup2 (out_fd = 0, say, or a pipe end that got a low number
 * because the parent had closed its own 0): move it up out of the way. */
static int plan_lift(struct plan *pl)
{
    for (int i = 0; i < 3; i++) {
        if (pl->src[i] < 0 || pl->src[i] > 2 || pl->src[i] == i)
            continue;
        int up = fcntl(pl->src[i], F_DUPFD_CLOEXEC, 3);
        if (up < 0)
            return -errno;
        pl->close_after[pl->nclose++] = up;
        pl->src[i] = up;
    }
    return 0;
}

/* Whether path names a file, relative to cwd (if set) when relative. */
static int exists_at(const char *cwd, const char *dir, size_t dlen,
                     const char *name)
{
    char buf[PATH_MAX];
    int n;
    if (cwd && (dlen ? dir[0] != '/' : name[0] != '/'))
        n = snprintf(buf, sizeof buf, "%s/%.*s%s%s", cwd, (int)dlen, dir,
                     dlen ? "/" : "", name);
    else
        n = snprintf(buf, sizeof buf, "%.*s%s%s", (int)dlen, dir,
                     dlen ? "/" : "", name);
    return n < 0 || (size_t)n >= sizeof buf || access(buf, F_OK) == 0;
}

/*
 * The two failures users meet most -- no such program, no such cwd --
 * checked before the spawn, so that they are -ENOENT wherever
 * posix_spawn cannot report the child's exec failure (valgrind runs the
 * child as a plain fork, and the spawn then "succeeds" with a child that
 * exits 127).  posix_spawn has the last word on everything else.
 */
static int preflight(const co_process_opts *o)
{
    const char *name = o->argv[0];
    if (o->cwd && access(o->cwd, F_OK) < 0)
        return -errno;
    if (strchr(name, '/'))
        return exists_at(o->cwd, "", 0, name) ? 0 : -ENOENT;
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";         /* posix_spawnp's default */
    for (const char *dir = path;; dir++) {
        const char *end = strchr(dir, ':');
        size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
        if (exists_at(o->cwd, dir, dlen, name))
            return 0;
        if (!end)
            return -ENOENT;
        dir = end;
    }
}

static int spawn_child(pid_t *pid, const co_process_opts *o,
                       const struct plan *pl)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    if ((rc = posix_spawnattr_init(&attr))) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    for (int i = 0; i < 3 && !rc; i++) {
        if (pl->src[i] >= 0)
            rc = posix_spawn_file_actions_adddup2(&fa, pl->src[i], i);
        else if (pl->src[i] == SRC_STDOUT)
            rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
#if HAVE_SPAWN_NP
    /* Nothing but 0, 1 and 2 reaches the program, whoever opened what
     * (without it, only close-on-exec keeps the library's own fds out). */
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!rc && o->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
#else
    if (!rc && o->cwd)
        rc = ENOTSUP;
#endif
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);       /* ignored in the parent (socket.c) */
    sigaddset(&dfl, SIGXFSZ);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &dfl);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnp(pid, o->argv[0], &fa, &attr,
                          (char *const *)(uintptr_t)o->argv,
                          o->envp ? (char *const *)(uintptr_t)o->envp
                                  : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

int co_process_spawn(co_process **out, const co_process_opts *opts)
{
    if (!out || !opts_ok(opts) || !co_current_kernel())
        return -EINVAL;
    co_process *p = co__alloc_zeroed(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    struct plan pl = { .devnull = -1, .from_fd = -1 };
    pid_t pid = -1;
    int rc = preflight(opts);
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = plan_fd(p, &pl, opts, i);
    if (rc == 0)
        rc = plan_lift(&pl);
    if (rc == 0)
        rc = spawn_child(&pid, opts, &pl);
    plan_close(&pl);
    if (rc == 0) {
        p->pid = pid;
        p->returncode = CO_PROC_RUNNING;
        co_waitq_init(&p->pollq);
        if ((p->pidfd = pidfd_open_(pid)) < 0) {
            if (errno != ENOSYS)
                rc = -errno;
        } else if ((rc = co_io_init(&p->io, p->pidfd, release)) < 0) {
            close(p->pidfd);
        }
        if (rc < 0) {               /* started, but we cannot watch it */
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
    }
    if (rc < 0) {
        for (int i = 0; i < 3; i++)
            co_stream_close(&p->pipes[i]);
        if (pl.from_fd >= 0) {      /* its pipe stays its parent's */
            int flags = fcntl(pl.from_fd, F_GETFL);
            if (flags >= 0)
                fcntl(pl.from_fd, F_SETFL, flags | O_NONBLOCK);
        }
        free(p);
        return rc;
    }
    if (pl.from)                    /* the pipe is the new child's now */
        co_process_close_stream(pl.from, 1);
    *out = p;
    return 0;
}

/* ------------------------------------------------------------ the object */

pid_t co_process_pid(const co_process *p)
{
    return p ? p->pid : -EINVAL;
}

int co_process_returncode(const co_process *p)
{
    return p ? p->returncode : CO_PROC_RUNNING;
}

co_stream *co_process_stream(const co_process *p, int fd)
{
    return p && fd >= 0 && fd <= 2 ? p->pipes[fd] : NULL;
}

int co_process_close_stream(co_process *p, int fd)
{
    if (!p || fd < 0 || fd > 2)
        return -EINVAL;
    return co_stream_close(&p->pipes[fd]);     /* -EBADF for NULL */
}

int co_process_send_signal(co_process *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (p->reaped)
        return -ESRCH;
    return signal_child(p, sig);
}

int co_process_terminate(co_process *p)
{
    return co_process_send_signal(p, SIGTERM);
}

int co_process_kill(co_process *p)
{
    return co_process_send_signal(p, SIGKILL);
}

/* Without a pidfd: sleep on the process's queue for the next interval
 * (a close wakes it with -EBADF).  One waiter, as with the pidfd. */
static co_status poll_wait(co_task *self, co_process *p)
{
    int rc = 0;
    if (co_wait_resumed(self)) {
        co_wait_enter(self, &rc);       /* 0: the interval is over */
        p->users--;
        if (p->closed) {
            if (p->users == 0)
                free(p);
            return rc < 0 ? rc : -EBADF;
        }
        if (rc < 0)
            return rc;
    } else {
        if (co_wait_begin(self, 1, &rc))
            return rc;
        if (!co_waitq_empty(&p->pollq))
            return -EBUSY;
        p->poll_ns = POLL_FIRST_NS;
    }
    if (reap(p, 0, &rc))
        return rc;
    int64_t interval = p->poll_ns;
    if (p->poll_ns < POLL_MAX_NS / 2)
        p->poll_ns *= 2;
    else
        p->poll_ns = POLL_MAX_NS;
    p->users++;
    return co_block(self, &p->pollq, co_now_ns() + interval);
}

/*
 * Built on co_io_wait, which applies THE RULE (a NULL p is handed down as
 * a NULL io).  The pidfd's readiness hint starts "ready", so a fresh wait
 * tries waitpid first; a waitpid that finds the child running marks the
 * pidfd drained, and the next co_io_wait suspends until it is readable.
 */
co_status co_process_wait(co_task *self, co_process *p)
{
    int rc;
    if (p && p->pidfd < 0)
        return poll_wait(self, p);
    if (co_wait_resumed(self)) {
        /* Any failure may mean the process was closed and freed meanwhile
         * (co_io_wait released it): p must not be touched then. */
        if ((rc = co_io_wait(self, p ? &p->io : NULL, CO_IO_READ)) != 0)
            return rc;
    } else {
        if (co_wait_begin(self, p != NULL, &rc))
            return rc;
        if (co_io_closed(&p->io))
            return -EBADF;
    }
    for (;;) {
        if (reap(p, 0, &rc))
            return rc;
        co_io_attempted(&p->io, CO_IO_READ, 1);
        if ((rc = co_io_wait(self, &p->io, CO_IO_READ)) != 0)
            return rc;
    }
}

int co_process_close(co_process **pp)
{
    int rc;
    if (!pp)
        return -EINVAL;
    co_process *p = *pp;
    if (!p)
        return -EBADF;
    *pp = NULL;
    for (int i = 0; i < 3; i++)
        co_stream_close(&p->pipes[i]);
    if (!reap(p, 0, &rc)) {
        /* Still running: no zombie is left behind, so it dies now. */
        signal_child(p, SIGKILL);
        reap(p, 1, &rc);
    }
    int fd = p->pidfd;
    if (fd < 0) {                   /* polling: free once no waiter is in */
        p->closed = 1;
        co_waitq_wake_all(&p->pollq, -EBADF);
        if (p->users == 0)
            free(p);
        return 0;
    }
    co_io_close(&p->io);            /* frees p once no waiter is inside */
    close(fd);
    return 0;
}
