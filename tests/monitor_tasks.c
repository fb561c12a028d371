/*
 * monitor_tasks.c -- see monitor_tasks.h.
 */
#include <stdio.h>
#include <string.h>

#include "monitor_tasks.h"

#define PROMPT "curio > "

/* Connect (open) or send cmd (ask), then read into f->buf until it ends
 * with the prompt (cut off) or the stream ends. */
static co_status exchange(co_task *t, struct console_frame *f, int open)
{
    size_t p = strlen(PROMPT), sent;
    CO_BEGIN(t, f);
    if (open) {
        CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1",
                                           f->port));
        f->eof = 0;
    } else {
        CO_AWAIT(f->rc, co_socket_sendall(t, f->sock, f->cmd, f->cmd_len,
                                          &sent));
    }
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->len = 0;
    f->buf[0] = '\0';
    for (;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->buf + f->len,
                                       sizeof f->buf - 1 - f->len, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0) {
            f->eof = 1;
            break;
        }
        f->len += (size_t)f->rc;
        f->buf[f->len] = '\0';
        if (f->len >= p && memcmp(f->buf + f->len - p, PROMPT, p) == 0) {
            f->len -= p;
            f->buf[f->len] = '\0';
            break;
        }
    }
    CO_RETURN((int)f->len);
    CO_END;
}

co_status console_open(co_task *t, void *arg)
{
    int rc = exchange(t, arg, 1);
    return rc > 0 ? 0 : rc;
}

co_status console_ask(co_task *t, void *arg)
{
    return exchange(t, arg, 0);
}

int console_row(const char *buf, unsigned id, const char *name,
                const char *state, const char *where)
{
    char want[128];
    snprintf(want, sizeof want, "%6u  %-20.20s %-8s ", id, name, state);
    size_t skip = id ? 0 : 8;          /* any id: compare from the name */
    for (const char *line = buf; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > skip + strlen(want + skip) &&
            strncmp(line + skip, want + skip, strlen(want + skip)) == 0) {
            if (!where)
                return 1;
            size_t w = strlen(where);
            if (n >= w + 2 && memcmp(line + n - w - 2, "  ", 2) == 0 &&
                memcmp(line + n - w, where, w) == 0)
                return 1;
        }
        if (!end)
            break;
        line = end + 1;
    }
    return 0;
}
