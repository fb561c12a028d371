/*
 * alloc_impl.h -- every allocation the library makes goes through here
 * (private to the library: not installed).
 *
 * In a normal build these are the C library's functions.  In the
 * fault-injection build (-DCO_FAULT_INJECTION, `make check` builds one
 * beside the normal library) they consult a counter first, so that the
 * fault suite (tests/fault/) can make the n-th allocation from now fail
 * and check that every out-of-memory path reports -ENOMEM and leaves
 * everything consistent: nothing lost, nothing leaked, no lock held twice.
 */
#ifndef CO_ALLOC_IMPL_H
#define CO_ALLOC_IMPL_H

#include <stdlib.h>

#ifdef CO_FAULT_INJECTION
void *co__alloc(size_t n);
void *co__alloc_zeroed(size_t n, size_t size);
void *co__alloc_resize(void *p, size_t n);
#else
#define co__alloc malloc
#define co__alloc_zeroed calloc
#define co__alloc_resize realloc
#endif

#endif
