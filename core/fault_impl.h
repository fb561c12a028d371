/*
 * fault_impl.h -- the fault-injection build's controls (-DCO_FAULT_INJECTION).
 * Only the library built that way (`make check` builds it for
 * tests/fault/) defines these; programs never use them.
 */
#ifndef CO_FAULT_IMPL_H
#define CO_FAULT_IMPL_H

/* The library's next n allocations succeed, every later one fails, until
 * called again; n < 0: never fail (the default). */
void co_fault_fail_after(long n);

/* Allocations the library has attempted so far. */
long co_fault_attempts(void);

#endif
