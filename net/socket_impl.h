/*
 * socket_impl.h -- what the layers built on sockets (net/stream.c) use
 * from net/socket.c (private to the library: not installed).
 */
#ifndef CO_SOCKET_IMPL_H
#define CO_SOCKET_IMPL_H

#include "socket.h"

/* For layers built on sockets (net/stream.c): an operation that completes
 * without touching the socket (bytes served from a buffer) counts in the
 * task's I/O budget too -- co_io_eager on the socket's io.  After
 * CO_WOULDBLOCK the re-evaluation finishes the yield with
 * co_socket_wait_readable or _writable, as after any suspension. */
co_status co__socket_eager(co_task *self, co_socket *s);

/* For the debug monitor (core/monitor.c): a task waiting on s keeps no
 * kernel loop alive (co__io_set_weak, core/io_impl.h).  NULL: nothing. */
void co__socket_set_weak(co_socket *s);

/*
 * net/resolve.c, for the servers and co_open_connection (net/server.c).
 *
 * The addresses a lookup found, in a record of the lookup's own: malloc'd,
 * freed with free() by whoever holds it.  co_open_connection, which tries
 * them in turn, keeps its progress in the record too (it holds the record
 * while it connects): next, err and sock are its own.
 */
typedef struct co__addrs {
    int count;                  /* addresses found (1..RESOLVE_MAX) */
    int next;                   /* the one being tried */
    int err;                    /* what to report if none connects */
    co_socket *sock;            /* the attempt's socket */
    co_sockaddr addr[CO_SOCKADDR_RESOLVE_MAX];
} co__addrs;

/* Start resolving host on the worker threads: CO_WOULDBLOCK, or an error
 * (-ENOMEM, -ECANCELED...).  On the re-evaluation after the task was
 * woken, finish: 0 with *out (yours to free), or the lookup's error, or
 * -ECANCELED / -ETIMEDOUT (the pool's cleanup frees the record then). */
int co__resolve_start(co_task *self, int family, const char *host, int port);
int co__resolve_finish(co_task *self, co__addrs **out);

/* "localhost": 127.0.0.1 then ::1, those of `family` that fit in max.
 * How many (0 for max < 1). */
int co__resolve_localhost(co_sockaddr *out, int max, int family, int port);
/* host is "localhost" (what co_sockaddr_inet takes for a loopback). */
int co__resolve_is_localhost(const char *host);

/* For the tests: what the worker threads call instead of getaddrinfo(3).
 * It stores up to max addresses of host (any port: the lookup sets it)
 * and returns how many, or a negative errno.  NULL restores getaddrinfo.
 * One for the whole process, read when a lookup starts (the thread is
 * handed its own copy): set it while no kernel runs. */
typedef int (*co__resolve_fn)(const char *host, int family, co_sockaddr *out,
                              int max);
void co__resolve_set_lookup(co__resolve_fn fn);

#endif /* CO_SOCKET_IMPL_H */
