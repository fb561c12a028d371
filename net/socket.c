/*
 * socket.c -- sockets for tasks: try the system call, wait only on EAGAIN.
 *
 * Every blocking operation has the same shape: co_io_wait() (which returns
 * at once while the fd may be ready, and suspends after an attempt drained
 * it), then the system call, then co_io_attempted() to record whether the
 * fd is now drained.  A short read counts as drained, so a ping-pong
 * exchange costs one recv per message, not a second one returning EAGAIN.
 * co_io_wait also keeps the task's I/O budget: once a task has gone ahead
 * without waiting `budget` times in a row, it yields there first (before
 * the system call, so nothing is lost) and is evaluated again as after any
 * wait.
 */
/* accept4(2), SOCK_NONBLOCK and SOCK_CLOEXEC are Linux extensions */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/waits.h"
#include "../core/alloc_impl.h"
#include "../core/io_impl.h"
#include "../core/pool_impl.h"
#include "socket_impl.h"

struct co_socket {
    co_io io;               /* first: release() casts back */
    int fd;
    uint8_t is_socket;      /* else a pipe or tty: read/write, not recv/send */
    uint8_t datagram;       /* a short datagram does not mean "drained" */
    /* The sendall suspended on this socket (one writer waits at a time)
     * and how far it had got: the caller's *sent may not survive. */
    co_task *sendall_task;
    size_t sendall_sent;
    /* The task in co_socket_recv_bytes waiting for room in the pool (a
     * close wakes it: it is not in the io's queues). */
    co_task *room_waiter;
};

static void release(co_io *io)
{
    free((co_socket *)(void *)io);
}

/* A byte count as a result; a single call never moves more than INT_MAX. */
static size_t clamp(size_t len)
{
    return len > INT_MAX ? INT_MAX : len;
}

static int wrap(co_socket **out, int fd, int is_socket, int datagram)
{
    co_socket *s = co__alloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = co_io_init(&s->io, fd, release);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->fd = fd;
    s->is_socket = (uint8_t)is_socket;
    s->datagram = (uint8_t)datagram;
    s->sendall_task = NULL;
    s->sendall_sent = 0;
    s->room_waiter = NULL;
    *out = s;
    return 0;
}

/* ------------------------------------------------------------ creating */

int co_socket_new(co_socket **out, int family, int type, int protocol)
{
    if (!out || (type != SOCK_STREAM && type != SOCK_DGRAM))
        return -EINVAL;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    int rc = wrap(out, fd, 1, type == SOCK_DGRAM);
    if (rc < 0)
        close(fd);
    return rc;
}

int co_socket_from_fd(co_socket **out, int fd)
{
    if (!out || fd < 0)
        return -EINVAL;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    int type = 0;
    socklen_t len = sizeof type;
    int is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
    if (!is_socket) {
        /* write(2) to a closed pipe raises SIGPIPE; sockets avoid it with
         * MSG_NOSIGNAL, other fds need it ignored (as Python does). */
        struct sigaction sa;
        if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
            signal(SIGPIPE, SIG_IGN);
    }
    return wrap(out, fd, is_socket, type == SOCK_DGRAM);
}

int co_socketpair(co_socket *pair[2], int type)
{
    int fds[2];
    if (!pair || (type != SOCK_STREAM && type != SOCK_DGRAM))
        return -EINVAL;
    if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    int rc = wrap(&pair[0], fds[0], 1, type == SOCK_DGRAM);
    if (rc == 0 && (rc = wrap(&pair[1], fds[1], 1, type == SOCK_DGRAM)) < 0) {
        co_socket_close(&pair[0]);
        fds[0] = -1;
    }
    if (rc < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        close(fds[1]);
    }
    return rc;
}

int co_socket_fd(const co_socket *s)
{
    return s ? s->fd : -EINVAL;
}

/* ------------------------------------------------------------ addresses */

