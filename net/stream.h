/*
 * stream.h -- buffered streams over a socket or any non-blocking fd
 * (Curio's curio.io.SocketStream / StreamBase).
 *
 * A co_stream adds a read buffer to a co_socket, so that a protocol can
 * read lines and exact byte counts however the peer's data was split into
 * segments.  It works over anything co_socket wraps: a socket, or a pipe
 * end through co_socket_from_fd().
 *
 *     co_stream_new(&f->st, sock, 0);         // the stream owns sock now
 *     CO_AWAIT(f->n, co_stream_readline(t, f->st, f->line, sizeof f->line));
 *     CO_AWAIT(f->rc, co_stream_write(t, f->st, f->line, f->n, &f->sent));
 *     co_stream_close(&f->st);                // closes sock; f->st = NULL
 *
 * (See docs/streams.md.)
 *
 * Blocking operations are primitives: await them with CO_AWAIT, one task
 * reading and one task writing at a time (a second reader that would wait
 * while another waits gets -EBUSY).  Every one is a blocking point: a
 * pending cancellation or timeout is delivered at the call even when the
 * buffer could serve it.
 *
 * Nothing received is lost.  co_stream_read and co_stream_readline take
 * bytes out of the buffer only when they return them; if they fail
 * (-ECANCELED, -ETIMEDOUT, -EMSGSIZE ...) the bytes that came stay buffered
 * and the next read returns them.  co_stream_read_exactly and
 * co_stream_readall copy into the caller's buffer as data comes and count
 * it in *got: on failure buf[0 .. *got) holds what was taken from the
 * stream; co_stream_readlines likewise, whole lines at a time.  Writes
 * are not buffered; co_stream_write and co_stream_writelines count what
 * went in *sent.  Out-parameters are reset when a call starts.  *got,
 * *nlines and *sent must live in the frame: they are the operation's
 * progress across its suspensions (unlike co_socket_sendall's, a local
 * will not do).
 *
 * Results: >= 0 on success, a negative errno on failure: -EPIPE when the
 * peer closed (a write, or read_exactly reaching the end of the stream),
 * -ECONNRESET, -EMSGSIZE, -ENOSPC, -EBUSY, -EBADF (closed while waiting),
 * -ECANCELED, -ETIMEDOUT, -EINVAL (bad arguments), -ENOMEM.
 */
#ifndef CO_STREAM_H
#define CO_STREAM_H

#include <stddef.h>
#include <sys/uio.h>

#include "../core/api.h"
#include "../core/task.h"
#include "socket.h"

typedef struct co_stream co_stream;

/* The read buffer's size when co_stream_new is given 0: also the longest
 * line co_stream_readline accepts by default. */
#define CO_STREAM_DEFAULT_BUFSIZE 65536

/* ------------------------------------------------------------ lifetime */

/*
 * Make a stream over s that buffers at most bufsize bytes (0: the
 * default; at most INT_MAX).  The buffer is memory lent by the kernel's
 * pool (core/pool.h) only while bytes are buffered: a stream with nothing
 * buffered -- an idle connection -- holds none.  Up to CO_POOL_CHUNK
 * bytes it is one chunk; a bigger bufsize grows it as a line needs, which
 * fails with -ENOBUFS if the pool has no room.
 * On success the stream owns s: co_stream_close closes it.  On failure
 * (-EINVAL, -ENOMEM) s is still the caller's.
 */
CO_API int co_stream_new(co_stream **out, co_socket *s, size_t bufsize);

/*
 * Close *st: close its socket and free the stream (buffered data is
 * discarded), and set *st to NULL.  0, or close(2)'s error.  -EBADF if *st
 * is NULL (already closed through this handle: nothing is touched), so
 * cleanup code can close unconditionally; -EINVAL if st is NULL.
 *
 * Other copies of the pointer are dead after the close, like a freed
 * pointer -- except that a task blocked in an operation on the stream when
 * it was closed is woken with -EBADF and may go on using its pointer until
 * that operation has returned (the memory is freed once it has).
 */
CO_API int co_stream_close(co_stream **st);

/* The socket under the stream (for shutdown, options, addresses).  Reading
 * from it directly bypasses the buffer. */
CO_API co_socket *co_stream_socket(const co_stream *st);

/* How many received bytes are buffered, not yet read. */
CO_API size_t co_stream_buffered(const co_stream *st);

/* ------------------------------------------------------------ reading */

/*
 * Read up to maxlen bytes: what is buffered if anything is (no system
 * call), else what one receive brings.  The count; 0 at end of stream (or
 * for maxlen 0).  A single call returns at most INT_MAX bytes.
 */
CO_API co_status co_stream_read(co_task *self, co_stream *st, void *buf,
                                size_t maxlen);

/*
 * Read exactly n bytes into buf.  *got (required, in the frame) counts the
 * bytes copied so far.  0 when all n came.  If the stream ends first:
 * -EPIPE, with the bytes that did come in buf[0 .. *got).  On any other
 * error, too, buf[0 .. *got) holds what was read.
 */
CO_API co_status co_stream_read_exactly(co_task *self, co_stream *st,
                                        void *buf, size_t n, size_t *got);

