/*
 * channel.c -- listen, accept and authenticate; connect and authenticate.
 *
 * Accept and connect are primitives made of primitives (as
 * co_open_connection is): each evaluation finds in the channel, or in the
 * connection under way, which of its parts it was suspended in -- the
 * socket's accept or connect, or the handshake -- and carries that on.
 * The parts keep their own progress (net/connection.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/waits.h"
#include "../core/alloc_impl.h"
#include "channel.h"
#include "connection_impl.h"
#include "server.h"

struct co_channel {
    co_socket *listener;
    co_sockaddr address;
    char *path;                 /* Unix: ours to remove, if still ours */
    dev_t path_dev;
    ino_t path_ino;
    co_task *task;              /* the accept suspended on us */
    co_conn *pending;           /* the client in its handshake */
    unsigned long refused;
    uint32_t users;             /* 0 or 1: the accept suspended */
    uint8_t closed;
};

/* ------------------------------------------------------------ listening */

static int listen_on(co_channel **out, const co_sockaddr *addr,
                     const char *path)
{
    co_channel *ch = co__alloc_zeroed(1, sizeof *ch);
    if (!ch)
        return -ENOMEM;
    int on = 1, rc;
    if (path && !(ch->path = strdup(path))) {
        free(ch);
        return -ENOMEM;
    }
    rc = co_socket_new(&ch->listener, addr->ss.ss_family, SOCK_STREAM, 0);
    if (rc == 0 && !path)
        rc = co_socket_setsockopt(ch->listener, SOL_SOCKET, SO_REUSEADDR,
                                  &on, sizeof on);
    if (rc == 0)
        rc = co_socket_bind(ch->listener, addr);
    struct stat st;
    if (rc == 0 && path && stat(path, &st) == 0) {
        ch->path_dev = st.st_dev;
        ch->path_ino = st.st_ino;
    }
    if (rc == 0)
        rc = co_socket_listen(ch->listener, CO_BACKLOG_MAX);
    if (rc == 0)
        rc = co_socket_getsockname(ch->listener, &ch->address);
    if (rc == 0) {
        *out = ch;
        return 0;
    }
    if (ch->path_ino)
        unlink(path);
    co_socket_close(&ch->listener);
    free(ch->path);
    free(ch);
    return rc;
}

int co_channel_tcp(co_channel **out, const char *host, int port)
{
    co_sockaddr addr;
    if (!out)
        return -EINVAL;
    int rc = co_sockaddr_inet(&addr, AF_UNSPEC, host, port);
    return rc < 0 ? rc : listen_on(out, &addr, NULL);
}

int co_channel_unix(co_channel **out, const char *path)
{
    co_sockaddr addr;
    if (!out || !path || !*path)
        return -EINVAL;
    int rc = co_sockaddr_unix(&addr, path);
    return rc < 0 ? rc : listen_on(out, &addr, path);
}

int co_channel_port(const co_channel *ch)
{
    if (!ch)
        return -EINVAL;
    return ch->path ? 0 : co_sockaddr_port(&ch->address);
}

int co_channel_address(const co_channel *ch, co_sockaddr *addr)
{
    if (!ch || !addr)
        return -EINVAL;
    *addr = ch->address;
    return 0;
}

unsigned long co_channel_refused(const co_channel *ch)
{
    return ch ? ch->refused : 0;
}

static void release(co_channel *ch)
{
    if (!ch->users)
        free(ch);
}

int co_channel_close(co_channel **chp)
{
    if (!chp)
        return -EINVAL;
    co_channel *ch = *chp;
    if (!ch)
        return -EBADF;
    *chp = NULL;
    if (ch->closed)
        return -EBADF;
    ch->closed = 1;
    if (ch->pending) {          /* wakes the accept in the handshake; the */
        co_conn *p = ch->pending;   /* connection stays until it is out */
        co_conn_close(&p);
    }
    co_socket *l = ch->listener;    /* kept for an accept woken inside it */
    int rc = co_socket_close(&l);
    struct stat st;
    if (ch->path_ino && stat(ch->path, &st) == 0 &&
        st.st_dev == ch->path_dev && st.st_ino == ch->path_ino)
        unlink(ch->path);
    free(ch->path);
    ch->path = NULL;
    release(ch);
    return rc;
}

/* ------------------------------------------------------------ accepting */

/* A handshake that failed for the client's sake (closed, and the accept
 * goes on) rather than the caller's (returned). */
