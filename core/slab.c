/*
 * slab.c -- fixed-size task blocks carved from 64 KiB chunks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc_impl.h"
#include "slab_impl.h"

#define CHUNK_BYTES (64u * 1024u)

#if defined(__SANITIZE_ADDRESS__)
#define CO_SLAB_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CO_SLAB_DISABLED 1
#endif
#endif
#ifndef CO_SLAB_DISABLED
#define CO_SLAB_DISABLED 0
#endif

/* A chunk starts with the link that chains it into s->chunks; blocks
 * follow, 16-byte aligned. */
#define CHUNK_HEADER CO_SLAB_GRAIN

/* Cut a new chunk into blocks of class `cls` and chain them all. */
static int refill(co_slab *s, unsigned cls)
{
    size_t block = (size_t)cls * CO_SLAB_GRAIN;
    char *chunk = co__alloc(CHUNK_BYTES);
    if (!chunk)
        return -ENOMEM;
    *(void **)(void *)chunk = s->chunks;
    s->chunks = chunk;
    size_t n = (CHUNK_BYTES - CHUNK_HEADER) / block;
    char *first = chunk + CHUNK_HEADER;
    for (size_t i = 0; i < n; i++) {
        char *b = first + i * block;
        *(void **)(void *)b = i + 1 < n ? b + block : s->free[cls];
    }
    s->free[cls] = first;
    return 0;
}

void *co__slab_alloc(co_slab *s, size_t size, unsigned *cls)
{
    unsigned c = (unsigned)((size + CO_SLAB_GRAIN - 1) / CO_SLAB_GRAIN);
    *cls = 0;
    if (CO_SLAB_DISABLED || size == 0 || c >= CO_SLAB_CLASSES)
        return NULL;
    if (!s->free[c] && refill(s, c) < 0)
        return NULL;
    void *b = s->free[c];
    s->free[c] = *(void **)b;
    *cls = c;
    return b;
}

void co__slab_free(co_slab *s, void *block, unsigned cls)
{
    *(void **)block = s->free[cls];
    s->free[cls] = block;
}

size_t co__slab_bytes(const co_slab *s)
{
    size_t n = 0;
    for (void *c = s->chunks; c; c = *(void **)c)
        n += CHUNK_BYTES;
    return n;
}

void co__slab_destroy(co_slab *s)
{
    while (s->chunks) {
        void *next = *(void **)s->chunks;
        free(s->chunks);
        s->chunks = next;
    }
    for (unsigned c = 0; c < CO_SLAB_CLASSES; c++)
        s->free[c] = NULL;
}