/*
 * Read one line, up to and including its '\n', into buf (not
 * NUL-terminated: print it with "%.*s").  Returns its length.  At end of
 * stream returns what remains, a last line without '\n', and then 0.
 * The line may be at most maxlen bytes long, and at most the stream's
 * buffer size: if that many bytes come without a '\n', -EMSGSIZE (a peer
 * cannot make the stream buffer without bound); the bytes stay buffered
 * for co_stream_read / co_stream_read_exactly.  -EINVAL for maxlen 0.
 */
CO_API co_status co_stream_readline(co_task *self, co_stream *st, void *buf,
                                    size_t maxlen);

/*
 * Read until end of stream into buf, at most maxlen bytes.  *got
 * (required, in the frame) counts the bytes copied.  0 once the stream has
 * ended, with everything in buf[0 .. *got).  If more than maxlen bytes
 * come: -EMSGSIZE with *got == maxlen, and the bytes beyond stay buffered.
 * (For data of unbounded size, loop on co_stream_read.)
 */
CO_API co_status co_stream_readall(co_task *self, co_stream *st, void *buf,
                                   size_t maxlen, size_t *got);

/*
 * Read every line until end of stream (Curio's readlines) into buf, back
 * to back, each kept with its '\n' as readline returns it -- the last may
 * lack one -- so buf holds the stream's bytes and a '\n' ends each line
 * but the last.  *got (required, in the frame) counts the bytes copied
 * and *nlines (required, in the frame) the lines.  0 once the stream has
 * ended.  A line goes to buf only whole: on any failure buf[0 .. *got)
 * holds the *nlines lines taken from the stream, and a line not yet
 * complete stays buffered for the next read (as readline leaves it):
 *   -EMSGSIZE  a line longer than the stream's buffer size (as readline's
 *              limit with a maxlen at least that big);
 *   -ENOSPC    the next line does not fit in the maxlen - *got bytes left;
 *   -ETIMEDOUT, -ECANCELED ... the lines before are handed over all the
 *              same, as readall hands over its bytes.
 */
CO_API co_status co_stream_readlines(co_task *self, co_stream *st, void *buf,
                                     size_t maxlen, size_t *got,
                                     size_t *nlines);

/* ------------------------------------------------------------ writing */

/*
 * Write all of buf (as co_socket_sendall).  *sent (required, in the frame)
 * counts what went.  0 when all went, else a negative errno (-EPIPE if the
 * peer closed, -ECANCELED, -ETIMEDOUT ...) with *sent telling how much.
 * SIGPIPE never fires.
 */
CO_API co_status co_stream_write(co_task *self, co_stream *st, const void *buf,
                                 size_t len, size_t *sent);

/*
 * Write the iovcnt buffers of iov in order, as one write of their
 * concatenation: small pieces are gathered into one system call (a
 * header and a body do not go out as two segments).  *sent counts the
 * bytes that went, over all the buffers.  Results as co_stream_write.
 */
CO_API co_status co_stream_writelines(co_task *self, co_stream *st,
                                      const struct iovec *iov, int iovcnt,
                                      size_t *sent);

/*
 * Writes are not buffered, so there is nothing to flush: 0 (a blocking
 * point all the same: -ECANCELED / -ETIMEDOUT if one is due).  For code
 * written against Curio's API, and in case writes become buffered.
 */
CO_API co_status co_stream_flush(co_task *self, co_stream *st);

/* ------------------------------------------------------------ blocking */

/*
 * Lend the stream's fd to blocking code (Curio's `with stream.blocking()`):
 * a library that calls read(2)/send(2) itself, or a job in a thread.  Only
 * while nothing is buffered -- those bytes would be lost to the blocking
 * code: -EBUSY, and they stay readable.  Also -EBUSY while a task is in an
 * operation on the stream, or if the fd is lent already; -EBADF if the
 * stream is closed (through a copy of the pointer); -EINVAL for NULL.
 * Otherwise it puts the fd in blocking mode and returns it (>= 0).
 *
 * Until co_stream_blocking_end, the stream's operations refuse with
 * -EBUSY (they would block the kernel's thread), and the kernel's socket
 * primitives must not be used on co_stream_socket(st).  The fd stays the
 * stream's: do not close it.  co_stream_close works while it is lent (the
 * blocking code must be done with it by then).
 */
CO_API int co_stream_blocking_begin(co_stream *st);

/*
 * Take the fd back: non-blocking again, and the stream reads and writes
 * as before, from whatever the blocking code left in the socket.  0;
 * -EINVAL if it is not lent (so cleanup code may call it unconditionally),
 * or fcntl(2)'s error, with the fd still lent.
 *
 *     if ((f->fd = co_stream_blocking_begin(f->st)) < 0)
 *         CO_RETURN(f->fd);
 *     legacy_send_file(f->fd, path);      // blocking code
 *     ...
 * CO_FINALLY
 *     co_stream_blocking_end(f->st);      // -EINVAL if not lent: harmless
 *     co_stream_close(&f->st);
 */
CO_API int co_stream_blocking_end(co_stream *st);

#endif /* CO_STREAM_H */
