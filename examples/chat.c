/*
 * chat.c -- a chat server: every line a client sends goes to every other
 * client, prefixed with the sender's address.  After Curio's chat example
 * (examples/chat.py), without the name prompt.
 *
 * One handler task per client reads its lines; each client also has an
 * outbox (a bounded co_queue of messages) and a writer task that empties
 * it into the socket.  A sender never waits for a slow reader: when a
 * client's outbox is full, the message is dropped for that client (and
 * counted).  A line longer than MAX_LINE is passed on in pieces.  A new
 * client is greeted with "* welcome <its address>" and the others are
 * told "* joined" (and later "* left"), unless the server runs with
 * --quiet: in a room of thousands, every join would cost a message to
 * each member.
 *
 * Memory: an idle client costs its two tasks, its socket and stream, and
 * its outbox -- no buffer.  Lines are read into one buffer shared by all
 * clients (broadcast copies each line before the handler waits again), and
 * the stream holds received bytes only until they have been read.
 *
 * Try it:
 *     build/examples/chat 25000 &
 *     nc localhost 25000        (in two or more terminals)
 *
 * Usage: chat [PORT] [--clients N] [--quiet]
 *
 * PORT defaults to 25000.  With --clients N it exits by itself once N
 * clients have come and gone.  --quiet: no joined/left announcements.
 * Ctrl-C stops it cleanly: co_run cancels the main task, the server
 * (core/signals.h); every client's handler is cancelled, leaves the room
 * and closes its connection; it says "chat: stopped" and exits 0.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curio.h"
#include "net/server.h"
#include "net/stream.h"
#include "sync/queue.h"

#define MAX_LINE 1024
#define OUTBOX_SIZE 64

static int clients_left;            /* --clients N: stop after N; 0: never */
static int quiet;                   /* --quiet: no joined/left lines */

/* The line just read, by whichever handler read it: valid until that
 * handler next waits (one kernel, one thread). */
static char line[MAX_LINE + 1];     /* room for a '\n' we add */

/* ------------------------------------------------------------ members */

/* A connected client, as the others see it.  Lives in its handler's frame
 * (which does not move while the handler runs). */
struct member {
    struct member *next, *prev;
    char name[CO_SOCKADDR_STRLEN];
    co_queue box;                   /* messages for it: malloc'd strings */
    unsigned long dropped;          /* not queued: its box was full */
};

static struct member members = { .next = &members, .prev = &members };

/* Queue "<prefix><text>" (text is len bytes, ending in '\n') in m's box.
 * Never blocks: a full box loses the message.  (co_queue_put only blocks
 * on a full queue, which is checked first, so it returns at once: 0, or
 * -ECANCELED if self has been cancelled.) */
static void send_to(co_task *self, struct member *m, const char *prefix,
                    const char *text, size_t len)
{
    if (co_queue_full(&m->box)) {
        m->dropped++;
        return;
    }
    size_t n = strlen(prefix) + len;
    char *msg = malloc(n + 1);
    if (!msg)
        return;
    snprintf(msg, n + 1, "%s%.*s", prefix, (int)len, text);
    if (co_queue_put(self, &m->box, msg) != 0)
        free(msg);
}

/* "<from>: <text>" to every member except `from`. */
static void broadcast(co_task *self, struct member *from, const char *text,
                      size_t len)
{
    char prefix[sizeof from->name + 2];
    snprintf(prefix, sizeof prefix, "%s: ", from->name);
    for (struct member *m = members.next; m != &members; m = m->next)
        if (m != from)
            send_to(self, m, prefix, text, len);
}

/* ------------------------------------------------------------ writer */

/* Writes a client's box to its stream until cancelled (or a write fails). */
struct writer_frame {
    co_frame co;
    co_queue *box;
    co_stream *st;
    void *msg;
    size_t sent;
    int rc;
};

static co_status writer(co_task *t, void *arg)
{
    struct writer_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_queue_get(t, f->box, &f->msg));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        CO_AWAIT(f->rc, co_stream_write(t, f->st, f->msg, strlen(f->msg),
                                        &f->sent));
        free(f->msg);
        f->msg = NULL;
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_FINALLY;
    free(f->msg);
    if (CO_RESULT() == -EPIPE || CO_RESULT() == -ECONNRESET)
        CO_RETURN(0);                   /* the client went away: not a crash */
    CO_END;
}

/* ------------------------------------------------------------ handler */

struct chat_client_frame {
    CO_CLIENT_HEADER;                   /* co, client, peer, server: FIRST */
    struct member me;
    co_stream *st;
    co_task *writer;
    int joined, box_ready;
    void *msg;
    int rc;
    co_status n;
};

