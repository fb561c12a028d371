/*
 * slab_impl.h -- the kernel's allocator for task blocks (private to core/).
 *
 * malloc adds 8 bytes of header to each block and rounds to 16: a task
 * with a 32-byte frame (96 bytes with its header) costs 112.  A million
 * tasks must fit in 128 MiB, so the kernel carves task blocks of the small
 * sizes out of 64 KiB chunks instead, one free list per 16-byte size
 * class.  Blocks go back to their class's free list, chunks back to malloc
 * when the kernel is freed.
 *
 * Under AddressSanitizer the slab steps aside (co__slab_alloc returns NULL
 * and callers use malloc), so that a use of a freed task is still caught.
 */
#ifndef CO_SLAB_IMPL_H
#define CO_SLAB_IMPL_H

#include <stddef.h>

#define CO_SLAB_GRAIN 16u
#define CO_SLAB_CLASSES 33u             /* classes 1..32: up to 512 bytes */

typedef struct co_slab {
    void *free[CO_SLAB_CLASSES];        /* free blocks, chained through
                                           their first word */
    void *chunks;                       /* every chunk, chained likewise */
} co_slab;

/* A block of at least `size` bytes, aligned to 16; *cls receives its
 * class (> 0) for co__slab_free.  NULL when the size is too large for a
 * class, when the slab is disabled, or out of memory: use malloc then
 * (class 0). */
void *co__slab_alloc(co_slab *s, size_t size, unsigned *cls);
void co__slab_free(co_slab *s, void *block, unsigned cls);
/* The bytes of every chunk (co_kernel_get_stats; walks the chunks). */
size_t co__slab_bytes(const co_slab *s);
/* Give every chunk back; blocks still in use become invalid. */
void co__slab_destroy(co_slab *s);

#endif
