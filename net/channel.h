/*
 * channel.h -- authenticated message connections over TCP or Unix-domain
 * sockets (Curio's curio.channel.Channel; Python's
 * multiprocessing.connection Listener and Client).
 *
 * A channel listens; co_channel_accept returns the next connection that
 * passed the handshake (net/connection.h) with the shared key.  A client
 * that fails it -- a wrong key, a peer that is not speaking the protocol,
 * one that hangs up -- is closed and counted (co_channel_refused), and
 * accept goes on to the next.  co_channel_connect / _connect_unix are the
 * other end.  Both speak Python's wire format, so either end may be a
 * Python program using multiprocessing.connection or Curio:
 *
 *     co_channel_tcp(&f->ch, "127.0.0.1", 30000);
 *     CO_AWAIT(f->rc, co_channel_accept(t, f->ch, &f->conn, "peekaboo", 8));
 *
 *     # Python
 *     from multiprocessing.connection import Client
 *     c = Client(('127.0.0.1', 30000), authkey=b'peekaboo')
 *
 * A NULL key (with keylen 0) means no handshake at all (Python's
 * authkey=None); a key of length 0 is a handshake with the empty key.
 *
 * The handshake of an accepted client runs inside co_channel_accept, one
 * client at a time, as in Curio: a client that connects and stalls holds
 * up the clients behind it.  A server that must not trust its clients that
 * far accepts with co_tcp_server (net/server.h) and runs the handshake in
 * each handler, under a timeout: co_conn_new, then co_conn_auth_server
 * inside CO_AWAIT_TIMEOUT (docs/howto.md, "Talk to a Python program").
 */
#ifndef CO_CHANNEL_H
#define CO_CHANNEL_H

#include <stddef.h>

#include "../core/api.h"
#include "../core/task.h"
#include "connection.h"
#include "socket.h"

typedef struct co_channel co_channel;

/*
 * Listen on host:port (host numeric or "localhost"; NULL or "" for any
 * IPv4 address; port 0 lets the system choose: co_channel_port) or on
 * the Unix path (which must not exist; co_channel_close removes it).
 * SO_REUSEADDR is set, as Python's Listener does.  0 or a negative errno
 * (-EADDRINUSE, -ENOTSUP for a host name, -EINVAL ...).  Needs a kernel
 * running in this thread.
 */
CO_API int co_channel_tcp(co_channel **out, const char *host, int port);
CO_API int co_channel_unix(co_channel **out, const char *path);

/* The bound port (TCP; 0 for Unix), or -EINVAL. */
CO_API int co_channel_port(const co_channel *ch);
/* The bound address into *addr: 0 or -EINVAL. */
CO_API int co_channel_address(const co_channel *ch, co_sockaddr *addr);
/* How many clients accept has closed for failing the handshake. */
CO_API unsigned long co_channel_refused(const co_channel *ch);

/*
 * Blocking: the next client that passes the handshake as the server
 * (co_conn_auth_server: deliver, then answer) -- *conn, yours to close.
 * On failure *conn is NULL and nothing is left open: -ECANCELED,
 * -ETIMEDOUT, -EBADF (the channel was closed), -EBUSY (another task is
 * accepting), -EMFILE / -ENFILE / -ENOMEM (the caller backs off and calls
 * again).  The key must stay valid while the call is suspended.
 */
CO_API co_status co_channel_accept(co_task *self, co_channel *ch,
                                   co_conn **conn, const void *key,
                                   size_t keylen);

/* Close the listening socket (waking an accept with -EBADF; a client in
 * its handshake is closed too) and remove the Unix path if it is still the
 * one we made.  0, -EBADF if *ch is NULL, -EINVAL if ch is NULL. */
CO_API int co_channel_close(co_channel **ch);

/*
 * Blocking: connect to a channel (or a Python Listener) at host:port (a
 * name is resolved as co_open_connection does) or at a Unix path, then
 * pass the handshake as the client (co_conn_auth_client: answer, then
 * deliver).  *conn, which must be in the caller's frame (it holds the
 * connection while it is under way), is the connection, yours to close;
 * on failure it is NULL and nothing is left open: -ECONNREFUSED,
 * -EACCES (a wrong key), -EPROTO, -ECANCELED, -ETIMEDOUT ...
 */
CO_API co_status co_channel_connect(co_task *self, co_conn **conn,
                                    const char *host, int port,
                                    const void *key, size_t keylen);
CO_API co_status co_channel_connect_unix(co_task *self, co_conn **conn,
                                         const char *path, const void *key,
                                         size_t keylen);

#endif /* CO_CHANNEL_H */
