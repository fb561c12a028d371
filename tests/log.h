/*
 * log.h -- what the suites share: the event log they assert on, and a few
 * helpers for the I/O suites.
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
/* A result as a short word: CANCEL, TIMEOUT, EINVAL, EDEADLK, WOULDBLOCK,
 * else the number. */
const char *rcs(int rc);
/* A primitive that blocks on a wait queue until woken. */
co_status wait_on(co_task *t, co_waitq *q);

/* The number of open file descriptors (entries of /proc/self/fd). */
int count_fds(void);

/* Run fn as the main task on a copy of frame; it must return 0 and leave
 * the number of open fds as it found it. */
#define RUN(fn, frame)                                                      \
    do {                                                                    \
        int fds_before_ = count_fds();                                      \
        ck_assert_int_eq(co_run((fn), &(frame), sizeof(frame)), 0);         \
        ck_assert_int_eq(count_fds(), fds_before_);                         \
    } while (0)

/* The byte at offset i of every bulk transfer: not periodic over any short
 * length, so a lost, repeated or reordered chunk shows. */
unsigned char pattern_byte(size_t i);

#endif
