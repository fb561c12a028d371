/*
 * tasks.c -- what a task costs in memory.
 *
 *   header:  sizeof(co_task); target one cache line, 64 bytes.
 *   memory:  1,000,000 tasks with a 32-byte frame (co_frame included), all
 *            asleep at the same moment; peak RSS (VmHWM) over the RSS taken
 *            just before spawning.  Target: 128 MiB.  Measured twice: tasks
 *            allocated by the kernel (malloc), and tasks in one
 *            caller-supplied array (co_spawn_opts.storage), which counts
 *            towards the peak since it is touched only by the spawns.
 *
 * Each memory run gets a process of its own, forked while this one is
 * still small, so peaks start fresh and memory the C library kept from an
 * earlier run (or another benchmark) cannot hide new allocations.  There
 * is no reference program: the targets are absolute bounds.  Spawn time is
 * spawn.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define NTASKS 1000000u
#define FRAME_BYTES 32
#define MEM_RUNS 3              /* memory varies little between runs */
#define MAX_HEADER 64.0
#define MAX_MIB 128.0
#define MIB (1024.0 * 1024.0)

/* A 32-byte frame, co_frame header included. */
struct small_frame {
    co_frame co;
    char pad[FRAME_BYTES - sizeof(co_frame)];
};
_Static_assert(sizeof(struct small_frame) == FRAME_BYTES,
               "the benchmark frame must be exactly 32 bytes");

/* A "Vm...:" line of /proc/self/status in kB, or -1. */
static long proc_status_kb(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(key);
    long kb = -1;
    if (!fp)
        return -1;
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return kb;
}

/* ------------------------------------------------------------ the run */

static co_status sleeper(co_task *t, void *arg)
{
    struct small_frame *f = arg;
    int rc;
    CO_BEGIN(t, f);
    CO_AWAIT(rc, co_sleep(t, 60.0));    /* cancelled long before this */
    CO_RETURN(rc);
    CO_END;
}

struct mem_result {
    long base_kb, peak_kb;      /* VmRSS before spawning, VmHWM asleep */
    unsigned asleep;
    int rc;
};

struct mem_frame {
    co_frame co;
    co_task **handles;
    unsigned char *storage;     /* NULL: the kernel allocates each task */
    struct mem_result *out;
    unsigned i;
    int rc, result;
};

static int spawn_sleeper(co_task *t, struct mem_frame *f)
{
    struct small_frame frame = { .co = { 0 } };
    co_spawn_opts opts = { .name = "sleeper" };
    if (f->storage) {
        opts.storage_size = CO_TASK_STORAGE(FRAME_BYTES);
        opts.storage = f->storage + (size_t)f->i * opts.storage_size;
    }
    return co_spawn(t, &f->handles[f->i], sleeper, &frame, sizeof frame,
                    &opts);
}

static unsigned count_asleep(co_task **handles)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NTASKS; i++)
        n += strcmp(co_task_state(handles[i]), "blocked") == 0;
    return n;
}

static co_status mem_main(co_task *t, void *arg)
{
    struct mem_frame *f = arg;
    CO_BEGIN(t, f);
    f->out->base_kb = proc_status_kb("VmRSS");
    for (f->i = 0; f->i < NTASKS; f->i++)
        if ((f->rc = spawn_sleeper(t, f)) < 0)
            CO_RETURN(f->rc);
    /* Every sleeper runs once and blocks; then main runs again. */
    CO_AWAIT(f->rc, co_yield(t));
    f->out->asleep = count_asleep(f->handles);
    f->out->peak_kb = proc_status_kb("VmHWM");

    for (f->i = 0; f->i < NTASKS; f->i++)
        co_task_cancel_nowait(f->handles[f->i]);
    for (f->i = 0; f->i < NTASKS; f->i++) {
        CO_AWAIT(f->rc, co_task_join(t, f->handles[f->i], &f->result));
        if (f->rc != 0 || f->result != -ECANCELED)
            CO_RETURN(-EPROTO);         /* each sleeper ends cancelled */
    }
    CO_END;
}

