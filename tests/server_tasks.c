/* server_tasks.c -- what the server suites share (see server_tasks.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "server_tasks.h"
#include "net/server.h"

int fds_before;

int logging;                 /* echo_handler notes its steps */

int started, ended;

co_waitq server_progress;

void server_setup(void)
{
    log_reset();
    logging = 0;
    started = ended = 0;
    co_waitq_init(&server_progress);
    fds_before = count_fds();
}

void server_teardown(void)
{
    ck_assert_int_eq(count_fds(), fds_before);
}

co_status server_wait_count(co_task *t, const int *counter, int n)
{
    int rc;
    if (co_wait_enter(t, &rc))
        return rc;
    if (*counter >= n)
        return 0;
    return co_block(t, &server_progress, CO_NO_DEADLINE);
}

co_status echo_handler(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    started++;
    co_waitq_wake_all(&server_progress, 0);
    if (logging)
        note("handler:start accepted=%lu", f->server->accepted);
    for (;;) {
        if (logging)
            note("handler:recv");
        CO_AWAIT(f->n, co_socket_recv(t, f->client, f->buf, sizeof f->buf,
                                      0));
        if (logging)
            note("handler:got=%d", f->n);
        if (f->n <= 0)
            CO_RETURN(f->n);
        if (f->n == 5 && memcmp(f->buf, "crash", 5) == 0)
            CO_RETURN(-EPROTO);
        CO_AWAIT(f->rc, co_socket_sendall(t, f->client, f->buf,
                                          (size_t)f->n, &f->sent));
        if (logging)
            note("handler:sent=%s", rcs(f->rc));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_FINALLY
    ended++;
    co_waitq_wake_all(&server_progress, 0);
    if (logging)
        note("handler:end=%s", rcs(CO_RESULT()));
    CO_END;
}

co_status echo_client(co_task *t, void *arg)
{
    struct client_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->name)
        note("%s:start", f->name);
    if (f->path)
        CO_AWAIT(f->rc, co_open_unix_connection(t, &f->sock, f->path));
    else
        CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1",
                                           f->port));
    if (f->name)
        note("%s:connect=%s", f->name, rcs(f->rc));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->len = strlen(f->msg);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->sock, f->msg, f->len, &f->sent));
    if (f->name)
        note("%s:sent=%s", f->name, rcs(f->rc));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->got = 0; f->got < f->len; f->got += (size_t)f->rc) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->echo + f->got,
                                       sizeof f->echo - 1 - f->got, 0));
        if (f->name)
            note("%s:got=%d", f->name, f->rc);
        if (f->rc <= 0)
            CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
    }
    f->echo[f->got] = '\0';
    CO_RETURN(strcmp(f->echo, f->msg) == 0 ? 0 : -EPROTO);
    CO_FINALLY
    co_socket_close(&f->sock);
    if (f->name)
        note("%s:end=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}
