/*
 * file.c -- the file under a file stream: pieces of I/O on the worker
 * threads (see file.h for what a user sees, file_impl.h for the contract
 * with stream.c).
 *
 * One piece at a time.  A file has one position, so the file has one
 * slot: `busy` while a piece is under way, and a task that finds it busy
 * waits on `idle` until it is free, then starts over.  The piece lives in
 * the file (`op`), not in a frame, and the thread reads and writes only
 * it: a task cancelled while its piece runs leaves at once, and the piece
 * lands later in the file all the same (co__thread_pool_start: nobody
 * waits on the pool's job; `landed` runs in the kernel's thread).
 *
 * What a piece leaves behind is the file's state, not a task's: a read's
 * bytes go into the stream's buffer, a write's error into `werr` (a
 * read's into `rerr`) for the next write (read) to report.  So the tasks
 * that wait for a read or a write wait only for the slot -- on `idle`,
 * all woken when a piece lands -- and start over from the stream's state,
 * as a socket stream's do after readiness.  Only seek, truncate and close
 * give their caller a result: such a task is the file's `waiter`, waits on
 * `mine`, and keeps the slot until it has taken the result (or has left:
 * then the landing frees the slot).
 *
 * While a piece is on a thread (`running`) the kernel is held, so its
 * tasks waiting for the piece are not taken for deadlocked.  A program
 * whose tasks have all ended with a write still behind loses nothing:
 * co_kernel_free finishes the pieces the pool has not (it runs a queued
 * one itself), and they land then.  The file (and its stream) is freed
 * only once no piece runs: the landing of a closed file's last piece
 * closes its fd and frees them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/alloc_impl.h"
#include "../core/async.h"
#include "../core/pool_impl.h"
#include "../core/thread_pool_impl.h"
#include "../core/waits.h"
#include "file_impl.h"

enum { OP_READ, OP_WRITE, OP_SEEK, OP_TRUNCATE, OP_CLOSE };

/* What a thread is given and gives back: nothing else of the file is
 * touched off the kernel's thread. */
typedef struct piece {
    int kind;
    int fd;
    int whence;                /* OP_SEEK */
    int carried;               /* OP_CLOSE: a write error not yet reported */
    unsigned char *block;      /* OP_READ's bytes in, OP_WRITE's out */
    size_t len;
    off_t unread;              /* move back over these first: the bytes
                                  read ahead that the reader has not had */
    off_t off;                 /* OP_SEEK's offset, OP_TRUNCATE's size; the
                                  position after OP_SEEK */
    intptr_t result;           /* its outcome, once it has landed */
} piece;

struct co__file {
    co_stream *st;
    co_kernel *kernel;
    int fd;                    /* -1 once closed (or handed to OP_CLOSE) */
    int rerr, werr;            /* errors of pieces, for the next read, write */
    uint8_t busy;              /* the slot is taken */
    uint8_t running;           /* a piece is on a thread */
    uint8_t done;              /* the waiter's piece has landed */
    uint8_t seekable;
    uint8_t closed;            /* the stream was closed */
    co_task *waiter;           /* whose seek/truncate/close it is, or NULL */
    co_waitq idle;             /* tasks waiting for the slot */
    co_waitq mine;             /* the waiter */
    piece op;
};

/* ------------------------------------------------------------ threads */

static intptr_t fail(void)
{
    return errno ? -errno : -EIO;
}

/* write(2) until all of it went (a regular file takes it at once; a pipe
 * or a terminal may take it in parts). */
static intptr_t write_all(int fd, const unsigned char *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail();
        done += (size_t)n;
    }
    return (intptr_t)done;
}

/* On a worker thread: the piece, and only the piece. */
static intptr_t piece_run(void *arg)
{
    piece *p = &((co__file *)arg)->op;
    if (p->unread && lseek(p->fd, -p->unread, SEEK_CUR) < 0)
        return fail();
    ssize_t n;
    off_t pos;
    switch (p->kind) {
    case OP_READ:
        do
            n = read(p->fd, p->block, p->len);
        while (n < 0 && errno == EINTR);
        return n < 0 ? fail() : (intptr_t)n;
    case OP_WRITE:
        return write_all(p->fd, p->block, p->len);
    case OP_SEEK:
        if ((pos = lseek(p->fd, p->off, p->whence)) < 0)
            return fail();
        p->off = pos;
        return 0;
    case OP_TRUNCATE:
        pos = p->off;
        if (pos < 0 && (pos = lseek(p->fd, 0, SEEK_CUR)) < 0)
            return fail();
        return ftruncate(p->fd, pos) < 0 ? fail() : 0;
    default:                            /* OP_CLOSE */
        /* After EINTR the fd is closed all the same (Linux): no retry. */
        return close(p->fd) < 0 && errno != EINTR ? fail() : 0;
    }
}

