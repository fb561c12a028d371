/*
 * pool_tasks.h -- what the test_pool_*.c suites share (core/pool.h and
 * what lends from it): the patterned bytes, the counters tasks report
 * through (AWAIT_COUNT), the fixture, and the tasks the scenarios spawn.
 *
 * Orders of events come from the scheduler: a spawned task runs in the next
 * cycle, and a co_yield lets every ready task run (and block) first.  Tasks
 * tell the test what they have done through counters and a wait queue
 * (AWAIT_COUNT), never through sleeps; a timer appears only where a timeout
 * is what is tested, or as a safety net around a big run.  Every test ends
 * by checking, inside its kernel, that the pool lends nothing, and after
 * the kernel has gone that no file descriptor leaked (RUN).
 */
#ifndef TESTS_POOL_TASKS_H
#define TESTS_POOL_TASKS_H

#include <stddef.h>
#include <sys/resource.h>

#include "curio.h"
#include "core/pool.h"

#define CHUNK ((size_t)CO_POOL_CHUNK)

#define KIB ((size_t)1 << 10)

co_pool_stats stats(void);
size_t in_use(void);

/* The patterned bytes every transfer sends: byte i is pattern_byte(i), so
 * that a reader checks with memcmp what a writer sent from pat + offset. */
extern unsigned char *pat;
extern size_t pat_len;

void pat_alloc(size_t len);

/* What the tasks have done, and the queue they wake at each step. */
extern co_waitq progress;
extern unsigned long echo_recvs, echo_sends;   /* pool_echo_task's rounds */
extern unsigned long handlers_ended, handler_failures;

void bump(unsigned long *counter);

/* Blocking: until *counter >= n. */
co_status wait_count(co_task *t, const unsigned long *counter,
                     unsigned long n);

#define AWAIT_COUNT(rc, t, counter, n)                                       \
    do {                                                                     \
        CO_AWAIT(rc, wait_count((t), &(counter), (n)));                      \
        ck_assert_int_eq(rc, 0);                                             \
    } while ((counter) < (n))

void pool_setup(void);
void pool_teardown(void);

/*
 * Fill s's send side from pat + off without blocking, until it takes not
 * even one more byte (the peer reads nothing meanwhile): the pieces halve
 * after each refusal, so that the last refusal is for a single byte.
 * Linux refuses a send on a Unix stream socket, whatever its size, once
 * the bytes it has queued reach its send buffer: any send on s now waits.
 * The count sent.
 */
size_t fill_send_side(co_socket *s, size_t off);

/* A small send buffer, so that a send falls short soon. */
void shrink_sndbuf(co_socket *s, int bytes);

/* The descriptor limit raised to the hard limit for the big tests. */
extern struct rlimit saved_limit;

rlim_t raise_fd_limit(void);
void restore_fd_limit(void);

/*
 * Echo through the pool until end of stream: recv_bytes, then
 * sendall_bytes of what came.  Counts its rounds in echo_recvs /
 * echo_sends (waking `progress`), checks that no receive exceeds a chunk,
 * shuts its write side down at the end if `shut`.  Returns the count
 * echoed, or the error.
 */
struct pool_echo_frame {
    co_frame co;
    co_socket *s;
    size_t maxlen;              /* asked of each recv_bytes */
    int shut;
    int n, rc;
    size_t total;
    co_bytes data;
};

co_status pool_echo_task(co_task *t, void *arg);

/* sendall pat[off .. off + len) (an ordinary send: not from the pool),
 * then shutdown(SHUT_WR) if `shut`.  0 or the error. */
struct writer_frame {
    co_frame co;
    co_socket *s;
    size_t off, len, sent;
    int shut, rc;
};

co_status pool_writer_task(co_task *t, void *arg);

/*
 * Read `want` bytes (SIZE_MAX: until end of stream) into an ordinary
 * buffer, checking each against pat[off ..].  0 with the count in `got`;
 * -EPROTO (noted) at the first wrong byte; -EPIPE if the stream ended
 * before `want`; or the error.
 */
struct verify_frame {
    co_frame co;
    co_socket *s;
    size_t off, want, got;
    size_t ask;                 /* this receive's length */
    int rc;
    unsigned char buf[16384];
};

co_status read_verify(co_task *t, void *arg);

/*
 * One recv_bytes of at most 64 bytes, optionally inside a timeout region;
 * logs "<name>=<n>:<data>" or "<name>=<error>".  With `go`, it then keeps
 * the bytes until the event is set (someone else may free them meanwhile:
 * that is what they are in the frame for).  The count, or the error.
 */
struct take_frame {
    co_frame co;
    co_socket *s;
    const char *name;
    double timeout;             /* > 0: a region around the receive */
    co_event *go;               /* non-NULL: hold the bytes until set */
    co_timeout to;
    co_bytes data;
    int rc, rc2;
};

co_status take_task(co_task *t, void *arg);

/* readline once from a stream; logs "<name>:<line without its newline>"
 * or "<name>:<error>"; the result. */
void send_now(co_socket *s, const char *msg);

#endif
