/*
 * echodemo.c -- an echo server and its clients in one process, in under a
 * second.
 *
 *   1. co_tcp_server starts on 127.0.0.1, port 0: the system picks a free
 *      port, and co_server_wait_ready says which.
 *   2. one client sends a few lines and prints the echoes.
 *   3. three clients talk to the server at the same time; the server runs
 *      one handler task per connection, so their messages interleave.
 *   4. the server is cancelled: it cancels its handlers (none are left),
 *      closes the listening socket and returns -ECANCELED; a new connection
 *      is then refused.
 *
 * Everything runs in one thread, on one event loop: the server, its
 * handlers and the clients are all tasks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "net/server.h"

static double start;

static void say(const char *who, const char *what, const char *detail)
{
    printf("[%.2fs] %-9s %s%s\n", co_clock() - start, who, what,
           detail ? detail : "");
    fflush(stdout);
}

/* ------------------------------------------------------------ the server */

struct echo_frame {
    CO_CLIENT_HEADER;               /* co, client, peer, server: FIRST */
    int n, rc;
    size_t sent;
    char data[4096];
};

static co_status echo_handler(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    char peer[CO_SOCKADDR_STRLEN];
    CO_BEGIN(t, f);
    co_sockaddr_format(&f->peer, peer, sizeof peer);
    say("server", "connection from ", peer);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv(t, f->client, f->data,
                                      sizeof f->data, 0));
        if (f->n <= 0)
            break;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->client, f->data,
                                          (size_t)f->n, &f->sent));
        if (f->rc < 0)
            break;
    }
    co_sockaddr_format(&f->peer, peer, sizeof peer);
    say("server", "closed ", peer);
    CO_END;                         /* the server closes f->client */
}

/* ------------------------------------------------------------ a client */

/* Connects, sends `count` numbered messages `interval` seconds apart after
 * waiting `delay`, checks each echo, and closes. */
struct client_frame {
    co_frame co;
    const char *name;
    int port, count, i, rc;
    double delay, interval;
    co_socket *sock;
    size_t len, got, sent;
    char msg[64], echo[64];
};

static co_status client(co_task *t, void *arg)
{
    struct client_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, f->delay));
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1", f->port));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->i = 1; f->i <= f->count; f->i++) {
        if (f->i > 1)
            CO_AWAIT(f->rc, co_sleep(t, f->interval));
        f->len = (size_t)snprintf(f->msg, sizeof f->msg, "%s says hello #%d",
                                  f->name, f->i);
        say(f->name, "sends    ", f->msg);
        CO_AWAIT(f->rc, co_socket_sendall(t, f->sock, f->msg, f->len,
                                          &f->sent));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        for (f->got = 0; f->got < f->len; f->got += (size_t)f->rc) {
            CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->echo + f->got,
                                           f->len - f->got, 0));
            if (f->rc <= 0)
                CO_RETURN(f->rc < 0 ? f->rc : -ECONNRESET);
        }
        f->echo[f->len] = '\0';
        say(f->name, "received ", f->echo);
        if (strcmp(f->echo, f->msg) != 0)
            CO_RETURN(-EPROTO);
    }
    CO_FINALLY
    co_socket_close(&f->sock);
    CO_END;
}

/* ------------------------------------------------------------ main */

struct main_frame {
    co_frame co;
    co_task *server, *clients[3];
    co_server_frame *srv;
    co_socket *sock;
    int port, i, rc, result, failures;
};

static co_status demo(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    static const char *const names[] = { "alice", "bob", "carol" };
    char where[CO_SOCKADDR_STRLEN];
    co_server_frame server = CO_TCP_SERVER_INIT("127.0.0.1", 0, echo_handler,
                                                struct echo_frame);
    CO_BEGIN(t, f);
    start = co_clock();

    /* 1. the server, on a port of the system's choosing */
    if ((f->rc = CO_SPAWN(t, &f->server, co_tcp_server, server)) < 0)
        CO_RETURN(f->rc);
    f->srv = co_task_frame(f->server);  /* the running copy of `server` */
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    if (f->port < 0)
        CO_RETURN(f->port);
    co_sockaddr_format(&f->srv->address, where, sizeof where);
    say("main", "echo server listening at ", where);

    /* 2. one client */
    {
        struct client_frame c = { .name = "client", .port = f->port,
                                  .count = 3, .interval = 0.0 };
        CO_SPAWN(t, &f->clients[0], client, c);
    }
    CO_AWAIT(f->rc, co_task_join(t, f->clients[0], &f->result));
    say("main", "client done: ", co_strerror(f->result));
    f->failures += f->result < 0;

    /* 3. three at once, their messages interleaved in time */
    say("main", "three clients at once", NULL);
    for (f->i = 0; f->i < 3; f->i++) {
        struct client_frame c = {
            .name = names[f->i], .port = f->port, .count = 3,
            .delay = 0.01 * f->i, .interval = 0.03,
        };
        CO_SPAWN(t, &f->clients[f->i], client, c);
    }
    for (f->i = 0; f->i < 3; f->i++) {
        CO_AWAIT(f->rc, co_task_join(t, f->clients[f->i], &f->result));
        f->failures += f->result < 0;
    }
    snprintf(where, sizeof where, "%lu", f->srv->accepted);
    say("main", "all three done; connections accepted: ", where);

    /* 4. stop the server */
    CO_AWAIT(f->rc, co_task_cancel(t, f->server));
    CO_AWAIT(f->rc, co_task_join(t, f->server, &f->result));
    say("main", "server ended: ", co_strerror(f->result));
    CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1", f->port));
    say("main", "connecting again: ", co_strerror(f->rc));
    co_socket_close(&f->sock);

    CO_RETURN(f->failures ? -EPROTO : 0);
    CO_END;
}

static const char usage[] =
    "usage: echodemo\n"
    "An echo server on a free port and its clients, in one process:\n"
    "concurrent clients, then the server cancelled.  Takes no arguments.\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    struct main_frame f = { 0 };
    int rc = co_run(demo, &f, sizeof f);
    if (rc < 0) {
        fprintf(stderr, "echodemo: %s\n", co_strerror(rc));
        return 1;
    }
    return 0;
}