static co_status chat_client(co_task *t, void *arg)
{
    struct chat_client_frame *f = arg;
    CO_BEGIN(t, f);
    co_sockaddr_format(&f->peer, f->me.name, sizeof f->me.name);
    printf("Connection from %s\n", f->me.name);
    fflush(stdout);
    {
        /* Lines are small and go out as they come: without TCP_NODELAY,
         * Nagle's algorithm would hold one back until the client ACKs
         * the last, and a client that only listens delays its ACKs. */
        const int on = 1;
        co_socket_setsockopt(f->client, IPPROTO_TCP, TCP_NODELAY, &on,
                             sizeof on);
    }
    if ((f->rc = co_stream_new(&f->st, f->client, 0)) < 0)
        CO_RETURN(f->rc);
    f->client = NULL;                   /* the stream owns the socket now */
    if ((f->rc = co_queue_init(&f->me.box, CO_QUEUE_FIFO, OUTBOX_SIZE)) < 0)
        CO_RETURN(f->rc);
    f->box_ready = 1;
    {
        struct writer_frame w = { .box = &f->me.box, .st = f->st };
        if ((f->rc = CO_SPAWN(t, &f->writer, writer, w)) < 0)
            CO_RETURN(f->rc);
    }
    /* join the room */
    f->me.next = &members;
    f->me.prev = members.prev;
    members.prev->next = &f->me;
    members.prev = &f->me;
    f->joined = 1;
    {
        char welcome[sizeof f->me.name + 16];
        int n = snprintf(welcome, sizeof welcome, "%s\n", f->me.name);
        send_to(t, &f->me, "* welcome ", welcome, (size_t)n);
    }
    if (!quiet)
        broadcast(t, &f->me, "* joined\n", 9);

    for (;;) {
        CO_AWAIT(f->n, co_stream_readline(t, f->st, line, MAX_LINE));
        if (f->n == -EMSGSIZE) {        /* too long: pass it on in pieces */
            CO_AWAIT(f->n, co_stream_read(t, f->st, line, MAX_LINE));
        }
        if (f->n <= 0)
            break;                      /* end of stream, or an error */
        if (line[f->n - 1] != '\n')     /* a piece, or a last line */
            line[f->n++] = '\n';
        broadcast(t, &f->me, line, (size_t)f->n);
    }
    CO_FINALLY;
    /* The handler may itself be cancelled (server shutdown): hold
     * cancellation back while it cleans up. */
    co_disable_cancellation(t);
    if (f->joined) {                    /* leave the room */
        f->me.prev->next = f->me.next;
        f->me.next->prev = f->me.prev;
        if (!quiet)
            broadcast(t, &f->me, "* left\n", 7);
    }
    if (f->writer) {
        CO_AWAIT(f->rc, co_task_cancel(t, f->writer));
        CO_AWAIT(f->rc, co_task_join(t, f->writer, NULL));
    }
    if (f->box_ready) {
        while (!co_queue_empty(&f->me.box)) {   /* undelivered messages */
            CO_AWAIT(f->rc, co_queue_get(t, &f->me.box, &f->msg));
            if (f->rc < 0)
                break;
            free(f->msg);
        }
        co_queue_free(&f->me.box);
    }
    co_enable_cancellation(t);
    if (f->me.dropped)
        printf("%s: %lu message(s) dropped (outbox full)\n", f->me.name,
               f->me.dropped);
    co_stream_close(&f->st);
    printf("Connection closed %s\n", f->me.name);
    fflush(stdout);
    /* With --clients N, the last one stops the server (cancelling the task
     * that runs it, the main task). */
    if (clients_left > 0 && --clients_left == 0)
        co_task_cancel_nowait(f->server->task);
    if (CO_RESULT() < 0 && CO_RESULT() != -ECANCELED)
        CO_RETURN(0);                   /* a reset connection is no crash */
    CO_END;
}

static const char usage[] =
    "usage: chat [PORT] [--clients N] [--quiet]\n"
    "A chat server: every line a client sends goes to the other clients.\n"
    "  PORT         port to listen on (default 25000)\n"
    "  --clients N  exit once N clients have come and gone\n"
    "  --quiet      no joined/left announcements\n"
    "Ctrl-C stops it cleanly (exit status 0).\n";

int main(int argc, char **argv)
{
    co_server_frame server = CO_TCP_SERVER_INIT("", 25000, chat_client,
                                                struct chat_client_frame);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            clients_left = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else
            server.port = atoi(argv[i]);
    }
    int rc = co_run(co_tcp_server, &server, sizeof server);
    if (rc < 0 && rc != -ECANCELED) {
        fprintf(stderr, "chat: %s\n", co_strerror(rc));
        return 1;
    }
    printf("chat: stopped\n");       /* Ctrl-C, or --clients N done */
    return 0;
}
