/*
 * connection.c -- messages framed as Python's multiprocessing.connection
 * frames them: a 4-byte big-endian length (or -1 and an 8-byte one), then
 * the bytes.
 *
 * Every operation is a primitive made of socket primitives, with its
 * progress in the connection rather than in locals: the bytes of the frame
 * that went (tx_done), the header bytes and the body bytes that came
 * (rx_hgot, rx_got).  A re-evaluation after a suspension carries on from
 * there, and its first socket call is the one it was suspended in, on the
 * same socket and in the same direction, so that call finishes the wait
 * (net/socket.h's guarantee).  An interruption leaves the progress where
 * it was: harmless at a message boundary or inside a header we receive,
 * fatal inside a body (the rest of it is the caller's, who has gone) --
 * then the connection is broken, and says so, rather than misframe.
 */
#define _GNU_SOURCE                 /* pipe2, MSG_MORE */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/waits.h"
#include "../core/alloc_impl.h"
#include "connection_impl.h"

/* A frame whose body is at most this is sent with one system call, copied
 * behind its header (as Python does under 16 KiB); a longer one is sent
 * as the header, marked MSG_MORE so a TCP socket does not push it alone,
 * then the body. */
#define COALESCE_MAX 8192

/* ------------------------------------------------------------ lifetime */

