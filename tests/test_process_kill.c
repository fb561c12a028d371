/*
 * test_process_kill.c -- co_run_in_process when a call does not end well:
 * cancellation and timeouts release the caller at once and kill its
 * worker (SIGTERM, then SIGKILL after the grace), a worker that crashes or
 * is killed fails its call alone, a call that was only waiting leaves the
 * workers alone, and the pool stays usable: the next call gets a new
 * worker.  Every test ends with no worker process nor zombie left.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "process_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ kill */

enum { BY_CANCEL, BY_TIMEOUT };

struct kill_main {
    co_frame co;
    int how;
    co_process_fn fn;              /* spin or spin_stubborn */
    co_task *caller;
    struct call_frame who;
    struct gone_frame gone;
    struct call_frame proto;
    double secs, start;
    pid_t first;
    int rc, result;
};

static double released_after, gone_after;

static co_status kill_main(co_task *t, void *arg)
{
    struct kill_main *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_processes(co_current_kernel(), 1);
    f->who = (struct call_frame){ .name = "who", .fn = whoami };
    CO_AWAIT_CALL(f->rc, one_call, &f->who);
    f->first = (pid_t)f->who.result;    /* the worker the next call gets */

    f->secs = 5;
    SPAWN_CALL(t, &f->caller, f->proto, .name = "call", .fn = f->fn,
               .in = &f->secs, .in_len = sizeof f->secs,
               .within = f->how == BY_TIMEOUT ? 0.3 : 0);
    f->start = now_s();
    if (f->how == BY_CANCEL) {
        CO_AWAIT(f->rc, co_sleep(t, 0.3));
        CO_AWAIT(f->rc, co_task_cancel(t, f->caller));
    } else {
        CO_AWAIT(f->rc, co_task_join(t, f->caller, &f->result));
    }
    released_after = now_s() - f->start;
    note("workers=%d", co_kernel_process_count(co_current_kernel()));
    if (f->fn == spin_stubborn)        /* SIGTERM is not enough for it */
        note("alive=%d", kill(f->first, 0) == 0);
    f->start = now_s();
    f->gone = (struct gone_frame){ .pid = f->first };
    CO_AWAIT_CALL(f->rc, wait_gone, &f->gone);
    gone_after = now_s() - f->start;
    note("gone=%d", f->rc);

    CO_AWAIT_CALL(f->rc, one_call, &f->who);     /* the pool still works */
    note("new=%d workers=%d", f->who.result != f->first,
         co_kernel_process_count(co_current_kernel()));
    CO_END;
}

START_TEST(test_cancel_kills_worker)
{
    struct kill_main f = { .how = BY_CANCEL, .fn = spin };
    RUN(kill_main, f);
    ck_assert_str_eq(lg, "who=0 call=CANCEL workers=0 gone=1 who=0 new=1 "
                         "workers=1");
    ck_assert_double_lt(released_after, 2.0);   /* not the 5 s of work */
    assert_no_workers_left();
}
END_TEST

START_TEST(test_timeout_kills_worker)
{
    struct kill_main f = { .how = BY_TIMEOUT, .fn = spin };
    RUN(kill_main, f);
    ck_assert_str_eq(lg, "who=0 call=TIMEOUT workers=0 gone=1 who=0 new=1 "
                         "workers=1");
    ck_assert_double_ge(released_after, 0.3);
    ck_assert_double_lt(released_after, 2.0);
    assert_no_workers_left();
}
END_TEST

