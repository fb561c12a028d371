/*
 * bench.c -- the helpers declared in bench.h, compiled into every
 * micro-benchmark.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"

#define MAX_RUNS 16

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

_Noreturn void bench_fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ------------------------------------------------------------ statistics */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_stat bench_summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return (bench_stat){ .med = med, .min = v[0], .max = v[n - 1] };
}

bench_stat bench_exact(double v)
{
    return (bench_stat){ v, v, v };
}

void bench_interleave(const bench_case *cases, int ncases, int runs,
                      bench_stat *out)
{
    double (*v)[MAX_RUNS] = calloc((size_t)ncases, sizeof *v);
    if (!v || runs < 1 || runs > MAX_RUNS)
        bench_fail("bench_interleave: %d runs of %d cases", runs, ncases);
    /* A round not counted: page faults, first-touch allocations and the
     * CPU's clock ramping up land here. */
    for (int c = 0; c < ncases; c++)
        cases[c].fn(cases[c].arg);
    for (int r = 0; r < runs; r++)
        for (int c = 0; c < ncases; c++)
            v[c][r] = cases[c].fn(cases[c].arg);
    for (int c = 0; c < ncases; c++)
        out[c] = bench_summarize(v[c], runs);
    free(v);
}

/* ------------------------------------------------------------ targets.tsv */

/* mkdir -p: the output directory may be several levels deep. */
static void make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        bench_fail("BENCH_OUT too long: %s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                bench_fail("mkdir %s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
}

/* targets.tsv, opened for appending; the header goes into a new file. */
static FILE *open_targets(void)
{
    const char *dir = getenv("BENCH_OUT");
    char path[4200];
    if (!dir || !*dir)
        dir = "build/bench-out";
    make_dirs(dir);
    snprintf(path, sizeof path, "%s/targets.tsv", dir);
    FILE *fp = fopen(path, "a");
    if (!fp)
        bench_fail("%s: %s", path, strerror(errno));
    if (ftell(fp) == 0)
        fputs("group\tmetric\tunit\tvalue_med\tvalue_min\tvalue_max\tref\t"
              "ref_med\tratio\ttarget\tok\n", fp);
    return fp;
}

/* Whole numbers (bytes) without decimals, the rest with two. */
static const char *num(char *buf, size_t size, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.2f", v);
    return buf;
}

typedef struct row {
    const char *group, *metric, *unit, *ref;    /* ref NULL: none */
    bench_stat value;
    double ref_med, ratio, target;              /* NAN: none */
} row;

/* Judged on the two decimals shown, so a printed 3.00 never misses 3. */
static const char *verdict(const row *r)
{
    double checked = round((r->ref ? r->ratio : r->value.med) * 100) / 100;
    if (isnan(r->target))
        return "-";
    return checked <= r->target ? "yes" : "no";
}

static void print_row(const row *r)
{
    char med[32], lo[32], hi[32], rm[32];
    printf("%-6s %-44s %9s %-4s [%s .. %s]", r->group, r->metric,
           num(med, sizeof med, r->value.med), r->unit,
           num(lo, sizeof lo, r->value.min), num(hi, sizeof hi, r->value.max));
    if (r->ref)
        printf("  %s %s %s: ratio %.2f", r->ref,
               num(rm, sizeof rm, r->ref_med), r->unit, r->ratio);
    if (!isnan(r->target) && r->ref)
        printf("  (target <=%g) %s", r->target,
               strcmp(verdict(r), "yes") == 0 ? "met" : "MISSED");
    else if (!isnan(r->target))
        printf("  (target <=%g %s) %s", r->target, r->unit,
               strcmp(verdict(r), "yes") == 0 ? "met" : "MISSED");
    putchar('\n');
    fflush(stdout);
}

