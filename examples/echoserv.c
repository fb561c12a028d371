/*
 * echoserv.c -- the first echo server of Curio's README, in C.
 *
 *     from curio import run, spawn
 *     from curio.socket import *
 *
 *     async def echo_server(address):
 *         sock = socket(AF_INET, SOCK_STREAM)
 *         sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
 *         sock.bind(address)
 *         sock.listen(5)
 *         print('Server listening at', address)
 *         async with sock:
 *             while True:
 *                 client, addr = await sock.accept()
 *                 await spawn(echo_client, client, addr, daemon=True)
 *
 *     async def echo_client(client, addr):
 *         print('Connection from', addr)
 *         async with client:
 *              while True:
 *                  data = await client.recv(100000)
 *                  if not data:
 *                      break
 *                  await client.sendall(data)
 *         print('Connection closed')
 *
 *     if __name__ == '__main__':
 *         run(echo_server, ('',25000))
 *
 * Two changes for C.  Python's recv returns a new bytes object; here
 * co_socket_recv_bytes returns the bytes in memory lent by the kernel's
 * pool (core/pool.h), only once the client has sent something, and
 * co_socket_sendall_bytes gives it back once sent -- so an idle connection
 * holds no buffer at all, and a send that falls short keeps only the bytes
 * still to go.  And the listen backlog is the system's maximum, not
 * Curio's 5: a burst of connects beyond the backlog is dropped by the
 * kernel, and each dropped client retries only after 1 s, 3 s, 7 s ...
 *
 * Usage: echoserv [PORT] [--clients N]
 *
 * PORT defaults to 25000.  Try it with examples/echoclient, or
 * `nc localhost 25000`.  Ctrl-C stops it cleanly: co_run cancels the main
 * task (core/signals.h), whose cleanup closes the listening socket, the
 * clients' tasks are cancelled and close theirs, and it says "echoserv:
 * stopped" and exits 0 (a second Ctrl-C while that runs ends it at once).
 * With --clients N it exits by itself once N clients have come and gone.
 * examples/echoserv2.c is the same server written with co_tcp_server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curio.h"
#include "net/server.h"

static int clients_left;            /* --clients N: stop after N; 0: never */
static co_task *server_task;

/* ------------------------------------------------------------ one client */

struct echo_client_frame {
    co_frame co;
    co_socket *client;
    co_sockaddr addr;
    co_bytes data;                 /* empty while the client is idle */
    int n, rc;
};

static co_status echo_client(co_task *t, void *arg)
{
    struct echo_client_frame *f = arg;
    char where[CO_SOCKADDR_STRLEN];
    CO_BEGIN(t, f);
    co_sockaddr_format(&f->addr, where, sizeof where);
    printf("Connection from %s\n", where);
    fflush(stdout);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv_bytes(t, f->client, &f->data,
                                            100000));
        if (f->n <= 0)              /* end of stream, or an error */
            break;
        CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->client, &f->data));
        if (f->rc < 0)
            break;
    }
    CO_FINALLY                      /* Python's `async with client:` */
    co_socket_close(&f->client);
    printf("Connection closed\n");
    fflush(stdout);
    if (clients_left > 0 && --clients_left == 0)
        co_task_cancel_nowait(server_task);  /* that was the last one */
    CO_END;
}

/* ------------------------------------------------------------ the server */

struct echo_server_frame {
    co_frame co;
    const char *host;
    int port;
    co_socket *sock;
    struct echo_client_frame client;   /* filled in, then copied by spawn */
    int rc;
};

static co_status echo_server(co_task *t, void *arg)
{
    struct echo_server_frame *f = arg;
    co_sockaddr address;
    const int on = 1;
    CO_BEGIN(t, f);
    server_task = t;
    if ((f->rc = co_socket_new(&f->sock, AF_INET, SOCK_STREAM, 0)) < 0)
        CO_RETURN(f->rc);
    co_socket_setsockopt(f->sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if ((f->rc = co_sockaddr_inet(&address, AF_INET, f->host, f->port)) < 0 ||
        (f->rc = co_socket_bind(f->sock, &address)) < 0 ||
        (f->rc = co_socket_listen(f->sock, CO_BACKLOG_MAX)) < 0)
        CO_RETURN(f->rc);
    printf("Server listening at ('%s', %d)\n", f->host, f->port);
    fflush(stdout);
    for (;;) {
        CO_AWAIT(f->rc, co_socket_accept(t, f->sock, &f->client.client,
                                         &f->client.addr));
        if (f->rc < 0)
            break;
        f->rc = co_spawn(t, NULL, echo_client, &f->client, sizeof f->client,
                         &(const co_spawn_opts){ .name = "echo_client",
                                                 .flags = CO_DAEMON });
        if (f->rc < 0)
            co_socket_close(&f->client.client);
    }
    CO_FINALLY                      /* Python's `async with sock:` */
    co_socket_close(&f->sock);      /* -EBADF if never opened: harmless */
    CO_END;
}

static const char usage[] =
    "usage: echoserv [PORT] [--clients N]\n"
    "An echo server (Curio's README, with bare sockets).\n"
    "  PORT         port to listen on (default 25000)\n"
    "  --clients N  exit once N clients have come and gone\n"
    "Ctrl-C stops it cleanly (exit status 0).\n";

int main(int argc, char **argv)
{
    struct echo_server_frame f = { .host = "", .port = 25000 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            clients_left = atoi(argv[++i]);
        else
            f.port = atoi(argv[i]);
    }
    int rc = co_run(echo_server, &f, sizeof f);
    if (rc < 0 && rc != -ECANCELED) {
        fprintf(stderr, "echoserv: %s\n", co_strerror(rc));
        return 1;
    }
    printf("echoserv: stopped\n");   /* Ctrl-C, or --clients N done */
    return 0;
}
