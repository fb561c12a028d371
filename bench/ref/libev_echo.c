/*
 * libev_echo.c -- the floor for the echo benchmark: an echo server written
 * straight on libev callbacks, as a careful C programmer would, with no
 * coroutines, no tasks and no per-message allocation.
 *
 * Usage: libev_echo PORT
 *
 * Listens on 0.0.0.0:PORT (SO_REUSEADDR, like the curio servers) and echoes
 * every byte back.  SIGTERM or SIGINT stops the loop; the server then closes
 * every connection and the listening socket and exits 0.
 *
 * Per connection: one ev_io, watching EV_READ while there is nothing to
 * send back and EV_WRITE while an echo is only partly sent (reading stops
 * meanwhile, so a client that does not read cannot make us buffer without
 * bound).  Data is received into one buffer shared by all connections;
 * only the unsent tail of a partial send is copied out, so an idle
 * connection costs a few dozen bytes, not 64 KiB.
 *
 * TCP_NODELAY is deliberately not set: the curio servers do not set it
 * either, and the benchmark compares event loops, not socket options.
 */
#define _GNU_SOURCE             /* accept4, SOCK_NONBLOCK, SOCK_CLOEXEC */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
/* The system's largest backlog, as the curio servers use: a burst of
 * connects beyond the backlog is dropped, and each dropped client retries
 * only after 1 s (listen(2) truncates it to net.core.somaxconn). */
#define BACKLOG 0x7fffffff

struct conn {
    ev_io io;                   /* first: the callback casts back */
    struct conn *prev, *next;   /* all live connections, for shutdown */
    char *pending;              /* unsent tail of an echo, or NULL */
    size_t pending_off, pending_len;
};

static char buf[BUF_SIZE];      /* single-threaded: one buffer serves all */
static struct conn conns;       /* list head (sentinel) */

/* ------------------------------------------------------------ connections */

static void conn_close(struct ev_loop *loop, struct conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    free(c->pending);
    free(c);
}

/* Switch the watcher between reading and flushing.  libev batches watcher
 * changes until the next poll, so a stop/start pair costs one epoll_ctl. */
static void conn_watch(struct ev_loop *loop, struct conn *c, int events)
{
    if (c->io.events & events)
        return;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, events);
    ev_io_start(loop, &c->io);
}

/* Send data[0..len); keep what the socket did not take.  -1 on error. */
static int conn_send(struct ev_loop *loop, struct conn *c, const char *data,
                     size_t len)
{
    ssize_t n = send(c->io.fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        n = 0;
    }
    if ((size_t)n == len)
        return 0;
    /* The socket buffer is full: keep the tail and wait for EV_WRITE. */
    char *tail = malloc(len - (size_t)n);
    if (!tail)
        return -1;
    memcpy(tail, data + n, len - (size_t)n);
    c->pending = tail;
    c->pending_off = 0;
    c->pending_len = len - (size_t)n;
    conn_watch(loop, c, EV_WRITE);
    return 0;
}

/*
 * One recv per readiness event rather than a loop until EAGAIN: in a
 * request/response exchange the first recv takes everything there is, and
 * a second would be a wasted system call returning EAGAIN.  If more is
 * left (a message bigger than the buffer), libev's level-triggered epoll
 * reports the fd again on the next iteration.
 */
static void on_readable(struct ev_loop *loop, struct conn *c)
{
    ssize_t n = recv(c->io.fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0 || conn_send(loop, c, buf, (size_t)n) < 0)
        conn_close(loop, c);    /* end of stream or error */
}

/* Flush the pending tail; once it has all gone, go back to reading. */
static void on_writable(struct ev_loop *loop, struct conn *c)
{
    ssize_t n = send(c->io.fd, c->pending + c->pending_off,
                     c->pending_len - c->pending_off, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(loop, c);
        return;
    }
    c->pending_off += (size_t)n;
    if (c->pending_off < c->pending_len)
        return;
    free(c->pending);
    c->pending = NULL;
    conn_watch(loop, c, EV_READ);
}

static void on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    if (revents & EV_WRITE)
        on_writable(loop, c);
    else if (revents & EV_READ)
        on_readable(loop, c);
}

/* ------------------------------------------------------------ listening */

static void conn_open(struct ev_loop *loop, int fd)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->next = conns.next;
    c->prev = &conns;
    conns.next->prev = c;
    conns.next = c;
    ev_io_init(&c->io, on_conn, fd, EV_READ);
    ev_io_start(loop, &c->io);
}

/* Accept everything that is queued: connections arrive in bursts, and a
 * loop empties the backlog in one wakeup. */
static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(loop, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            perror("libev_echo: accept4");
        return;
    }
}

static int listen_on(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY) };
    const int on = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(fd, BACKLOG) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    char *end = NULL;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || *end || port < 1 || port > 65535) {
        fprintf(stderr, "usage: libev_echo PORT\n");
        return 2;
    }
    int lfd = listen_on((int)port);
    if (lfd < 0) {
        perror("libev_echo: listen");
        return 1;
    }

    struct ev_loop *loop = ev_default_loop(0);
    if (!loop) {
        fprintf(stderr, "libev_echo: no event loop\n");
        return 1;
    }
    conns.next = conns.prev = &conns;
    ev_io accept_w;
    ev_signal term_w, int_w;
    ev_io_init(&accept_w, on_accept, lfd, EV_READ);
    ev_io_start(loop, &accept_w);
    ev_signal_init(&term_w, on_signal, SIGTERM);
    ev_signal_start(loop, &term_w);
    ev_signal_init(&int_w, on_signal, SIGINT);
    ev_signal_start(loop, &int_w);

    ev_run(loop, 0);

    while (conns.next != &conns)
        conn_close(loop, conns.next);
    ev_io_stop(loop, &accept_w);
    ev_signal_stop(loop, &term_w);
    ev_signal_stop(loop, &int_w);
    close(lfd);
    ev_loop_destroy(loop);
    return 0;
}
