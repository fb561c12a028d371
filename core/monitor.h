/*
 * monitor.h -- the debug monitor (Curio's monitor) and await chains.
 *
 * The monitor is a line-based TCP console served by the kernel's own
 * daemon tasks: connect with `nc 127.0.0.1 48802` (or examples/monitor)
 * and type `help`.  It is off by default.  co_kernel_enable_monitor turns
 * it on, or the environment variable CURIO_MONITOR, read when
 * co_kernel_run starts: `1` for 127.0.0.1:48802, or `host:port`.  The
 * commands (docs/reference.md, "core/monitor.h", shows a session):
 *
 *   ps            every task: id, name, state, cycles, deadline, where
 *   where N       task N's chain of nested awaits, outermost first
 *   parents N     task N, its parent, its parent's parent ...
 *   cancel N      request task N's cancellation
 *   signal NAME   send signal NAME (INT, SIGTERM, 10...) to the process
 *   stats         the kernel's statistics (core/diag.h)
 *   help, quit
 *
 * A prefix of a command works when only one command starts with it.
 *
 * It does not disturb the tasks it shows: its tasks are daemons, and the
 * sockets they wait on do not keep the kernel's loop alive, so a program
 * whose own tasks deadlock is still reported as deadlocked (and its
 * shutdown cancels the monitor with everything else).  While it is on,
 * the kernel records await chains (below), and counts each task's cycles.
 *
 * Await chains.  A task suspended inside nested coroutines is suspended at
 * one await per level: its body awaits a child, which awaits a child ...
 * which awaits a primitive.  While chain tracking is on, every suspension
 * records those awaits, and co_task_await_chain reads them.  Off, a
 * suspension costs nothing more than recording co_task_where.  A task
 * that suspended before tracking was turned on shows one level, its
 * co_task_where with no function, until it suspends again.
 */
#ifndef CO_MONITOR_H
#define CO_MONITOR_H

#include "api.h"
#include "kernel.h"
#include "task.h"

/* The monitor's default address (Curio's). */
#define CO_MONITOR_DEFAULT "127.0.0.1:48802"

/*
 * Turn the monitor on at host_port ("host:port", a numeric IPv4 or IPv6
 * address in brackets, or "localhost"; port 0 picks a free port, see
 * co_kernel_monitor_port), NULL for CO_MONITOR_DEFAULT.  Called before
 * co_kernel_run, it starts listening when the run starts; called from a
 * task of the running kernel, at once.  0; -EINVAL for a NULL kernel or a
 * malformed address; -EALREADY if the monitor is on; from a task, the
 * errors of socket/bind/listen (-EADDRINUSE ...).  When co_kernel_run
 * cannot start it, the run goes on without it and says so on stderr.
 */
CO_API int co_kernel_enable_monitor(co_kernel *k, const char *host_port);

/* The port the monitor listens on, or -ENOTCONN if it is not listening;
 * -EINVAL for NULL. */
CO_API int co_kernel_monitor_port(const co_kernel *k);

/* One level of an await chain: the function that awaits and where
 * ("file.c:123").  func is NULL when only the place is known. */
typedef struct co_await_site {
    const char *func;
    const char *where;
} co_await_site;

/* Levels recorded per suspension; a deeper chain keeps its outermost
 * level and the innermost CO_AWAIT_CHAIN_MAX - 1. */
#define CO_AWAIT_CHAIN_MAX 16

/*
 * Turn await-chain tracking on (1) or off (0) for kernel k (the monitor
 * turns it on).  Off drops the chains recorded so far.  0; -EINVAL for
 * NULL.
 */
CO_API int co_kernel_track_awaits(co_kernel *k, int on);

/*
 * The await chain of task t (of the calling thread's running kernel),
 * outermost first, into out[0 .. max): the number of levels stored (the
 * outermost max if there are more).  A blocked or ready task has at least
 * one level (see "Await chains" above); a running, finished or never-run
 * task has none.  *truncated (if not NULL) is set to the number of levels
 * not recorded, in a chain deeper than CO_AWAIT_CHAIN_MAX: they lie
 * between out[0] (the outermost) and out[1].
 * -EINVAL for a NULL t, a negative max, or a NULL out with max > 0.
 */
CO_API int co_task_await_chain(const co_task *t, co_await_site *out, int max,
                               int *truncated);

#endif /* CO_MONITOR_H */
