/*
 * server.c -- TCP and Unix servers, and opening connections.
 *
 * A server is one coroutine on a co_server_frame: it makes the listening
 * socket (no blocking there), then accepts in a loop.  Each connection gets
 * a detached task running client_task(), whose frame is a small header
 * followed by a copy of the user's handler frame:
 *
 *     struct client_task { co_frame co; node; server; ... } | user frame
 *
 * client_task runs the handler on the embedded frame and, once it has
 * finished, closes the connection and leaves the server's list of live
 * clients.  Being detached, a client task that fails is reported by the
 * kernel when it ends, under the handler's name and at the handler's own
 * `file:line`.
 *
 * The server's own CO_FINALLY closes the listener, cancels the live client
 * tasks and waits -- with cancellation disabled -- until the list is empty:
 * a handler never outlives the server frame it points to.
 */
/* SO_REUSEPORT is a BSD/Linux extension */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../core/alloc_impl.h"
#include "../core/cancel.h"
#include "../core/errors.h"
#include "../core/task_impl.h"
#include "../core/timeout.h"
#include "server.h"
#include "socket_impl.h"

#define BACKOFF_SECONDS 0.1

enum { STATE_NEW, STATE_LISTENING, STATE_ENDED };

/* The frame of one connection's task; the handler's frame follows it. */
struct client_task {
    co_frame co;
    co_link node;                   /* in the server's priv.clients */
    co_server_frame *server;
    co_task *task;
    co_func handler;
    max_align_t user[];             /* the handler's frame */
};

static co_client *user_frame(struct client_task *c)
{
    return (co_client *)(void *)c->user;
}

/* ------------------------------------------------------------ bookkeeping */

/* Lists and queues are set up on first use, by the server or by an early
 * co_server_wait_ready, whichever comes first.  `self` tells a frame that
 * was set up from a copy of one (spawning copies frames). */
static void server_setup(co_server_frame *f)
{
    if (f->priv.self == f)
        return;
    memset(&f->priv, 0, sizeof f->priv);
    f->priv.self = f;
    f->priv.clients.next = f->priv.clients.prev = &f->priv.clients;
    co_waitq_init(&f->priv.clients_done);
    co_waitq_init(&f->priv.ready);
}

static int no_clients(const co_server_frame *f)
{
    return f->priv.clients.next == &f->priv.clients;
}

static void link_client(co_server_frame *f, struct client_task *c)
{
    co_link *head = &f->priv.clients;
    c->node.next = head;
    c->node.prev = head->prev;
    head->prev->next = &c->node;
    head->prev = &c->node;
    f->active++;
}

static void unlink_client(co_server_frame *f, struct client_task *c)
{
    c->node.prev->next = c->node.next;
    c->node.next->prev = c->node.prev;
    c->node.next = c->node.prev = NULL;
    f->active--;
    if (no_clients(f))
        co_waitq_wake_all(&f->priv.clients_done, 0);
}

static struct client_task *client_of(co_link *l)
{
    return (struct client_task *)(void *)((char *)l -
                                          offsetof(struct client_task, node));
}

/* Blocking: until every client task has left the list. */
static co_status wait_clients_done(co_task *self, co_server_frame *f)
{
    int rc;
    if (co_wait_enter(self, &rc))
        return rc;
    if (no_clients(f))
        return 0;
    return co_block(self, &f->priv.clients_done, CO_NO_DEADLINE);
}

/* ------------------------------------------------------------ one client */

/* Not written with the macros: it only passes the handler's suspensions
 * on, so the task's `where` (crash reports, deadlock reports) stays the
 * handler's own, and it cleans up once the handler has finished. */
static co_status client_task(co_task *t, void *frame)
{
    struct client_task *f = frame;
    co_client *u = user_frame(f);
    int rc = f->handler(t, u);
    if (rc == CO_WOULDBLOCK)
        return rc;
    co_socket_close(&u->client);    /* NULL: closed or given away */
    co_server_frame *srv = f->server;
    unlink_client(srv, f);
    /* A routine failure is no crash.  The task is detached: nobody sees
     * its result but the crash report, so 0 is what silences it. */
    if (rc < 0 && (srv->routine ? srv->routine(rc)
                                : co_server_routine_error(rc)))
        rc = 0;
    return rc;
}

