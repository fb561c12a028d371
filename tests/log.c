/* log.c -- the event log the suites assert on (see log.h). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
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
    if (rc == -ECANCELED) return "CANCEL";
    if (rc == -ETIMEDOUT) return "TIMEOUT";
    if (rc == -EINVAL) return "EINVAL";
    if (rc == -EDEADLK) return "EDEADLK";
    if (rc == CO_WOULDBLOCK) return "WOULDBLOCK";
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

int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;                   /* the directory's own */
}

unsigned char pattern_byte(size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    return (unsigned char)((x >> 24) ^ (x >> 11) ^ (uint32_t)(i >> 20));
}
