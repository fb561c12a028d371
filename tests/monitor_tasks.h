/*
 * monitor_tasks.h -- the client side of a monitor console, for
 * tests/test_monitor.c: connect, send a line, read the answer up to the
 * prompt.
 */
#ifndef TESTS_MONITOR_TASKS_H
#define TESTS_MONITOR_TASKS_H

#include "curio.h"

struct console_frame {
    co_frame co;
    int port;
    co_socket *sock;
    const char *cmd;            /* the line to send, '\n' included */
    size_t cmd_len;
    int rc;
    int eof;                    /* the monitor closed the console */
    size_t len;
    char buf[16384];            /* the answer, NUL-terminated, no prompt */
    char cmd_buf[1100];         /* room for a line the caller builds */
};

/* Connect to 127.0.0.1:port and read the greeting into buf: 0, or a
 * negative errno. */
co_status console_open(co_task *t, void *arg);
/* Send cmd, then read until the prompt or the end of the stream: the
 * answer's length (0 for an empty one), or a negative errno. */
co_status console_ask(co_task *t, void *arg);

/* Whether the ps answer in buf has a row for task id (0: any id) with this
 * name and state, ending with where (NULL: anything). */
int console_row(const char *buf, unsigned id, const char *name,
                const char *state, const char *where);

#endif
