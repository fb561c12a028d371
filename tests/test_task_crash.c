/*
 * test_task_crash.c -- crash reports (a failed task nobody joins is
 * reported once, named: at shutdown, when a daemon or a detached task
 * ends; never when joined or cancelled), and the safety rails: a compound
 * literal as a spawn frame, a second join on a freed handle, and
 * CO_ROUTINE_NET results that are not crashes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "task_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ crash report */

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

struct crash_main_frame {
    co_frame co;
    co_task *h;
    struct task_leaf_frame lf;
    co_spawn_opts opts;
    int rc, mode;
};

enum { CRASH_UNJOINED, CRASH_DAEMON, CRASH_DETACHED, CRASH_JOINED };

static co_status crash_main(co_task *t, void *arg)
{
    static const char *names[] = { "exploder", "daemon_fail",
                                   "detached_fail", "joined_fail" };
    static const unsigned flags[] = { 0, CO_DAEMON, CO_DETACHED, 0 };
    struct crash_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->lf.value = -EIO;
    f->opts.name = names[f->mode];
    f->opts.flags = flags[f->mode];
    ck_assert_int_gt(co_spawn(t, &f->h, task_leaf, &f->lf, sizeof f->lf, &f->opts),
                     0);
    /* a successful task is never reported, joined or not */
    f->lf.value = 0;
    ck_assert_int_gt(co_spawn(t, NULL, task_leaf, &f->lf, sizeof f->lf, NULL), 0);
    if (f->mode == CRASH_JOINED) {
        AWAIT_JOIN(f->rc, t, f->h);
        ck_assert_int_eq(f->rc, -EIO);
    } else if (f->mode == CRASH_DETACHED) {
        CO_AWAIT(f->rc, co_yield(t));   /* it ran, failed, and was freed */
    } else {
        CO_AWAIT(f->rc, co_task_wait(t, f->h));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(co_task_result(f->h), -EIO);
    }
    /* Daemon and detached failures nobody can collect are reported as soon
     * as the task ends; an unjoined ordinary task only at shutdown (it
     * could still be joined until then); a joined one never. */
    if (f->mode == CRASH_DAEMON || f->mode == CRASH_DETACHED)
        ck_assert_msg(reported_yet(names[f->mode]),
                      "%s not reported when it ended", names[f->mode]);
    else
        ck_assert_msg(!reported_yet("Task Crash"), "reported too early");
    CO_END;
}

START_TEST(test_crash_reported_at_shutdown_when_never_joined)
{
    struct crash_main_frame m = { .mode = CRASH_UNJOINED };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") != NULL, "stderr: %s",
                  captured);
    ck_assert_msg(occurrences(captured, "exploder") == 1, "stderr: %s",
                  captured);
}
END_TEST

START_TEST(test_crash_reported_when_daemon_ends)
{
    struct crash_main_frame m = { .mode = CRASH_DAEMON };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") != NULL, "stderr: %s",
                  captured);
    /* once, when it ended: never again as unjoined at shutdown */
    ck_assert_msg(occurrences(captured, "daemon_fail") == 1, "stderr: %s",
                  captured);
}
END_TEST

START_TEST(test_crash_reported_when_detached_ends)
{
    struct crash_main_frame m = { .mode = CRASH_DETACHED };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") != NULL, "stderr: %s",
                  captured);
    ck_assert_msg(occurrences(captured, "detached_fail") == 1, "stderr: %s",
                  captured);
}
END_TEST

