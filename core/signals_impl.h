/*
 * signals_impl.h -- what the kernel and the monitor call in
 * core/signals.c.
 */
#ifndef CO_SIGNALS_IMPL_H
#define CO_SIGNALS_IMPL_H

#include "kernel.h"

/* kernel.c: co_kernel_run starts (main spawned) and ends; both do nothing
 * for a kernel that never used signals and runs with Ctrl-C off.  begin
 * installs the Ctrl-C default if it applies (signals.h); failing to (no
 * memory, no descriptor) leaves SIGINT alone and the run goes on. */
void co__signal_run_begin(co_kernel *k);
void co__signal_run_end(co_kernel *k);
/* kernel.c: co_kernel_free's part: the kernel's watchers stop watching,
 * the dispositions they held are put back. */
void co__signal_free(co_kernel *k);

/* monitor_cmd.c: the number of a signal named "USR1", "SIGUSR1" (either
 * case) or by its number; 0 if none.  And a number's name ("SIGUSR1"),
 * or NULL. */
int co__signal_by_name(const char *name);
const char *co__signal_name(int sig);

#endif
