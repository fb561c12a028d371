/*
 * monitor.c -- the debug monitor's tasks: one server, one per console.
 *
 * Both are daemon tasks of the kernel they show, built on net/'s sockets.
 * Their sockets are weak (core/io_impl.h): waiting for a console does not
 * keep the kernel's loop running, so the monitor changes nothing about
 * when a program ends or is found deadlocked -- it is cancelled by the
 * shutdown like every other task.
 *
 * A console reads into a fixed buffer of its frame, one line at a time;
 * a line that does not fit is dropped up to its '\n' and answered with
 * one error line.  Every line gets one answer followed by the prompt
 * "curio > " (no newline), so a client can tell where an answer ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../net/socket_impl.h"
#include "alloc_impl.h"
#include "diag.h"
#include "errors.h"
#include "monitor_impl.h"
#include "timeout.h"

#define PROMPT "curio > "

struct co_monitor {
    char host[64];
    int port;                  /* configured; 0: any free port */
    int bound_port;            /* -1 while not listening */
    co_socket *listener;
};

/* "host:port", "[v6]:port" or NULL; fills m.  -EINVAL if malformed. */
static int parse_address(struct co_monitor *m, const char *hp)
{
    if (!hp)
        hp = CO_MONITOR_DEFAULT;
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp)
        return -EINVAL;
    const char *host = hp;
    size_t hlen = (size_t)(colon - hp);
    if (*host == '[') {                        /* [::1]:48802 */
        if (hlen < 2 || host[hlen - 1] != ']')
            return -EINVAL;
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof m->host)
        return -EINVAL;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        return -EINVAL;
    memcpy(m->host, host, hlen);
    m->host[hlen] = '\0';
    m->port = (int)port;
    return 0;
}

/* ------------------------------------------------------------- console */

struct console_frame {
    co_frame co;
    co_socket *sock;
    co__monitor_reply reply;
    size_t len;                 /* bytes in `in` */
    int discarding;             /* inside a line too long to keep */
    int quit;
    int rc;
    char in[CO__MONITOR_LINE_MAX + 1];   /* room for the '\n' */
};

/* Take the next complete line out of f->in and answer it into f->reply:
 * 1 if there was one, 0 if more bytes are needed. */
static int next_line(struct console_frame *f)
{
    char *nl = memchr(f->in, '\n', f->len);
    if (!nl) {
        if (f->len == sizeof f->in) {          /* full, and no line end */
            f->discarding = 1;
            f->len = 0;
        }
        return 0;
    }
    size_t n = (size_t)(nl - f->in);
    if (f->discarding) {
        f->discarding = 0;
        co__monitor_printf(&f->reply, "error: line too long (at most %d "
                           "bytes)\n", CO__MONITOR_LINE_MAX);
    } else {
        f->quit = co__monitor_execute(co__kernel, f->in, n, &f->reply);
    }
    f->len -= n + 1;
    memmove(f->in, nl + 1, f->len);
    if (!f->quit)
        co__monitor_printf(&f->reply, PROMPT);
    return 1;
}

static co_status console(co_task *t, void *arg)
{
    struct console_frame *f = arg;
    size_t sent;
    CO_BEGIN(t, f);
    co__monitor_printf(&f->reply, "curio monitor: %u task(s). Type help "
                       "for commands.\n" PROMPT, (unsigned)co__kernel->live);
    for (;;) {
        while (!f->quit && !f->reply.failed && next_line(f))
            ;
        if (f->reply.failed) {                  /* out of memory */
            co__monitor_reply_free(&f->reply);
            co__monitor_printf(&f->reply, "error: out of memory\n" PROMPT);
        }
        if (f->reply.len) {
            CO_AWAIT(f->rc, co_socket_sendall(t, f->sock, f->reply.p,
                                              f->reply.len, &sent));
            co__monitor_reply_free(&f->reply);
            if (f->rc < 0)
                break;
        }
        if (f->quit)
            break;
        CO_AWAIT(f->rc, co_socket_recv(t, f->sock, f->in + f->len,
                                       sizeof f->in - f->len, 0));
        if (f->rc <= 0)
            break;                              /* closed, reset, cancelled */
        f->len += (size_t)f->rc;
    }
    CO_FINALLY;
    co__monitor_reply_free(&f->reply);
    co_socket_close(&f->sock);
    CO_END;
}

/* -------------------------------------------------------------- server */

