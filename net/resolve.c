/*
 * resolve.c -- host names to addresses, on the kernel's worker threads.
 *
 * getaddrinfo(3) blocks, for as long as the resolver takes, so it runs on
 * the pool (core/thread_pool.h).  The lookup's record -- the host name
 * copied, the address found -- is allocated here and owned by whoever
 * ends up with it: the task, if it is still waiting when the lookup ends,
 * else the call's cleanup callback, which frees it.  So a task cancelled
 * in mid-lookup leaves nothing behind and its frame (host may point into
 * it) is never read by the thread.
 *
 * Between evaluations the task keeps no state of its own: its pool job is
 * found again through the queue it waits on, and the thread call record
 * co_run_in_thread is given can be a local (the pool copied fn and arg).
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/alloc_impl.h"
#include "../core/thread_pool.h"
#include "../core/waits.h"
#include "socket_impl.h"

typedef struct lookup {
    int family, port;
    co_sockaddr addr;              /* the answer */
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

/* On a worker thread. */
static intptr_t lookup_run(void *arg)
{
    lookup *l = arg;
    struct addrinfo hints = { .ai_family = l->family,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int e = getaddrinfo(l->host, NULL, &hints, &res);
    if (e != 0)
        return gai_errno(e);
    int rc = -ENXIO;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            a->ai_addrlen > sizeof l->addr.ss)
            continue;
        memcpy(&l->addr.ss, a->ai_addr, a->ai_addrlen);
        l->addr.len = a->ai_addrlen;
        uint16_t port = htons((uint16_t)l->port);
        if (a->ai_family == AF_INET)
            ((struct sockaddr_in *)&l->addr.ss)->sin_port = port;
        else
            ((struct sockaddr_in6 *)&l->addr.ss)->sin6_port = port;
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    return rc;
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
    memcpy(l->host, host, n);
    l->family = family;
    l->port = port;
    co_thread_call c;
    co_thread_call_init(&c, lookup_run, l, lookup_drop);
    int rc = co_run_in_thread(self, &c);
    if (rc != CO_WOULDBLOCK)           /* refused (cancelled, no memory) */
        free(l);
    return rc;
}

int co__resolve_finish(co_task *self, co_sockaddr *addr)
{
    co_thread_call c;
    co_thread_call_init(&c, lookup_run, NULL, NULL);
    int rc = co_run_in_thread(self, &c);
    lookup *l = c.arg;                 /* set only if the lookup ended */
    if (rc == CO_WOULDBLOCK || !l)     /* else lookup_drop frees it */
        return rc;
    if (rc == 0)
        *addr = l->addr;
    free(l);
    return rc;
}

co_status co_sockaddr_resolve(co_task *self, co_sockaddr *addr, int family,
                              const char *host, int port)
{
    int rc;
    if (co_wait_resumed(self) && addr)
        return co__resolve_finish(self, addr);
    co_sockaddr tmp;
    int num = co_sockaddr_inet(&tmp, family, host, port);
    if (co_wait_begin(self, addr && (num == 0 || num == -ENOTSUP), &rc))
        return rc;
    if (num == 0) {
        *addr = tmp;
        return 0;
    }
    return co__resolve_start(self, family, host, port);
}
