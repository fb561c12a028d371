/*
 * socket.h -- sockets for tasks (Curio's curio.socket).
 *
 * A co_socket wraps a non-blocking fd.  Blocking operations are
 * primitives: await them with CO_AWAIT.  I/O is eager -- the system call is
 * tried first and the task waits only on EAGAIN -- and remembers when the
 * fd was drained, so it does not spend a system call on a certain EAGAIN.
 * Eager is not greedy: a task whose operations keep going ahead without
 * waiting yields once every `budget` of them (64 by default; see
 * co_kernel_set_io_budget in core/io.h), so a flooding peer cannot starve
 * the kernel's other tasks.  Accept, receive and send all count.
 *
 * One waiter per direction: a task that would wait to read (write) while
 * another task already waits to read (write) the same socket gets -EBUSY.
 *
 * Results: >= 0 on success, a negative errno on failure (-ECONNRESET,
 * -EPIPE, -ECONNREFUSED, -ECANCELED, -ETIMEDOUT ...).  SIGPIPE never
 * fires: sends use MSG_NOSIGNAL.
 *
 * Lifetime: co_socket_close(&s) closes the fd at once, wakes any task
 * blocked on the socket with -EBADF, and sets s to NULL; the memory is
 * freed when no task is inside an operation on it any more.  Closing the
 * same handle again is harmless (-EBADF), so cleanup code can close
 * unconditionally.  Other copies of the pointer are dead after the close,
 * like a freed pointer -- except that a task blocked inside an operation on
 * the socket when it was closed is woken with -EBADF and may go on using
 * its pointer until that operation has returned.
 */
#ifndef CO_SOCKET_H
#define CO_SOCKET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../core/api.h"
#include "../core/io.h"
#include "../core/pool.h"
#include "../core/task.h"

typedef struct co_socket co_socket;

/* A socket address of any family. */
typedef struct co_sockaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} co_sockaddr;

/* ------------------------------------------------------------ creating */

/* socket(2), non-blocking and close-on-exec.  family: AF_INET, AF_INET6,
 * AF_UNIX; type: SOCK_STREAM, SOCK_DGRAM.  0 or a negative errno.  Needs a
 * kernel running in this thread (call it from a task). */
CO_API int co_socket_new(co_socket **out, int family, int type, int protocol);

/* Wrap an existing fd (a socket, a pipe end...); made non-blocking.  The
 * socket owns the fd from now on (close closes it). */
CO_API int co_socket_from_fd(co_socket **out, int fd);

/* socketpair(2): two connected sockets (AF_UNIX). */
CO_API int co_socketpair(co_socket *pair[2], int type);

CO_API int co_socket_fd(const co_socket *s);

/* ------------------------------------------------------------ addresses */

/*
 * Fill *addr from a numeric host ("127.0.0.1", "::1", "0.0.0.0", "" or NULL
 * for any address, "localhost") and a port.  It never blocks, so other
 * host names are not resolved here: -ENOTSUP (co_sockaddr_resolve and
 * co_sockaddr_resolve_all do).  -EINVAL for a bad address or port.  family
 * AF_UNSPEC picks the host's family (IPv4 for NULL/"", 127.0.0.1 for
 * "localhost").
 */
CO_API int co_sockaddr_inet(co_sockaddr *addr, int family, const char *host,
                            int port);

/* The most addresses a lookup keeps: enough for a host with a few IPv4 and
 * a few IPv6 addresses; a name with more gives its first ones. */
#define CO_SOCKADDR_RESOLVE_MAX 8

/*
 * Blocking: the addresses of any host, in the resolver's order, into
 * addrs[0..max): the number stored (1 or more, at most max and
 * CO_SOCKADDR_RESOLVE_MAX).  A name is resolved with getaddrinfo(3) on the
 * kernel's worker threads (core/thread_pool.h), so a slow resolver stalls
 * no other task; a numeric host is answered at once, as is "localhost":
 * 127.0.0.1 then ::1 (of the family asked for), without a lookup, as RFC
 * 6761 recommends.  addrs (in the caller's frame) is written by the
 * evaluation that returns.  -ENXIO for a name that does not exist (or has
 * no address of that family), -EAGAIN for a temporary failure of the
 * resolver, -EINVAL (NULL addrs, max < 1, a malformed address or port),
 * -ECANCELED, -ETIMEDOUT (released at once: the lookup finishes on its
 * thread and is dropped).
 */
