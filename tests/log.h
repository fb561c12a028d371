/*
 * log.h -- what the suites share: the event log they assert on, the names
 * of results, and a primitive to block on (I/O helpers: helpers.h).
 *
 * Scenarios append short entries ("A:start", "join=42") and a test compares
 * the whole log with the exact sequence expected.
 */
#ifndef TESTS_LOG_H
#define TESTS_LOG_H

#include <check.h>
#include <stddef.h>

#include "curio.h"

extern char lg[8192];

/* Empty the log (each test's setup). */
void log_reset(void);
/* Append one space-separated entry, printf-style. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A result as a short word: CANCEL, TIMEOUT, WOULDBLOCK, the errno's name
 * (EINVAL, EBUSY, EPIPE...) for those the suites meet, else the number. */
const char *rcs(int rc);
/* A primitive that blocks on a wait queue until woken. */
co_status wait_on(co_task *t, co_waitq *q);

#endif
