/*
 * alloc.c -- the fault-injection build's allocator hook (see
 * alloc_impl.h).  In a normal build this file defines nothing.
 */
#include "alloc_impl.h"

#ifdef CO_FAULT_INJECTION
#include <stdatomic.h>

#include "fault_impl.h"

/* Allocations that may still succeed; negative: all of them.  Atomic:
 * universal queues allocate from plain threads too. */
static atomic_long budget = -1;
static atomic_long attempts;

void co_fault_fail_after(long n)
{
    atomic_store(&budget, n);
}

long co_fault_attempts(void)
{
    return atomic_load(&attempts);
}

/* Whether this attempt is allowed: spends one unit of a non-negative
 * budget, and fails once it is spent. */
static int allowed(void)
{
    atomic_fetch_add(&attempts, 1);
    long b = atomic_load(&budget);
    while (b > 0 && !atomic_compare_exchange_weak(&budget, &b, b - 1)) {
    }
    return b != 0;
}

void *co__alloc(size_t n)
{
    return allowed() ? malloc(n) : NULL;
}

void *co__alloc_zeroed(size_t n, size_t size)
{
    return allowed() ? calloc(n, size) : NULL;
}

void *co__alloc_resize(void *p, size_t n)
{
    return allowed() ? realloc(p, n) : NULL;
}
#else
typedef int co__alloc_unused;   /* ISO C wants a declaration per file */
#endif
