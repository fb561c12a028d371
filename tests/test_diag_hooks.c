/*
 * test_diag_hooks.c -- hook sets on a kernel (core/diag.h): the order of a
 * task's events, several sets at once, removal, hooks installed by a task,
 * and the ready-made ones: the trace, the crash logger and the long-block
 * detector.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* ------------------------------------------------------------ a logging set */

/* Each event noted as "<tag>:<event><id>", e.g. "A:R1"; the where of every
 * suspension of task `watch` is kept too.  Reset by each test. */
static const char *wheres[8];
static int n_wheres;
static uint32_t watch;

static void log_event(co_task *t, void *arg, char ev)
{
    note("%s:%c%u", (const char *)arg, ev, (unsigned)co_task_id(t));
}
static void on_created(co_task *t, void *arg) { log_event(t, arg, 'C'); }
static void on_running(co_task *t, void *arg)
{
    ck_assert_ptr_eq(co_current_task(), t);
    log_event(t, arg, 'R');
}
static void on_suspended(co_task *t, void *arg)
{
    ck_assert_ptr_eq(co_current_task(), t);
    if (co_task_id(t) == watch && n_wheres < 8)
        wheres[n_wheres++] = co_task_where(t);
    log_event(t, arg, 'S');
}
static void on_terminated(co_task *t, void *arg)
{
    ck_assert(co_task_done(t));
    log_event(t, arg, 'T');
}

static co_hooks logging_set(const char *tag)
{
    return (co_hooks){ .created = on_created, .running = on_running,
                       .suspended = on_suspended,
                       .terminated = on_terminated, .arg = (void *)tag };
}

static void reset(void)
{
    log_reset();
    n_wheres = 0;
    watch = 0;
}

/* ------------------------------------------------------------ three sleeps */

static const char *sleep_sites[3];

struct sleeper_frame {
    co_frame co;
    int i, rc;
};

static co_status sleeper(co_task *t, void *arg)
{
    struct sleeper_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        sleep_sites[f->i] = CO_HERE;
        CO_AWAIT(f->rc, co_sleep(t, 0.001));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_RETURN(7);
    CO_END;
}

START_TEST(test_diag_hook_order_of_three_sleeps)
{
    reset();
    watch = 1;
    co_kernel *k = co_kernel_new();
    co_hooks h = logging_set("A");
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), 0);
    struct sleeper_frame m = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, sleeper, &m, sizeof m), 7);
    ck_assert_str_eq(lg, "A:C1 A:R1 A:S1 A:R1 A:S1 A:R1 A:S1 A:R1 A:S1 "
                         "A:T1");
    /* each suspension was at its sleep; CO_HERE names the line above the
     * await, which is where the await records itself */
    ck_assert_int_eq(n_wheres, 4);
    for (int i = 0; i < 3; i++) {
        const char *colon = strrchr(sleep_sites[i], ':');
        char want[256];
        snprintf(want, sizeof want, "%.*s:%d", (int)(colon - sleep_sites[i]),
                 sleep_sites[i], atoi(colon + 1) + 1);
        ck_assert_str_eq(wheres[i], want);
    }
    ck_assert_int_eq(co_kernel_remove_hooks(k, &h), 0);
    co_kernel_free(k);
}
END_TEST

/* ------------------------------------------------------------ two sets */

struct child_frame {
    co_frame co;
    int rc;
};

static co_status child(co_task *t, void *arg)
{
    struct child_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    CO_RETURN(-EIO);
    CO_END;
}

struct parent_frame {
    co_frame co;
    co_task *h;
    co_hooks *remove;          /* removed after the first suspension */
    struct child_frame cf;
    int rc, result;
};

static co_status parent(co_task *t, void *arg)
{
    struct parent_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(CO_SPAWN(t, &f->h, child, f->cf), 2);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->result, -EIO);
    if (f->remove)
        ck_assert_int_eq(
            co_kernel_remove_hooks(co_current_kernel(), f->remove), 0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

START_TEST(test_diag_two_sets_in_installation_order)
{
    reset();
    co_kernel *k = co_kernel_new();
    co_hooks a = logging_set("A");
    /* B wants two of the four */
    co_hooks b = { .created = on_created, .terminated = on_terminated,
                   .arg = (void *)"B" };
    ck_assert_int_eq(co_kernel_add_hooks(k, &a), 0);
    ck_assert_int_eq(co_kernel_add_hooks(k, &b), 0);
    struct parent_frame m = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, parent, &m, sizeof m), 0);
    ck_assert_str_eq(lg,
        "A:C1 B:C1 "                       /* main */
        "A:R1 A:C2 B:C2 A:S1 "             /* spawns 2, blocks in join */
        "A:R2 A:S2 "                       /* yields */
        "A:R2 A:S2 A:T2 B:T2 "             /* fails: the joiner wakes */
        "A:R1 A:S1 "                       /* join returns, yields */
        "A:R1 A:S1 A:T1 B:T1");
    co_kernel_free(k);
}
END_TEST