static int looks_like_a_name(const char *host)
{
    for (const char *p = host; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            if (!strchr(host, ':'))
                return 1;
    return 0;
}

int co_sockaddr_inet(co_sockaddr *addr, int family, const char *host,
                     int port)
{
    if (!addr || port < 0 || port > 65535 ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return -EINVAL;
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr->ss;
    int any = !host || !*host;
    if (host && strcmp(host, "localhost") == 0)
        host = family == AF_INET6 ? "::1" : "127.0.0.1";

    if (family != AF_INET6 &&
        (any || inet_pton(AF_INET, host, &v4->sin_addr) == 1)) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        if (any)
            v4->sin_addr.s_addr = htonl(INADDR_ANY);
        addr->len = sizeof *v4;
        return 0;
    }
    if (family != AF_INET &&
        (any || inet_pton(AF_INET6, host, &v6->sin6_addr) == 1)) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        if (any)
            v6->sin6_addr = in6addr_any;
        addr->len = sizeof *v6;
        return 0;
    }
    return looks_like_a_name(host) ? -ENOTSUP : -EINVAL;
}

int co_sockaddr_unix(co_sockaddr *addr, const char *path)
{
    if (!addr || !path || !*path)
        return -EINVAL;
    memset(addr, 0, sizeof *addr);
    struct sockaddr_un *un = (struct sockaddr_un *)&addr->ss;
    size_t n = strlen(path);
    if (n >= sizeof un->sun_path)
        return -ENAMETOOLONG;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int co_sockaddr_port(const co_sockaddr *addr)
{
    if (!addr)
        return -EINVAL;
    if (addr->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&addr->ss)->sin_port);
    if (addr->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&addr->ss)->sin6_port);
    return -EINVAL;
}

int co_sockaddr_format(const co_sockaddr *addr, char *buf, size_t len)
{
    if (!addr || (!buf && len))
        return -EINVAL;
    char host[INET6_ADDRSTRLEN];
    switch (addr->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *v4 = (const void *)&addr->ss;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        return snprintf(buf, len, "%s:%d", host, ntohs(v4->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *v6 = (const void *)&addr->ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        return snprintf(buf, len, "[%s]:%d", host, ntohs(v6->sin6_port));
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const void *)&addr->ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (addr->len <= off || un->sun_path[0] == '\0')
            return snprintf(buf, len, "unix:unnamed");
        return snprintf(buf, len, "%.*s", (int)(addr->len - off),
                        un->sun_path);
    }
    default:
        return -EINVAL;
    }
}

/* ------------------------------------------------------------ setup */

static int result_of(int rc)
{
    return rc < 0 ? -errno : 0;
}

int co_socket_bind(co_socket *s, const co_sockaddr *addr)
{
    if (!s || !addr)
        return -EINVAL;
    return result_of(bind(s->fd, (const struct sockaddr *)&addr->ss,
                          addr->len));
}

int co_socket_listen(co_socket *s, int backlog)
{
    return s ? result_of(listen(s->fd, backlog)) : -EINVAL;
}

int co_socket_shutdown(co_socket *s, int how)
{
    return s ? result_of(shutdown(s->fd, how)) : -EINVAL;
}

int co_socket_setsockopt(co_socket *s, int level, int name, const void *val,
                         socklen_t len)
{
    return s ? result_of(setsockopt(s->fd, level, name, val, len)) : -EINVAL;
}

int co_socket_getsockopt(co_socket *s, int level, int name, void *val,
                         socklen_t *len)
{
    return s ? result_of(getsockopt(s->fd, level, name, val, len)) : -EINVAL;
}

int co_socket_getsockname(co_socket *s, co_sockaddr *addr)
{
    if (!s || !addr)
        return -EINVAL;
    addr->len = sizeof addr->ss;
    return result_of(getsockname(s->fd, (struct sockaddr *)&addr->ss,
                                 &addr->len));
}

int co_socket_getpeername(co_socket *s, co_sockaddr *addr)
{
    if (!s || !addr)
        return -EINVAL;
    addr->len = sizeof addr->ss;
    return result_of(getpeername(s->fd, (struct sockaddr *)&addr->ss,
                                 &addr->len));
}

