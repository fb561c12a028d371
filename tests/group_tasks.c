/* group_tasks.c -- what the group suites share (see group_tasks.h). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "group_tasks.h"
#include "log.h"

void group_setup(void)
{
    log_reset();
}

co_status group_worker(co_task *t, void *arg)
{
    struct gw_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->yields < 0) {
        CO_AWAIT(f->rc, co_sleep(t, 1e9));
        CO_RETURN(f->rc);
    }
    for (f->i = 0; f->i < f->yields; f->i++) {
        CO_AWAIT(f->rc, co_yield(t));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_RETURN(f->value);
    CO_FINALLY;
    if (CO_RESULT() < 0 && (CO_RESULT() == -ECANCELED ||
                            CO_RESULT() == -ETIMEDOUT))
        note("%s:%s", f->name, rcs(CO_RESULT()));
    else
        note("%s=%s", f->name, rcs(CO_RESULT()));
    if (f->slow_cleanup) {
        co_disable_cancellation(t);
        for (f->i = 0; f->i < 3; f->i++)
            CO_AWAIT(f->rc, co_yield(t));
        co_enable_cancellation(t);
        note("%s:cleaned", f->name);
    }
    CO_END;
}

void group_expect_abort(void (*fn)(void), const char *const *texts)
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
