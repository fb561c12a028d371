/*
 * file.h -- files as streams, their I/O done on the worker threads
 * (Curio's aopen and AsyncFile).
 *
 * A disk never says "would block": read(2) on a regular file waits for
 * the disk, however slow, and libev cannot watch it.  So an async file is
 * a co_stream (net/stream.h) whose reads and writes go to the kernel's
 * worker pool (core/thread_pool.h), one piece at a time, while the task
 * waits as it would for a socket.  Everything written for a stream --
 * readline, read_exactly, readall, readlines, write, writelines, flush --
 * works on a file unchanged, with the same results:
 *
 *     CO_AWAIT(f->rc, co_aopen(t, &f->file, "access.log", "r"));
 *     while (f->rc == 0) {
 *         CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line,
 *                                           sizeof f->line));
 *         if (f->n <= 0) break;
 *         ...
 *     }
 * CO_FINALLY
 *     co_stream_close(&f->file);
 *
 * What is different about a file:
 *
 *   - One piece of I/O at a time.  A file has one position, so its reads,
 *     writes, seeks and truncations run one after another, each in a
 *     piece of at most CO_POOL_CHUNK bytes; a task that finds one under
 *     way waits for it (any number may wait; none gets -EBUSY).
 *   - Writes are written behind.  co_stream_write returns once the last
 *     piece has been handed to a thread, and *sent counts what was handed
 *     over: it will be written, in order, before anything done to the file
 *     later.  An error writing it (-ENOSPC, -EIO ...) is reported by the
 *     next write, co_stream_flush or co_file_close -- so flush (or close
 *     with co_file_close) to know that everything reached the file.
 *   - Nothing is lost to a cancellation or a timeout: they release the
 *     task at once (as co_run_in_thread does) while the piece under way
 *     finishes on its thread.  A piece read then is kept in the stream's
 *     buffer for the next read; a piece written then had already been
 *     counted in *sent.  The partial progress (*got, *sent, *nlines) is
 *     that of a stream.
 *   - The end of a file is not final: a read at the end returns 0 (or
 *     the last line), and a later read sees what was appended meanwhile.
 *   - Reads ahead are undone where they matter: a write, seek or truncate
 *     after a read acts at the position the reader has got to, not at the
 *     end of what was buffered (as Python's buffered files do).
 *   - co_stream_socket returns NULL for a file.  Reads served from the
 *     buffer are not counted in the task's I/O budget (core/io.h): every
 *     piece read suspends the task anyway.
 *
 * The pieces' memory comes from the kernel's pool (core/pool.h): with the
 * pool at its bound, a read or a write fails with -ENOBUFS.
 */
#ifndef CO_FILE_H
#define CO_FILE_H

#include <sys/types.h>

#include "../core/api.h"
#include "../core/task.h"
#include "stream.h"

/*
 * Blocking: open `path` as fopen(3) would with `mode` ("r", "w", "a", "x",
 * each optionally with "+", and "b" or "t" ignored anywhere after the
 * first letter: bytes are bytes), on a worker thread, and make *st (in
 * the caller's frame: written by the evaluation that returns 0) a stream
 * over it.  Created files get 0666 less the umask; every fd is
 * close-on-exec.  0; open(2)'s error (-ENOENT, -EACCES, -EEXIST for "x"
 * ...); -EINVAL for a bad mode or a NULL argument; -ECANCELED, -ETIMEDOUT
 * (released at once: a file the thread opened after all is closed again).
 * Close it with co_file_close, or co_stream_close.
 */
CO_API co_status co_aopen(co_task *self, co_stream **st, const char *path,
                          const char *mode);

/*
 * Make *st a file stream over an fd already open (for instance 0, 1 or 2,
 * or a file opened elsewhere): its I/O then goes to the worker threads.
 * Not blocking.  The stream owns fd from then on (closing the stream
 * closes it).  bufsize as co_stream_new's.  0, or -EINVAL (bad fd,
 * bufsize over INT_MAX), -ENOMEM -- with fd still the caller's.
 */
CO_API int co_file_stream_new(co_stream **st, int fd, size_t bufsize);

/* Whether st is a file stream (co_aopen, co_file_stream_new). */
CO_API int co_stream_is_file(const co_stream *st);

/*
 * Blocking: move the position (lseek(2), on a worker thread), whence
 * SEEK_SET, SEEK_CUR or SEEK_END; SEEK_CUR counts from the reader's
 * position.  Buffered bytes are dropped.  *pos (may be NULL) gets the new
 * position.  0; -EINVAL (bad whence or resulting offset, not a file
 * stream); -ESPIPE (a pipe or terminal); -EBADF; -ECANCELED, -ETIMEDOUT
 * (the seek may have happened: co_file_tell says).
 */
CO_API co_status co_file_seek(co_task *self, co_stream *st, off_t offset,
                              int whence, off_t *pos);

/* Blocking (it waits for the piece under way, which moves the position):
 * the reader's position into *pos.  0; -EINVAL; -ESPIPE; -EBADF;
 * -ECANCELED, -ETIMEDOUT. */
CO_API co_status co_file_tell(co_task *self, co_stream *st, off_t *pos);

/* co_file_truncate's size meaning "at the current position". */
#define CO_FILE_HERE ((off_t)-1)

/*
 * Blocking: cut the file to `size` bytes (or extend it with zeros), on a
 * worker thread; CO_FILE_HERE cuts it at the reader's position (Python's
 * truncate()).  The position does not move.  0; -EINVAL (size below -1,
 * not a file stream, or a file not open for writing); -EBADF; -ECANCELED,
 * -ETIMEDOUT.
 */
CO_API co_status co_file_truncate(co_task *self, co_stream *st, off_t size);

/*
 * Blocking: wait for the writes under way, then close the file on a
 * worker thread (close(2) can wait for a network file system) and free
 * the stream; *st becomes NULL.  0, or the first error not yet reported:
 * a write's (-ENOSPC, -EIO ...) or close(2)'s.  -EBADF if *st is NULL
 * (closed already), -EINVAL if st is NULL or not a file stream.
 *
 * The stream is closed whatever the result, -ECANCELED and -ETIMEDOUT
 * included -- then without waiting, as co_stream_close closes it (the
 * file's fd is closed once its last piece has landed) -- so cleanup code
 * can close and go on.
 */
CO_API co_status co_file_close(co_task *self, co_stream **st);

#endif /* CO_FILE_H */