int co_socket_set_blocking(co_socket *s, int blocking)
{
    if (!s)
        return -EINVAL;
    /* A task waiting on the fd (or woken and not yet back) would make its
     * next system call block the kernel's whole thread. */
    if (blocking && co_io_in_use(&s->io))
        return -EBUSY;
    int flags = fcntl(s->fd, F_GETFL);
    if (flags < 0)
        return -errno;
    flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
    int rc = result_of(fcntl(s->fd, F_SETFL, flags));
    /* Blocking code may have read or written meanwhile: the drained hint
     * is stale, so the next operation tries the system call first. */
    if (rc == 0 && !blocking)
        co_io_assume_ready(&s->io);
    return rc;
}

int co_socket_close(co_socket **sp)
{
    if (!sp)
        return -EINVAL;
    co_socket *s = *sp;
    if (!s)
        return -EBADF;          /* closed through this handle already */
    *sp = NULL;
    int fd = s->fd;
    s->fd = -1;
    if (s->room_waiter)         /* it holds s: s outlives this */
        co_wake(s->room_waiter, -EBADF);
    co_io_close(&s->io);        /* may free s: no task is inside */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

/* ------------------------------------------------------------ blocking */

/* What one system call needs; each primitive fills in its part.  `call`
 * returns the count or a negative errno, as everything here does. */
struct io_call {
    ssize_t (*call)(co_socket *s, struct io_call *c);
    void *buf;
    size_t len;
    int flags;
    co_sockaddr *addr;              /* recvfrom: out; sendto: in */
};

/* One attempt: the call (again on EINTR), recorded on the io -- drained
 * after a count below `drain_below`, or EAGAIN.  Returns the count,
 * -EAGAIN, or the call's -errno. */
static int attempt(co_socket *s, int dir, struct io_call *c,
                   size_t drain_below)
{
    ssize_t n;
    do
        n = c->call(s, c);
    while (n == -EINTR);
    if (n == -EWOULDBLOCK)
        n = -EAGAIN;
    if (n < 0 && n != -EAGAIN)
        return (int)n;
    co_io_attempted(&s->io, dir, n < 0 || (size_t)n < drain_below);
    return (int)n;
}

/* A system call's result as ours: the count, or -errno. */
static ssize_t result_n(ssize_t n)
{
    return n < 0 ? -errno : n;
}

/*
 * The shape of every data-moving primitive: wait while the fd is known to
 * be drained, attempt, and wait again after EAGAIN.  A re-evaluation after
 * a suspension enters at co_io_wait, which finishes the wait (and may
 * report -EBADF after a close without touching s).  co_io_wait applies
 * THE RULE (core/waits.h) for the primitive: bad arguments (`args_ok` 0, or
 * no socket) reach it as a NULL io, which it refuses with -EINVAL before
 * any cancellation or timeout -- at no cost to a good call.
 */
static co_status retry_io(co_task *self, co_socket *s, int args_ok, int dir,
                          struct io_call *c, size_t drain_below)
{
    co_io *io = s && args_ok ? &s->io : NULL;
    for (;;) {
        int rc = co_io_wait(self, io, dir);
        if (rc != 0)
            return rc;
        rc = attempt(s, dir, c, drain_below);
        if (rc != -EAGAIN)
            return rc;
    }
}

/* A short read or write means the fd is drained; for datagrams only
 * EAGAIN does (each datagram is its own size). */
static size_t drain_below(const co_socket *s, size_t len)
{
    return s && !s->datagram ? len : 0;
}

static ssize_t call_recv(co_socket *s, struct io_call *c)
{
    return result_n(s->is_socket ? recv(s->fd, c->buf, c->len, c->flags)
                                 : read(s->fd, c->buf, c->len));
}

static ssize_t call_send(co_socket *s, struct io_call *c)
{
    return result_n(s->is_socket ? send(s->fd, c->buf, c->len,
                                        c->flags | MSG_NOSIGNAL)
                                 : write(s->fd, c->buf, c->len));
}

static ssize_t call_recvfrom(co_socket *s, struct io_call *c)
{
    co_sockaddr a;
    a.len = sizeof a.ss;
    ssize_t n = result_n(recvfrom(s->fd, c->buf, c->len, c->flags,
                                  (struct sockaddr *)&a.ss, &a.len));
    if (n >= 0 && c->addr)
        *c->addr = a;
    return n;
}

static ssize_t call_sendto(co_socket *s, struct io_call *c)
{
    return result_n(sendto(s->fd, c->buf, c->len, c->flags | MSG_NOSIGNAL,
                           (const struct sockaddr *)&c->addr->ss,
                           c->addr->len));
}

/* accept(2): "the application should detect the network errors defined
 * for the protocol after accept() and treat them like EAGAIN by retrying"
 * -- they belong to the connection that died in the queue, not to us. */
static int dying_connection(int err)
{
    switch (err) {
    case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN:
    case ENOPROTOOPT: case EHOSTDOWN: case ENONET: case EHOSTUNREACH:
    case EOPNOTSUPP: case ENETUNREACH:
        return 1;
    default:
        return 0;
    }
}

static ssize_t call_accept(co_socket *s, struct io_call *c)
{
    int fd;
    do {
        c->addr->len = sizeof c->addr->ss;
        fd = accept4(s->fd, (struct sockaddr *)&c->addr->ss, &c->addr->len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && dying_connection(errno));
    return result_n(fd);
}

int co_socket_try_send(co_socket *s, const void *buf, size_t len, int flags)
{
    if (!s || (!buf && len))
        return -EINVAL;
    if (s->fd < 0 || co_io_closed(&s->io))
        return -EBADF;
    /* A task blocked sending, or woken to send and not yet back, goes
     * first: its bytes were queued before ours. */
    if (co_io_has_waiter(&s->io, CO_IO_WRITE))
        return -EBUSY;
    struct io_call c = { call_send, (void *)buf, clamp(len), flags, NULL };
    return attempt(s, CO_IO_WRITE, &c, drain_below(s, c.len));
}

co_status co_socket_recv(co_task *self, co_socket *s, void *buf, size_t len,
                         int flags)
{
    struct io_call c = { call_recv, buf, clamp(len), flags, NULL };
    return retry_io(self, s, buf || !len, CO_IO_READ, &c,
                    drain_below(s, c.len));
}

/* co_socket_send, with the caller's own arguments' validity (sendall's
 * `sent`) checked in the same place as ours. */
static co_status send_some(co_task *self, co_socket *s, int args_ok,
                           const void *buf, size_t len, int flags)
{
    struct io_call c = { call_send, (void *)buf, clamp(len), flags, NULL };
    return retry_io(self, s, args_ok && (buf || !len), CO_IO_WRITE, &c,
                    drain_below(s, c.len));
}

co_status co_socket_send(co_task *self, co_socket *s, const void *buf,
                         size_t len, int flags)
{
    return send_some(self, s, 1, buf, len, flags);
}

/*
 * Progress is counted in `done` and written to *sent at every return, so
 * the caller's *sent need not survive a suspension: while suspended, the
 * count is kept in the socket.  A re-evaluation always calls
 * co_socket_send at least once, even with nothing left to send: that
 * finishes the wait it was suspended in, so its wake value does not leak
 * into the task's next primitive and the socket's hold is released.
 */
co_status co_socket_sendall(co_task *self, co_socket *s, const void *buf,
                            size_t len, size_t *sent)
{
    int resumed = co_wait_resumed(self);
    size_t done = 0;
    if (resumed && s && s->sendall_task == self) {   /* s alive: we hold it */
        done = s->sendall_sent;
        s->sendall_task = NULL;
    } else if (resumed && sent) {   /* another sendall took our place */
        done = *sent < len ? *sent : len;
    }
    int rc = 0;
    if (!resumed && len == 0) {     /* no send, no wait: only the checks */
        if (!s || !sent)
            co_wait_begin(self, 0, &rc);
        if (sent)
            *sent = 0;
        return rc;
    }
    /* A re-evaluation sends at least once: see above.  A fresh call's
     * arguments are checked in the send (THE RULE, in co_io_wait). */
    while (resumed || done < len) {
        resumed = 0;
        rc = send_some(self, s, sent != NULL, (const char *)buf + done,
                       len - done, 0);
        if (rc < 0)                 /* CO_WOULDBLOCK included */
            break;
        done += (size_t)rc;
    }
    if (rc == CO_WOULDBLOCK) {      /* suspended on s, which stays alive */
        s->sendall_task = self;
        s->sendall_sent = done;
    }
    if (sent)
        *sent = done;
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------ pool bytes */

/* Whether a receive on s would find something now (data, end of stream
 * or an error), without taking it: poll works for every kind of fd. */
static int has_data(const co_socket *s)
{
    struct pollfd p = { .fd = s->fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n != 0;                  /* an error: let the receive report it */
}

/*
 * Readiness first, then a chunk from the pool (waiting for room if the
 * pool is at its bound), then the receive.  An idle connection therefore
 * holds no memory, and a task that waits for room has read nothing, so
 * nothing is lost.  A receive that finds no data after all (EAGAIN) gives
 * the chunk back before it waits.
 */
co_status co_socket_recv_bytes(co_task *self, co_socket *s, co_bytes *b,
                               size_t maxlen)
{
    void *chunk = NULL;
    int rc, resumed = co_wait_resumed(self);
    /* b must be empty (given back first).  Bad arguments reach co_io_wait
     * as a NULL io, which refuses them (THE RULE, core/waits.h). */
    int args_ok = resumed || (b && !b->block && !b->len && maxlen);
    co_io *io = s && args_ok ? &s->io : NULL;
    if (resumed && s && s->room_waiter == self) {
        s->room_waiter = NULL;      /* back from waiting for room */
        rc = co__pool_take_chunk(self, &chunk);
        if (co_io_unhold(&s->io, CO_IO_READ)) {   /* closed: s may be gone */
            co__pool_give(chunk);
            return rc < 0 ? rc : -EBADF;
        }
        if (rc < 0)
            return rc;
    }
    size_t len = maxlen < CO_POOL_CHUNK ? maxlen : CO_POOL_CHUNK;
    for (;;) {
        if (!chunk) {
            rc = co_io_wait(self, io, CO_IO_READ);
            if (rc != 0)
                return rc;          /* CO_WOULDBLOCK included */
            /* At the bound, wait for room only for data that is there:
             * the readiness hint may be stale (a new socket, a receive
             * that filled its buffer), and an idle connection must not
             * queue for room ahead of one with data. */
            if (!co__pool_has_room() && !has_data(s)) {
                co_io_attempted(&s->io, CO_IO_READ, 1);
                continue;           /* wait for readiness instead */
            }
            rc = co__pool_take_chunk(self, &chunk);
            if (rc == CO_WOULDBLOCK) {
                s->room_waiter = self;
                co_io_hold(&s->io, CO_IO_READ);
            }
            if (rc != 0)
                return rc;
        }
        struct io_call c = { call_recv, chunk, len, 0, NULL };
        rc = attempt(s, CO_IO_READ, &c, drain_below(s, len));
        if (rc > 0) {
            *b = (co_bytes){ .data = chunk, .len = (size_t)rc,
                             .block = chunk };
            return rc;
        }
        co__pool_give(chunk);
        chunk = NULL;
        if (rc != -EAGAIN)
            return rc;              /* end of stream, or an error */
    }
}

/* Before suspending with bytes unsent: a short remainder moves to a block
 * of its own size, so that the chunk goes back for the next receive.  If
 * the pool has no room for the copy, the chunk is kept (it is counted
 * already): nothing waits here. */
static void keep_only_remainder(co_bytes *b)
{
    if (co__pool_block_size(b->block) != CO_POOL_CHUNK ||
        b->len > CO_POOL_CHUNK / 2)
        return;
    void *rest = co__pool_try_take(b->len);
    if (!rest)
        return;
    memcpy(rest, b->data, b->len);
    co__pool_give(b->block);
    b->data = rest;
    b->block = rest;
}

/*
 * co_socket_send does the waiting (and, first on a re-evaluation, finishes
 * the wait it suspended in); b itself, in the caller's frame, is the
 * progress: it always holds what is still unsent.
 */
co_status co_socket_sendall_bytes(co_task *self, co_socket *s, co_bytes *b)
{
    int rc = 0, resumed = co_wait_resumed(self);
    if (!resumed && !(s && b && (!b->len || b->block))) {
        co_wait_begin(self, 0, &rc);    /* refused (THE RULE): b untouched */
        return rc;
    }
    while (resumed || b->len > 0) {
        resumed = 0;
        rc = co_socket_send(self, s, b->data, b->len, 0);
        if (rc < 0)                 /* CO_WOULDBLOCK included */
            break;
        b->data += rc;
        b->len -= (size_t)rc;
    }
    if (rc == CO_WOULDBLOCK) {
        keep_only_remainder(b);
        return rc;
    }
    co_bytes_free(b);
    return rc < 0 ? rc : 0;
}

co_status co_socket_accept(co_task *self, co_socket *s, co_socket **client,
                           co_sockaddr *peer)
{
    co_sockaddr a;
    struct io_call c = { call_accept, NULL, 0, 0, &a };
    int fd = retry_io(self, s, client != NULL, CO_IO_READ, &c, 0);
    if (fd < 0)                     /* CO_WOULDBLOCK included */
        return fd;
    int rc = wrap(client, fd, 1, 0);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    if (peer)
        *peer = a;
    return 0;
}

co_status co_socket_connect(co_task *self, co_socket *s,
                            const co_sockaddr *addr)
{
    int rc;
    if (co_wait_resumed(self)) {    /* back from waiting for the connect */
        rc = co_io_wait(self, s ? &s->io : NULL, CO_IO_WRITE);
        if (rc != 0)
            return rc;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            return -errno;
        return -err;
    }
    if (co_wait_begin(self, s && addr, &rc))
        return rc;
    if (connect(s->fd, (const struct sockaddr *)&addr->ss, addr->len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    co_io_attempted(&s->io, CO_IO_WRITE, 1);  /* writable = connected */
    return co_io_wait(self, &s->io, CO_IO_WRITE);
}

co_status co_socket_recvfrom(co_task *self, co_socket *s, void *buf,
                             size_t len, int flags, co_sockaddr *from)
{
    struct io_call c = { call_recvfrom, buf, clamp(len), flags, from };
    return retry_io(self, s, buf || !len, CO_IO_READ, &c, 0);
}

co_status co_socket_sendto(co_task *self, co_socket *s, const void *buf,
                           size_t len, int flags, const co_sockaddr *to)
{
    struct io_call c = { call_sendto, (void *)buf, clamp(len), flags,
                         (co_sockaddr *)to };
    return retry_io(self, s, (buf || !len) && to, CO_IO_WRITE, &c, 0);
}

static co_status wait_ready(co_task *self, co_socket *s, int dir)
{
    /* A fresh wait ignores the hint: the caller wants real readiness. */
    if (!co_wait_resumed(self) && s)
        co_io_attempted(&s->io, dir, 1);
    return co_io_wait(self, s ? &s->io : NULL, dir);
}

co_status co__socket_eager(co_task *self, co_socket *s)
{
    return co_io_eager(self, s ? &s->io : NULL);
}

co_status co_socket_wait_readable(co_task *self, co_socket *s)
{
    return wait_ready(self, s, CO_IO_READ);
}

co_status co_socket_wait_writable(co_task *self, co_socket *s)
{
    return wait_ready(self, s, CO_IO_WRITE);
}

void co__socket_set_weak(co_socket *s)
{
    if (s)
        co__io_set_weak(&s->io);
}
