/*
 * io_impl.h -- what the library's own files use of core/io.c beyond
 * io.h (private: not installed).
 */
#ifndef CO_IO_IMPL_H
#define CO_IO_IMPL_H

#include "io.h"

/* Make io weak: a task waiting on it no longer keeps the kernel's loop
 * running, so a program whose other tasks all deadlock is still found
 * deadlocked.  For the debug monitor's sockets (core/monitor.c), which
 * wait for a console that may never come.  Only while no task waits. */
void co__io_set_weak(co_io *io);

#endif /* CO_IO_IMPL_H */