START_TEST(test_sigterm_ignored_then_sigkill)
{
    struct kill_main f = { .how = BY_CANCEL, .fn = spin_stubborn };
    RUN(kill_main, f);
    ck_assert_str_eq(lg, "who=0 call=CANCEL workers=0 alive=1 gone=1 who=0 "
                         "new=1 workers=1");
    ck_assert_double_lt(released_after, 2.0);
    ck_assert_double_ge(gone_after, 0.4);       /* the grace (0.5 s) first */
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ crashes */

struct crash_main {
    co_frame co;
    struct call_frame c;
    int kind, rc;
};

static co_status crash_main(co_task *t, void *arg)
{
    struct crash_main *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_processes(co_current_kernel(), 1);
    for (f->kind = 0; f->kind < 3; f->kind++) {
        f->c = (struct call_frame){ .name = "crash", .fn = crash,
                                    .in = &f->kind, .in_len = sizeof f->kind };
        CO_AWAIT_CALL(f->rc, one_call, &f->c);
        note("workers=%d", co_kernel_process_count(co_current_kernel()));
        f->c = (struct call_frame){ .name = "who", .fn = whoami };
        CO_AWAIT_CALL(f->rc, one_call, &f->c);
    }
    CO_END;
}

START_TEST(test_crashing_worker)
{
    struct crash_main f = { 0 };
    RUN(crash_main, f);
    /* abort(), SIGSEGV, _exit(3): each fails its own call alone */
    ck_assert_str_eq(lg, "crash=ESRCH workers=0 who=0 crash=ESRCH workers=0 "
                         "who=0 crash=ESRCH workers=0 who=0");
    assert_no_workers_left();
}
END_TEST

/* Someone else kills a worker: during a call, that call gets -ESRCH; while
 * idle, the next call does not notice (it takes a new worker). */
struct killed_main {
    co_frame co;
    co_task *caller;
    struct call_frame who, proto;
    double secs;
    pid_t first;
    int rc, result;
};

static co_status killed_main(co_task *t, void *arg)
{
    struct killed_main *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_processes(co_current_kernel(), 1);
    f->who = (struct call_frame){ .name = "who", .fn = whoami };
    CO_AWAIT_CALL(f->rc, one_call, &f->who);
    f->first = (pid_t)f->who.result;
    f->secs = 5;
    SPAWN_CALL(t, &f->caller, f->proto, .name = "call", .fn = spin,
               .in = &f->secs, .in_len = sizeof f->secs);
    CO_AWAIT(f->rc, co_sleep(t, 0.2));
    kill(f->first, SIGKILL);
    CO_AWAIT(f->rc, co_task_join(t, f->caller, &f->result));

    CO_AWAIT_CALL(f->rc, one_call, &f->who);
    f->first = (pid_t)f->who.result;
    kill(f->first, SIGKILL);            /* idle: dead before the next call */
    waitid(P_PID, (id_t)f->first, &(siginfo_t){ 0 }, WEXITED | WNOWAIT);
    CO_AWAIT_CALL(f->rc, one_call, &f->who);
    note("new=%d workers=%d", f->who.result != f->first,
         co_kernel_process_count(co_current_kernel()));
    CO_END;
}

START_TEST(test_worker_killed_by_someone)
{
    struct killed_main f = { 0 };
    RUN(killed_main, f);
    ck_assert_str_eq(lg, "who=0 call=ESRCH who=0 who=0 new=1 workers=1");
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ waiting */

/* A call waiting for a worker that is cancelled leaves the busy worker
 * alone; a waiter handed a worker but cancelled before it ran passes the
 * worker on to the next waiter, unharmed. */
/* A: the first call, which cancels B as soon as its call returns -- after
 * the pool has handed its worker to B, before B has run. */
struct a_frame {
    co_frame co;
    struct call_frame c;
    co_task **b;
    int rc;
};

static co_status task_a(co_task *t, void *arg)
{
    struct a_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT_CALL(f->rc, one_call, &f->c);
    co_task_cancel_nowait(*f->b);
    CO_END;
}

struct wait_main {
    co_frame co;
    co_task *a, *b, *c, *d;
    struct a_frame a_proto;
    double secs;
    int rc, result;
};

static co_status wait_main(co_task *t, void *arg)
{
    struct wait_main *f = arg;
    CO_BEGIN(t, f);
    co_kernel_set_max_processes(co_current_kernel(), 1);
    f->secs = 0.3;
    f->a_proto = (struct a_frame){ .c = { .name = "a", .fn = spin,
                                          .in = &f->secs,
                                          .in_len = sizeof f->secs },
                                   .b = &f->b };
    CO_SPAWN(t, &f->a, task_a, f->a_proto);
    CO_SPAWN(t, &f->d, one_call,
             (struct call_frame){ .name = "d", .fn = whoami });
    CO_SPAWN(t, &f->b, one_call,
             (struct call_frame){ .name = "b", .fn = whoami });
    CO_SPAWN(t, &f->c, one_call,
             (struct call_frame){ .name = "c", .fn = whoami });
    CO_AWAIT(f->rc, co_sleep(t, 0.05));     /* a computes; d, b, c wait */
    CO_AWAIT(f->rc, co_task_cancel(t, f->d));
    note("workers=%d", co_kernel_process_count(co_current_kernel()));
    CO_AWAIT(f->rc, co_task_wait(t, f->a));
    CO_AWAIT(f->rc, co_task_wait(t, f->b));
    CO_AWAIT(f->rc, co_task_wait(t, f->c));
    note("same=%d",
         ((struct a_frame *)co_task_frame(f->a))->c.result ==
             ((struct call_frame *)co_task_frame(f->c))->result);
    CO_AWAIT(f->rc, co_task_join(t, f->a, &f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->b, &f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->c, &f->result));
    CO_END;
}

START_TEST(test_waiting_calls_cancelled)
{
    struct wait_main f = { 0 };
    RUN(wait_main, f);
    ck_assert_str_eq(lg, "d=CANCEL workers=1 a=0 b=CANCEL c=0 same=1");
    assert_no_workers_left();
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *process_kill_suite(void)
{
    Suite *s = suite_create("process_kill");
    TCase *tc = tcase_create("process_kill");
    tcase_add_checked_fixture(tc, process_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cancel_kills_worker);
    tcase_add_test(tc, test_timeout_kills_worker);
    tcase_add_test(tc, test_sigterm_ignored_then_sigkill);
    tcase_add_test(tc, test_crashing_worker);
    tcase_add_test(tc, test_worker_killed_by_someone);
    tcase_add_test(tc, test_waiting_calls_cancelled);
    suite_add_tcase(s, tc);
    return s;
}