CO_API co_status co_sockaddr_resolve_all(co_task *self, co_sockaddr *addrs,
                                         int max, int family,
                                         const char *host, int port);
/* Blocking: the same, keeping the first address only: 0 with *addr (for
 * "localhost", 127.0.0.1 unless family is AF_INET6), or the same errors. */
CO_API co_status co_sockaddr_resolve(co_task *self, co_sockaddr *addr,
                                     int family, const char *host, int port);
/* A Unix-domain address; -ENAMETOOLONG if the path does not fit. */
CO_API int co_sockaddr_unix(co_sockaddr *addr, const char *path);
/* The port of an AF_INET / AF_INET6 address, or -EINVAL. */
CO_API int co_sockaddr_port(const co_sockaddr *addr);

/*
 * Print an address into buf (always NUL-terminated if len > 0):
 * "127.0.0.1:25000", "[::1]:25000", a Unix path, or "unix:unnamed".
 * Returns the length it needed (as snprintf), or -EINVAL.
 */
CO_API int co_sockaddr_format(const co_sockaddr *addr, char *buf, size_t len);

/* Enough room for any address co_sockaddr_format prints but a long Unix
 * path (108 bytes at most on Linux). */
#define CO_SOCKADDR_STRLEN 128


/* ------------------------------------------------------------ setup */

CO_API int co_socket_bind(co_socket *s, const co_sockaddr *addr);
CO_API int co_socket_listen(co_socket *s, int backlog);

/* The largest listen backlog: listen(2) truncates it to the system's
 * maximum (Linux: /proc/sys/net/core/somaxconn, 4096 by default).  A
 * server that must take a burst of connects wants it: connects beyond the
 * backlog are dropped by the kernel and the clients retry only after 1 s,
 * 3 s, 7 s ... */
#define CO_BACKLOG_MAX 0x7fffffff
CO_API int co_socket_shutdown(co_socket *s, int how);  /* SHUT_RD/WR/RDWR */
CO_API int co_socket_setsockopt(co_socket *s, int level, int name,
                                const void *val, socklen_t len);
CO_API int co_socket_getsockopt(co_socket *s, int level, int name, void *val,
                                socklen_t *len);
CO_API int co_socket_getsockname(co_socket *s, co_sockaddr *addr);
CO_API int co_socket_getpeername(co_socket *s, co_sockaddr *addr);

/* The escape hatch: blocking = 1 puts the fd in blocking mode for code
 * that must use it synchronously (e.g. a library that calls send(2)
 * itself); 0 puts it back.  The kernel's primitives must not be used on it
 * meanwhile.  -EBUSY (nothing changed) for blocking = 1 while a task waits
 * on the socket.  After 0 the next operation tries its system call first,
 * whatever the blocking code left in the fd.  (For a stream,
 * co_stream_blocking_begin also checks that nothing is buffered.) */
CO_API int co_socket_set_blocking(co_socket *s, int blocking);

/*
 * Close *s: release its registration with the kernel, close the fd, wake
 * the tasks blocked on it with -EBADF, and set *s to NULL.  0, or close(2)'s
 * error.  -EBADF if *s is NULL (already closed through this handle: nothing
 * is touched); -EINVAL if s is NULL.  See "Lifetime" above for other copies
 * of the pointer.
 *
 *     CO_FINALLY;
 *     co_socket_close(&f->sock);     // whether or not it was closed before
 */
CO_API int co_socket_close(co_socket **s);

/* ------------------------------------------------------------ blocking */

/* Accept a connection: *client is the new (non-blocking) socket, *peer
 * (may be NULL) its address.  Errors that belong to one dying connection
 * (ECONNABORTED, and the network errors accept(2) says to treat like
 * EAGAIN) are retried here.  EMFILE/ENFILE come back as -EMFILE/-ENFILE:
 * the caller decides how to back off (co_tcp_server sleeps and retries). */
CO_API co_status co_socket_accept(co_task *self, co_socket *s,
                                  co_socket **client, co_sockaddr *peer);

/* Connect; the result of a non-blocking connect comes from SO_ERROR
 * (-ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH ...). */
CO_API co_status co_socket_connect(co_task *self, co_socket *s,
                                   const co_sockaddr *addr);