/* Start a task for the connection just accepted; it owns the socket. */
static int start_client(co_task *self, co_server_frame *f)
{
    size_t size = offsetof(struct client_task, user) + f->handler_frame_size;
    co_task *task;
    int rc = co_spawn(self, &task, client_task, NULL, size,
                      &(const co_spawn_opts){
                          .name = f->handler_name ? f->handler_name
                                                  : "client",
                          .flags = CO_DETACHED });
    if (rc < 0)
        return rc;
    /* Spawning does not run the task: fill its frame in now. */
    struct client_task *c = co_task_frame(task);
    c->server = f;
    c->task = task;
    c->handler = f->handler;
    co_client *u = user_frame(c);
    if (f->handler_frame)
        memcpy(u, f->handler_frame, f->handler_frame_size);
    memset(&u->co, 0, sizeof u->co);
    u->client = f->priv.accepted;
    u->peer = f->priv.accepted_peer;
    u->server = f;
    link_client(f, c);
    return 0;
}

/* ------------------------------------------------------------ listening */

static int check_config(const co_server_frame *f, int is_unix)
{
    if (!f->handler || f->handler_frame_size < sizeof(co_client) ||
        f->handler_frame_size > UINT32_MAX / 2 || f->backlog < 0)
        return -EINVAL;
    if (is_unix)
        return f->path && *f->path ? 0 : -EINVAL;
    if (f->flags & ~(unsigned)(CO_SERVER_NO_REUSEADDR | CO_SERVER_REUSEPORT))
        return -EINVAL;
    return 0;
}

/* Make, bind and listen at addr; fill in the address.  Nothing blocks. */
static int open_listener(co_server_frame *f, int is_unix,
                         const co_sockaddr *addr)
{
    co_socket *s;
    int rc = co_socket_new(&s, addr->ss.ss_family, SOCK_STREAM, 0);
    if (rc < 0)
        return rc;
    const int on = 1;
    if (!is_unix && !(f->flags & CO_SERVER_NO_REUSEADDR))
        rc = co_socket_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (rc == 0 && !is_unix && (f->flags & CO_SERVER_REUSEPORT))
        rc = co_socket_setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    if (rc == 0)
        rc = co_socket_bind(s, addr);
    if (rc == 0 && is_unix) {
        struct stat st;
        if (stat(f->path, &st) == 0) {   /* to remove it later, if ours */
            f->priv.path_dev = st.st_dev;
            f->priv.path_ino = st.st_ino;
        }
    }
    if (rc == 0)
        rc = co_socket_listen(s, f->backlog ? f->backlog : CO_BACKLOG_MAX);
    if (rc == 0)
        rc = co_socket_getsockname(s, &f->address);
    if (rc < 0) {
        if (is_unix && f->priv.path_ino)
            unlink(f->path);
        f->priv.path_ino = 0;
        co_socket_close(&s);
        return rc;
    }
    f->bound_port = is_unix ? 0 : co_sockaddr_port(&f->address);
    f->priv.listener = s;
    return 0;
}

/* The server's host is a name, to be resolved first (listen_on_name). */
static int host_is_name(const co_server_frame *f, int is_unix)
{
    co_sockaddr addr;
    return !is_unix &&
           co_sockaddr_inet(&addr, f->family, f->host, f->port) == -ENOTSUP;
}

/* Listen at the path, or the numeric address, the server was given. */
static int open_listener_given(co_server_frame *f, int is_unix)
{
    co_sockaddr addr;
    int rc = is_unix ? co_sockaddr_unix(&addr, f->path)
                     : co_sockaddr_inet(&addr, f->family, f->host, f->port);
    return rc < 0 ? rc : open_listener(f, is_unix, &addr);
}

static void close_listener(co_server_frame *f, int is_unix)
{
    if (!f->priv.listener)
        return;
    co_socket_close(&f->priv.listener);
    struct stat st;
    if (is_unix && f->priv.path_ino && stat(f->path, &st) == 0 &&
        st.st_dev == f->priv.path_dev && st.st_ino == f->priv.path_ino)
        unlink(f->path);
    f->priv.path_ino = 0;
}

/* An error that says only that this kind of address cannot be used from
 * this machine (no IPv6, an address that is not ours, no route): another
 * of a name's addresses may do, and its error says more. */