START_TEST(test_diag_remove_from_a_task)
{
    reset();
    co_kernel *k = co_kernel_new();
    co_hooks a = logging_set("A"), b = logging_set("B");
    ck_assert_int_eq(co_kernel_add_hooks(k, &a), 0);
    ck_assert_int_eq(co_kernel_add_hooks(k, &b), 0);
    struct parent_frame m = { .remove = &a };
    ck_assert_int_eq(co_kernel_run(k, parent, &m, sizeof m), 0);
    /* A leaves in main's second slice: its suspension is B's alone */
    ck_assert_str_eq(lg,
        "A:C1 B:C1 A:R1 B:R1 A:C2 B:C2 A:S1 B:S1 "
        "A:R2 B:R2 A:S2 B:S2 A:R2 B:R2 A:S2 B:S2 A:T2 B:T2 "
        "A:R1 B:R1 B:S1 B:R1 B:S1 B:T1");
    /* removing it again, or from a kernel it is not on */
    ck_assert_int_eq(co_kernel_remove_hooks(k, &a), -ENOENT);
    co_kernel *other = co_kernel_new();
    ck_assert_int_eq(co_kernel_remove_hooks(other, &b), -ENOENT);
    ck_assert_int_eq(co_kernel_add_hooks(other, &b), -EBUSY);
    ck_assert_int_eq(co_kernel_remove_hooks(k, &b), 0);
    /* removed: it may go on another kernel */
    ck_assert_int_eq(co_kernel_add_hooks(other, &b), 0);
    ck_assert_int_eq(co_kernel_remove_hooks(other, &b), 0);
    co_kernel_free(other);
    co_kernel_free(k);
}
END_TEST

/* A set that removes itself from inside its own callback. */
static void remove_self(co_task *t, void *arg)
{
    co_hooks *h = arg;
    note("X:S%u", (unsigned)co_task_id(t));
    ck_assert_int_eq(co_kernel_remove_hooks(co_current_kernel(), h), 0);
}

START_TEST(test_diag_set_removes_itself)
{
    reset();
    co_kernel *k = co_kernel_new();
    co_hooks x = { .suspended = remove_self };
    x.arg = &x;
    co_hooks a = logging_set("A");
    ck_assert_int_eq(co_kernel_add_hooks(k, &x), 0);
    ck_assert_int_eq(co_kernel_add_hooks(k, &a), 0);
    struct sleeper_frame m = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, sleeper, &m, sizeof m), 7);
    /* the set after it still runs in the same event */
    ck_assert_str_eq(lg, "A:C1 A:R1 X:S1 A:S1 A:R1 A:S1 A:R1 A:S1 A:R1 "
                         "A:S1 A:T1");
    co_kernel_free(k);
}
END_TEST

/* ------------------------------------------------------------ from a task */

struct installer_frame {
    co_frame co;
    co_hooks h;
    int i, rc;
};

static co_status installer(co_task *t, void *arg)
{
    struct installer_frame *f = arg;
    CO_BEGIN(t, f);
    f->h = logging_set("A");
    ck_assert_int_eq(co_kernel_add_hooks(co_current_kernel(), &f->h), 0);
    /* this slice began without hooks: no "suspended" for it; nor for the
     * last, which removes them */
    for (f->i = 0; f->i < 2; f->i++)
        CO_AWAIT(f->rc, co_sleep(t, 0));
    ck_assert_int_eq(co_kernel_remove_hooks(co_current_kernel(), &f->h), 0);
    CO_END;
}

START_TEST(test_diag_hooks_installed_by_a_task_start_at_the_next_cycle)
{
    reset();
    struct installer_frame m = { .rc = 0 };
    RUN(installer, m);
    ck_assert_str_eq(lg, "A:R1 A:S1 A:R1");
}
END_TEST

/* ------------------------------------------------------------ misuse */

