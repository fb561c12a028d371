/*
 * echoclient.c -- talk to an echo server: send a few lines, print what
 * comes back.
 *
 * Usage: echoclient [HOST [PORT]]     (default 127.0.0.1 25000)
 *
 * HOST is a numeric address or a name (resolved on the worker threads;
 * every address it stands for is tried in turn).
 * Start build/examples/echoserv or build/examples/echoserv2 first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curio.h"
#include "net/server.h"

static const char *const lines[] = {
    "Hello, echo server!\n",
    "Curio for C: tasks without stacks.\n",
    "Goodbye.\n",
};

struct client_frame {
    co_frame co;
    const char *host;
    int port;
    co_socket *sock;
    co_timeout to;
    const char *doing;              /* for the error message */
    size_t i, got, sent;
    int rc;
    char buf[256];
};

static co_status echo_client(co_task *t, void *arg)
{
    struct client_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, 5.0);   /* give up on a silent server */
    f->doing = "connecting to";
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, f->host, f->port));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    printf("Connected to %s:%d\n", f->host, f->port);
    for (f->i = 0; f->i < sizeof lines / sizeof *lines; f->i++) {
        f->doing = "sending to";
        CO_AWAIT(f->rc, co_socket_sendall(t, f->sock, lines[f->i],
                                          strlen(lines[f->i]), &f->sent));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        /* TCP is a stream: read until the whole line is back */
        f->doing = "receiving from";
        for (f->got = 0; f->got < strlen(lines[f->i]);) {
            CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->buf + f->got,
                                           sizeof f->buf - 1 - f->got, 0));
            if (f->rc <= 0)
                CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
            f->got += (size_t)f->rc;
        }
        f->buf[f->got] = '\0';
        printf("Received: %s", f->buf);
    }
    CO_FINALLY
    co_socket_close(&f->sock);
    f->rc = co_timeout_end(t, &f->to, CO_RESULT());
    if (f->rc < 0)
        fprintf(stderr, "echoclient: %s %s:%d: %s\n", f->doing, f->host,
                f->port, co_strerror(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static const char usage[] =
    "usage: echoclient [HOST [PORT]]\n"
    "Send a few lines to an echo server and print what comes back.\n"
    "  HOST  a numeric address or localhost (default 127.0.0.1)\n"
    "  PORT  default 25000\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    struct client_frame f = {
        .host = argc > 1 ? argv[1] : "127.0.0.1",
        .port = argc > 2 ? atoi(argv[2]) : 25000,
    };
    return co_run(echo_client, &f, sizeof f) < 0;
}