static int unusable_here(int rc)
{
    return rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL || rc == -ENETUNREACH;
}

/*
 * Blocking: listen on the first address of the server's host name that
 * this machine can listen on, the name being resolved on the worker
 * threads (net/resolve.c).  Any other error (-EADDRINUSE, -EACCES) ends
 * the setup there: it is about the port, and binding the name's next
 * address instead would hide a server from the clients that find the
 * first.
 */
static co_status listen_on_name(co_task *self, co_server_frame *f)
{
    if (!co_wait_resumed(self))
        return co__resolve_start(self, f->family, f->host, f->port);
    co__addrs *a;
    int rc = co__resolve_finish(self, &a);
    if (rc != 0)
        return rc;
    for (int i = 0; i < a->count; i++)
        if ((rc = open_listener(f, 0, &a->addr[i])) == 0 ||
            !unusable_here(rc))
            break;
    free(a);
    return rc;
}

/* Errors accept returns for want of resources: wait and try again. */
static int is_shortage(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS ||
           rc == -ENOMEM;
}

/* Errors about one connection (see accept(2) on Linux): try the next. */
static void report_shortage(co_server_frame *f, int rc)
{
    double now = co_clock(), last = f->priv.shortage_at;
    f->backoffs++;
    f->priv.shortage_at = now;
    /* Once per episode.  An accept that takes the last free descriptor
     * does not end one: Linux takes a descriptor before it looks at the
     * queue, so the very next accept fails again even with nobody
     * waiting.  A shortage within two back-off periods of the last one
     * belongs to the same episode. */
    if (last != 0 && now - last < 2 * BACKOFF_SECONDS)
        return;
    char where[CO_SOCKADDR_STRLEN];
    co_sockaddr_format(&f->address, where, sizeof where);
    fprintf(stderr, "curio: server at %s: %s; pausing accepts for %.1f s "
                    "at a time until it passes\n",
            where, co_strerror(rc), BACKOFF_SECONDS);
}

/* ------------------------------------------------------------ the server */

static co_status serve(co_task *t, co_server_frame *f, int is_unix)
{
    CO_BEGIN(t, f);
    server_setup(f);
    f->task = t;
    f->priv.state = STATE_NEW;
    f->priv.listener = NULL;
    f->priv.shortage_at = 0;
    f->active = 0;
    f->accepted = f->backoffs = 0;
    f->bound_port = 0;
    if ((f->priv.rc = check_config(f, is_unix)) < 0 ||
        (f->priv.rc = co_check_cancellation(t)) < 0)
        CO_RETURN(f->priv.rc);
    if (host_is_name(f, is_unix))
        CO_AWAIT(f->priv.rc, listen_on_name(t, f));
    else
        f->priv.rc = open_listener_given(f, is_unix);
    if (f->priv.rc < 0)
        CO_RETURN(f->priv.rc);
    f->priv.state = STATE_LISTENING;
    co_waitq_wake_all(&f->priv.ready, f->bound_port);

    for (;;) {
        CO_AWAIT(f->priv.rc, co_socket_accept(t, f->priv.listener,
                                              &f->priv.accepted,
                                              &f->priv.accepted_peer));
        if (f->priv.rc == 0) {
            f->accepted++;
            if ((f->priv.rc = start_client(t, f)) < 0)
                co_socket_close(&f->priv.accepted); /* could not spawn */
            f->priv.accepted = NULL;    /* the handler's task owns it */
            if (f->priv.rc == 0)
                continue;
        }
        if (!is_shortage(f->priv.rc))
            CO_RETURN(f->priv.rc);   /* cancelled, timed out, ... */
        report_shortage(f, f->priv.rc);
        CO_AWAIT(f->priv.rc, co_sleep(t, BACKOFF_SECONDS));
        if (f->priv.rc < 0)
            CO_RETURN(f->priv.rc);
    }

    CO_FINALLY
    /* Tear down without interruption: the handlers point into this frame,
     * so it must not end before they have. */
    co_disable_cancellation(t);
    close_listener(f, is_unix);
    for (co_link *l = f->priv.clients.next; l != &f->priv.clients;
         l = l->next)
        co_task_cancel_nowait(client_of(l)->task);
    while (!no_clients(f))
        CO_AWAIT(f->priv.rc, wait_clients_done(t, f));
    co_enable_cancellation(t);
    f->priv.state = STATE_ENDED;
    f->priv.result = CO_RESULT();
    co_waitq_wake_all(&f->priv.ready, CO_RESULT() < 0 ? CO_RESULT()
                                                      : -ESHUTDOWN);
    CO_END;
}