START_TEST(test_diag_hooks_null_policy)
{
    co_kernel *k = co_kernel_new();
    co_hooks h = { 0 };
    ck_assert_int_eq(co_kernel_add_hooks(NULL, &h), -EINVAL);
    ck_assert_int_eq(co_kernel_add_hooks(k, NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_remove_hooks(NULL, &h), -EINVAL);
    ck_assert_int_eq(co_kernel_remove_hooks(k, NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_remove_hooks(k, &h), -ENOENT);
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), 0);   /* all NULL: fine */
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), -EBUSY);
    ck_assert_int_eq(co_hooks_trace(NULL, stderr), -EINVAL);
    ck_assert_int_eq(co_hooks_trace(&h, NULL), -EINVAL);
    ck_assert_int_eq(co_hooks_crash_log(NULL, stderr), -EINVAL);
    ck_assert_int_eq(co_hooks_crash_log(&h, NULL), -EINVAL);
    co_block_detector d;
    ck_assert_int_eq(co_block_detector_init(NULL, stderr, 1), -EINVAL);
    ck_assert_int_eq(co_block_detector_init(&d, NULL, 1), -EINVAL);
    ck_assert_int_eq(co_block_detector_init(&d, stderr, 0), -EINVAL);
    ck_assert_int_eq(co_block_detector_init(&d, stderr, -1), -EINVAL);
    ck_assert_int_eq(co_block_detector_init(&d, stderr, 0.0 / 0.0), -EINVAL);
    ck_assert_uint_eq(co_block_detector_warnings(NULL), 0);
    co_kernel_free(k);                 /* with a set still installed */
    /* which is free to go on another kernel */
    k = co_kernel_new();
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), 0);
    co_kernel_free(k);
}
END_TEST

/* ------------------------------------------------------------ the trace */

START_TEST(test_diag_trace)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    co_kernel *k = co_kernel_new();
    co_hooks h;
    ck_assert_int_eq(co_hooks_trace(&h, out), 0);
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), 0);
    struct sleeper_frame m = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, sleeper, &m, sizeof m), 7);
    co_kernel_free(k);
    fclose(out);
    char want[512];
    snprintf(want, sizeof want,
             "curio: trace: task 1 'main' created by task 0\n"
             "curio: trace: task 1 'main' running\n"
             "curio: trace: task 1 'main' suspended at %.*s:",
             (int)(strrchr(sleep_sites[0], ':') - sleep_sites[0]),
             sleep_sites[0]);
    ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "trace:\n%s", buf);
    ck_assert_ptr_nonnull(
        strstr(buf, "curio: trace: task 1 'main' terminated: 7 ("));
    free(buf);
}
END_TEST

/* ------------------------------------------------------------ crashes */

struct ender_frame {
    co_frame co;
    int value, rc;
};

static co_status ender(co_task *t, void *arg)
{
    struct ender_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_yield(t));
    CO_RETURN(f->value);
    CO_END;
}

struct crashes_frame {
    co_frame co;
    co_task *h[6];
    struct ender_frame ef;
    co_spawn_opts opts;
    int i, rc, result;
};

static co_status crashes(co_task *t, void *arg)
{
    static const int values[6] = { -EIO, 0, 5, -ECANCELED, -ECONNRESET,
                                   -ENOMEM };
    static const char *names[6] = { "eio", "zero", "five", "cancelled",
                                    "reset", "nomem" };
    struct crashes_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 6; f->i++) {
        f->ef.value = values[f->i];
        /* routine network results are no crash for CO_ROUTINE_NET */
        f->opts = (co_spawn_opts){ .name = names[f->i],
                                   .flags = f->i >= 4 ? CO_ROUTINE_NET : 0 };
        ck_assert_int_gt(co_spawn(t, &f->h[f->i], ender, &f->ef,
                                  sizeof f->ef, &f->opts), 0);
    }
    for (f->i = 0; f->i < 6; f->i++) {
        CO_AWAIT(f->rc, co_task_join(t, f->h[f->i], &f->result));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(f->result, values[f->i]);
    }
    CO_END;
}

START_TEST(test_diag_crash_log)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    co_kernel *k = co_kernel_new();
    co_hooks h;
    ck_assert_int_eq(co_hooks_crash_log(&h, out), 0);
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), 0);
    struct crashes_frame m = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, crashes, &m, sizeof m), 0);
    co_kernel_free(k);
    fclose(out);
    /* both lines end where the ender returned: "at <file>:<line>\n" */
    const char *at = strstr(buf, " at ");
    ck_assert_ptr_nonnull(at);
    const char *nl = strchr(at, '\n');
    ck_assert_ptr_nonnull(nl);
    char line_end[256];
    snprintf(line_end, sizeof line_end, "%.*s", (int)(nl - at + 1), at);
    char want[1024];
    snprintf(want, sizeof want,
             "curio: crash: task 2 'eio' failed with %d (%s)%s"
             "curio: crash: task 7 'nomem' failed with %d (%s)%s",
             -EIO, co_strerror(-EIO), line_end, -ENOMEM,
             co_strerror(-ENOMEM), line_end);
    ck_assert_str_eq(buf, want);
    ck_assert_ptr_nonnull(strstr(line_end, "test_diag_hooks.c:"));
    free(buf);
}
END_TEST

