/*
 * resolve.c -- host names to addresses, on the kernel's worker threads.
 *
 * getaddrinfo(3) blocks, for as long as the resolver takes, so it runs on
 * the pool (core/thread_pool.h).  The lookup's record -- the host name
 * copied, the addresses found -- is allocated here and owned by whoever
 * ends up with it: the task, if it is still waiting when the lookup ends,
 * else the call's cleanup callback, which frees it.  So a task cancelled
 * in mid-lookup leaves nothing behind and its frame (host may point into
 * it) is never read by the thread.
 *
 * Between evaluations the task keeps no state of its own: its pool job is
 * found again through the queue it waits on, and the thread call record
 * co_run_in_thread is given can be a local (the pool copied fn and arg).
 *
 * A lookup keeps every address it finds, up to CO_SOCKADDR_RESOLVE_MAX, in
 * the resolver's order: co_open_connection tries them in turn and a server
 * binds the first it can (net/server.c); co_sockaddr_resolve_all hands
 * them out and co_sockaddr_resolve the first.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "../core/alloc_impl.h"
#include "../core/thread_pool.h"
#include "../core/waits.h"
#include "socket_impl.h"

typedef struct lookup {
    co__addrs a;                   /* first: the holder frees the record
                                      through its co__addrs */
    co__resolve_fn fn;             /* getaddrinfo, or the tests' stand-in */
    int family, port;
    char host[];                   /* a copy: the caller's may go */
} lookup;

static int gai_errno(int e)
{
    switch (e) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENXIO;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno ? -errno : -EIO;
    default:
        return -EINVAL;
    }
}

/* The lookup proper, on a worker thread. */
static int by_getaddrinfo(const char *host, int family, co_sockaddr *out,
                          int max)
{
    struct addrinfo hints = { .ai_family = family,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int e = getaddrinfo(host, NULL, &hints, &res);
    if (e != 0)
        return gai_errno(e);
    int n = 0;
    for (struct addrinfo *a = res; a && n < max; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            a->ai_addrlen > sizeof out[n].ss)
            continue;
        memset(&out[n], 0, sizeof out[n]);
        memcpy(&out[n].ss, a->ai_addr, a->ai_addrlen);
        out[n].len = a->ai_addrlen;
        n++;
    }
    freeaddrinfo(res);
    return n;
}

static co__resolve_fn resolver = by_getaddrinfo;

void co__resolve_set_lookup(co__resolve_fn fn)
{
    resolver = fn ? fn : by_getaddrinfo;
}

static void set_port(co_sockaddr *a, int port)
{
    uint16_t p = htons((uint16_t)port);
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = p;
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = p;
}

/* On a worker thread.  Keeps the inet addresses (a stand-in may hand
 * others), with the port set. */
static intptr_t lookup_run(void *arg)
{
    lookup *l = arg;
    int n = l->fn(l->host, l->family, l->a.addr, CO_SOCKADDR_RESOLVE_MAX);
    if (n < 0)
        return n;
    int kept = 0;
    for (int i = 0; i < n && i < CO_SOCKADDR_RESOLVE_MAX; i++) {
        co_sockaddr *a = &l->a.addr[i];
        if (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6)
            continue;
        set_port(a, l->port);
        l->a.addr[kept++] = *a;
    }
    l->a.count = kept;
    return kept ? 0 : -ENXIO;
}

/* In the kernel thread, for a lookup whose task had gone. */
static void lookup_drop(void *arg, intptr_t result)
{
    (void)result;
    free(arg);
}

int co__resolve_start(co_task *self, int family, const char *host, int port)
{
    size_t n = strlen(host) + 1;
    lookup *l = co__alloc(sizeof *l + n);
    if (!l)
        return -ENOMEM;
    memset(&l->a, 0, offsetof(co__addrs, addr));
    memcpy(l->host, host, n);
    l->fn = resolver;
    l->family = family;
    l->port = port;
    co_thread_call c;
    co_thread_call_init(&c, lookup_run, l, lookup_drop);
    return co_run_in_thread(self, &c);  /* refused: lookup_drop freed l */
}

int co__resolve_finish(co_task *self, co__addrs **out)
{
    co_thread_call c;
    co_thread_call_init(&c, lookup_run, NULL, NULL);
    int rc = co_run_in_thread(self, &c);
    lookup *l = c.arg;                 /* set only if the lookup ended */
    if (rc == CO_WOULDBLOCK || !l)     /* else lookup_drop frees it */
        return rc;
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = &l->a;
    return 0;
}

int co__resolve_is_localhost(const char *host)
{
    return host && strcmp(host, "localhost") == 0;
}

int co__resolve_localhost(co_sockaddr *out, int max, int family, int port)
{
    int n = 0;
    if (family != AF_INET6 && n < max)
        co_sockaddr_inet(&out[n++], AF_INET, "127.0.0.1", port);
    if (family != AF_INET && n < max)
        co_sockaddr_inet(&out[n++], AF_INET6, "::1", port);
    return n;
}

/* Both public forms; func names the caller in misuse reports. */
static co_status resolve(co_task *self, co_sockaddr *addrs, int max,
                         int family, const char *host, int port,
                         const char *func)
{
    int rc;
    if (co_wait_resumed(self) && addrs && max > 0) {
        co__addrs *a;
        if ((rc = co__resolve_finish(self, &a)) != 0)
            return rc;
        int n = a->count < max ? a->count : max;
        memcpy(addrs, a->addr, (size_t)n * sizeof *addrs);
        free(a);
        return n;
    }
    co_sockaddr tmp;
    int num = co_sockaddr_inet(&tmp, family, host, port);
    if (co__wait_begin(self, addrs && max > 0 && (num == 0 || num == -ENOTSUP),
                       &rc, func))
        return rc;
    if (num == -ENOTSUP)
        return co__resolve_start(self, family, host, port);
    if (co__resolve_is_localhost(host))
        return co__resolve_localhost(addrs, max, family, port);
    addrs[0] = tmp;
    return 1;
}

co_status co_sockaddr_resolve_all(co_task *self, co_sockaddr *addrs, int max,
                                  int family, const char *host, int port)
{
    return resolve(self, addrs, max, family, host, port,
                   "co_sockaddr_resolve_all");
}

co_status co_sockaddr_resolve(co_task *self, co_sockaddr *addr, int family,
                              const char *host, int port)
{
    int rc = resolve(self, addr, 1, family, host, port, "co_sockaddr_resolve");
    return rc > 0 ? 0 : rc;            /* CO_WOULDBLOCK is negative */
}
