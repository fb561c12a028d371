/*
 * bench.h -- what every benchmark in bench/ shares: a clock, repeated
 * interleaved runs summarised as median / min / max, the row format of
 * targets.tsv, and the curio task-switch loop (the yardstick of sync.c).
 *
 * Every figure is measured against a reference run in the same process,
 * alternating with it (reference, subject, reference, subject ...), so a
 * noisy neighbour on the shared machine slows both alike and the ratio
 * stays meaningful even when the absolute numbers drift.
 *
 * targets.tsv (in $BENCH_OUT, default build/bench-out) gets one row per
 * figure, tab-separated, under this header (written when the file is new):
 *
 *   group metric unit value_med value_min value_max ref ref_med ratio
 *   target ok
 *
 *   ref     the reference's name, or "-" (no reference: memory figures)
 *   ratio   value_med / ref_med, or "-"
 *   target  "<=X" or ">=X": a bound on the ratio when there is one,
 *           otherwise on value_med (bench/connections.sh shows libev's
 *           figure as ref_med beside an absolute bound, ratio "-"); "-"
 *           when there is none
 *   ok      yes / no against the target, "-" without one
 *
 * A benchmark that finds its own result wrong (a counter short of its
 * goal, a join returning the wrong value) calls bench_fail, which exits
 * non-zero: a broken benchmark must not print a plausible number.
 */
#ifndef BENCH_H
#define BENCH_H

#include <math.h>
#include <stdint.h>

#include "curio.h"

#if defined(__GNUC__) || defined(__clang__)
#  define BENCH_NOINLINE __attribute__((noinline))
#  define BENCH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define BENCH_NOINLINE
#  define BENCH_PRINTF(f, a)
#endif

/* Runs per figure: the median of 5 tolerates two outliers either way. */
#define BENCH_RUNS 5

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

/* Print "bench: <message>" on stderr and exit(1). */
_Noreturn void bench_fail(const char *fmt, ...) BENCH_PRINTF(1, 2);

typedef struct bench_stat {
    double med, min, max;
} bench_stat;

/* Median, min and max of n values (n >= 1); sorts v in place. */
bench_stat bench_summarize(double *v, int n);

/* One thing to time: fn(arg) runs it once and returns the figure (ns per
 * operation, say); it calls bench_fail if the run went wrong. */
typedef struct bench_case {
    const char *name;
    double (*fn)(void *arg);
    void *arg;
} bench_case;

/* Run every case once to warm up, then `runs` times (at most 16),
 * round-robin, and summarise each case's figures into out[i]. */
void bench_interleave(const bench_case *cases, int ncases, int runs,
                      bench_stat *out);

/* A figure measured against a reference: ratio = value.med / ref.med,
 * met when the ratio is at most max_ratio.  Prints a line and appends a
 * row to targets.tsv. */
void bench_row_ratio(const char *group, const char *metric, const char *unit,
                     bench_stat value, const char *ref_name, bench_stat ref,
                     double max_ratio);

/* A figure with no reference program, met when value.med is at most
 * max_value; max_value BENCH_NO_TARGET: informative only. */
#define BENCH_NO_TARGET NAN
void bench_row_bound(const char *group, const char *metric, const char *unit,
                     bench_stat value, double max_value);

/* A figure that does not vary between runs (a sizeof). */
bench_stat bench_exact(double v);

/* The curio task switch as a user writes it: two tasks taking turns,
 * `switches` resumes in all; with bare = 0 each turn is
 * CO_AWAIT(rc, co_yield(t)), with bare = 1 a bare CO_YIELD().  Returns
 * nanoseconds per switch (one resume of one task). */
double bench_curio_switch_ns(long switches, int bare);

#endif /* BENCH_H */
