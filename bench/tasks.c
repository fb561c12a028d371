/*
 * tasks.c -- what a task costs: header size, memory per sleeping task, and
 * the time to spawn and join one.
 *
 *   memory: 1,000,000 tasks with a 32-byte frame (co_frame included), all
 *           asleep at the same moment; peak RSS over the baseline taken
 *           just before spawning, divided by the number of tasks.  Measured
 *           twice: tasks allocated by the kernel (malloc), and tasks in one
 *           caller-supplied array (co_spawn_opts.storage).
 *   time:   spawn 1,000,000 tasks that return at once, then join them all;
 *           nanoseconds per task, median of 3 runs.
 *
 * No pass/fail: this prints numbers.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "curio.h"

#define NTASKS 1000000u
#define FRAME_BYTES 32
#define RUNS 3

/* A 32-byte frame, co_frame header included. */
struct small_frame {
    co_frame co;
    char pad[FRAME_BYTES - sizeof(co_frame)];
};
static_assert(sizeof(struct small_frame) == FRAME_BYTES,
              "the benchmark frame must be exactly 32 bytes");

/* ------------------------------------------------ measuring */

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

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;        /* kB on Linux */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_machine(void)
{
    char line[512], model[256] = "unknown";
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (fp) {
        while (fgets(line, sizeof line, fp))
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) {
                    v++;
                    while (*v == ' ' || *v == '\t')
                        v++;
                    v[strcspn(v, "\n")] = 0;
                    snprintf(model, sizeof model, "%s", v);
                }
                break;
            }
        fclose(fp);
    }
    printf("machine:  %s, nproc %ld\n", model, sysconf(_SC_NPROCESSORS_ONLN));
#ifdef __clang__
    printf("compiler: clang %d.%d.%d\n", __clang_major__, __clang_minor__,
           __clang_patchlevel__);
#elif defined(__GNUC__)
    printf("compiler: gcc %s\n", __VERSION__);
#endif
}

/* ------------------------------------------------ the tasks */

static co_status sleeper(co_task *t, void *arg)
{
    struct small_frame *f = arg;
    int rc;
    CO_BEGIN(t, f);
    CO_AWAIT(rc, co_sleep(t, 60.0));    /* cancelled long before this */
    CO_RETURN(rc);
    CO_END;
}

static co_status returner(co_task *t, void *arg)
{
    struct small_frame *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(0);
    CO_END;
}

/* ------------------------------------------------ memory */

struct mem_result {
    long base_rss_kb, rss_kb, hwm_kb, base_maxrss_kb, maxrss_kb;
    unsigned asleep;
    int ok, rc;
};

struct mem_frame {
    co_frame co;
    co_task **handles;
    unsigned char *storage;     /* NULL: the kernel allocates each task */
    struct mem_result *out;
    unsigned i;
    int rc, result;
};

static co_status mem_main(co_task *t, void *arg)
{
    struct mem_frame *f = arg;
    CO_BEGIN(t, f);
    f->out->base_rss_kb = proc_status_kb("VmRSS");
    f->out->base_maxrss_kb = maxrss_kb();
    for (f->i = 0; f->i < NTASKS; f->i++) {
        struct small_frame frame;
        co_spawn_opts opts = { .name = "sleeper" };
        memset(&frame, 0, sizeof frame);
        if (f->storage) {
            opts.storage = f->storage + (size_t)f->i * CO_TASK_STORAGE(FRAME_BYTES);
            opts.storage_size = CO_TASK_STORAGE(FRAME_BYTES);
        }
        f->rc = co_spawn(t, &f->handles[f->i], sleeper, &frame, sizeof frame,
                         &opts);
        if (f->rc < 0) {
            fprintf(stderr, "spawn %u: %s\n", f->i, co_strerror(f->rc));
            CO_RETURN(f->rc);
        }
    }
    /* Every sleeper runs once and blocks; then main runs again. */
    CO_AWAIT(f->rc, co_yield(t));
    f->out->asleep = 0;
    for (f->i = 0; f->i < NTASKS; f->i++)
        if (strcmp(co_task_state(f->handles[f->i]), "blocked") == 0)
            f->out->asleep++;
    f->out->rss_kb = proc_status_kb("VmRSS");
    f->out->hwm_kb = proc_status_kb("VmHWM");
    f->out->maxrss_kb = maxrss_kb();

    for (f->i = 0; f->i < NTASKS; f->i++)
        co_cancel_nowait(f->handles[f->i]);
    for (f->i = 0; f->i < NTASKS; f->i++) {
        CO_AWAIT(f->rc, co_join(t, f->handles[f->i], &f->result));
        if (f->rc != 0 || f->result != -ECANCELED) {
            fprintf(stderr, "join %u: %s / %s\n", f->i, co_strerror(f->rc),
                    co_strerror(f->result));
            CO_RETURN(-EPROTO);
        }
    }
    f->out->ok = 1;
    CO_END;
}

static int measure_memory(int caller_storage, struct mem_result *out)
{
    struct mem_frame frame;
    size_t storage_bytes = (size_t)NTASKS * CO_TASK_STORAGE(FRAME_BYTES);
    int rc;

    memset(&frame, 0, sizeof frame);
    memset(out, 0, sizeof *out);
    /* The handle array is the benchmark's, not the kernel's: touch it
     * before the baseline so it is not counted. */
    frame.handles = malloc(NTASKS * sizeof *frame.handles);
    if (!frame.handles)
        return -ENOMEM;
    memset(frame.handles, 0, NTASKS * sizeof *frame.handles);
    /* The caller's storage IS per-task memory: left untouched here, so
     * its pages count when the tasks are spawned into it. */
    if (caller_storage) {
        frame.storage = calloc(1, storage_bytes);
        if (!frame.storage) {
            free(frame.handles);
            return -ENOMEM;
        }
    }
    frame.out = out;
    rc = co_run(mem_main, &frame, sizeof frame);
    free(frame.storage);
    free(frame.handles);
    return rc;
}

