/*
 * stream.c -- a read buffer over a co_socket.
 *
 * The buffer holds rbuf[rstart .. rend): bytes received, not yet read.
 * Readers take from it first and receive only when it cannot serve them,
 * so a line split over many segments costs one receive per segment and a
 * line that arrived with others costs no system call at all.
 *
 * Composing primitives.  A stream operation blocks inside a socket
 * primitive (co_socket_recv / co_socket_send), and is evaluated again
 * after the wake.  That evaluation must first finish the socket's wait --
 * it consumes the wake value and releases the socket's hold -- whatever
 * the stream looks like now: another task may have filled or drained the
 * buffer meanwhile.  co_socket_wait_readable / _writable do exactly that
 * on a re-evaluation (see stream_enter).  Then the operation starts over
 * from the stream's state and the caller's out-parameters, which is all
 * the state it has: nothing lives in locals across a suspension.
 *
 * Memory.  The read buffer is a block lent by the kernel's pool
 * (core/pool.h) while the stream holds bytes not yet read, and nothing
 * otherwise: a stream whose buffer empties gives it back, and the next
 * receive into an empty stream goes through co_socket_recv_bytes, which
 * borrows only once the socket has data (waiting for room in the pool, if
 * it is at its bound, before it reads).  An idle connection's stream is
 * only its small struct.  A task suspended in that receive finishes it
 * when it is evaluated again (`awaiting_bytes`), so that its place in the
 * pool's queue, or the room reserved for it, is not lost.
 *
 * Fairness.  Reads served from the buffer count in the task's I/O budget
 * like the socket's own operations (core/io.h): a task reading line after
 * line that a flooding peer sent yields once every `budget` reads.
 *
 * Lifetime.  A task blocked in a stream operation touches the stream when
 * it is evaluated again, so co_stream_close frees the stream only once no
 * task is blocked in one (`users`); the last of them frees it.  The stream
 * keeps its pointer to the closed socket for them: they finish their wait
 * on it, which frees the socket in turn.
 *
 * Files.  A file stream (net/file.h) has a `file` instead of a socket:
 * where a socket stream receives, sends or waits for readiness, it asks
 * the file (net/file_impl.h), whose pieces of I/O run on worker threads
 * and land in this buffer; the operations are the same code.  A file
 * stream is also kept until its last piece has landed.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/waits.h"
#include "../core/alloc_impl.h"
#include "../core/pool_impl.h"
#include "file_impl.h"
#include "socket_impl.h"
#include "stream.h"

/* writelines gathers pieces shorter than half of this into one send,
 * in a chunk borrowed from the pool for the one system call. */
#define GATHER_BYTES CO_POOL_CHUNK

/* 56 bytes on 64-bit hosts, as before files came: rcap and rscan are
 * 32 bits (bufsize <= INT_MAX), making room for `file`, so an idle
 * connection costs no more. */
struct co_stream {
    co_socket *sock;        /* NULL for a file */
    co__file *file;         /* a file stream's file, else NULL */
    unsigned char *rbuf;    /* a pool block while bytes are buffered, else
                               NULL */
    size_t rstart, rend;    /* buffered: rbuf[rstart .. rend) */
    uint32_t rcap;          /* the most it may buffer (the longest line) */
    uint32_t rscan;         /* rbuf[rstart .. rstart + rscan) has no '\n' */
    uint32_t users;         /* tasks blocked in an operation on us */
    uint8_t eof;            /* a receive returned 0 */
    uint8_t closed;
    uint8_t awaiting_bytes; /* the reader is suspended in
                               co_socket_recv_bytes */
    uint8_t handed_out;     /* the fd is lent to blocking code */
};

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct co_stream) <= 56,
               "an idle connection's stream stays at 56 bytes");
#endif

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------ lifetime */

