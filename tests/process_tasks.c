/*
 * process_tasks.c -- see process_tasks.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "process_tasks.h"

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t whoami(const void *in, size_t len, void **out, size_t *out_len)
{
    (void)in, (void)len, (void)out, (void)out_len;
    return getpid();
}

int64_t reverse(const void *in, size_t len, void **out, size_t *out_len)
{
    unsigned char *r = malloc(len ? len : 1);
    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        r[i] = ((const unsigned char *)in)[len - 1 - i];
    *out = r;
    *out_len = len;
    return (int64_t)len;
}

int64_t spin(const void *in, size_t len, void **out, size_t *out_len)
{
    (void)out, (void)out_len;
    double seconds;
    if (len != sizeof seconds)
        return -EINVAL;
    memcpy(&seconds, in, sizeof seconds);
    volatile uint64_t x = 1;
    for (double end = now_s() + seconds; now_s() < end;)
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005u + 1;   /* CPU, not sleep */
    return getpid();
}

int64_t spin_stubborn(const void *in, size_t len, void **out,
                      size_t *out_len)
{
    signal(SIGTERM, SIG_IGN);
    return spin(in, len, out, out_len);
}

int64_t fail_with(const void *in, size_t len, void **out, size_t *out_len)
{
    int64_t err;
    if (len != sizeof err)
        return -EINVAL;
    memcpy(&err, in, sizeof err);
    *out = strdup("not sent");
    *out_len = 9;
    return err;
}

int64_t crash(const void *in, size_t len, void **out, size_t *out_len)
{
    (void)len, (void)out, (void)out_len;
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);      /* no core file for the test */
    switch (*(const int *)in) {
    case 0:
        abort();
    case 1:
        raise(SIGSEGV);
        break;
    default:
        _exit(3);
    }
    return 0;
}

co_status one_call(co_task *t, void *arg)
{
    struct call_frame *f = arg;
    CO_BEGIN(t, f);
    co_process_call_init(&f->call, f->fn, f->in, f->in_len);
    if (f->within > 0)
        co_timeout_after(t, &f->to, f->within);
    CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
    if (f->within > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    f->result = f->call.result;
    if (f->rc == 0 && (f->fn == whoami || f->fn == spin))
        remember_pid((pid_t)f->result);
    free(f->call.out);
    note("%s=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

int pid_gone(pid_t pid)
{
    if (kill(pid, 0) == 0 || errno != ESRCH)
        return 0;
    return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD;
}

co_status wait_gone(co_task *t, void *arg)
{
    struct gone_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 500 && !pid_gone(f->pid); f->i++)
        CO_AWAIT(f->rc, co_sleep(t, 0.01));
    CO_RETURN(pid_gone(f->pid));
    CO_END;
}

int count_children(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;                   /* the thread has ended */
        for (long pid; fscanf(f, "%ld", &pid) == 1;)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

static pid_t pids[64];
static int npids, children_before;

void remember_pid(pid_t pid)
{
    for (int i = 0; i < npids; i++)
        if (pids[i] == pid)
            return;
    ck_assert_int_lt(npids, 64);
    pids[npids++] = pid;
}

void assert_no_workers_left(void)
{
    for (int i = 0; i < npids; i++)
        ck_assert_msg(pid_gone(pids[i]), "worker %ld left", (long)pids[i]);
    ck_assert_int_eq(count_children(), children_before);
}

void process_setup(void)
{
    log_reset();
    npids = 0;
    children_before = count_children();
}
