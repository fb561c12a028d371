/*
 * echoserv2.c -- Curio's second README echo server: the same as echoserv.c,
 * but co_tcp_server makes the listening socket, accepts, runs one handler
 * task per connection, and closes the connection when the handler ends.
 *
 *     from curio import run, tcp_server
 *
 *     async def echo_client(client, addr):
 *         print('Connection from', addr)
 *         while True:
 *             data = await client.recv(100000)
 *             if not data:
 *                 break
 *             await client.sendall(data)
 *         print('Connection closed')
 *
 *     if __name__ == '__main__':
 *         run(tcp_server, '', 25000, echo_client)
 *
 * Usage: echoserv2 [PORT] [--clients N]
 *
 * PORT defaults to 25000.  Ctrl-C stops it: the kernel cancels main, so
 * the server ends its clients' tasks and closes its socket before
 * co_run returns; with --clients N it exits by itself once N clients have
 * come and gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curio.h"
#include "net/server.h"

static int clients_left;            /* --clients N: stop after N; 0: never */

/* The frame holds what an idle connection needs and no more: `data` is
 * empty while the client is idle.  Received bytes live in memory lent by
 * the kernel's pool (core/pool.h) from the receive until the send has
 * finished with them -- the role of Python's `data` object. */
struct echo_client_frame {
    CO_CLIENT_HEADER;               /* co, client, peer, server: FIRST */
    co_bytes data;
    int n, rc;
};

static co_status echo_client(co_task *t, void *arg)
{
    struct echo_client_frame *f = arg;
    char addr[CO_SOCKADDR_STRLEN];
    CO_BEGIN(t, f);
    co_sockaddr_format(&f->peer, addr, sizeof addr);
    printf("Connection from %s\n", addr);
    fflush(stdout);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv_bytes(t, f->client, &f->data, 100000));
        if (f->n <= 0)
            break;
        CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->client, &f->data));
        if (f->rc < 0)
            break;
    }
    printf("Connection closed\n");
    fflush(stdout);
    /* With --clients N, the last one stops the server: cancelling the task
     * that runs it (here the main task) makes it cancel the handlers still
     * running, wait for them, close the listening socket and return. */
    if (clients_left > 0 && --clients_left == 0)
        co_task_cancel_nowait(f->server->task);
    CO_END;
}

static const char usage[] =
    "usage: echoserv2 [PORT] [--clients N]\n"
    "An echo server (Curio's README, with co_tcp_server).\n"
    "  PORT         port to listen on (default 25000)\n"
    "  --clients N  exit once N clients have come and gone\n";

int main(int argc, char **argv)
{
    co_server_frame server = CO_TCP_SERVER_INIT("", 25000, echo_client,
                                                struct echo_client_frame);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            clients_left = atoi(argv[++i]);
        else
            server.port = atoi(argv[i]);
    }
    int rc = co_run(co_tcp_server, &server, sizeof server);
    if (rc < 0 && rc != -ECANCELED) {
        fprintf(stderr, "echoserv2: %s\n", co_strerror(rc));
        return 1;
    }
    return 0;
}
