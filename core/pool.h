/*
 * pool.h -- the kernel's memory for data in flight, with a bound.
 *
 * A server with ten thousand idle connections should hold no buffer for
 * any of them.  Data needs memory only while it is in flight: from the
 * receive that brought it until the send that passes it on has finished,
 * or while a stream holds bytes its reader has not taken yet.  The kernel
 * lends that memory from one pool:
 *
 *   - A receive (co_socket_recv_bytes, a stream's read) borrows a chunk of
 *     CO_POOL_CHUNK bytes only once the socket has data, and gives it back
 *     as soon as the data has gone.  Freed chunks are kept for the next
 *     borrower (last in, first out), so a server echoing on thousands of
 *     connections keeps using the same, cache-warm chunk.
 *   - A send that falls short keeps only its remainder: the unsent bytes
 *     move to a block of their own size and the chunk goes back.
 *   - Everything lent counts against a bound (co_pool_set_limit).  A
 *     receive that would pass it waits for room *before* it reads, so
 *     nothing read is ever dropped and the pool never grows past the
 *     bound: the peers are slowed down by TCP instead.  A send never
 *     waits for room: whatever it holds is already counted.
 *
 * The pool belongs to the kernel running in the calling thread; its
 * memory goes back to the system when the kernel is freed.
 */
#ifndef CO_POOL_H
#define CO_POOL_H

#include <stddef.h>

#include "api.h"
#include "task.h"

/* The block a receive borrows: the most one receive into pool memory
 * takes at once. */
#define CO_POOL_CHUNK 65536u

/* The bound when none is set: room for 1,024 chunks in flight at once. */
#define CO_POOL_DEFAULT_LIMIT ((size_t)64 << 20)

/*
 * Bytes received into pool memory: data[0 .. len).  Zero-initialise one in
 * a frame.  Empty (data NULL, len 0) until a receive fills it; it must be
 * given back -- by co_socket_sendall_bytes, which always does, or by
 * co_bytes_free -- before it is filled again.
 */
typedef struct co_bytes {
    unsigned char *data;
    size_t len;
    void *block;            /* private: the pool block holding the bytes */
} co_bytes;

/* Give the bytes' memory back to the pool and empty *b.  Safe on an empty
 * co_bytes and on NULL.  Must be called in the thread of the kernel the
 * bytes came from. */
CO_API void co_bytes_free(co_bytes *b);

typedef struct co_pool_stats {
    size_t in_use;          /* bytes lent now, counted against the limit */
    size_t peak;            /* the most in_use has been */
    size_t limit;
    size_t cached;          /* bytes of free chunks kept for reuse */
    unsigned long waits;    /* times a task waited for room */
} co_pool_stats;

/* Set the bound of the calling thread's kernel's pool.  0, or -EINVAL
 * below one chunk, -ESRCH with no kernel in this thread.  Lowering it
 * below what is lent now only makes borrowers wait until enough is back. */
CO_API int co_pool_set_limit(size_t bytes);

/* The pool's figures, or -ESRCH with no kernel in this thread. */
CO_API int co_pool_get_stats(co_pool_stats *out);

#endif /* CO_POOL_H */
