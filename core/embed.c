/*
 * embed.c -- advancing a kernel from another program's loop.
 *
 * The kernel's own loop is one libev loop; advancing it is running that
 * loop without waiting (or waiting at most for a time budget), with the
 * scheduler installed exactly as co_kernel_run installs it.  Every
 * iteration runs the ready tasks first and then hands libev the watchers
 * they started, so when a call returns, the descriptor below already
 * watches everything the tasks wait for.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "embed.h"
#include "kernel_impl.h"

/* Rounds (each at most CO_RESUMES_PER_POLL resumes, then a poll) that
 * co_kernel_advance(k, 0) gives tasks that stay ready before it returns. */
#define CO_ADVANCE_ROUNDS 64

/* libev does not publish its backend's descriptor, but embedding one loop
 * in another is how it exposes it: an ev_embed watcher polls the embedded
 * loop's descriptor through its own io member.  A throwaway select() loop,
 * which opens no descriptor, hosts the watcher just long enough to read
 * it. */
static int backend_fd(co_kernel *k)
{
    if (!(ev_backend(k->loop) & ev_embeddable_backends()))
        return -ENOTSUP;
    struct ev_loop *host = ev_loop_new(EVBACKEND_SELECT | EVFLAG_NOENV |
                                       EVFLAG_NOSIGMASK | EVFLAG_NOTIMERFD);
    if (!host)
        return -ENOMEM;
    ev_embed probe;
    ev_embed_init(&probe, NULL, k->loop);
    ev_embed_start(host, &probe);
    int fd = probe.io.fd;
    ev_embed_stop(host, &probe);
    ev_loop_destroy(host);
    return fd >= 0 ? fd : -ENOTSUP;
}

static int watch(int epfd, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The descriptor is an epoll set of two: libev's own (readable when a
 * watched descriptor is), and an eventfd for posts.  libev wakes itself
 * for a post only while it polls -- never, between two advances -- so a
 * post signals the eventfd too (co__embed_signal_post). */
int co_kernel_fd(co_kernel *k)
{
    if (!k)
        return -EINVAL;
    if (k->embed_fd >= 0)
        return k->embed_fd;
    int inner = backend_fd(k);
    if (inner < 0)
        return inner;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    int sig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = sig < 0 ? -errno : 0;
    if (rc == 0 && (rc = watch(ep, inner)) == 0)
        rc = watch(ep, sig);
    if (rc < 0) {
        if (sig >= 0)
            close(sig);
        close(ep);
        return rc;
    }
    pthread_mutex_lock(&k->post_lock);
    k->post_signal_fd = sig;
    if (k->post_head)              /* posted before anyone could know */
        co__embed_signal_post(k);
    pthread_mutex_unlock(&k->post_lock);
    k->embed_fd = ep;
    return ep;
}

/* Under post_lock. */
void co__embed_signal_post(co_kernel *k)
{
    uint64_t one = 1;
    ssize_t n = write(k->post_signal_fd, &one, sizeof one);
    (void)n;                       /* full (2^64 - 2 posts): readable anyway */
}

static void drain_post_signal(co_kernel *k)
{
    uint64_t count;
    if (k->post_signal_fd >= 0) {
        ssize_t n = read(k->post_signal_fd, &count, sizeof count);
        (void)n;                   /* EAGAIN: nothing was signalled */
    }
}

void co__embed_free(co_kernel *k)
{
    if (k->post_signal_fd >= 0)
        close(k->post_signal_fd);
    if (k->embed_fd >= 0)
        close(k->embed_fd);
    k->post_signal_fd = k->embed_fd = -1;
}

static void budget_over(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;   /* only ends the iteration's wait */
}

int co_kernel_advance(co_kernel *k, double seconds)
{
    if (!k || isnan(seconds) || seconds < 0)
        return -EINVAL;
    int rc = co__kernel_enter(k);
    if (rc < 0)
        return rc;
    drain_post_signal(k);          /* before the posts are run, not after */
    if (seconds == 0) {
        for (int round = 0; round < CO_ADVANCE_ROUNDS && k->live; round++) {
            ev_run(k->loop, EVRUN_NOWAIT);
            if (!k->ready_head)
                break;
        }
    } else {
        int64_t start = co__kernel_mono_ns();
        double ns = seconds * 1e9;
        int64_t end = ns >= (double)(INT64_MAX - start) ? INT64_MAX
                                                         : start + (int64_t)ns;
        int64_t left;
        while (k->live && (left = end - co__kernel_mono_ns()) > 0) {
            ev_timer_init(&k->budget, budget_over, (double)left / 1e9, 0.0);
            ev_timer_start(k->loop, &k->budget);
            ev_run(k->loop, EVRUN_ONCE);
            ev_timer_stop(k->loop, &k->budget);
        }
    }
    co__kernel_leave(k);
    return k->live > INT_MAX ? INT_MAX : (int)k->live;
}

double co_kernel_timeout(const co_kernel *k)
{
    if (!k)
        return NAN;
    if (k->ready_head)
        return 0.0;
    if (!k->heap_len)
        return INFINITY;
    int64_t wait = k->heap[0].deadline - co__kernel_mono_ns();
    return wait > 0 ? (double)wait / 1e9 : 0.0;
}

int co_kernel_timeout_ms(const co_kernel *k)
{
    double s = co_kernel_timeout(k);
    if (isnan(s))
        return -EINVAL;                /* NULL or not a kernel: the NULL policy */
    if (isinf(s))
        return -1;                     /* poll()'s "no timeout" */
    double ms = ceil(s * 1e3);
    return ms >= INT_MAX ? INT_MAX : (int)ms;
}

int co_kernel_shutdown(co_kernel *k)
{
    int rc = co__kernel_enter(k);
    if (rc < 0)
        return rc;
    k->main_done = 1;              /* no main: a deadlock is reported below */
    k->deadlocked = 0;
    co__shutdown_begin(k);
    int stuck = co__kernel_run_to_end(k);
    co__task_release_all(k);
    co__shutdown_done(k);
    co__kernel_leave(k);
    return stuck ? -EDEADLK : 0;
}
