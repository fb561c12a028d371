/*
 * helpers.h -- what the I/O suites share besides the log (log.h): the fd
 * count every I/O test checks, the patterned bytes of bulk transfers, and
 * a connected socketpair.
 */
#ifndef TESTS_HELPERS_H
#define TESTS_HELPERS_H

#include <check.h>
#include <stddef.h>

#include "curio.h"

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
/* A malloc'd buffer of len bytes, byte i being pattern_byte(i): what a
 * bulk writer sends from (set up before co_run; free() it after). */
unsigned char *pattern_alloc(size_t len);

/* co_run(fn, frame, size) with stderr going to a temporary file, whose
 * contents end up in `captured` (what the kernel reported: crashes,
 * deadlocks).  While it runs, reported_yet(needle) says whether needle
 * has been written to stderr so far. */
extern char captured[16384];
int run_capturing_stderr(co_func fn, const void *frame, size_t size);
int reported_yet(const char *needle);

/* A connected pair of stream sockets (co_socketpair), inside a task; the
 * test fails if there is none. */
void open_socketpair(co_socket *pair[2]);

/* A task that reads one line from st and notes "name:line" (without its
 * newline) or "name:ERROR"; returns what readline returned. */
struct stream_liner_frame {
    co_frame co;
    co_stream *st;
    const char *name;
    int rc;
    char buf[256];
};

co_status stream_liner(co_task *t, void *arg);

/* Run fn in a child process with its stderr captured; assert that it died
 * of SIGABRT and that what it said contains every one of `texts` (NULL
 * ends the list).  Independent of Check's fork mode. */
void expect_abort(void (*fn)(void), const char *const *texts);

#endif
