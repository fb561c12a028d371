/*
 * pool.c -- the kernel's memory for data in flight (see pool.h).
 *
 * A block is a 16-byte header holding its size, then the bytes.  `in_use`
 * counts the bytes of every block lent, plus the chunks reserved for
 * woken waiters that have not run yet: a waiter is woken only when its
 * chunk fits, and the room is counted at once, so a task that wakes always
 * finds it and no one who comes later can take it first.  Free chunks are
 * kept on a short LIFO list, so the next receive gets a warm one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc_impl.h"
#include "kernel_impl.h"
#include "pool_impl.h"

/* Free chunks kept: enough for the chunks a burst of receives borrows at
 * once, little enough not to matter (they are virtual until touched). */
#define CACHE_MAX 8u

/* Under AddressSanitizer every block goes back to free(), so that a use
 * after the give is caught (as the slab does). */
#if defined(__SANITIZE_ADDRESS__)
#define CO_POOL_NO_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CO_POOL_NO_CACHE 1
#endif
#endif
#ifndef CO_POOL_NO_CACHE
#define CO_POOL_NO_CACHE 0
#endif

typedef struct block_header {
    size_t size;
    void *next_free;                /* on the cache list */
} block_header;

_Static_assert(sizeof(block_header) == 16, "blocks stay 16-aligned");

static block_header *header_of(const void *block)
{
    return (block_header *)(void *)((char *)block - sizeof(block_header));
}

static void *bytes_of(block_header *h)
{
    return h + 1;
}

void co__pool_init(co_pool *p)
{
    *p = (co_pool){ .limit = CO_POOL_DEFAULT_LIMIT };
    co_waitq_init(&p->waiters);
}

void co__pool_destroy(co_pool *p)
{
    while (p->cache) {
        block_header *h = p->cache;
        p->cache = h->next_free;
        free(h);
    }
    p->cached = 0;
}

static void count(co_pool *p, size_t size)
{
    p->in_use += size;
    if (p->in_use > p->peak)
        p->peak = p->in_use;
}

static int fits(const co_pool *p, size_t size)
{
    return p->in_use <= p->limit && size <= p->limit - p->in_use;
}

/* The memory of a block whose room is already counted. */
static void *allocate(co_pool *p, size_t size)
{
    block_header *h;
    if (size == CO_POOL_CHUNK && p->cache) {
        h = p->cache;
        p->cache = h->next_free;
        p->cached--;
    } else if (!(h = co__alloc(sizeof *h + size))) {
        return NULL;
    }
    h->size = size;
    return bytes_of(h);
}

/* Wake waiters, oldest first, while their chunks fit: each one's room is
 * counted now, for it alone. */
static void serve_waiters(co_pool *p)
{
    while (!co_waitq_empty(&p->waiters) && fits(p, CO_POOL_CHUNK)) {
        count(p, CO_POOL_CHUNK);
        co_waitq_wake_one(&p->waiters, 0);
    }
}

void *co__pool_try_take(size_t size)
{
    co_kernel *k = co__kernel;
    if (!k || !fits(&k->pool, size))
        return NULL;
    void *b = allocate(&k->pool, size);
    if (b)
        count(&k->pool, size);
    return b;
}

int co__pool_has_room(void)
{
    co_kernel *k = co__kernel;
    return k && co_waitq_empty(&k->pool.waiters) &&
           fits(&k->pool, CO_POOL_CHUNK);
}

co_status co__pool_take_chunk(co_task *self, void **out)
{
    co_kernel *k = co__kernel;
    int rc = 0;
    if (co_wait_resumed(self)) {
        co_wait_enter(self, &rc);
        if (rc != 0)                /* cancelled, timed out, closed: no */
            return rc;              /* room was counted for us */
        if (!(*out = allocate(&k->pool, CO_POOL_CHUNK))) {
            k->pool.in_use -= CO_POOL_CHUNK;
            serve_waiters(&k->pool);
            return -ENOMEM;
        }
        return 0;
    }
    if (co_wait_enter(self, &rc))
        return rc;
    co_pool *p = &k->pool;
    if (co_waitq_empty(&p->waiters) && fits(p, CO_POOL_CHUNK)) {
        if (!(*out = allocate(p, CO_POOL_CHUNK)))
            return -ENOMEM;
        count(p, CO_POOL_CHUNK);
        return 0;
    }
    p->waits++;
    return co_block(self, &p->waiters, CO_NO_DEADLINE);
}

void co__pool_give(void *block)
{
    if (!block)
        return;
    block_header *h = header_of(block);
    co_kernel *k = co__kernel;
    if (!k) {                       /* the kernel is gone: nothing counts */
        free(h);
        return;
    }
    co_pool *p = &k->pool;
    p->in_use -= h->size;
    if (h->size == CO_POOL_CHUNK && !CO_POOL_NO_CACHE &&
        p->cached < CACHE_MAX) {
        h->next_free = p->cache;
        p->cache = h;
        p->cached++;
    } else {
        free(h);
    }
    serve_waiters(p);
}

size_t co__pool_block_size(const void *block)
{
    return block ? header_of(block)->size : 0;
}

void co_bytes_free(co_bytes *b)
{
    if (!b)
        return;
    co__pool_give(b->block);
    *b = (co_bytes){ 0 };
}

int co_pool_set_limit(size_t bytes)
{
    co_kernel *k = co__kernel;
    if (!k)
        return -ESRCH;
    if (bytes < CO_POOL_CHUNK)
        return -EINVAL;
    k->pool.limit = bytes;
    serve_waiters(&k->pool);
    return 0;
}

int co_pool_get_stats(co_pool_stats *out)
{
    co_kernel *k = co__kernel;
    if (!out)
        return -EINVAL;
    if (!k)
        return -ESRCH;
    const co_pool *p = &k->pool;
    *out = (co_pool_stats){ .in_use = p->in_use, .peak = p->peak,
                            .limit = p->limit,
                            .cached = (size_t)p->cached * CO_POOL_CHUNK,
                            .waits = p->waits };
    return 0;
}