struct server_frame {
    co_frame co;
    struct co_monitor *m;
    co_socket *client;
    int rc;
};

static co_status server(co_task *t, void *arg)
{
    struct server_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_socket_accept(t, f->m->listener, &f->client, NULL));
        if (f->rc == -EMFILE || f->rc == -ENFILE || f->rc == -ENOMEM ||
            f->rc == -ENOBUFS) {
            CO_AWAIT(f->rc, co_sleep(t, 0.1));  /* out of fds: back off */
            if (f->rc == -ECANCELED)
                break;
            continue;
        }
        if (f->rc < 0)
            break;                              /* cancelled: shutdown */
        co__socket_set_weak(f->client);
        struct console_frame c = { .sock = f->client };
        f->client = NULL;
        if (co_spawn(t, NULL, console, &c, sizeof c,
                     &(const co_spawn_opts){ .name = "monitor console",
                         .flags = CO_DAEMON | CO_DETACHED }) < 0)
            co_socket_close(&c.sock);
    }
    CO_FINALLY;
    co_socket_close(&f->m->listener);
    f->m->bound_port = -1;
    co_kernel_track_awaits(co__kernel, 0);
    co_kernel_count_cycles(co__kernel, 0);
    CO_END;
}

/* Listen and spawn the server, in k's thread while k runs. */
static int start(co_kernel *k, struct co_monitor *m)
{
    co_sockaddr addr;
    co_socket *s = NULL;
    int one = 1;
    int rc = co_sockaddr_inet(&addr, AF_UNSPEC, m->host, m->port);
    if (rc >= 0)
        rc = co_socket_new(&s, addr.ss.ss_family, SOCK_STREAM, 0);
    if (rc >= 0)
        rc = co_socket_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one,
                                  sizeof one);
    if (rc >= 0)
        rc = co_socket_bind(s, &addr);
    if (rc >= 0)
        rc = co_socket_listen(s, 16);
    if (rc >= 0)
        rc = co_socket_getsockname(s, &addr);
    if (rc < 0) {
        co_socket_close(&s);
        return rc;
    }
    co__socket_set_weak(s);
    m->listener = s;
    struct server_frame f = { .m = m };
    rc = co__task_spawn(k, 0, NULL, server, &f, sizeof f,
                        &(const co_spawn_opts){ .name = "monitor",
                            .flags = CO_DAEMON | CO_DETACHED });
    if (rc < 0) {
        co_socket_close(&m->listener);
        return rc;
    }
    m->bound_port = co_sockaddr_port(&addr);
    co_kernel_track_awaits(k, 1);
    co_kernel_count_cycles(k, 1);
    return 0;
}

int co_kernel_enable_monitor(co_kernel *k, const char *host_port)
{
    if (!k)
        return -EINVAL;
    if (k->monitor)
        return -EALREADY;
    struct co_monitor *m = co__alloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    *m = (struct co_monitor){ .bound_port = -1 };
    int rc = parse_address(m, host_port);
    if (rc == 0 && k->running && co__kernel == k)
        rc = start(k, m);
    if (rc < 0) {
        free(m);
        return rc;
    }
    k->monitor = m;
    return 0;
}

int co_kernel_monitor_port(const co_kernel *k)
{
    if (!k)
        return -EINVAL;
    return k->monitor && k->monitor->bound_port >= 0 ? k->monitor->bound_port
                                                     : -ENOTCONN;
}

void co__monitor_run_start(co_kernel *k)
{
    if (!k->monitor) {
        const char *env = getenv("CURIO_MONITOR");
        if (!env || !*env || strcmp(env, "0") == 0)
            return;
        struct co_monitor m = { .bound_port = -1 };
        const char *hp = strcmp(env, "1") == 0 ? NULL : env;
        if (parse_address(&m, hp) < 0) {
            fprintf(stderr, "curio: monitor: CURIO_MONITOR=%s is not 1 nor "
                            "host:port; not started\n", env);
            return;
        }
        if (!(k->monitor = co__alloc(sizeof m)))
            return;
        *k->monitor = m;
    }
    struct co_monitor *m = k->monitor;
    if (m->listener)
        return;
    int rc = start(k, m);
    if (rc < 0)
        fprintf(stderr, "curio: monitor: cannot listen on %s:%d: %s; "
                        "running without it\n", m->host, m->port,
                co_strerror(rc));
}

void co__monitor_free(co_kernel *k)
{
    free(k->monitor);
    k->monitor = NULL;
}