/* A stream over a socket or a file (exactly one of them). */
static int stream_new(co_stream **out, co_socket *s, co__file *f,
                      size_t bufsize)
{
    if (!out || !(s || f) || bufsize > INT_MAX)
        return -EINVAL;
    co_stream *st = co__alloc_zeroed(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->sock = s;
    st->file = f;
    st->rcap = (uint32_t)(bufsize ? bufsize : CO_STREAM_DEFAULT_BUFSIZE);
    if (f)
        co__file_attach(f, st);
    *out = st;
    return 0;
}

int co_stream_new(co_stream **out, co_socket *s, size_t bufsize)
{
    return stream_new(out, s, NULL, bufsize);
}

int co__stream_new_file(co_stream **out, co__file *f, size_t bufsize)
{
    return stream_new(out, NULL, f, bufsize);
}

co__file *co__stream_file(const co_stream *st)
{
    return st ? st->file : NULL;
}

/* Free a closed stream once no task is in an operation on it and, for a
 * file, no piece is on a thread (it lands in the stream). */
static void release(co_stream *st)
{
    if (st->users || (st->file && co__file_busy(st->file)))
        return;
    if (st->file)
        co__file_free(st->file);
    free(st);
}

void co__stream_release(co_stream *st)
{
    release(st);
}

static void free_buffer(co_stream *st)
{
    co__pool_give(st->rbuf);
    st->rbuf = NULL;
    st->rstart = st->rend = st->rscan = 0;
}

int co_stream_close(co_stream **stp)
{
    if (!stp)
        return -EINVAL;
    co_stream *st = *stp;
    if (!st)
        return -EBADF;              /* closed through this handle already */
    *stp = NULL;
    if (st->closed)                 /* through a copy, while a task blocked */
        return -EBADF;              /* at the close has not yet returned */
    st->closed = 1;
    free_buffer(st);
    int rc;
    if (st->file) {
        rc = co__file_close(st->file);
    } else {
        /* Wakes our blocked tasks with -EBADF; the socket's memory stays
         * until they have finished their wait on it (in stream_enter), so
         * st->sock is left pointing at it. */
        co_socket *sock = st->sock;
        rc = co_socket_close(&sock);
    }
    release(st);
    return rc;
}

co_socket *co_stream_socket(const co_stream *st)
{
    return st ? st->sock : NULL;
}

size_t co_stream_buffered(const co_stream *st)
{
    return st ? st->rend - st->rstart : 0;
}

/* ------------------------------------------------------------ files */

size_t co__stream_unread(const co_stream *st)
{
    return st->rend - st->rstart;
}

void co__stream_drop(co_stream *st)
{
    free_buffer(st);
    st->eof = 0;
}

/* The piece asked for no more than the room after the buffered bytes,
 * and while it was on its thread readers could only take bytes (or the
 * whole buffer): it fits, once the buffered bytes are moved to the
 * front. */
void co__stream_landed(co_stream *st, void *block, intptr_t n)
{
    if (n <= 0 || st->closed) {
        if (n == 0)
            st->eof = 1;
        co__pool_give(block);
        return;
    }
    if (st->rbuf && st->rstart == st->rend)
        free_buffer(st);
    if (!st->rbuf) {                    /* the piece becomes the buffer */
        st->rbuf = block;
        st->rstart = st->rscan = 0;
        st->rend = (size_t)n;
        return;
    }
    if (co__pool_block_size(st->rbuf) - st->rend < (size_t)n) {
        memmove(st->rbuf, st->rbuf + st->rstart, st->rend - st->rstart);
        st->rend -= st->rstart;
        st->rstart = 0;
    }
    memcpy(st->rbuf + st->rend, block, (size_t)n);
    st->rend += (size_t)n;
    co__pool_give(block);
}

/* ------------------------------------------------------------ protocol */

/* The receive into an empty stream: the bytes come in a block of the
 * pool's, which becomes the buffer (adopt).  Notes a suspension. */
static co_status receive_bytes(co_task *self, co_stream *st, co_bytes *in)
{
    size_t len = st->rcap < CO_POOL_CHUNK ? st->rcap : CO_POOL_CHUNK;
    int n = co_socket_recv_bytes(self, st->sock, in, len);
    if (n == CO_WOULDBLOCK)
        st->awaiting_bytes = 1;
    return n;
}

/* The outcome of receive_bytes (n >= 0) becomes the stream's state. */
static void adopt(co_stream *st, co_bytes *in, int n)
{
    if (n == 0) {
        st->eof = 1;
    } else if (n > 0 && in->block) {
        st->rbuf = in->block;
        st->rstart = st->rscan = 0;
        st->rend = (size_t)n;
        *in = (co_bytes){ 0 };
    }
}

/*
 * A read that will be served from the buffer (or the end of stream) needs
 * no system call, so the socket does not count it in the task's I/O
 * budget: it is counted here, or a readline loop over a full buffer would
 * never yield.  A read that must receive is counted by the socket.  When
 * the budget is spent the task yields first (holding the socket as a
 * waiter): the re-evaluation finishes that in stream_enter, as any wait,
 * and then reads.
 */
static int served_from_buffer(co_task *self, co_stream *st, int *rc)
{
    if (st->file) {         /* its every piece suspends the task anyway */
        *rc = 0;
        return 0;
    }
    *rc = co__socket_eager(self, st->sock);
    if (*rc == CO_WOULDBLOCK)
        st->users++;                /* as blocked() */
    return *rc != 0;
}

/*
 * The start of every evaluation: THE RULE (core/waits.h) for every stream
 * operation, `args_ok` saying whether its arguments are good (st itself is
 * checked here).  Returns 1 with *rc set when the operation must return
 * *rc now.  A fresh call: -EINVAL for bad arguments, a pending
 * cancellation or timeout, -EBADF if the stream is closed (a copy of the pointer used
 * while a task woken by the close has not yet returned; it must not
 * allocate a new buffer), or -EBUSY while the fd is lent to blocking
 * code (co_stream_blocking_begin).  A re-evaluation after our own
 * suspension: finish the socket wait we were suspended in (direction
 * `dir`), or the file's; its failure (-ECANCELED, -ETIMEDOUT, -EBADF) is
 * ours, and after a close the last task out frees the stream.  A file's
 * own operation (seek ...) that has completed returns CO__FILE_DONE with
 * *result.  The end of a file is not final: a fresh call reads again.
 */
static int stream_enter(co_task *self, co_stream *st, int args_ok, int dir,
                        int *rc, int64_t *result, const char *func)
{
    if (!co_wait_resumed(self)) {
        if (co__wait_begin(self, st && args_ok, rc, func))
            return 1;
        if (st->file)
            st->eof = 0;
        if (st->closed)
            *rc = -EBADF;
        else if (st->handed_out)    /* the fd blocks: it would stall us all */
            *rc = -EBUSY;
        else if (dir == CO_IO_READ && (st->rend != st->rstart || st->eof))
            return served_from_buffer(self, st, rc);
        else
            return 0;
        return 1;
    }
    if (!st) {                  /* misuse: the call that blocked had one */
        co_wait_enter_at(self, rc, func);
        if (*rc >= 0)
            *rc = -EINVAL;
        return 1;
    }
    st->users--;
    co_bytes in = { 0 };
    int received = !st->file && dir == CO_IO_READ && st->awaiting_bytes;
    if (st->file) {
        *rc = co__file_resume(self, st->file, result);
    } else if (received) {
        st->awaiting_bytes = 0;
        *rc = receive_bytes(self, st, &in);
    } else {
        *rc = dir == CO_IO_READ ? co_socket_wait_readable(self, st->sock)
                                : co_socket_wait_writable(self, st->sock);
    }
    if (*rc == CO_WOULDBLOCK) {         /* still waiting */
        st->users++;
        return 1;
    }
    if (st->closed) {
        co_bytes_free(&in);
        if (*rc >= 0)
            *rc = -EBADF;
        release(st);
        return 1;
    }
    if (*rc < 0 || *rc == CO__FILE_DONE)
        return 1;
    if (received)                       /* the receive we waited for */
        adopt(st, &in, *rc);
    *rc = 0;
    return 0;
}

/* Return this when a socket primitive (or the file) suspended us. */
static co_status blocked(co_stream *st)
{
    st->users++;
    return CO_WOULDBLOCK;
}

int co__stream_enter_file_op(co_task *self, co_stream *st, int args_ok,
                             int *rc, int64_t *result, const char *func)
{
    return stream_enter(self, st, args_ok, CO_IO_WRITE, rc, result, func);
}

co_status co__stream_blocked(co_stream *st)
{
    return blocked(st);
}

/* ------------------------------------------------------------ the buffer */

/* Move n buffered bytes to buf. */
static void take(co_stream *st, void *buf, size_t n)
{
    memcpy(buf, st->rbuf + st->rstart, n);
    st->rstart += n;
    st->rscan = st->rscan > n ? (uint32_t)(st->rscan - n) : 0;
    if (st->rstart == st->rend)
        free_buffer(st);            /* nothing buffered: nothing held */
}

/*
 * The length of the first buffered line, its '\n' included, if that '\n'
 * is among the first `limit` buffered bytes; else 0.  How far the search
 * got is remembered (rscan), so a line arriving a byte at a time is
 * scanned once, not once per byte.
 */
static size_t buffered_line(co_stream *st, size_t limit)
{
    size_t span = min_size(st->rend - st->rstart, limit);
    if (span <= st->rscan)
        return 0;
    unsigned char *base = st->rbuf + st->rstart;
    unsigned char *nl = memchr(base + st->rscan, '\n', span - st->rscan);
    if (nl)
        return (size_t)(nl - base) + 1;
    st->rscan = (uint32_t)span;       /* span <= rcap */
    return 0;
}

/*
 * Receive into the free space after the buffered bytes, making room first
 * (the caller has fewer than rcap bytes buffered).  The count, 0 at end of
 * stream (remembered), a negative errno, or CO_WOULDBLOCK.  A file only
 * starts its piece (CO_WOULDBLOCK): it lands in the buffer.
 */
static co_status fill(co_task *self, co_stream *st)
{
    if (st->rbuf && st->rstart == st->rend)
        free_buffer(st);
    if (!st->rbuf && st->file)
        return co__file_fill(self, st->file, min_size(st->rcap,
                                                      CO_POOL_CHUNK));
    if (!st->rbuf) {
        co_bytes in = { 0 };
        int n = receive_bytes(self, st, &in);
        if (n >= 0)
            adopt(st, &in, n);
        return n;
    }
    size_t cap = co__pool_block_size(st->rbuf);
    if (cap > st->rcap)
        cap = st->rcap;
    size_t room = cap - st->rend;
    if (st->rstart > 0 && (room == 0 || room < cap / 2)) {
        memmove(st->rbuf, st->rbuf + st->rstart, st->rend - st->rstart);
        st->rend -= st->rstart;
        st->rstart = 0;
        room = cap - st->rend;
    }
    if (room == 0) {        /* full, below rcap (> one chunk): grow */
        if (cap >= st->rcap)
            return -EMSGSIZE;   /* callers never fill a full stream */
        size_t bigger = cap > st->rcap / 2 ? st->rcap : 2 * cap;
        unsigned char *b = co__pool_try_take(bigger);
        if (!b)
            return -ENOBUFS;
        memcpy(b, st->rbuf, st->rend);
        co__pool_give(st->rbuf);
        st->rbuf = b;
        room = bigger - st->rend;
    }
    if (st->file)
        return co__file_fill(self, st->file, min_size(room, CO_POOL_CHUNK));
    int n = co_socket_recv(self, st->sock, st->rbuf + st->rend, room, 0);
    if (n > 0)
        st->rend += (size_t)n;
    else if (n == 0)
        st->eof = 1;
    return n;
}

/* Whether a read of len bytes into an empty buffer should receive
 * straight into the caller's buffer, saving a copy: one at least as big
 * as the stream's buffer.  Not from a file: its piece lands later, when
 * the caller's buffer may be gone. */
static int direct(const co_stream *st, size_t len)
{
    return len >= st->rcap && !st->file;
}

/* Receive straight into the caller's buffer (the stream's is empty). */
static co_status recv_direct(co_task *self, co_stream *st, void *buf,
                             size_t len)
{
    int n = co_socket_recv(self, st->sock, buf, len, 0);
    if (n == 0)
        st->eof = 1;
    return n;
}

/* ------------------------------------------------------------ reading */

co_status co_stream_read(co_task *self, co_stream *st, void *buf,
                         size_t maxlen)
{
    int rc;
    if (stream_enter(self, st, buf || !maxlen, CO_IO_READ, &rc, NULL,
                     __func__))
        return rc;
    maxlen = min_size(maxlen, INT_MAX);
    if (maxlen == 0)
        return 0;
    for (;;) {
        size_t avail = st->rend - st->rstart;
        if (avail) {
            size_t n = min_size(avail, maxlen);
            take(st, buf, n);
            return (int)n;
        }
        if (st->eof)
            return 0;
        if (direct(st, maxlen)) {
            rc = recv_direct(self, st, buf, maxlen);
            return rc == CO_WOULDBLOCK ? blocked(st) : rc;
        }
        rc = fill(self, st);
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
    }
}

co_status co_stream_read_exactly(co_task *self, co_stream *st, void *buf,
                                 size_t n, size_t *got)
{
    int rc, args_ok = st && got && (buf || !n);
    if (args_ok && !co_wait_resumed(self))  /* a fresh call */
        *got = 0;
    if (stream_enter(self, st, args_ok, CO_IO_READ, &rc, NULL, __func__))
        return rc;
    unsigned char *out = buf;
    for (;;) {
        size_t k = min_size(st->rend - st->rstart, n - *got);
        if (k) {
            take(st, out + *got, k);
            *got += k;
        }
        if (*got == n)
            return 0;
        if (st->eof)
            return -EPIPE;
        size_t want = n - *got;
        if (direct(st, want)) {
            rc = recv_direct(self, st, out + *got, want);
            if (rc > 0)
                *got += (size_t)rc;
        } else {
            rc = fill(self, st);
        }
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
    }
}

co_status co_stream_readline(co_task *self, co_stream *st, void *buf,
                             size_t maxlen)
{
    int rc;
    if (stream_enter(self, st, buf && maxlen, CO_IO_READ, &rc, NULL,
                     __func__))
        return rc;
    size_t limit = min_size(maxlen, st->rcap);     /* rcap <= INT_MAX */
    for (;;) {
        size_t len = buffered_line(st, limit);
        if (len) {
            take(st, buf, len);
            return (int)len;
        }
        size_t avail = st->rend - st->rstart;
        if (avail >= limit)
            return -EMSGSIZE;
        if (st->eof) {              /* the last line, without its '\n' */
            if (avail)
                take(st, buf, avail);
            return (int)avail;
        }
        rc = fill(self, st);
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
    }
}

co_status co_stream_readall(co_task *self, co_stream *st, void *buf,
                            size_t maxlen, size_t *got)
{
    int rc, args_ok = st && got && (buf || !maxlen);
    if (args_ok && !co_wait_resumed(self))
        *got = 0;
    if (stream_enter(self, st, args_ok, CO_IO_READ, &rc, NULL, __func__))
        return rc;
    unsigned char *out = buf;
    for (;;) {
        size_t avail = st->rend - st->rstart;
        size_t k = min_size(avail, maxlen - *got);
        if (k) {
            take(st, out + *got, k);
            *got += k;
            avail -= k;
        }
        if (avail)                  /* full, and more came */
            return -EMSGSIZE;
        if (st->eof)
            return 0;
        size_t room = maxlen - *got;
        if (direct(st, room)) {
            rc = recv_direct(self, st, out + *got, room);
            if (rc > 0)
                *got += (size_t)rc;
        } else {
            rc = fill(self, st);    /* into the stream: may be the excess */
        }
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
    }
}

/*
 * Whole lines only: a line goes to buf once its '\n' (or the end of the
 * stream) has come, so that on any failure buf[0 .. *got) is *nlines
 * complete lines and a line still coming stays buffered, as readline
 * leaves it.  The progress is the caller's *got and *nlines, as readall's.
 */
co_status co_stream_readlines(co_task *self, co_stream *st, void *buf,
                              size_t maxlen, size_t *got, size_t *nlines)
{
    int rc, args_ok = st && got && nlines && (buf || !maxlen);
    if (args_ok && !co_wait_resumed(self))
        *got = *nlines = 0;
    if (stream_enter(self, st, args_ok, CO_IO_READ, &rc, NULL, __func__))
        return rc;
    unsigned char *out = buf;
    for (;;) {
        size_t room = maxlen - *got;
        size_t len = buffered_line(st, room);
        if (!len) {
            size_t avail = st->rend - st->rstart;
            if (avail > room)           /* no '\n' within room: no fit */
                return -ENOSPC;
            if (avail >= st->rcap)      /* as readline: too long a line */
                return -EMSGSIZE;
            if (st->eof) {
                if (avail == 0)
                    return 0;
                len = avail;            /* the last line, without '\n' */
            }
        }
        if (len) {
            take(st, out + *got, len);
            *got += len;
            ++*nlines;
            continue;
        }
        rc = fill(self, st);            /* avail < rcap: there is room */
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
    }
}

/* ------------------------------------------------------------ writing */

/* Send up to len bytes: to the socket, or handed to the file's thread. */
static co_status send_some(co_task *self, co_stream *st, const void *buf,
                           size_t len)
{
    if (st->file)
        return co__file_send(self, st->file, buf, len);
    return co_socket_send(self, st->sock, buf, len, 0);
}

co_status co_stream_write(co_task *self, co_stream *st, const void *buf,
                          size_t len, size_t *sent)
{
    int rc, args_ok = st && sent && (buf || !len);
    if (args_ok && !co_wait_resumed(self))
        *sent = 0;
    if (stream_enter(self, st, args_ok, CO_IO_WRITE, &rc, NULL, __func__))
        return rc;
    while (*sent < len) {
        rc = send_some(self, st, (const char *)buf + *sent, len - *sent);
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
        *sent += (size_t)rc;
    }
    return 0;
}

/* Copy the bytes from piece i, offset skip, onwards into dst, as many as
 * fit; the count. */
static size_t gather(unsigned char *dst, const struct iovec *iov, int iovcnt,
                     int i, size_t skip)
{
    size_t k = 0;
    for (; i < iovcnt && k < GATHER_BYTES; i++, skip = 0) {
        size_t m = min_size(iov[i].iov_len - skip, GATHER_BYTES - k);
        if (m)                      /* an empty piece may have no base */
            memcpy(dst + k, (const char *)iov[i].iov_base + skip, m);
        k += m;
    }
    return k;
}

/* writelines' arguments: every piece has a base, the total fits. */
static int iov_ok(const co_stream *st, const size_t *sent,
                  const struct iovec *iov, int iovcnt)
{
    if (!st || !sent || iovcnt < 0 || (!iov && iovcnt))
        return 0;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if ((!iov[i].iov_base && iov[i].iov_len) ||
            iov[i].iov_len > SIZE_MAX - total)
            return 0;
        total += iov[i].iov_len;
    }
    return 1;
}

