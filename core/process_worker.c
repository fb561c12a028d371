/*
 * process_worker.c -- a worker process's whole life (see process_pool.h).
 *
 * A worker is a fork of the program that never returns to it: it makes
 * itself a clean process (dies with its parent, default signals, no
 * descriptor but stdio and its two pipes), then serves requests until
 * the request pipe reaches EOF.  It blocks in plain read(2) and write(2):
 * it has nothing else to do.
 *
 *   request:  [8: fn's address][8: in_len][in_len bytes]
 *   response: [8: result]      [8: out_len][out_len bytes]
 *
 * Integers are in the machine's own byte order: both ends are the same
 * program on the same machine.  Nothing of curio runs here; every way out
 * is _exit, so neither the program's atexit handlers nor its stdio
 * buffers (copied by fork) run twice.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "process_pool_impl.h"

#ifndef SYS_close_range
#define SYS_close_range 436          /* Linux 5.9, the same on every arch */
#endif

/* 1: all of it; 0: EOF before any byte; -1: an error or EOF midway. */
static int read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0)
            return got == 0 ? 0 : -1;
        else if (errno != EINTR)
            return -1;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        ssize_t n = write(fd, (const char *)buf + put, len - put);
        if (n > 0)
            put += (size_t)n;
        else if (n < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

/* Every descriptor from `first` up: close_range(2), or where the kernel is
 * older than 5.9, those /proc/self/fd lists (or, without /proc, every
 * number below a bound). */
static void close_from(int first)
{
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
        return;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            int fd = atoi(e->d_name);
            if (fd >= first && fd != dirfd(d))
                close(fd);
        }
        closedir(d);
        return;
    }
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = first; fd < max; fd++)
        close(fd);
}

/* A parent's pipe end that landed on stdin, stdout or stderr (the program
 * had closed them): /dev/null there instead, so that the worker holds no
 * copy of a parent's end -- it would hide EOF from one side. */
static void unshadow_stdio(const int fds[4])
{
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0 && fds[i] <= 2) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0 && null != fds[i]) {
                dup2(null, fds[i]);
                close(null);
            }
        }
}

static void clean_process(int in, int out, const int parents[2], pid_t parent)
{
    /* Die with the parent, whatever way it ends.  The check after closes
     * the race with a parent that died before the request took effect. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);

    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);   /* glibc's reserved ones refuse */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* Out of the way of the fixed numbers first (either may sit on 3 or
     * 4), then onto them; stdio keeps whatever the program had. */
    int a = fcntl(in, F_DUPFD, 10), b = fcntl(out, F_DUPFD, 10);
    if (a < 0 || b < 0 || dup2(a, CO__WORKER_IN_FD) < 0 ||
        dup2(b, CO__WORKER_OUT_FD) < 0)
        _exit(127);
    const int all[4] = { in, out, parents[0], parents[1] };
    unshadow_stdio(all);
    close_from(CO__WORKER_OUT_FD + 1);

    /* What the program had buffered but not written is the program's to
     * write: the worker's copy is dropped. */
    __fpurge(stdout);
    __fpurge(stderr);
}

/* Read and throw away len bytes (an input no buffer could be had for). */
static int skip(int fd, uint64_t len)
{
    char buf[4096];
    while (len) {
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        if (read_full(fd, buf, n) != 1)
            return -1;
        len -= n;
    }
    return 0;
}

void co__process_worker_main(int in, int out, const int parents[2],
                             pid_t parent)
{
    clean_process(in, out, parents, parent);
    for (;;) {
        uint64_t req[2];
        int r = read_full(CO__WORKER_IN_FD, req, sizeof req);
        if (r == 0)
            _exit(0);                   /* the pool let us go */
        if (r < 0)
            _exit(1);
        co_process_fn fn = (co_process_fn)(uintptr_t)req[0];
        size_t in_len = (size_t)req[1];
        void *input = NULL, *output = NULL;
        size_t out_len = 0;
        int64_t result;
        if (in_len && !(input = malloc(in_len))) {
            if (skip(CO__WORKER_IN_FD, req[1]) < 0)
                _exit(1);
            result = -ENOMEM;
        } else {
            if (in_len && read_full(CO__WORKER_IN_FD, input, in_len) != 1)
                _exit(1);
            result = fn(input, in_len, &output, &out_len);
            free(input);
        }
        fflush(stdout);
        if (result < 0 || !output) {
            free(output);               /* a failure sends no bytes */
            output = NULL;
            out_len = 0;
        }
        uint64_t resp[2] = { (uint64_t)result, out_len };
        if (write_full(CO__WORKER_OUT_FD, resp, sizeof resp) < 0 ||
            write_full(CO__WORKER_OUT_FD, output, out_len) < 0)
            _exit(1);
        free(output);
    }
}
