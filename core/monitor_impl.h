/*
 * monitor_impl.h -- what core/monitor.c (the tasks) and
 * core/monitor_cmd.c (the commands) share.  Private: not installed.
 */
#ifndef CO_MONITOR_IMPL_H
#define CO_MONITOR_IMPL_H

#include <stdarg.h>
#include <stddef.h>

#include "kernel_impl.h"
#include "monitor.h"

/* The longest command line a console takes, '\n' excluded.  A longer one
 * is discarded up to its '\n' and answered with one error line: a peer
 * cannot make a console buffer without bound. */
#define CO__MONITOR_LINE_MAX 255

/* A reply being written: grows as needed (ps lists every task), freed
 * once sent.  `failed` once an allocation failed: the reply is then cut
 * short with a note saying so. */
typedef struct co__monitor_reply {
    char *p;
    size_t len, cap;
    int failed;
} co__monitor_reply;

void co__monitor_printf(co__monitor_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void co__monitor_reply_free(co__monitor_reply *r);

/* Run one command line (no '\n'; any bytes) in kernel k, appending its
 * answer to r.  Returns 1 for `quit`, else 0. */
int co__monitor_execute(co_kernel *k, const char *line, size_t len,
                        co__monitor_reply *r);

#endif /* CO_MONITOR_IMPL_H */