/* Keep the first of a run of errors. */
static void keep(int *slot, intptr_t err)
{
    if (!*slot)
        *slot = err > INT_MIN ? (int)err : -EIO;
}

static int take(int *slot)
{
    int e = *slot;
    *slot = 0;
    return e;
}

/* The slot is free: every waiting task starts over. */
static void free_slot(co__file *f)
{
    f->busy = 0;
    co_waitq_wake_all(&f->idle, 0);
}

/* In the kernel's thread, when the piece is done (or, at co_kernel_free,
 * never ran: -ECANCELED).  May free f (a closed file's last piece). */
static void landed(void *arg, intptr_t result)
{
    co__file *f = arg;
    piece *p = &f->op;
    co_kernel_unhold(f->kernel);
    f->running = 0;
    unsigned char *block = p->block;
    p->block = NULL;
    p->result = result;
    if (p->kind == OP_READ) {
        if (result < 0) {
            keep(&f->rerr, result);
            co__pool_give(block);
        } else {
            co__stream_landed(f->st, block, result);   /* gives it if closed */
        }
    } else if (p->kind == OP_WRITE) {
        co__pool_give(block);
        if (result < 0)
            keep(&f->werr, result);
    }
    if (f->waiter) {
        f->done = 1;                    /* the slot is the waiter's still */
        co_waitq_wake_one(&f->mine, 0);
    } else {
        free_slot(f);
    }
    if (f->closed) {
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        co__stream_release(f->st);      /* f may be gone */
    }
}

/* Put the piece (f->op, filled in but for its fd) on a thread; the slot
 * is taken.  0, -ENOMEM, -EAGAIN. */
static int start(co__file *f)
{
    f->op.fd = f->fd;
    int rc = co__thread_pool_start(f->kernel, piece_run, f, landed);
    if (rc < 0)
        return rc;
    /* landed() runs in this thread, so not before these are set. */
    f->busy = f->running = 1;
    co_kernel_hold(f->kernel);
    return 0;
}

/* The bytes the reader has not had, to move back over (and to drop from
 * the stream once the piece is started); 0 if the file cannot move back:
 * a pipe's bytes read ahead stay buffered, as a socket's do. */
static off_t unread(const co__file *f)
{
    return f->seekable ? (off_t)co__stream_unread(f->st) : 0;
}

/* ------------------------------------------------------------ lifetime */

co__file *co__file_new(int fd)
{
    co__file *f = co__alloc_zeroed(1, sizeof *f);
    if (!f)
        return NULL;
    f->fd = fd;
    f->kernel = co_current_kernel();
    /* Whether the reader's position can be given back (a regular file or a
     * device can, a pipe or a terminal cannot); lseek(2) here does no I/O. */
    f->seekable = lseek(fd, 0, SEEK_CUR) >= 0;
    co_waitq_init(&f->idle);
    co_waitq_init(&f->mine);
    return f;
}

void co__file_attach(co__file *f, co_stream *st)
{
    f->st = st;
}

void co__file_free(co__file *f)
{
    free(f);
}

int co__file_busy(const co__file *f)
{
    return f->running;
}

int co__file_fd_idle(const co__file *f)
{
    return f->busy ? -EBUSY : f->fd;
}

/* ------------------------------------------------------------ for stream.c */

/* A pool block for a piece: NULL with -ENOBUFS (the pool at its bound) or
 * -ENOMEM (room, but no memory) in *rc. */
static unsigned char *take_block(size_t len, int *rc)
{
    unsigned char *b = co__pool_try_take(len);
    if (!b)
        *rc = co__pool_has_room() ? -ENOMEM : -ENOBUFS;
    return b;
}

/* The slot is taken: wait for it. */
static co_status wait_slot(co_task *self, co__file *f)
{
    return co_block(self, &f->idle, CO_NO_DEADLINE);
}

co_status co__file_fill(co_task *self, co__file *f, size_t len)
{
    int e = take(&f->rerr);
    if (e)
        return e;
    if (f->busy)
        return wait_slot(self, f);
    int rc;
    unsigned char *b = take_block(len, &rc);
    if (!b)
        return rc;
    f->op = (piece){ .kind = OP_READ, .block = b, .len = len };
    rc = start(f);
    if (rc < 0) {
        f->op.block = NULL;
        co__pool_give(b);
        return rc;
    }
    return wait_slot(self, f);          /* until the bytes have landed */
}