/* ------------------------------------------------------------ long blocks */

static const char *busy_site;

struct busy_frame {
    co_frame co;
    double seconds;
    double until;
    int rc;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Busy-waits on the monotonic clock for `seconds`, then sleeps. */
static co_status busy(co_task *t, void *arg)
{
    struct busy_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 0));
    /* co_clock is the kernel's cached time, still while a task runs */
    f->until = now_seconds() + f->seconds;
    while (now_seconds() < f->until)
        ;
    busy_site = CO_HERE;
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

struct detect_frame {
    co_frame co;
    co_task *h[2];
    struct busy_frame bf;
    struct sleeper_frame sf;
    co_spawn_opts opts;
    int rc;
};

static co_status detect_main(co_task *t, void *arg)
{
    struct detect_frame *f = arg;
    CO_BEGIN(t, f);
    f->opts.name = "busy";
    ck_assert_int_eq(co_spawn(t, &f->h[0], busy, &f->bf, sizeof f->bf,
                              &f->opts), 2);
    ck_assert_int_gt(CO_SPAWN(t, &f->h[1], sleeper, f->sf), 0);
    AWAIT_JOIN(f->rc, t, f->h[0]);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, f->h[1]);
    ck_assert_int_eq(f->rc, 7);
    CO_END;
}

/* A threshold well above any ordinary slice, even on a loaded machine;
 * the busy slice runs far past it. */
#define THRESHOLD 0.1

static void run_detector(double busy_seconds, char **buf, uint64_t *warnings)
{
    size_t len = 0;
    FILE *out = open_memstream(buf, &len);
    co_kernel *k = co_kernel_new();
    co_block_detector d;
    ck_assert_int_eq(co_block_detector_init(&d, out, THRESHOLD), 0);
    ck_assert_int_eq(co_kernel_add_hooks(k, &d.hooks), 0);
    struct detect_frame m = { .bf.seconds = busy_seconds };
    ck_assert_int_eq(co_kernel_run(k, detect_main, &m, sizeof m), 0);
    *warnings = co_block_detector_warnings(&d);
    co_kernel_free(k);
    fclose(out);
}

START_TEST(test_diag_long_block_detected)
{
    char *buf = NULL;
    uint64_t warnings;
    busy_site = NULL;
    run_detector(3 * THRESHOLD, &buf, &warnings);
    ck_assert_uint_eq(warnings, 1);
    /* it names the task and the await that ended the long slice */
    const char *colon = strrchr(busy_site, ':');
    char want[256];
    snprintf(want, sizeof want, "%.*s:%d\n", (int)(colon - busy_site),
             busy_site, atoi(colon + 1) + 1);
    ck_assert_msg(strncmp(buf, "curio: long block: task 2 'busy' ran ",
                          37) == 0, "%s", buf);
    ck_assert_msg(strstr(buf, " s without suspending, until ") != NULL,
                  "%s", buf);
    ck_assert_msg(strlen(buf) > strlen(want) &&
                  strcmp(buf + strlen(buf) - strlen(want), want) == 0,
                  "%s", buf);
    free(buf);
}
END_TEST

START_TEST(test_diag_long_block_quiet_otherwise)
{
    char *buf = NULL;
    uint64_t warnings;
    run_detector(0, &buf, &warnings);
    ck_assert_uint_eq(warnings, 0);
    ck_assert_str_eq(buf, "");
    free(buf);
}
END_TEST

Suite *diag_hooks_suite(void)
{
    Suite *s = suite_create("diag_hooks");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_diag_hook_order_of_three_sleeps);
    tcase_add_test(tc, test_diag_two_sets_in_installation_order);
    tcase_add_test(tc, test_diag_remove_from_a_task);
    tcase_add_test(tc, test_diag_set_removes_itself);
    tcase_add_test(tc, test_diag_hooks_installed_by_a_task_start_at_the_next_cycle);
    tcase_add_test(tc, test_diag_hooks_null_policy);
    tcase_add_test(tc, test_diag_trace);
    tcase_add_test(tc, test_diag_crash_log);
    tcase_add_test(tc, test_diag_long_block_detected);
    tcase_add_test(tc, test_diag_long_block_quiet_otherwise);
    suite_add_tcase(s, tc);
    return s;
}