co_status co_stream_writelines(co_task *self, co_stream *st,
                               const struct iovec *iov, int iovcnt,
                               size_t *sent)
{
    int rc, resumed = co_wait_resumed(self);
    int args_ok = resumed || iov_ok(st, sent, iov, iovcnt);
    if (args_ok && !resumed)
        *sent = 0;
    if (stream_enter(self, st, args_ok, CO_IO_WRITE, &rc, NULL, __func__))
        return rc;
    for (;;) {
        /* where *sent has got to: piece i, offset skip */
        size_t skip = *sent;
        int i = 0;
        while (i < iovcnt && skip >= iov[i].iov_len)
            skip -= iov[i++].iov_len;
        if (i == iovcnt)
            return 0;
        const void *p = (const char *)iov[i].iov_base + skip;
        size_t len = iov[i].iov_len - skip;
        unsigned char *gathered = NULL;
        /* Gathered again on each attempt, so nothing is held while the
         * task waits; without room in the pool, pieces go one by one. */
        if (len < GATHER_BYTES / 2 && i + 1 < iovcnt &&
            (gathered = co__pool_try_take(GATHER_BYTES))) {
            len = gather(gathered, iov, iovcnt, i, skip);
            p = gathered;
        }
        rc = send_some(self, st, p, len);
        co__pool_give(gathered);
        if (rc == CO_WOULDBLOCK)
            return blocked(st);
        if (rc < 0)
            return rc;
        *sent += (size_t)rc;
    }
}