/* Receive up to len bytes: the count, 0 at end of stream. */
CO_API co_status co_socket_recv(co_task *self, co_socket *s, void *buf,
                                size_t len, int flags);

/* Send some of buf (at least one byte unless len is 0): the count. */
CO_API co_status co_socket_send(co_task *self, co_socket *s, const void *buf,
                                size_t len, int flags);

/*
 * Not blocking: one attempt to send some of buf now.  The count sent (0
 * only for len 0); -EAGAIN if the socket takes nothing now; -EBUSY if a
 * task is blocked sending on it (its data goes first); -EBADF if it has
 * been closed (reachable only through a copy of the pointer while a task
 * woken by the close is still inside its operation: see "Lifetime"); other
 * errors as send(2).  For servers that receive into one buffer
 * shared by all their tasks: what goes at once never needs a buffer of
 * its own (examples/echoserv.c).
 */
CO_API int co_socket_try_send(co_socket *s, const void *buf, size_t len,
                              int flags);

/*
 * Send all of buf.  *sent (required) is set at every return to the count
 * that went: all of len with 0, or how much went before a negative errno
 * (cancellation, timeout, -EPIPE ...).  While the call is suspended its
 * progress is kept in the socket, so `sent` need not survive the
 * suspension (a local will do).
 */
CO_API co_status co_socket_sendall(co_task *self, co_socket *s,
                                   const void *buf, size_t len, size_t *sent);

/*
 * Receiving into the kernel's pool (core/pool.h): the way to write a
 * server that holds no buffer for an idle connection.  Curio's
 *
 *     data = await client.recv(100000)
 *     await client.sendall(data)
 *
 * is, with a co_bytes `data` in the frame:
 *
 *     CO_AWAIT(f->n, co_socket_recv_bytes(t, f->client, &f->data, 100000));
 *     if (f->n <= 0) break;
 *     CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->client, &f->data));
 *
 * co_socket_recv_bytes waits until the socket has data, then borrows a
 * chunk from the pool -- waiting, before it reads, while the pool is at
 * its bound -- and receives up to maxlen bytes (at most CO_POOL_CHUNK)
 * into it.  It returns the count with *b holding the bytes; 0 at end of
 * stream and a negative errno on failure, with *b left empty.  *b must be
 * empty when it is called (-EINVAL otherwise, and for maxlen 0).  At the
 * bound only a socket with data waits for room (an idle one waits for
 * data first); a task waiting for room is the socket's reader, so another
 * reader gets -EBUSY, and a close wakes it with -EBADF.
 *
 * co_socket_sendall_bytes sends all of *b and gives its memory back: 0, or
 * a negative errno (-EPIPE, -ECANCELED, -ETIMEDOUT ...) with whatever was
 * not sent dropped.  Either way *b is empty when it returns (but -EINVAL
 * for bad arguments -- NULL s or b, bytes not from the pool -- touches
 * nothing, as THE RULE of core/waits.h says).  While it is
 * suspended, *b (which must be in the frame) holds what is still unsent,
 * moved to a block of its own size when that is small, so the chunk goes
 * back at once.  Bytes received but not sent are given back with
 * co_bytes_free (in CO_FINALLY, for a handler that can be cancelled
 * between the two).
 */
CO_API co_status co_socket_recv_bytes(co_task *self, co_socket *s, co_bytes *b,
                                      size_t maxlen);
CO_API co_status co_socket_sendall_bytes(co_task *self, co_socket *s,
                                         co_bytes *b);

/* Datagrams. from (may be NULL) receives the sender's address. */
CO_API co_status co_socket_recvfrom(co_task *self, co_socket *s, void *buf,
                                    size_t len, int flags, co_sockaddr *from);
CO_API co_status co_socket_sendto(co_task *self, co_socket *s, const void *buf,
                                  size_t len, int flags,
                                  const co_sockaddr *to);

/* Wait until the socket is readable / writable without doing I/O.
 * Guarantee for layers built on sockets (net/stream.c relies on it): when
 * the calling task is being resumed after suspending inside any socket
 * primitive in the same direction, these only finish that pending wait --
 * they return its wake value (0, -EBADF, -ECANCELED ...) and release the
 * socket -- without checking arguments again or doing I/O. */
CO_API co_status co_socket_wait_readable(co_task *self, co_socket *s);
CO_API co_status co_socket_wait_writable(co_task *self, co_socket *s);

#endif /* CO_SOCKET_H */
