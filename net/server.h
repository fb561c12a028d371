/*
 * server.h -- TCP and Unix-domain servers and clients (Curio's
 * curio.network: tcp_server, unix_server, open_connection,
 * open_unix_connection).
 *
 * A server is a coroutine.  Fill in a co_server_frame (the initialiser
 * macros below set the usual fields) and either spawn it as a task or await
 * it inside your own coroutine:
 *
 *     struct echo_frame {
 *         CO_CLIENT_HEADER;            // co, client, peer, server: FIRST
 *         co_bytes data;               // empty while the client is idle
 *         int n, rc;
 *     };
 *
 *     static co_status echo_client(co_task *t, void *arg) {
 *         struct echo_frame *f = arg;
 *         CO_BEGIN(t, f);
 *         for (;;) {
 *             CO_AWAIT(f->n, co_socket_recv_bytes(t, f->client, &f->data,
 *                                                 100000));
 *             if (f->n <= 0)
 *                 break;
 *             CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->client,
 *                                                     &f->data));
 *             if (f->rc < 0)
 *                 break;
 *         }
 *         CO_END;                      // the server closes f->client
 *     }
 *
 *     co_server_frame srv = CO_TCP_SERVER_INIT("", 25000, echo_client,
 *                                              struct echo_frame);
 *     return co_run(co_tcp_server, &srv, sizeof srv);
 *
 * The server listens, then accepts connections until it is cancelled,
 * running the handler once per connection in a task of its own on a fresh
 * copy of the handler frame, whose header the server fills in.  The client
 * socket is closed when the handler ends, whatever its result.  A handler
 * that fails is reported on stderr as a "Task Crash", named after the
 * handler, unless its result is routine for a server (see `routine`: by
 * default -ECONNRESET, -EPIPE, -ETIMEDOUT, -ECANCELED); the server carries
 * on either way.
 *
 * Cancelling the server cancels the handlers still running, waits until
 * they have ended, closes the listening socket and returns -ECANCELED.
 * The server ends the same way (cancelling its handlers) with any other
 * error it cannot recover from, e.g. -ETIMEDOUT when it runs inside a
 * timeout region.  When accept runs out of file descriptors (-EMFILE,
 * -ENFILE) or memory, the server says so on stderr, waits 0.1 s and tries
 * again, still serving the connections it has.
 */
#ifndef CO_SERVER_H
#define CO_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "../core/api.h"
#include "../core/task.h"
#include "../core/waits.h"
#include "socket.h"

typedef struct co_server_frame co_server_frame;

/* ------------------------------------------------------------ handlers */

/*
 * The first members of every handler frame, filled in by the server before
 * the handler first runs:
 *   co      the coroutine header (zeroed)
 *   client  the connection.  Closed by the server when the handler ends
 *           (if still set).  A handler that closes it itself uses
 *           co_socket_close(&f->client), which sets it to NULL; one that
 *           hands it to another task that outlives the handler sets it to
 *           NULL.
 *   peer    the client's address (co_sockaddr_format prints it)
 *   server  the server's frame (valid while the handler runs: the server
 *           never ends before its handlers)
 */
#define CO_CLIENT_HEADER                                                     \
    co_frame co;                                                             \
    co_socket *client;                                                       \
    co_sockaddr peer;                                                        \
    co_server_frame *server

/* The header alone; a handler frame with no other state can be this. */
typedef struct co_client {
    CO_CLIENT_HEADER;
} co_client;

/* 0, and a compile-time error unless handler frame `type` begins with
 * CO_CLIENT_HEADER (the server writes those members in place).  The
 * initialisers below apply it. */
#define CO_CLIENT_FRAME_CHECK(type)                                          \
    (0 * sizeof(struct {                                                     \
        _Static_assert(offsetof(type, co) == 0 &&                            \
                       offsetof(type, client) ==                             \
                           offsetof(co_client, client) &&                    \
                       offsetof(type, peer) == offsetof(co_client, peer) &&  \
                       offsetof(type, server) ==                             \
                           offsetof(co_client, server),                      \
                       "a handler frame must begin with CO_CLIENT_HEADER");  \
        int co__ok;                                                          \
    }))

/* ------------------------------------------------------------ servers */