START_TEST(test_crash_not_reported_when_joined)
{
    struct crash_main_frame m = { .mode = CRASH_JOINED };
    ck_assert_int_eq(run_capturing_stderr(crash_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") == NULL, "stderr: %s",
                  captured);
    ck_assert_msg(strstr(captured, "joined_fail") == NULL, "stderr: %s",
                  captured);
}
END_TEST

/* Cancellation is not a crash (as in Curio): neither a task cancelled and
 * never joined, nor one cancelled at shutdown, is reported. */
struct cancelled_main_frame {
    co_frame co;
    co_task *h;
    struct task_waiter_frame w;
    co_spawn_opts opts;
    int rc;
};

static co_status cancelled_main(co_task *t, void *arg)
{
    struct cancelled_main_frame *f = arg;
    CO_BEGIN(t, f);
    f->opts.name = "victim_a";
    ck_assert_int_gt(co_spawn(t, &f->h, task_waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_AWAIT(f->rc, co_task_cancel(t, f->h));
    ck_assert_int_eq(f->rc, 1);
    ck_assert_int_eq(co_task_result(f->h), -ECANCELED);
    f->opts.name = "victim_b";
    ck_assert_int_gt(co_spawn(t, &f->h, task_waiter, &f->w, sizeof f->w, &f->opts),
                     0);
    CO_AWAIT(f->rc, co_yield(t));
    CO_END;
}

START_TEST(test_crash_not_reported_for_cancelled)
{
    struct cancelled_main_frame m = { 0 };
    ck_assert_int_eq(run_capturing_stderr(cancelled_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "Task Crash") == NULL, "stderr: %s",
                  captured);
    ck_assert_msg(strstr(captured, "victim") == NULL, "stderr: %s", captured);
}
END_TEST

/* ------------------------------------------------------------ safety rails */

struct sum_frame { co_frame co; int n, m; };

static co_status sums(co_task *t, void *arg)
{
    struct sum_frame *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(f->n + f->m);
    CO_END;
}

struct rails_frame {
    co_frame co;
    co_task *h;
    int rc, result;
    _Alignas(max_align_t) unsigned char storage[
        CO_TASK_STORAGE(sizeof(struct sum_frame))];
};

static co_status rails_main(co_task *t, void *arg)
{
    struct rails_frame *f = arg;
    CO_BEGIN(t, f);
    /* a compound literal as the frame: CO_SPAWN is variadic */
    ck_assert_int_gt(CO_SPAWN(t, &f->h, sums,
                              (struct sum_frame){ .n = 3, .m = 4 }), 0);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->result, 7);
    /* a second join on the freed handle: -EINVAL, not a crash.  (Caller
     * storage, so the memory is certainly still there to look at.) */
    ck_assert_int_gt(co_spawn(t, &f->h, sums,
                              &(struct sum_frame){ .n = 1, .m = 1 },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .storage = f->storage,
                                                .storage_size =
                                                    sizeof f->storage }),
                     0);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(f->result, 2);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_wait(t, f->h));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_task_cancel(t, f->h));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_task_detach(f->h), -EINVAL);
    ck_assert_int_eq(co_task_cancel_nowait(f->h), -EINVAL);
    CO_END;
}

START_TEST(test_spawn_rails)
{
    struct rails_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(rails_main, &m, sizeof m), 0);
    /* the layout check costs nothing: it adds 0 */
    ck_assert_uint_eq(CO_FRAME_CHECK(struct sum_frame), 0);
}
END_TEST

/* CO_ROUTINE_NET: a task ending with -ECONNRESET is not a crash; -EIO
 * still is. */
static co_status fails_with(co_task *t, void *arg)
{
    struct sum_frame *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(f->n);
    CO_END;
}

static co_status routine_main(co_task *t, void *arg)
{
    struct rails_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_gt(co_spawn(t, NULL, fails_with,
                              &(struct sum_frame){ .n = -ECONNRESET },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .name = "reset",
                                                .flags = CO_DETACHED |
                                                         CO_ROUTINE_NET }),
                     0);
    ck_assert_int_gt(co_spawn(t, NULL, fails_with,
                              &(struct sum_frame){ .n = -EIO },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .name = "eio",
                                                .flags = CO_DETACHED |
                                                         CO_ROUTINE_NET }),
                     0);
    /* joined: the result is still the task's own */
    ck_assert_int_gt(co_spawn(t, &f->h, fails_with,
                              &(struct sum_frame){ .n = -EPIPE },
                              sizeof(struct sum_frame),
                              &(co_spawn_opts){ .flags = CO_ROUTINE_NET }),
                     0);
    CO_AWAIT(f->rc, co_task_join(t, f->h, &f->result));
    ck_assert_int_eq(f->result, -EPIPE);
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    CO_END;
}

START_TEST(test_routine_net_results_are_not_crashes)
{
    struct rails_frame m = { .rc = 0 };
    ck_assert_int_eq(run_capturing_stderr(routine_main, &m, sizeof m), 0);
    ck_assert_msg(strstr(captured, "'eio' failed with -5"), "<<%s>>",
                  captured);
    ck_assert_ptr_null(strstr(captured, "'reset'"));
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *task_crash_suite(void)
{
    Suite *s = suite_create("task_crash");
    TCase *tc;

    tc = tcase_create("join");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_spawn_rails);
    tcase_add_test(tc, test_routine_net_results_are_not_crashes);
    suite_add_tcase(s, tc);

    tc = tcase_create("kernel");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_crash_reported_at_shutdown_when_never_joined);
    tcase_add_test(tc, test_crash_reported_when_daemon_ends);
    tcase_add_test(tc, test_crash_reported_when_detached_ends);
    tcase_add_test(tc, test_crash_not_reported_when_joined);
    tcase_add_test(tc, test_crash_not_reported_for_cancelled);
    suite_add_tcase(s, tc);
    return s;
}