int co__conn_alloc(co_conn **out)
{
    co_conn *c = co__alloc_zeroed(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->max_size = CO_CONN_DEFAULT_MAX_SIZE;
    c->digest = 1;                  /* sha256: connection_auth.c */
    *out = c;
    return 0;
}

int co_conn_new_pair(co_conn **out, co_socket *rsock, co_socket *wsock)
{
    if (!out || (!rsock && !wsock) || rsock == wsock)
        return -EINVAL;
    int rc = co__conn_alloc(out);
    if (rc == 0) {
        (*out)->rsock = rsock;
        (*out)->wsock = wsock;
    }
    return rc;
}

int co_conn_new(co_conn **out, co_socket *sock)
{
    if (!out || !sock)
        return -EINVAL;
    int rc = co__conn_alloc(out);
    if (rc == 0)
        (*out)->rsock = (*out)->wsock = sock;
    return rc;
}

int co_conn_pipe(co_conn *pair[2], int duplex)
{
    co_socket *s[2] = { NULL, NULL };
    int rc;
    if (!pair)
        return -EINVAL;
    if (duplex) {
        if ((rc = co_socketpair(s, SOCK_STREAM)) < 0)
            return rc;
    } else {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
            return -errno;
        if ((rc = co_socket_from_fd(&s[0], fds[0])) < 0) {
            close(fds[0]);
            close(fds[1]);
            return rc;
        }
        if ((rc = co_socket_from_fd(&s[1], fds[1])) < 0) {
            close(fds[1]);
            co_socket_close(&s[0]);
            return rc;
        }
    }
    pair[0] = pair[1] = NULL;
    rc = duplex ? co_conn_new(&pair[0], s[0]) : co_conn_new_pair(&pair[0], s[0], NULL);
    if (rc == 0 && (rc = duplex ? co_conn_new(&pair[1], s[1])
                                : co_conn_new_pair(&pair[1], NULL, s[1])) < 0) {
        co_conn_close(&pair[0]);    /* closes s[0] */
        s[0] = NULL;
    }
    if (rc < 0) {
        co_socket_close(&s[0]);     /* -EBADF when NULL: harmless */
        co_socket_close(&s[1]);
    }
    return rc;
}

/* Free a closed connection once no task is in an operation on it. */
static void release(co_conn *c)
{
    if (c->users)
        return;
    free(c->auth);
    free(c->rx_buf);
    free(c);
}

int co_conn_close(co_conn **cp)
{
    if (!cp)
        return -EINVAL;
    co_conn *c = *cp;
    if (!c)
        return -EBADF;
    *cp = NULL;
    if (c->closed)                  /* through a copy, while a task blocked */
        return -EBADF;              /* at the close has not yet returned */
    c->closed = 1;
    /* The sockets' memory stays until the tasks the close wakes have
     * finished their wait on them (co__conn_enter): c keeps the pointers. */
    co_socket *r = c->rsock, *w = c->wsock;
    int rc = 0, rc2 = 0;
    if (r)
        rc = co_socket_close(&r);
    if (w && w != c->rsock)
        rc2 = co_socket_close(&w);
    release(c);
    return rc < 0 ? rc : rc2;
}

/* ------------------------------------------------------------ settings */

int co_conn_set_max_size(co_conn *c, size_t max)
{
    if (!c || max < 256)
        return -EINVAL;
    c->max_size = max;
    return 0;
}

size_t co_conn_max_size(const co_conn *c)
{
    return c ? c->max_size : 0;
}

int co_conn_error(const co_conn *c)
{
    return c ? c->error : -EINVAL;
}

co_socket *co_conn_reader(const co_conn *c)
{
    return c && !c->closed ? c->rsock : NULL;
}

co_socket *co_conn_writer(const co_conn *c)
{
    return c && !c->closed ? c->wsock : NULL;
}

int co__conn_break(co_conn *c, int rc)
{
    c->error = rc;
    free(c->rx_buf);
    c->rx_buf = NULL;
    return rc;
}

/* ------------------------------------------------------------ entering */

int co__conn_enter(co_task *self, co_conn *c, int args_ok, int dirs, int *rc,
                   const char *func)
{
    if (!co_wait_resumed(self)) {
        if (co__wait_begin(self, c && args_ok, rc, func))
            return 1;
        if (c->closed)
            *rc = -EBADF;
        else if (c->error)
            *rc = -EPROTO;
        else if (c->auth_task || ((dirs & CO__CONN_RX) && c->rx_task) ||
                 ((dirs & CO__CONN_TX) && c->tx_task))
            *rc = -EBUSY;
        else
            return 0;
        return 1;
    }
    if (!c) {                   /* misuse: the call that blocked had one */
        co_wait_enter_at(self, rc, func);
        if (*rc >= 0)
            *rc = -EINVAL;
        return 1;
    }
    c->users--;
    int reading = c->rx_task == self;
    if (reading)
        c->rx_task = NULL;
    else
        c->tx_task = NULL;
    if (!c->closed)
        return 0;               /* the operation's socket call finishes */
    *rc = reading ? co_socket_wait_readable(self, c->rsock)
                  : co_socket_wait_writable(self, c->wsock);
    if (*rc == CO_WOULDBLOCK) {
        c->users++;
        if (reading)
            c->rx_task = self;
        else
            c->tx_task = self;
        return 1;
    }
    *rc = -EBADF;
    release(c);
    return 1;
}

/* The socket call suspended the task: note it (co__conn_enter undoes). */
static co_status suspended(co_task *self, co_conn *c, int reading)
{
    if (reading)
        c->rx_task = self;
    else
        c->tx_task = self;
    c->users++;
    return CO_WOULDBLOCK;
}

/* ------------------------------------------------------------ sending */

co_status co__conn_send(co_task *self, co_conn *c, const void *body,
                        size_t size, int fresh)
{
    if (fresh) {
        uint64_t n = size;
        if (n <= 0x7fffffff) {
            for (int i = 0; i < 4; i++)
                c->tx_hdr[i] = (uint8_t)(n >> (24 - 8 * i));
            c->tx_hlen = 4;
        } else {
            memset(c->tx_hdr, 0xff, 4);
            for (int i = 0; i < 8; i++)
                c->tx_hdr[4 + i] = (uint8_t)(n >> (56 - 8 * i));
            c->tx_hlen = 12;
        }
        c->tx_done = 0;
    }
    size_t hlen = c->tx_hlen, total = hlen + size;
    int rc = 0;
    while (c->tx_done < total) {
        size_t done = c->tx_done;
        if (done < hlen && size <= COALESCE_MAX) {
            unsigned char frame[CO__CONN_HEADER_MAX + COALESCE_MAX];
            memcpy(frame, c->tx_hdr, hlen);
            if (size)
                memcpy(frame + hlen, body, size);
            rc = co_socket_send(self, c->wsock, frame + done, total - done, 0);
        } else if (done < hlen) {
            rc = co_socket_send(self, c->wsock, c->tx_hdr + done, hlen - done,
                                MSG_MORE);
        } else {
            rc = co_socket_send(self, c->wsock,
                                (const char *)body + (done - hlen),
                                total - done, 0);
        }
        if (rc < 0)
            break;
        c->tx_done += (size_t)rc;
    }
    if (rc == CO_WOULDBLOCK)
        return suspended(self, c, 0);
    if (rc < 0 && c->tx_done > 0)   /* the peer has part of a frame */
        return co__conn_break(c, rc);
    return rc < 0 ? rc : 0;
}

co_status co_conn_send_bytes(co_task *self, co_conn *c, const void *buf,
                             size_t offset, size_t size)
{
    int fresh = !co_wait_resumed(self), rc;
    int args_ok = (buf || (offset == 0 && size == 0)) &&
                  offset <= SIZE_MAX - size &&
                  (!c || c->wsock || c->closed);
    if (co__conn_enter(self, c, args_ok, CO__CONN_TX, &rc, __func__))
        return rc;
    return co__conn_send(self, c, buf ? (const char *)buf + offset : NULL,
                         size, fresh);
}

/* ------------------------------------------------------------ receiving */

static void rx_reset(co_conn *c)
{
    c->rx_hgot = c->rx_have_len = 0;
    c->rx_len = c->rx_got = 0;
}

static uint64_t big_endian(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The header, unless it came already: 0 with c->rx_len.  Kept across
 * interruptions: a header is ours, so a receive cut short inside one is
 * finished by the next. */
static co_status rx_header(co_task *self, co_conn *c)
{
    while (!c->rx_have_len) {
        size_t want = (c->rx_hgot < 4 ? 4u : 12u) - c->rx_hgot;
        int n = co_socket_recv(self, c->rsock, c->rx_hdr + c->rx_hgot, want,
                               0);
        if (n == CO_WOULDBLOCK)
            return suspended(self, c, 1);
        if (n < 0)
            return n;
        if (n == 0)             /* the end: between messages, or in one */
            return c->rx_hgot ? co__conn_break(c, -EPROTO) : -EPIPE;
        c->rx_hgot += (uint8_t)n;
        if (c->rx_hgot == 4) {
            uint64_t v = big_endian(c->rx_hdr, 4);
            if (v == 0xffffffffu)
                continue;       /* 8 more bytes of length follow */
            if (v & 0x80000000u)
                return co__conn_break(c, -EPROTO);
            c->rx_len = (size_t)v;
        } else if (c->rx_hgot == 12) {
            uint64_t v = big_endian(c->rx_hdr + 4, 8);
            if (v > SIZE_MAX)
                return co__conn_break(c, -EMSGSIZE);
            c->rx_len = (size_t)v;
        } else {
            continue;
        }
        c->rx_have_len = 1;
        /* Refused before anything is allocated; we cannot skip it. */
        if (c->rx_len > c->max_size)
            return co__conn_break(c, -EMSGSIZE);
    }
    return 0;
}

/* The body into dst (room for c->rx_len bytes). */
static co_status rx_body(co_task *self, co_conn *c, unsigned char *dst)
{
    while (c->rx_got < c->rx_len) {
        int n = co_socket_recv(self, c->rsock, dst + c->rx_got,
                               c->rx_len - c->rx_got, 0);
        if (n == CO_WOULDBLOCK)
            return suspended(self, c, 1);
        if (n == 0)                             /* truncated message */
            return co__conn_break(c, -EPROTO);
        if (n < 0)
            return c->rx_got ? co__conn_break(c, n) : n;
        c->rx_got += (size_t)n;
    }
    return 0;
}

co_status co__conn_recv_into(co_task *self, co_conn *c, void *buf,
                             size_t limit, size_t *len)
{
    int rc = rx_header(self, c);
    if (rc == 0 && c->rx_len > limit) {
        *len = c->rx_len;               /* it stays for the next receive */
        return -EMSGSIZE;
    }
    if (rc == 0)
        rc = rx_body(self, c, buf);
    if (rc == CO_WOULDBLOCK)
        return rc;
    /* Refused for its length, a message says its length too. */
    *len = rc == 0 || (rc == -EMSGSIZE && c->rx_have_len) ? c->rx_len : 0;
    if (rc == 0)
        rx_reset(c);
    return rc;
}

co_status co_conn_recv_bytes_into(co_task *self, co_conn *c, void *buf,
                                  size_t buflen, size_t *len)
{
    int rc;
    int args_ok = len && (buf || !buflen) && (!c || c->rsock || c->closed);
    if (co__conn_enter(self, c, args_ok, CO__CONN_RX, &rc, __func__)) {
        if (args_ok && rc != CO_WOULDBLOCK)
            *len = 0;
        return rc;
    }
    return co__conn_recv_into(self, c, buf, buflen, len);
}

co_status co_conn_recv_bytes(co_task *self, co_conn *c, void **data,
                             size_t *len)
{
    int rc;
    int args_ok = data && len && (!c || c->rsock || c->closed);
    if (co__conn_enter(self, c, args_ok, CO__CONN_RX, &rc, __func__)) {
        if (args_ok && rc != CO_WOULDBLOCK) {
            *data = NULL;
            *len = 0;
        }
        return rc;
    }
    rc = rx_header(self, c);
    if (rc == 0 && !c->rx_buf &&
        !(c->rx_buf = co__alloc(c->rx_len ? c->rx_len : 1)))
        rc = -ENOMEM;           /* the message stays for the next receive */
    if (rc == 0)
        rc = rx_body(self, c, c->rx_buf);
    if (rc == CO_WOULDBLOCK)
        return rc;
    if (rc == 0) {
        *data = c->rx_buf;
        *len = c->rx_len;
        c->rx_buf = NULL;
        rx_reset(c);
        return 0;
    }
    free(c->rx_buf);            /* nothing of the body came, or broken */
    c->rx_buf = NULL;
    *data = NULL;
    *len = 0;
    return rc;
}
