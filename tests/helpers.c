/* helpers.c -- the I/O suites' shared helpers (see helpers.h). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "helpers.h"

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

unsigned char *pattern_alloc(size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = pattern_byte(i);
    return p;
}

void open_socketpair(co_socket *pair[2])
{
    ck_assert_int_eq(co_socketpair(pair, SOCK_STREAM), 0);
}
