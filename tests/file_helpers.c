/*
 * file_helpers.c -- the temporary directory of the async file suites.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_helpers.h"
#include "log.h"

static char dir[64];
static char *paths[32];
static int npaths;

void file_setup(void)
{
    log_reset();
    strcpy(dir, "/tmp/curio-file-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void file_teardown(void)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            char p[sizeof dir + sizeof e->d_name + 1];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    while (npaths)
        free(paths[--npaths]);
}

const char *tmp_path(const char *name)
{
    ck_assert_int_lt(npaths, 32);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return paths[npaths++] = p;
}

void put_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        ck_assert_int_gt(n, 0);
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) < 0 ? -1 : sb.st_size;
}

unsigned char *get_file(const char *path, size_t *len)
{
    off_t size = file_size(path);
    ck_assert_int_ge(size, 0);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    size_t got = 0;
    ssize_t n;
    while (got < (size_t)size &&
           (n = read(fd, buf + got, (size_t)size - got)) > 0)
        got += (size_t)n;
    close(fd);
    *len = got;
    return buf;
}