/* A socket stream's flush is never suspended: only a fresh call's checks
 * (-EBADF, -EBUSY).  A file's waits for its writes behind. */
co_status co_stream_flush(co_task *self, co_stream *st)
{
    int rc;
    if (stream_enter(self, st, 1, CO_IO_WRITE, &rc, NULL, __func__))
        return rc;
    if (!st->file)
        return 0;
    rc = co__file_drain(self, st->file);
    return rc == CO_WOULDBLOCK ? blocked(st) : rc;
}

/* ------------------------------------------------------------ blocking */

/*
 * The stream's own state needs nothing on the way back: its buffer was
 * empty when the fd was lent and no operation ran meanwhile.  The
 * socket's readiness hint, stale after blocking code read or wrote the
 * fd, is reset by co_socket_set_blocking, which also refuses while a task
 * waits on the socket directly (not through the stream).
 */
int co_stream_blocking_begin(co_stream *st)
{
    if (!st)
        return -EINVAL;
    if (st->closed)
        return -EBADF;
    /* Buffered bytes would be lost to the blocking code; a task in an
     * operation would find the fd blocking, or its data taken. */
    if (st->handed_out || st->users || st->rend != st->rstart)
        return -EBUSY;
    if (st->file) {                 /* a file's fd is blocking already */
        int fd = co__file_fd_idle(st->file);
        if (fd >= 0)
            st->handed_out = 1;
        return fd;
    }
    int rc = co_socket_set_blocking(st->sock, 1);
    if (rc < 0)
        return rc;
    st->handed_out = 1;
    return co_socket_fd(st->sock);
}

int co_stream_blocking_end(co_stream *st)
{
    if (!st || !st->handed_out)
        return -EINVAL;
    if (st->file) {
        st->handed_out = 0;
        return 0;
    }
    /* If the fd cannot be made non-blocking, it stays lent: stream
     * operations must not block the kernel's thread in a system call. */
    int rc = co_socket_set_blocking(st->sock, 0);
    if (rc < 0)
        return rc;
    st->handed_out = 0;
    return 0;
}
