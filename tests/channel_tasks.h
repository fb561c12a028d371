/*
 * channel_tasks.h -- what the test_channel_*.c suites share: a task that
 * echoes messages, a coroutine that checks round trips of the usual sizes,
 * a sender of raw bytes (to play a misbehaving peer), and the fixture.
 */
#ifndef TESTS_CHANNEL_TASKS_H
#define TESTS_CHANNEL_TASKS_H

#include <stddef.h>

#include "curio.h"

#define CHAN_BIG ((size_t)10 << 20)     /* the 10 MB message */

/* The patterned source of every message (channel_setup makes it). */
extern unsigned char *chan_big;

/* Every channel tcase's fixture: empties the log, makes chan_big; and
 * its teardown. */
void channel_setup(void);
void channel_teardown(void);

/* rcs() (log.h), knowing -EACCES too. */
const char *chan_rcs(int rc);

/* Echo every message on c back until the peer ends the stream (-EPIPE):
 * returns how many it echoed, or the first other error.  Closes c if
 * `close`. */
struct conn_echo_frame {
    co_frame co;
    co_conn *c;
    void *msg;
    size_t len;
    int rc, n, close;
};
co_status conn_echo(co_task *t, void *arg);

/* A coroutine (CO_AWAIT_CALL): send messages of 0, 5 and 10 MB bytes
 * (chan_big's, from offset 1) on c and check that each comes back intact
 * from an echoing peer.  0, or the first error. */
struct round_trips_frame {
    co_frame co;
    co_conn *c;
    int i, rc;
    void *msg;
    size_t len;
};
co_status round_trips(co_task *t, void *arg);

/* Send raw bytes on s (a misbehaving peer); closes s after if `close`. */
struct raw_send_frame {
    co_frame co;
    co_socket *s;
    const void *buf;
    size_t len, sent;
    int rc, close;
};
co_status raw_send(co_task *t, void *arg);

#endif