/* co_server_frame.flags */
enum {
    CO_SERVER_NO_REUSEADDR = 1u << 0, /* TCP: do not set SO_REUSEADDR (set
                                         by default, as Curio does) */
    CO_SERVER_REUSEPORT = 1u << 1,    /* TCP: set SO_REUSEPORT, so several
                                         servers can share one port */
};

/* Private to net/server.c. */
struct co__server_private {
    co_server_frame *self;      /* set on first use: the frame was not
                                   copied since (spawn copies frames) */
    co_socket *listener;
    co_link clients;            /* live client tasks (their frames) */
    co_waitq clients_done;      /* the server, waiting for them to end */
    co_waitq ready;             /* tasks in co_server_wait_ready */
    co_socket *accepted;        /* accept's results, before the spawn */
    co_sockaddr accepted_peer;
    dev_t path_dev;             /* Unix: the socket file we made, removed */
    ino_t path_ino;             /* at the end if it is still ours */
    int state;
    int result;                 /* the server's result once it has ended */
    int rc;
    double shortage_at;         /* co_clock() of the last shortage; 0:
                                   none yet */
};

struct co_server_frame {
    co_frame co;

    /* ---- configuration: set before starting ---- */
    const char *host;           /* TCP: a numeric address, "localhost"
                                   (127.0.0.1; ::1 for AF_INET6) or a
                                   host name (resolved during setup, see
                                   co_tcp_server); NULL or "": any IPv4
                                   address */
    int port;                   /* TCP: 0 lets the system choose (the chosen
                                   port: co_server_wait_ready, bound_port) */
    int family;                 /* TCP: AF_UNSPEC (the host's), AF_INET,
                                   AF_INET6 */
    const char *path;           /* Unix: the socket's path.  It must not
                                   exist; the server removes it when it
                                   ends. */
    co_func handler;            /* run once per connection */
    const void *handler_frame;  /* template copied for every connection; its
                                   header is overwritten.  NULL: a zeroed
                                   frame.  Must outlive the server. */
    size_t handler_frame_size;  /* >= sizeof(co_client) */
    const char *handler_name;   /* names the client tasks (crash reports);
                                   kept by pointer.  NULL: "client" */
    int (*routine)(int result); /* which negative handler results are
                                   routine, not reported as a Task Crash:
                                   nonzero for those.  NULL:
                                   co_server_routine_error */
    int backlog;                /* listen(2) backlog; 0: the system's
                                   maximum (CO_BACKLOG_MAX), so that a
                                   burst of connects is not dropped */
    unsigned flags;             /* CO_SERVER_* */

    /* ---- filled in by the server ---- */
    co_task *task;              /* the task running the server: cancel it
                                   to stop the server */
    co_sockaddr address;        /* the bound address, once listening */
    int bound_port;             /* TCP: the bound port, once listening */
    unsigned active;            /* handlers running now */
    unsigned long accepted;     /* connections accepted so far */
    unsigned long backoffs;     /* accepts postponed for lack of file
                                   descriptors or memory */

    struct co__server_private priv;
};

/*
 * Initialisers for a server frame: the handler function, and the type of
 * its frame (which starts with CO_CLIENT_HEADER).  Other fields (backlog,
 * flags, family, handler_frame...) can be added after these, as in
 *     co_server_frame s = CO_TCP_SERVER_INIT("::1", 0, fn, struct fn_frame);
 *     s.backlog = 1024;
 * or assigned with a cast: f->srv = (co_server_frame)CO_TCP_SERVER_INIT(...).
 */