static void append_row(const row *r)
{
    char med[32], lo[32], hi[32], rm[32], target[40];
    FILE *fp = open_targets();
    if (isnan(r->target))
        snprintf(target, sizeof target, "-");
    else
        snprintf(target, sizeof target, "<=%g", r->target);
    fprintf(fp, "%s\t%s\t%s\t%s\t%s\t%s\t", r->group, r->metric, r->unit,
            num(med, sizeof med, r->value.med),
            num(lo, sizeof lo, r->value.min),
            num(hi, sizeof hi, r->value.max));
    if (r->ref)
        fprintf(fp, "%s\t%s\t%.2f\t", r->ref, num(rm, sizeof rm, r->ref_med),
                r->ratio);
    else
        fputs("-\t-\t-\t", fp);
    fprintf(fp, "%s\t%s\n", target, verdict(r));
    if (fclose(fp) != 0)
        bench_fail("writing targets.tsv: %s", strerror(errno));
}

void bench_row_ratio(const char *group, const char *metric, const char *unit,
                     bench_stat value, const char *ref_name, bench_stat ref,
                     double max_ratio)
{
    row r = { group, metric, unit, ref_name, value, ref.med,
              value.med / ref.med, max_ratio };
    print_row(&r);
    append_row(&r);
}

void bench_row_bound(const char *group, const char *metric, const char *unit,
                     bench_stat value, double max_value)
{
    row r = { group, metric, unit, NULL, value, NAN, NAN, max_value };
    print_row(&r);
    append_row(&r);
}

/* ------------------------------------------------------------ task switch */

struct turn_frame {
    co_frame co;
    long i, n;
    int rc;
};

/* Yield n times the way a user writes it; the result is the turns taken. */
static co_status yielder(co_task *t, void *arg)
{
    struct turn_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->n; f->i++) {
        CO_AWAIT(f->rc, co_yield(t));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_RETURN((int)f->i);
    CO_END;
}

/* The same with the bare macro: no primitive, no wait-queue bookkeeping. */
static co_status bare_yielder(co_task *t, void *arg)
{
    struct turn_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->n; f->i++)
        CO_YIELD();
    CO_RETURN((int)f->i);
    CO_END;
}

struct switch_main_frame {
    co_frame co;
    long n;                     /* turns per task */
    int bare;
    co_task *a, *b;
    int rc, result;
    int64_t t0, *elapsed;       /* out: co_run runs a copy of the frame */
};

static co_status join_turns(co_task *t, struct switch_main_frame *f,
                            co_task *target)
{
    co_status rc = co_task_join(t, target, &f->result);
    if (rc == 0 && f->result != f->n)
        bench_fail("switch: a task took %d turns of %ld", f->result, f->n);
    return rc;
}

static co_status switch_main(co_task *t, void *arg)
{
    struct switch_main_frame *f = arg;
    CO_BEGIN(t, f);
    {
        struct turn_frame turns = { .n = f->n };
        co_func fn = f->bare ? bare_yielder : yielder;
        if (co_spawn(t, &f->a, fn, &turns, sizeof turns, NULL) < 0 ||
            co_spawn(t, &f->b, fn, &turns, sizeof turns, NULL) < 0)
            CO_RETURN(-ENOMEM);
    }
    f->t0 = bench_now_ns();
    CO_AWAIT(f->rc, join_turns(t, f, f->a));
    if (f->rc == 0)
        CO_AWAIT(f->rc, join_turns(t, f, f->b));
    *f->elapsed = bench_now_ns() - f->t0;
    CO_RETURN(f->rc);
    CO_END;
}

double bench_curio_switch_ns(long switches, int bare)
{
    int64_t elapsed = 0;
    struct switch_main_frame f = { .n = switches / 2, .bare = bare,
                                   .elapsed = &elapsed };
    int rc = co_run(switch_main, &f, sizeof f);
    if (rc != 0)
        bench_fail("switch run: %s", co_strerror(rc));
    return (double)elapsed / (double)(2 * f.n);
}