static int measure_memory(int caller_storage, struct mem_result *out)
{
    size_t storage_bytes = (size_t)NTASKS * CO_TASK_STORAGE(FRAME_BYTES);
    struct mem_frame frame = { .out = out };
    int rc;

    /* The handle array is the benchmark's, not the kernel's: touched
     * before the baseline so it is not counted. */
    frame.handles = malloc(NTASKS * sizeof *frame.handles);
    if (!frame.handles)
        return -ENOMEM;
    /* Not zeros: the compiler may turn malloc + memset(0) into calloc,
     * which leaves the pages untouched. */
    memset(frame.handles, 0xff, NTASKS * sizeof *frame.handles);
    /* The caller's storage IS per-task memory: untouched here, so its
     * pages count when the tasks are spawned into it. */
    if (caller_storage && !(frame.storage = calloc(1, storage_bytes))) {
        free(frame.handles);
        return -ENOMEM;
    }
    rc = co_run(mem_main, &frame, sizeof frame);
    free(frame.storage);
    free(frame.handles);
    return rc;
}

/* One memory run in a child process; the result comes back in a pipe. */
static void measure_in_child(int caller_storage, struct mem_result *out)
{
    int fds[2], status;
    pid_t pid;
    ssize_t n;

    fflush(stdout);
    if (pipe(fds) != 0 || (pid = fork()) < 0)
        bench_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        struct mem_result r = { 0 };
        close(fds[0]);
        r.rc = measure_memory(caller_storage, &r);
        n = write(fds[1], &r, sizeof r);
        _exit(n == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    n = read(fds[0], out, sizeof *out);
    close(fds[0]);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || n != (ssize_t)sizeof *out)
        bench_fail("memory run: the child failed");
    if (out->rc != 0 || out->asleep != NTASKS || out->base_kb < 0 ||
        out->peak_kb < 0)
        bench_fail("memory run: %s, %u of %u asleep", co_strerror(out->rc),
                   out->asleep, NTASKS);
}

/* Peak MiB and bytes per task over MEM_RUNS children. */
static void memory_rows(int caller_storage, const char *how)
{
    double mib[MEM_RUNS], per_task[MEM_RUNS];
    char metric[128];

    for (int r = 0; r < MEM_RUNS; r++) {
        struct mem_result m;
        measure_in_child(caller_storage, &m);
        double bytes = (double)(m.peak_kb - m.base_kb) * 1024.0;
        mib[r] = bytes / MIB;
        per_task[r] = bytes / NTASKS;
    }
    snprintf(metric, sizeof metric, "peak RSS, 1M sleeping tasks, %s", how);
    bench_row_bound("tasks", metric, "MiB", bench_summarize(mib, MEM_RUNS),
                    MAX_MIB);
    snprintf(metric, sizeof metric, "bytes per sleeping task, %s", how);
    bench_row_bound("tasks", metric, "B", bench_summarize(per_task, MEM_RUNS),
                    BENCH_NO_TARGET);
}

int main(void)
{
    printf("tasks: header size; %u tasks with %d-byte frames asleep at once, "
           "peak RSS over the baseline, %d runs (median [min .. max])\n",
           NTASKS, FRAME_BYTES, MEM_RUNS);
    bench_row_bound("tasks", "task header, sizeof(co_task)", "B",
                    bench_exact(sizeof(co_task)), MAX_HEADER);
    bench_row_bound("tasks", "task + 32-byte frame, CO_TASK_STORAGE(32)", "B",
                    bench_exact(CO_TASK_STORAGE(FRAME_BYTES)),
                    BENCH_NO_TARGET);
    memory_rows(0, "kernel-allocated");
    memory_rows(1, "caller storage");
    return 0;
}
