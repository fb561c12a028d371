/*
 * socket_tasks.h -- what the test_socket_*.c suites share: the bulk
 * buffer, the tasks their scenarios spawn (sendall, echo, accept, read,
 * recv, send), the main task's usual frame, and the fixture.
 *
 * Orders of events come from the scheduler: a spawned task runs in the next
 * cycle, and a co_yield lets every ready task run (and block) first.  Every
 * test counts the entries of /proc/self/fd before and after its kernel ran
 * (RUN, helpers.h): a socket must give its fd back.
 */
#ifndef TESTS_SOCKET_TASKS_H
#define TESTS_SOCKET_TASKS_H

#include <stddef.h>

#include "curio.h"

#define MIB ((size_t)1 << 20)

/* A patterned source buffer for the bulk tests (set up before co_run). */
extern unsigned char *big;
extern size_t big_len;

void big_alloc(size_t len);
void big_free(void);

/* Set by the tasks, read by the tests. */
extern co_task *writer_task;   /* the bulk writer, for the reader to see */
extern int writer_seen_blocked;   /* times the reader saw it blocked */
extern co_sockaddr peer_seen;   /* what accept reported */

/* Every socket tcase's fixture: empties the log and the variables above. */
void socket_setup(void);

/* A bound (and, for streams, listening) socket on host:0; its address with
 * the port the system chose goes to *bound. */
co_socket *bound_socket(int family, int type, const char *host,
                        co_sockaddr *bound);

/* sendall(buf, len); then shutdown(SHUT_WR) if `shut`.  Returns the count
 * sent, or the error (with the count in *sent_out, if set). */
struct sendall_frame {
    co_frame co;
    co_socket *s;
    const unsigned char *buf;
    size_t len, sent;
    size_t *sent_out;
    int shut, rc;
};
co_status sendall_task(co_task *t, void *arg);

/* Echo everything back until EOF, then shutdown(SHUT_WR); the count. */
struct echo_frame {
    co_frame co;
    co_socket *s;
    size_t total, sent;
    int rc, n;
    unsigned char buf[16384];
};
co_status echo_task(co_task *t, void *arg);

/* Accept one connection (its peer address goes to peer_seen), echo on it
 * until EOF, close it; the count echoed. */
struct acceptor_frame {
    co_frame co;
    co_socket *l, *c;
    co_sockaddr peer;
    int rc;
    struct echo_frame echo;
};
co_status acceptor_echo(co_task *t, void *arg);

/* Accept one connection and close it at once; logs "<name>=<result>". */
struct accept_frame {
    co_frame co;
    co_socket *l, *c;
    const char *name;
    int rc;
};
co_status accept_task(co_task *t, void *arg);

/* Read until EOF, checking every byte against pattern_byte(); optionally
 * pausing between reads (a slow peer).  Returns the count. */
struct reader_frame {
    co_frame co;
    co_socket *s;
    size_t chunk, got;
    double pause;
    int rc;
    unsigned char buf[65536];
};
co_status reader_task(co_task *t, void *arg);

/* One recv of at most 63 bytes; logs "<name>=<n>:<data>" or the error. */
struct recv_frame {
    co_frame co;
    co_socket *s;
    const char *name;
    int rc;
    char buf[64];
};
co_status recv_task(co_task *t, void *arg);

/* Logs "send", then sends a string (it fits: one send). */
struct send_frame {
    co_frame co;
    co_socket *s;
    const char *msg;
    int rc;
};
co_status send_task(co_task *t, void *arg);

/* Logs "<name>" when it runs. */
struct mark_frame {
    co_frame co;
    const char *name;
};
co_status mark_task(co_task *t, void *arg);

/* Main's frame for most scenarios. */
struct scene_frame {
    co_frame co;
    co_socket *p[2], *l, *c;
    co_task *a, *b, *d;
    co_sockaddr addr, addr2;
    co_timeout to;
    size_t sent, sent2;
    int rc, i;
    char buf[256];
};

/* Let the loop poll until task a has been woken (state "ready") but has
 * not run yet: yield while it is not; the kernel polls for I/O between
 * bounded runs of ready tasks. */
#define YIELD_UNTIL_READY(t, f)                                             \
    do {                                                                    \
        for ((f)->i = 0; (f)->i < 1000000                                   \
             && strcmp(co_task_state((f)->a), "ready") != 0; (f)->i++)      \
            CO_AWAIT((f)->rc, co_yield(t));                                 \
        ck_assert_str_eq(co_task_state((f)->a), "ready");                   \
    } while (0)

#endif