static int clients_fault(int rc)
{
    return rc != -ECANCELED && rc != -ETIMEDOUT && rc != -ENOMEM &&
           rc != -ENOBUFS && rc != -EBUSY;
}

co_status co_channel_accept(co_task *self, co_channel *ch, co_conn **conn,
                            const void *key, size_t keylen)
{
    int rc, in_handshake = 0;
    if (!co_wait_resumed(self)) {
        if (co_wait_begin(self, ch && conn && (key || !keylen), &rc))
            return rc;
        *conn = NULL;
        if (ch->closed)
            return -EBADF;
        if (ch->task)
            return -EBUSY;
    } else {
        if (!ch || !conn) {     /* misuse: the call that blocked had them */
            co_wait_enter_at(self, &rc, __func__);
            return rc < 0 ? rc : -EINVAL;
        }
        ch->users--;
        ch->task = NULL;
        in_handshake = ch->pending != NULL;
    }
    for (;;) {
        if (!in_handshake) {
            co_socket *client = NULL;
            rc = co_socket_accept(self, ch->listener, &client, NULL);
            if (rc == CO_WOULDBLOCK)
                break;
            if (rc == 0 && (rc = co_conn_new(&ch->pending, client)) < 0)
                co_socket_close(&client);
            if (rc < 0)
                return ch->closed ? (release(ch), -EBADF) : rc;
            if (!key)
                break;
        }
        in_handshake = 0;
        rc = co_conn_auth_server(self, ch->pending, key, keylen);
        if (rc == CO_WOULDBLOCK || rc == 0)
            break;
        if (ch->closed) {           /* the close closed the client too */
            ch->pending = NULL;
            release(ch);
            return -EBADF;
        }
        co_conn_close(&ch->pending);
        if (!clients_fault(rc))
            return rc;
        ch->refused++;
    }
    if (rc == CO_WOULDBLOCK) {
        ch->task = self;
        ch->users++;
        return rc;
    }
    *conn = ch->pending;
    ch->pending = NULL;
    return 0;
}

/* ------------------------------------------------------------ connecting */

/*
 * *conn holds the connection from the first evaluation on; while the
 * socket connects it is `connecting`, with the socket in connect_sock
 * (co_open_connection's frame slot), then the handshake runs on it.
 */
static co_status connect_to(co_task *self, co_conn **conn, const char *host,
                            int port, const char *path, const void *key,
                            size_t keylen)
{
    int rc;
    co_conn *c;
    if (!co_wait_resumed(self)) {
        if (!conn || (!key && keylen)) {
            co_wait_begin(self, 0, &rc);       /* -EINVAL */
            return rc;
        }
        *conn = NULL;
        if ((rc = co__conn_alloc(&c)) < 0)
            return rc;
        c->connecting = 1;
        *conn = c;
        rc = path ? co_open_unix_connection(self, &c->connect_sock, path)
                  : co_open_connection(self, &c->connect_sock, host, port);
    } else {
        if (!conn || !*conn) {  /* misuse: the call that blocked had one */
            co_wait_enter_at(self, &rc, __func__);
            return rc < 0 ? rc : -EINVAL;
        }
        c = *conn;
        if (c->connecting)
            rc = path ? co_open_unix_connection(self, &c->connect_sock, path)
                      : co_open_connection(self, &c->connect_sock, host,
                                           port);
        else
            rc = co_conn_auth_client(self, c, key, keylen);
    }
    if (rc == CO_WOULDBLOCK)
        return rc;
    if (rc == 0 && c->connecting) {
        c->connecting = 0;
        c->rsock = c->wsock = c->connect_sock;
        c->connect_sock = NULL;
        if (key)
            rc = co_conn_auth_client(self, c, key, keylen);
        if (rc == CO_WOULDBLOCK)
            return rc;
    }
    if (rc < 0) {
        if (c->connecting)      /* co_open_connection closed its socket */
            free(c);
        else
            co_conn_close(&c);
        *conn = NULL;
    }
    return rc;
}

co_status co_channel_connect(co_task *self, co_conn **conn, const char *host,
                             int port, const void *key, size_t keylen)
{
    return connect_to(self, conn, host, port, NULL, key, keylen);
}

co_status co_channel_connect_unix(co_task *self, co_conn **conn,
                                  const char *path, const void *key,
                                  size_t keylen)
{
    return connect_to(self, conn, NULL, 0, path ? path : "", key, keylen);
}