#define CO_TCP_SERVER_INIT(host_, port_, handler_, frame_type)               \
    { .host = (host_), .port = (port_), .handler = (handler_),               \
      .handler_frame_size = sizeof(frame_type) +                             \
                            CO_CLIENT_FRAME_CHECK(frame_type),               \
      .handler_name = #handler_ }

#define CO_UNIX_SERVER_INIT(path_, handler_, frame_type)                     \
    { .path = (path_), .handler = (handler_),                                \
      .handler_frame_size = sizeof(frame_type) +                             \
                            CO_CLIENT_FRAME_CHECK(frame_type),               \
      .handler_name = #handler_ }

/* The default of co_server_frame.routine: -ECONNRESET, -EPIPE, -ETIMEDOUT
 * (a client that went away or was too slow) and -ECANCELED are routine;
 * anything else a handler returns below 0 is reported. */
CO_API int co_server_routine_error(int result);

/*
 * The servers: coroutines on a co_server_frame.  Spawn one (CO_SPAWN) or
 * await it (CO_AWAIT_CALL).  They run until cancelled and then return
 * -ECANCELED, after their handlers have ended and the listening socket is
 * closed.  Setup errors come back before anything is accepted: -EINVAL
 * (no handler, handler_frame_size too small, no path, a malformed
 * address...), -EADDRINUSE, -EACCES ...
 *
 * A TCP server's host may be a name: the server resolves it during setup
 * as co_sockaddr_resolve_all does (on a worker thread; other tasks run
 * on, and a cancellation during the lookup ends the server at once) and
 * listens on the first of its addresses this machine can listen on.  An
 * address that is not this machine's, or of a family it lacks, is skipped
 * (-EADDRNOTAVAIL, -EAFNOSUPPORT, -ENETUNREACH); any other error ends the
 * setup with it (-EADDRINUSE, -EACCES: about the port, which the next
 * address would only hide).  -ENXIO for a name that does not exist,
 * -EAGAIN if the resolver failed for now.  co_server_wait_ready returns
 * once the lookup is over and the server listens.
 */
CO_API co_status co_tcp_server(co_task *self, void *frame);
CO_API co_status co_unix_server(co_task *self, void *frame);

/*
 * Blocking: wait until the server the task `server` runs is listening.
 * Returns the bound port (TCP; 0 for a Unix server), or the server's
 * result if it failed to start or has already ended; -EINVAL if `server`
 * is NULL or does not run co_tcp_server / co_unix_server.  The form to use
 * for a spawned server: it cannot be handed the wrong frame.
 *     CO_SPAWN(t, &f->srv_task, co_tcp_server, f->config);
 *     CO_AWAIT(f->port, co_server_task_wait_ready(t, f->srv_task));
 *     co_server_frame *running = co_task_frame(f->srv_task);
 */
CO_API co_status co_server_task_wait_ready(co_task *self, co_task *server);

/*
 * The same, given the running server's frame: for a server awaited with
 * CO_AWAIT_CALL, the frame it runs on; for a spawned one,
 * co_task_frame(server_task) -- NOT the frame it was spawned from, which
 * spawning copied and no server runs on.  Handed such a copy source while
 * a server task runs on its copy, it says so on stderr and returns -EINVAL
 * at once (it would otherwise wait forever).
 */
CO_API co_status co_server_wait_ready(co_task *self, co_server_frame *server);

/* ------------------------------------------------------------ clients */

/*
 * Blocking: connect a new TCP socket to host:port; *sock is the connected
 * socket (yours to close).  On failure *sock is NULL and nothing is left
 * open: -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, -ECANCELED ...
 *
 * host is a numeric IPv4 or IPv6 address, "localhost", or a host name,
 * resolved as co_sockaddr_resolve_all does (on a worker thread: other
 * tasks run on): -ENXIO for a name that does not exist, -EAGAIN if the
 * resolver failed for now.  A name's addresses (at most
 * CO_SOCKADDR_RESOLVE_MAX), and "localhost"'s (127.0.0.1, then ::1), are
 * tried in turn, in the resolver's order, until one connects.  If none
 * does, the result is the last address's error -- unless that error only
 * says its kind of address is unusable from this machine (-EAFNOSUPPORT,
 * -EADDRNOTAVAIL, -ENETUNREACH: no IPv6, say) and an earlier address
 * failed otherwise: then that earlier error (-ECONNREFUSED).  A
 * cancellation or timeout, during the lookup or any attempt, returns at
 * once without trying the addresses left.  Each attempt takes as long as
 * the system's connect does: bound the whole with a timeout region.
 *
 * `sock` must point into the calling coroutine's frame: it holds the
 * call's state while the connection is under way (not a socket you may
 * use before the call has returned 0).  Bound it with a timeout region:
 *     co_timeout_after(t, &f->to, 5.0);
 *     CO_AWAIT(f->rc, co_open_connection(t, &f->sock, "127.0.0.1", 25000));
 *     f->rc = co_timeout_end(t, &f->to, f->rc);
 */
CO_API co_status co_open_connection(co_task *self, co_socket **sock,
                                    const char *host, int port);

/* The same for a Unix-domain stream socket at `path`. */
CO_API co_status co_open_unix_connection(co_task *self, co_socket **sock,
                                         const char *path);


#endif /* CO_SERVER_H */