co_status co_tcp_server(co_task *self, void *frame)
{
    return serve(self, frame, 0);
}

co_status co_unix_server(co_task *self, void *frame)
{
    return serve(self, frame, 1);
}

int co_server_routine_error(int result)
{
    return result == -ECONNRESET || result == -EPIPE ||
           result == -ETIMEDOUT || result == -ECANCELED;
}

/* The configuration a spawn copied: from `host` up to the fields the
 * server fills in. */
static int same_config(void *frame, const void *arg)
{
    const co_server_frame *run = frame, *src = arg;
    return run != src &&
           memcmp(&run->host, &src->host,
                  offsetof(co_server_frame, task) -
                      offsetof(co_server_frame, host)) == 0;
}

static int is_frame(void *frame, const void *arg)
{
    return frame == arg;
}

/* A frame no server has run on yet (never set up, no task): if a server
 * task runs on a copy of it, the caller waits on the copy's source, which
 * nothing will ever wake. */
static int copy_source(co_task *self, co_server_frame *f)
{
    if (f->priv.self == f || f->task ||
        co__task_find(co_tcp_server, is_frame, f) ||
        co__task_find(co_unix_server, is_frame, f))
        return 0;                   /* a server runs, or will, on f */
    co_task *t = co__task_find(co_tcp_server, same_config, f);
    if (!t)
        t = co__task_find(co_unix_server, same_config, f);
    if (!t)
        return 0;
    fprintf(stderr, "curio: co_server_wait_ready: task %u was handed the "
                    "frame server task %u was spawned from, not the one it "
                    "runs on (spawning copies frames): use "
                    "co_server_task_wait_ready(t, server_task)\n",
            (unsigned)co_task_id(self), (unsigned)co_task_id(t));
    return 1;
}

static co_status wait_ready(co_task *self, co_server_frame *f)
{
    server_setup(f);
    if (f->priv.state == STATE_LISTENING)
        return f->bound_port;
    if (f->priv.state == STATE_ENDED)
        return f->priv.result < 0 ? f->priv.result : -ESHUTDOWN;
    return co_block(self, &f->priv.ready, CO_NO_DEADLINE);
}

co_status co_server_wait_ready(co_task *self, co_server_frame *f)
{
    int rc;
    if (co_wait_begin(self, f != NULL, &rc))
        return rc;
    if (copy_source(self, f))      /* misuse seen in the kernel's state */
        return -EINVAL;
    return wait_ready(self, f);
}

co_status co_server_task_wait_ready(co_task *self, co_task *server)
{
    int rc;
    if (co_wait_begin(self, server && (server->fn == co_tcp_server ||
                                       server->fn == co_unix_server), &rc))
        return rc;
    return wait_ready(self, co_task_frame(server));
}

/* ------------------------------------------------------------ clients */

/*
 * A primitive made of primitives: the first evaluation makes the socket
 * (into the caller's frame, through `sock`) and starts the connect; the
 * evaluations after a suspension only carry the connect on.  Any failure
 * closes the socket, so nothing leaks on cancellation or timeout.
 */
static co_status connect_to(co_task *self, co_socket **sock, int addr_rc,
                            const co_sockaddr *addr)
{
    int rc;
    if (!co_wait_resumed(self)) {   /* a fresh call */
        /* THE RULE (core/waits.h): a bad address is a bad argument, and
         * refused with its own error (-ENOTSUP for a host name ...). */
        int args_ok = sock && addr_rc == 0;
        if (sock)
            *sock = NULL;           /* on every failure (server.h) */
        if (co_wait_begin(self, args_ok, &rc))
            return args_ok || !sock ? rc : addr_rc;
        if ((rc = co_socket_new(sock, addr->ss.ss_family, SOCK_STREAM, 0)) < 0)
            return rc;
    }
    rc = co_socket_connect(self, *sock, addr);
    if (rc == CO_WOULDBLOCK || rc >= 0)
        return rc;
    co_socket_close(sock);          /* sets *sock to NULL */
    return rc;
}

