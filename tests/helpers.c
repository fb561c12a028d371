/* helpers.c -- the I/O suites' shared helpers (see helpers.h). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "log.h"

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

char captured[16384];
static int capture_fd = -1;

int run_capturing_stderr(co_func fn, const void *frame, size_t size)
{
    char path[] = "/tmp/curio-test-stderr-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    capture_fd = fd;
    int rc = co_run(fn, frame, size);
    fflush(stderr);
    capture_fd = -1;
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof captured - 1, 0);
    close(fd);
    captured[n > 0 ? n : 0] = '\0';
    return rc;
}

int reported_yet(const char *needle)
{
    static char now[sizeof captured];
    ck_assert_int_ge(capture_fd, 0);
    fflush(stderr);
    ssize_t n = pread(capture_fd, now, sizeof now - 1, 0);
    now[n > 0 ? n : 0] = '\0';
    return strstr(now, needle) != NULL;
}

void open_socketpair(co_socket *pair[2])
{
    ck_assert_int_eq(co_socketpair(pair, SOCK_STREAM), 0);
}

co_status stream_liner(co_task *t, void *arg)
{
    struct stream_liner_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_readline(t, f->st, f->buf, sizeof f->buf));
    if (f->rc > 0)
        note("%s:%.*s", f->name, f->rc - (f->buf[f->rc - 1] == '\n'),
             f->buf);
    else
        note("%s:%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

void expect_abort(void (*fn)(void), const char *const *texts)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    static char said[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], said + len, sizeof said - 1 - len)) > 0)
        len += (size_t)n;
    said[len] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "no abort; stderr: <<%s>>", said);
    for (; *texts; texts++)
        ck_assert_msg(strstr(said, *texts), "no \"%s\" in <<%s>>", *texts,
                      said);
}