/* Each memory run gets a process of its own, forked while this one is
 * still small: peaks (VmHWM, ru_maxrss) start fresh, and memory the C
 * library kept from an earlier run cannot hide new allocations. */
static int measure_memory_in_child(int caller_storage, struct mem_result *out)
{
    int fds[2], status;
    pid_t pid;
    ssize_t n;

    memset(out, 0, sizeof *out);
    fflush(stdout);
    if (pipe(fds) != 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        struct mem_result r;
        close(fds[0]);
        r.rc = measure_memory(caller_storage, &r);
        n = write(fds[1], &r, sizeof r);
        _exit(n == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    n = read(fds[0], out, sizeof *out);
    close(fds[0]);
    if (waitpid(pid, &status, 0) < 0 || n != (ssize_t)sizeof *out)
        return -EPROTO;
    return out->rc;
}

/* ------------------------------------------------ spawn + join time */

struct time_frame {
    co_frame co;
    co_task **handles;
    double *elapsed;            /* out: the kernel runs a copy of the frame */
    double t0;
    unsigned i;
    int rc, result;
};

static co_status time_main(co_task *t, void *arg)
{
    struct time_frame *f = arg;
    CO_BEGIN(t, f);
    f->t0 = now_s();
    for (f->i = 0; f->i < NTASKS; f->i++) {
        struct small_frame frame;
        memset(&frame, 0, sizeof frame);
        f->rc = co_spawn(t, &f->handles[f->i], returner, &frame, sizeof frame,
                         NULL);
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    for (f->i = 0; f->i < NTASKS; f->i++) {
        CO_AWAIT(f->rc, co_join(t, f->handles[f->i], &f->result));
        if (f->rc != 0 || f->result != 0)
            CO_RETURN(-EPROTO);
    }
    *f->elapsed = now_s() - f->t0;
    CO_END;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------ report */

static void print_memory_row(const char *label, const struct mem_result *m)
{
    long rss = m->rss_kb - m->base_rss_kb;
    long peak = m->hwm_kb - m->base_rss_kb;
    long maxrss = m->maxrss_kb - m->base_maxrss_kb;
    double per_task = peak * 1024.0 / NTASKS;
    printf("  %-28s %9u %9.1f %9.1f %11.1f %9.1f %9.1f\n", label, m->asleep,
           rss / 1024.0, peak / 1024.0, maxrss / 1024.0, per_task,
           per_task - (double)CO_TASK_STORAGE(FRAME_BYTES));
}

int main(void)
{
    struct mem_result heap, storage;
    double runs[RUNS];
    int rc;

    print_machine();
    printf("\n");
    printf("task header:  sizeof(co_task) = %zu bytes\n", sizeof(co_task));
    printf("task memory:  CO_TASK_STORAGE(%d) = %zu bytes "
           "(header + %d-byte frame, one allocation)\n",
           FRAME_BYTES, CO_TASK_STORAGE(FRAME_BYTES), FRAME_BYTES);
    printf("registry:     the kernel's per-task bookkeeping (task registry, "
           "timer heap) is\n"
           "              private; the 'beyond' column below measures it\n\n");

    /* Memory first, while this process is small (the children fork it). */
    rc = measure_memory_in_child(0, &heap);
    if (rc != 0 || !heap.ok) {
        fprintf(stderr, "memory run (malloc): %s\n", co_strerror(rc));
        return 1;
    }
    rc = measure_memory_in_child(1, &storage);
    if (rc != 0 || !storage.ok) {
        fprintf(stderr, "memory run (storage): %s\n", co_strerror(rc));
        return 1;
    }

    printf("memory: %u tasks asleep at once, %d-byte frames "
           "(delta over the baseline before spawning)\n", NTASKS, FRAME_BYTES);
    printf("  %-28s %9s %9s %9s %11s %9s %9s\n", "allocation", "asleep",
           "RSS MiB", "peak MiB", "maxrss MiB", "B/task", "beyond");
    print_memory_row("kernel (malloc per task)", &heap);
    print_memory_row("caller storage (one array)", &storage);
    printf("  RSS: VmRSS with every task asleep; peak: VmHWM; maxrss: "
           "getrusage; B/task: from the peak;\n"
           "  beyond: B/task minus the %zu-byte task (allocator overhead and "
           "the kernel's\n  per-task registry and timer entries)\n\n",
           CO_TASK_STORAGE(FRAME_BYTES));

    for (int r = 0; r < RUNS; r++) {
        struct time_frame frame;
        memset(&frame, 0, sizeof frame);
        frame.handles = calloc(NTASKS, sizeof *frame.handles);
        if (!frame.handles)
            return 1;
        frame.elapsed = &runs[r];
        rc = co_run(time_main, &frame, sizeof frame);
        free(frame.handles);
        if (rc != 0) {
            fprintf(stderr, "spawn+join run %d: %s\n", r, co_strerror(rc));
            return 1;
        }
    }
    qsort(runs, RUNS, sizeof runs[0], cmp_double);
    printf("time: spawn %u tasks that return at once, then join them all\n",
           NTASKS);
    printf("  %-28s %10s %10s %10s\n", "", "min", "median", "max");
    printf("  %-28s %10.1f %10.1f %10.1f\n", "ns per task (spawn+join)",
           runs[0] * 1e9 / NTASKS, runs[RUNS / 2] * 1e9 / NTASKS,
           runs[RUNS - 1] * 1e9 / NTASKS);
    return 0;
}