co_status co__file_send(co_task *self, co__file *f, const void *buf,
                        size_t len)
{
    int e = take(&f->werr);
    if (e)
        return e;
    if (f->busy)
        return wait_slot(self, f);
    size_t n = len < CO_POOL_CHUNK ? len : CO_POOL_CHUNK;
    int rc;
    unsigned char *b = take_block(n, &rc);
    if (!b)
        return rc;
    memcpy(b, buf, n);
    f->op = (piece){ .kind = OP_WRITE, .block = b, .len = n,
                     .unread = unread(f) };
    rc = start(f);
    if (rc < 0) {
        f->op.block = NULL;
        co__pool_give(b);
        return rc;
    }
    if (f->op.unread)
        co__stream_drop(f->st);
    return (int)n;                      /* handed over: it will be written */
}

co_status co__file_drain(co_task *self, co__file *f)
{
    int e = take(&f->werr);
    if (e)
        return e;
    return f->busy ? wait_slot(self, f) : 0;
}

int co__file_resume(co_task *self, co__file *f, int64_t *result)
{
    int rc = 0;
    if (f->waiter != self) {            /* waited for the slot */
        co_wait_enter(self, &rc);
        return rc < 0 ? rc : 0;
    }
    f->waiter = NULL;
    if (!f->done) {         /* cancelled, timed out, closed: the piece runs
                               on, and its landing frees the slot */
        co_wait_enter(self, &rc);
        return rc < 0 ? rc : -EBADF;
    }
    /* It landed, whatever woke us: one outcome, as co_run_in_thread's. */
    co_wait_completed(self);
    f->done = 0;
    piece *p = &f->op;
    free_slot(f);
    if (p->kind == OP_CLOSE && p->carried)
        return p->carried;
    if (p->result < 0)
        return p->result > INT_MIN ? (int)p->result : -EIO;
    if (result)
        *result = p->kind == OP_SEEK ? (int64_t)p->off : 0;
    return CO__FILE_DONE;
}

int co__file_close(co__file *f)
{
    f->closed = 1;
    co_waitq_wake_all(&f->idle, -EBADF);
    co_waitq_wake_all(&f->mine, -EBADF);
    int rc = take(&f->werr);
    if (f->running || f->fd < 0)        /* closed when the piece lands */
        return rc;
    if (close(f->fd) < 0 && errno != EINTR && rc == 0)
        rc = -errno;
    f->fd = -1;
    return rc;
}

/* ------------------------------------------------------------ operations */

/* Start the calling task's own piece (f->op filled in) and wait for it. */
static co_status start_mine(co_task *self, co_stream *st, co__file *f)
{
    int rc = start(f);
    if (rc < 0)
        return rc;
    if (f->op.unread)
        co__stream_drop(st);
    f->waiter = self;
    co_block(self, &f->mine, CO_NO_DEADLINE);
    return co__stream_blocked(st);
}

static co__file *file_of(const co_stream *st)
{
    return st ? co__stream_file(st) : NULL;
}

co_status co_file_seek(co_task *self, co_stream *st, off_t offset,
                       int whence, off_t *pos)
{
    int rc;
    int64_t result = 0;
    co__file *f = file_of(st);
    int args_ok = f && (whence == SEEK_SET || whence == SEEK_CUR ||
                        whence == SEEK_END);
    if (co__stream_enter_file_op(self, st, args_ok, &rc, &result, __func__)) {
        if (rc != CO__FILE_DONE)
            return rc;
        if (pos)
            *pos = (off_t)result;
        return 0;
    }
    if (f->busy) {
        wait_slot(self, f);
        return co__stream_blocked(st);
    }
    if (!f->seekable)
        return -ESPIPE;
    f->op = (piece){ .kind = OP_SEEK, .off = offset, .whence = whence,
                     .unread = unread(f) };
    return start_mine(self, st, f);
}

co_status co_file_tell(co_task *self, co_stream *st, off_t *pos)
{
    int rc;
    co__file *f = file_of(st);
    if (co__stream_enter_file_op(self, st, f && pos, &rc, NULL, __func__))
        return rc;
    if (f->busy) {
        wait_slot(self, f);
        return co__stream_blocked(st);
    }
    /* No piece for it: with none under way, lseek(2) reads the position
     * the kernel keeps, without I/O. */
    off_t at = lseek(f->fd, 0, SEEK_CUR);
    if (at < 0)
        return -errno;
    *pos = at - unread(f);
    return 0;
}

