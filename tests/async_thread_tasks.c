/*
 * async_thread_tasks.c -- what the test_async_thread*.c suites share
 * (async_thread_tasks.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "curio.h"
#include "log.h"
#include "async_thread_tasks.h"

atomic_int thread_saw[4];
_Atomic(co_thread *) published;

void async_thread_reset(void)
{
    log_reset();
    for (int i = 0; i < 4; i++)
        atomic_store(&thread_saw[i], 12345);
    atomic_store(&published, NULL);
}

int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

void nap(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

/* A coroutine the threads await: notes its word in the kernel's thread,
 * sleeps a little, and leaves a value in its frame. */
co_status say(co_task *t, void *arg)
{
    struct say_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s", f->word);
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    f->out = 40;
    CO_RETURN(f->rc < 0 ? f->rc : 2);
    CO_END;
}

int sleeper(co_thread *th, void *arg)
{
    (void)arg;
    struct say_frame sf = { .word = "thread:sleep" };
    co_thread_await(th, say, &sf, sizeof sf);
    atomic_store(&thread_saw[0], co_thread_sleep(th, 10.0));
    atomic_store(&thread_saw[1], co_thread_sleep(th, 0));     /* sticky */
    return 7;
}
