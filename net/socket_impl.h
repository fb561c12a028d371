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

/* net/resolve.c, for co_open_connection: start resolving host on the
 * worker threads (CO_WOULDBLOCK, or an error); on the re-evaluation after
 * the task was woken, finish: 0 with *addr, or the lookup's error, or
 * -ECANCELED / -ETIMEDOUT. */
int co__resolve_start(co_task *self, int family, const char *host, int port);
int co__resolve_finish(co_task *self, co_sockaddr *addr);

#endif /* CO_SOCKET_IMPL_H */