co_status co_file_truncate(co_task *self, co_stream *st, off_t size)
{
    int rc;
    co__file *f = file_of(st);
    if (co__stream_enter_file_op(self, st, f && size >= -1, &rc, NULL,
                                 __func__))
        return rc == CO__FILE_DONE ? 0 : rc;
    if (f->busy) {
        wait_slot(self, f);
        return co__stream_blocked(st);
    }
    f->op = (piece){ .kind = OP_TRUNCATE, .off = size,
                     .unread = size < 0 ? unread(f) : 0 };
    return start_mine(self, st, f);
}

co_status co_file_close(co_task *self, co_stream **stp)
{
    int rc;
    co_stream *st = stp ? *stp : NULL;
    co__file *f = file_of(st);
    if (!f) {               /* no stream, or a socket's: nothing to wait for */
        if (co_wait_begin(self, stp != NULL, &rc)) {
            if (st)
                co_stream_close(stp);
            return rc;
        }
        return co_stream_close(stp);
    }
    if (co__stream_enter_file_op(self, st, 1, &rc, NULL, __func__)) {
        if (rc == -EBADF) {             /* closed through a copy: st may be
                                           gone already */
            *stp = NULL;
            return rc;
        }
        int crc = co_stream_close(stp); /* the fd is closed if it landed */
        return rc == CO__FILE_DONE ? crc : rc;
    }
    if (f->busy) {
        wait_slot(self, f);
        return co__stream_blocked(st);
    }
    f->op = (piece){ .kind = OP_CLOSE, .carried = take(&f->werr) };
    rc = start_mine(self, st, f);
    if (rc == CO_WOULDBLOCK) {
        f->fd = -1;                     /* the thread closes it */
        return rc;
    }
    f->werr = f->op.carried;            /* no thread: close it here */
    return co_stream_close(stp);
}

/* ------------------------------------------------------------ opening */

/* A file being opened: owned by the task until the thread has answered,
 * or by open_drop if the task had gone. */
typedef struct opening {
    int flags;
    char path[];
} opening;

static intptr_t open_run(void *arg)
{
    opening *o = arg;
    int fd;
    do
        fd = open(o->path, o->flags | O_CLOEXEC, 0666);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? fail() : fd;
}

/* In the kernel's thread, for an open whose task had gone. */
static void open_drop(void *arg, intptr_t result)
{
    if (result >= 0)
        close((int)result);
    free(arg);
}

/* fopen(3)'s modes: the open(2) flags, or -1. */
static int mode_flags(const char *mode)
{
    int flags, plus = 0;
    switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    case 'x': flags = O_WRONLY | O_CREAT | O_EXCL; break;
    default: return -1;
    }
    for (const char *c = mode + 1; *c; c++) {
        if (*c == '+' && !plus++)
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        else if (*c != 'b' && *c != 't')
            return -1;
    }
    return flags;
}

int co_file_stream_new(co_stream **st, int fd, size_t bufsize)
{
    if (!st || fd < 0 || bufsize > INT_MAX || fcntl(fd, F_GETFD) < 0)
        return -EINVAL;
    co__file *f = co__file_new(fd);
    if (!f)
        return -ENOMEM;
    int rc = co__stream_new_file(st, f, bufsize);
    if (rc < 0)
        co__file_free(f);
    return rc;
}

int co_stream_is_file(const co_stream *st)
{
    return file_of(st) != NULL;
}

co_status co_aopen(co_task *self, co_stream **st, const char *path,
                   const char *mode)
{
    int rc;
    co_thread_call c;
    if (co_wait_resumed(self) && st) {
        co_thread_call_init(&c, open_run, NULL, NULL);
        rc = co_run_in_thread(self, &c);
        opening *o = c.arg;             /* set only if the open ended */
        if (rc == CO_WOULDBLOCK || !o)  /* else open_drop frees it */
            return rc;
        free(o);
        if (rc < 0)
            return rc;
        int fd = (int)c.result;
        if ((rc = co_file_stream_new(st, fd, 0)) < 0)
            close(fd);
        return rc;
    }
    int flags = path && mode ? mode_flags(mode) : -1;
    if (co_wait_begin(self, st && flags >= 0, &rc))
        return rc;
    size_t n = strlen(path) + 1;
    opening *o = co__alloc(sizeof *o + n);
    if (!o)
        return -ENOMEM;
    o->flags = flags;
    memcpy(o->path, path, n);
    co_thread_call_init(&c, open_run, o, open_drop);
    return co_run_in_thread(self, &c);  /* refused: open_drop freed o */
}
