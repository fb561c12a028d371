/*
 * file_impl.h -- between a stream (net/stream.c) and the file under it
 * (net/file.c).  Private: not installed.
 *
 * A file stream is a co_stream whose `file` is set.  The stream keeps the
 * buffer and the rules; the file runs the pieces of I/O on the worker
 * threads and says, in the terms of a socket, whether the stream can go
 * on: a read "blocks" until its piece has landed in the stream's buffer
 * (co__stream_landed), after which the operation starts over and finds the
 * bytes there -- the readiness model of sockets, on top of a thread.
 */
#ifndef CO_FILE_IMPL_H
#define CO_FILE_IMPL_H

#include <stdint.h>

#include "file.h"

typedef struct co__file co__file;

/* ------------------------------------------------------------ stream.c */

/* The file under a file stream, NULL for a socket's. */
co__file *co__stream_file(const co_stream *st);

/* Make a stream over file f (it owns f now).  0, -EINVAL, -ENOMEM. */
int co__stream_new_file(co_stream **out, co__file *f, size_t bufsize);

/*
 * A read's piece landed, in the kernel's thread: n > 0 bytes in `block`
 * (a pool block: the stream takes it, or copies and gives it back), 0 at
 * the end of the file, < 0 an error (the file keeps it; block is given
 * back).
 */
void co__stream_landed(co_stream *st, void *block, intptr_t n);

/* The bytes buffered, not read yet (the reader is that far behind the
 * file's position). */
size_t co__stream_unread(const co_stream *st);

/* Drop the buffered bytes (the file has moved its position back over
 * them, or away). */
void co__stream_drop(co_stream *st);

/* The file's last piece landed after the stream was closed: free it if
 * no task is still in an operation on it. */
void co__stream_release(co_stream *st);

/* THE RULE and the stream's bookkeeping for the file's own operations
 * (seek, tell, truncate, close): stream.c's stream_enter, which on a
 * re-evaluation finishes the file's wait through co__file_resume.  1 with
 * *rc set: return *rc (CO__FILE_DONE: the operation's piece has
 * completed, its result in *result). */
int co__stream_enter_file_op(co_task *self, co_stream *st, int args_ok,
                             int *rc, int64_t *result, const char *func);

/* Count a task blocked in an operation on st: returns CO_WOULDBLOCK. */
co_status co__stream_blocked(co_stream *st);

/* ------------------------------------------------------------ file.c */

/* co__file_resume's result when the task's own operation completed. */
#define CO__FILE_DONE 1

/* Make the file side for fd (owned from the stream's creation on).
 * NULL: no memory. */
co__file *co__file_new(int fd);
void co__file_attach(co__file *f, co_stream *st);

/* The stream over f is gone: free f (and the pieces nobody took). */
void co__file_free(co__file *f);

/* A piece is on a thread: the stream may not be freed yet. */
int co__file_busy(const co__file *f);

/*
 * For the stream's reads: start reading up to len bytes (they land in the
 * stream), or wait for the piece under way.  CO_WOULDBLOCK (the task
 * waits: its re-evaluation finishes with co__file_resume, then starts the
 * operation over), or a negative errno: an earlier read's error, reported
 * once, -ENOBUFS, -ENOMEM, -EAGAIN.
 */
co_status co__file_fill(co_task *self, co__file *f, size_t len);

/*
 * For the stream's writes: hand up to len bytes of buf to a thread (the
 * count, > 0; the stream's buffered bytes are unread first), or wait for
 * the piece under way (CO_WOULDBLOCK), or an earlier write's error,
 * reported once.
 */
co_status co__file_send(co_task *self, co__file *f, const void *buf,
                        size_t len);

/* For flush: 0 once nothing is under way, CO_WOULDBLOCK, or an earlier
 * write's error. */
co_status co__file_drain(co_task *self, co__file *f);

/* The re-evaluation after any of the file's suspensions: 0 (start over),
 * CO__FILE_DONE with *result (the task's own seek / truncate / close has
 * completed), -ECANCELED, -ETIMEDOUT, -EBADF (closed meanwhile). */
int co__file_resume(co_task *self, co__file *f, int64_t *result);

/* The stream is being closed, without waiting: wake its waiters with
 * -EBADF; close the fd now if nothing is under way, else once the piece
 * has landed.  0, an unreported write error, or close(2)'s. */
int co__file_close(co__file *f);

/* Lend the fd to blocking code, or take it back (co_stream_blocking_*):
 * -EBUSY while a piece is under way. */
int co__file_fd_idle(const co__file *f);

#endif /* CO_FILE_IMPL_H */
