/* log.c -- the event log the suites assert on (see log.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

char lg[8192];

void log_reset(void)
{
    lg[0] = '\0';
}

void note(const char *fmt, ...)
{
    size_t n = strlen(lg);
    if (n && n < sizeof lg - 1)
        lg[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lg + n, sizeof lg - n, fmt, ap);
    va_end(ap);
}

const char *rcs(int rc)
{
    static char buf[8][16];
    static int i;
    switch (rc) {
    case -ECANCELED: return "CANCEL";
    case -ETIMEDOUT: return "TIMEOUT";
    case CO_WOULDBLOCK: return "WOULDBLOCK";
    case -EINVAL: return "EINVAL";
    case -EDEADLK: return "EDEADLK";
    case -EPERM: return "EPERM";
    case -EBUSY: return "EBUSY";
    case -EBADF: return "EBADF";
    case -EPIPE: return "EPIPE";
    case -ESRCH: return "ESRCH";
    case -EPROTO: return "EPROTO";
    case -EMSGSIZE: return "EMSGSIZE";
    case -ENOTSUP: return "ENOTSUP";
    case -ENAMETOOLONG: return "ENAMETOOLONG";
    case -ECONNRESET: return "ECONNRESET";
    case -ECONNREFUSED: return "ECONNREFUSED";
    case -ENOENT: return "ENOENT";
    case -EEXIST: return "EEXIST";
    case -ENOSPC: return "ENOSPC";
    case -ESPIPE: return "ESPIPE";
    }
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%d", rc);
    return buf[i];
}

co_status wait_on(co_task *t, co_waitq *q)
{
    int rc;
    if (co_wait_enter(t, &rc))
        return rc;
    return co_block(t, q, CO_NO_DEADLINE);
}