/* Make a socket for a's next address and start connecting it. */
static co_status attempt(co_task *self, co__addrs *a)
{
    const co_sockaddr *to = &a->addr[a->next];
    int rc = co_socket_new(&a->sock, to->ss.ss_family, SOCK_STREAM, 0);
    return rc < 0 ? rc : co_socket_connect(self, a->sock, to);
}

/*
 * Connect to a's addresses in turn, from a->next, until one takes: a
 * primitive on the record a lookup made (or "localhost"'s).  While an
 * attempt is under way *sock holds the record, which owns the attempt's
 * socket: the caller's frame is the one place that survives the
 * suspension, and the record must be found again to carry on or to free.
 * The record is freed when the call ends, whatever its result.
 *
 * The result is the first connection, or the last address's error --
 * unless that error only says its kind of address is unusable from here
 * (no IPv6: ::1 after 127.0.0.1 for "localhost"), and an earlier address
 * said more (-ECONNREFUSED).  A cancellation or a timeout ends it at
 * once: the next address is not tried.
 */
static co_status dial(co_task *self, co_socket **sock, co__addrs *a,
                      int resumed)
{
    int rc = resumed ? co_socket_connect(self, a->sock, &a->addr[a->next])
                     : attempt(self, a);
    while (rc != 0 && rc != CO_WOULDBLOCK) {
        co_socket_close(&a->sock);
        if (!a->err || !unusable_here(rc) || unusable_here(a->err))
            a->err = rc;
        if (++a->next == a->count) {
            rc = a->err;
            break;
        }
        if (co_wait_enter(self, &rc))  /* cancelled, timed out: no more */
            break;
        rc = attempt(self, a);
    }
    if (rc == CO_WOULDBLOCK) {
        *sock = (co_socket *)(void *)a;
        return rc;
    }
    *sock = a->sock;                /* connected, or NULL */
    free(a);
    return rc;
}

/* A fresh dial: nothing tried yet. */
static co_status dial_first(co_task *self, co_socket **sock, co__addrs *a)
{
    a->next = a->err = 0;
    a->sock = NULL;
    return dial(self, sock, a, 0);
}

/*
 * A host name is resolved first (net/resolve.c), and "localhost" stands
 * for two addresses too: their addresses are tried in turn (dial).  The
 * host tells a re-evaluation which path the call took (it must not
 * change, THE RULE); on the path of names, *sock is NULL while the lookup
 * runs and holds dial's record while it connects.
 */
co_status co_open_connection(co_task *self, co_socket **sock,
                             const char *host, int port)
{
    co_sockaddr addr;
    co__addrs *a;
    int rc = co_sockaddr_inet(&addr, AF_UNSPEC, host, port);
    int named = rc == -ENOTSUP || (rc == 0 && co__resolve_is_localhost(host));
    if (co_wait_resumed(self) && sock) {
        if (!named)                                   /* connecting */
            return connect_to(self, sock, 0, NULL);   /* addr unused */
        if (*sock)                                    /* dialing */
            return dial(self, sock, (co__addrs *)(void *)*sock, 1);
        if ((rc = co__resolve_finish(self, &a)) != 0) /* looked up */
            return rc;
        return dial_first(self, sock, a);
    }
    if (named && sock) {
        *sock = NULL;               /* on every failure (server.h) */
        if (rc == -ENOTSUP)
            return co__resolve_start(self, AF_UNSPEC, host, port);
        if (co_wait_begin(self, 1, &rc))
            return rc;
        if (!(a = co__alloc(sizeof *a)))
            return -ENOMEM;
        a->count = co__resolve_localhost(a->addr, CO_SOCKADDR_RESOLVE_MAX,
                                         AF_UNSPEC, port);
        return dial_first(self, sock, a);
    }
    if (rc == 0 && (!host || !*host))
        rc = -EINVAL;               /* "any address" is not a destination */
    return connect_to(self, sock, rc, &addr);
}

co_status co_open_unix_connection(co_task *self, co_socket **sock,
                                  const char *path)
{
    co_sockaddr addr;
    int rc = co_sockaddr_unix(&addr, path);
    return connect_to(self, sock, rc, &addr);
}

