/*
 * pool_impl.h -- the kernel's pool from inside the library (private: not
 * installed): the pool itself (core/), and its blocks for the primitives
 * that receive and send (net/).  The public side is pool.h.
 */
#ifndef CO_POOL_IMPL_H
#define CO_POOL_IMPL_H

#include <stddef.h>

#include "pool.h"
#include "waits.h"

/* The kernel's memory for data in flight (pool.c), one per kernel. */
typedef struct co_pool {
    size_t limit;
    size_t in_use;             /* lent, plus room reserved for woken waiters */
    size_t peak;
    void *cache;               /* free chunks, chained through their header */
    unsigned cached;
    unsigned long waits;
    co_waitq waiters;          /* tasks waiting for room for a chunk */
} co_pool;

void co__pool_init(co_pool *p);
void co__pool_destroy(co_pool *p);

/* ------------------------------------------------------------ for primitives
 * (net/socket.c, net/stream.c): the pool's blocks.  A block is `size`
 * usable bytes, aligned to 16. */

/* A block of `size` bytes if it fits under the bound now, else NULL
 * (no room, or out of memory).  Never waits. */
void *co__pool_try_take(size_t size);

/*
 * Blocking: a chunk (CO_POOL_CHUNK bytes) into *out, waiting while the
 * pool is at its bound.  0, -ENOMEM, -ECANCELED / -ETIMEDOUT, or the
 * value another party woke the waiter with (co_wake: -EBADF from a close).
 * Waiters are served first come, first served, and a fresh caller does
 * not pass them.  A primitive that suspends here must evaluate this again
 * first on its re-evaluation: the room given to a woken waiter is reserved
 * for it, and only this call takes (or, on failure, releases) it.
 */
co_status co__pool_take_chunk(co_task *self, void **out);

/* Whether co__pool_take_chunk would return a chunk at once (room, and
 * nobody waiting for it). */
int co__pool_has_room(void);

/* Give a block back (NULL is ignored). */
void co__pool_give(void *block);

/* The usable size of a block. */
size_t co__pool_block_size(const void *block);

#endif /* CO_POOL_IMPL_H */
