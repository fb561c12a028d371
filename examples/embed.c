/*
 * embed.c -- a kernel driven from a program's own poll() loop.
 *
 * Many C programs already have a loop: a game loop, a GUI, a poll() loop
 * over their own descriptors.  Instead of handing the thread to co_run,
 * such a program advances a kernel a step at a time (core/embed.h):
 *
 *   - it polls the kernel's descriptor beside its own, for no longer than
 *     the kernel's timeout (its next sleep or timeout deadline);
 *   - when poll returns it calls co_kernel_advance(k, 0), which runs
 *     whatever has become ready and returns; the tasks stay alive between
 *     calls;
 *   - at the end, co_kernel_shutdown(k) cancels the tasks left, newest
 *     first, each after the newer one has finished its cleanup.
 *
 * Here the program's own work is producing a job every 100 ms and writing
 * it down one end of a socketpair; a task in the kernel reads the jobs as
 * lines from the other end and answers each; a second task ticks every
 * 250 ms (a deadline the kernel's timeout tells the loop about).  After
 * JOBS answers the program shuts the kernel down and exits.
 *
 * Usage: embed [JOBS]      (default 5)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curio.h"

/* ------------------------------------------------------------ the tasks */

/* Answers every line from its end of the socketpair with "done: <line>". */
struct worker_frame {
    co_frame co;
    int fd;
    co_socket *sock;
    co_stream *st;
    char line[128], reply[160];
    size_t sent;
    int n, rc;
};

static co_status worker(co_task *t, void *arg)
{
    struct worker_frame *f = arg;
    CO_BEGIN(t, f);
    if ((f->rc = co_socket_from_fd(&f->sock, f->fd)) < 0 ||
        (f->rc = co_stream_new(&f->st, f->sock, 0)) < 0)
        CO_RETURN(f->rc);
    f->sock = NULL;                        /* the stream owns it now */
    for (;;) {
        CO_AWAIT(f->n, co_stream_readline(t, f->st, f->line, sizeof f->line));
        if (f->n <= 0)
            break;
        f->n = snprintf(f->reply, sizeof f->reply, "done: %.*s", f->n,
                        f->line);
        f->sent = 0;
        CO_AWAIT(f->rc, co_stream_write(t, f->st, f->reply, (size_t)f->n,
                                        &f->sent));
        if (f->rc < 0)
            break;
    }
    CO_FINALLY;
    printf("worker: %s, closing\n",
           co_strerror(f->rc < 0 ? f->rc : f->n));
    co_stream_close(&f->st);
    co_socket_close(&f->sock);
    CO_END;
}

/* Ticks every 250 ms until cancelled. */
struct ticker_frame {
    co_frame co;
    int ticks, rc;
};

static co_status ticker(co_task *t, void *arg)
{
    struct ticker_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_sleep(t, 0.25));
        if (f->rc < 0)
            break;
        printf("kernel: tick %d\n", ++f->ticks);
    }
    CO_FINALLY;
    printf("ticker: %s after %d ticks\n", co_strerror(f->rc), f->ticks);
    CO_END;
}

/* ------------------------------------------------------------ the program */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "embed: %s: %s\n", what, co_strerror(rc));
    return 1;
}

static const char usage[] =
    "usage: embed [JOBS]\n"
    "A kernel driven from a poll() loop; exits after JOBS answers"
    " (default 5).\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    int jobs = argc > 1 ? atoi(argv[1]) : 5;
    if (jobs <= 0)
        jobs = 5;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return fail("socketpair", -errno);

    co_kernel *k = co_kernel_new();
    if (!k)
        return fail("co_kernel_new", -errno);
    struct worker_frame w = { .fd = sv[1] };
    struct ticker_frame tk = { 0 };
    int rc = co_kernel_spawn(k, NULL, worker, &w, sizeof w, NULL);
    if (rc > 0)
        rc = co_kernel_spawn(k, NULL, ticker, &tk, sizeof tk, NULL);
    if (rc < 0)
        return fail("co_kernel_spawn", rc);
    int kfd = co_kernel_fd(k);
    if (kfd < 0)
        return fail("co_kernel_fd", kfd);

    int sent = 0, answered = 0;
    double next_job = now();
    char buf[512];
    while (answered < jobs) {
        /* Our own deadline, or the kernel's, whichever comes first. */
        int own_ms = sent < jobs ? (int)((next_job - now()) * 1e3 + 0.999) : -1;
        if (sent < jobs && own_ms < 0)
            own_ms = 0;
        int kernel_ms = co_kernel_timeout_ms(k);
        int wait_ms = own_ms < 0 ? kernel_ms
                      : kernel_ms < 0 ? own_ms
                      : own_ms < kernel_ms ? own_ms : kernel_ms;
        struct pollfd p[2] = { { .fd = kfd, .events = POLLIN },
                               { .fd = sv[0], .events = POLLIN } };
        if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
            return fail("poll", -errno);

        /* The kernel's turn: whatever is ready or due runs, then returns. */
        if ((rc = co_kernel_advance(k, 0)) < 0)
            return fail("co_kernel_advance", rc);

        /* Our own work: answers to read, jobs to hand out. */
        if (p[1].revents & POLLIN) {
            ssize_t n = read(sv[0], buf, sizeof buf);
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n; i++)
                answered += buf[i] == '\n';
            printf("program: %.*s", (int)n, buf);
        }
        if (sent < jobs && now() >= next_job) {
            int len = snprintf(buf, sizeof buf, "job %d\n", ++sent);
            if (write(sv[0], buf, (size_t)len) != len)
                return fail("write", -errno);
            printf("program: sent job %d\n", sent);
            next_job += 0.1;
        }
        fflush(stdout);
    }

    /* Done: cancel what is left (the ticker, newest, first; then the
     * worker), each finishing its cleanup before the next. */
    printf("program: %d answers, shutting the kernel down\n", answered);
    fflush(stdout);
    if ((rc = co_kernel_shutdown(k)) < 0)
        return fail("co_kernel_shutdown", rc);
    co_kernel_free(k);
    close(sv[0]);
    return answered == jobs ? 0 : 1;
}
