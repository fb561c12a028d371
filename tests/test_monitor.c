/*
 * test_monitor.c -- the debug monitor over a real loopback socket: ps,
 * where (a 3-level await chain), parents, cancel, stats, bad input, two
 * consoles at once, quit; and deadlock detection with the monitor on.
 *
 * The console's client is the test's main task, in the same kernel: it
 * sends a line and reads until the prompt that ends every answer.  The
 * monitor listens on port 0 (a free port), never on 48802.
 *
 * Values come from core/diag.h: a row's bytes are co_task_memory, and
 * `stats` says what co_kernel_get_stats says.
 */
#define _DEFAULT_SOURCE             /* setenv */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "monitor_tasks.h"
#include "suites.h"

/* ---------------------------------------------------- a 3-level chain */

const char *at_outer, *at_middle, *at_inner;  /* where each level awaits */

struct inner_frame { co_frame co; co_event *ev; int rc; };
struct middle_frame { co_frame co; co_event *ev; int rc;
                      struct inner_frame in; };
struct chain_frame { co_frame co; co_event *ev; int rc;
                     struct middle_frame mid; };

static co_status chain_inner(co_task *t, void *arg)
{
    struct inner_frame *f = arg;
    CO_BEGIN(t, f);
    at_inner = CO_HERE; CO_AWAIT(f->rc, co_event_wait(t, f->ev));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status chain_middle(co_task *t, void *arg)
{
    struct middle_frame *f = arg;
    CO_BEGIN(t, f);
    f->in.ev = f->ev;
    at_middle = CO_HERE; CO_AWAIT_CALL(f->rc, chain_inner, &f->in);
    CO_RETURN(f->rc);
    CO_END;
}

static co_status chain_outer(co_task *t, void *arg)
{
    struct chain_frame *f = arg;
    CO_BEGIN(t, f);
    f->mid.ev = f->ev;
    at_outer = CO_HERE; CO_AWAIT_CALL(f->rc, chain_middle, &f->mid);
    CO_RETURN(f->rc);
    CO_END;
}

/* ------------------------------------------------------------ scenes */

struct mon_frame {
    co_frame co;
    co_event ev;
    co_task *worker, *early;
    int rc, port;
    const char *at;
    struct chain_frame cf;          /* the workers' first frame */
    struct console_frame c1, c2;
    char expect[512];
};

static void setup(void)
{
    log_reset();
    unsetenv("CURIO_MONITOR");
    at_outer = at_middle = at_inner = NULL;
}

static void teardown(void)
{
    unsetenv("CURIO_MONITOR");
}

/* Enable the monitor on a free port and connect console c to it. */
#define OPEN_CONSOLE(f, c)                                                  \
    do {                                                                    \
        if ((f)->port <= 0) {                                               \
            ck_assert_int_eq(co_kernel_enable_monitor(co_current_kernel(),  \
                                                      "127.0.0.1:0"), 0);   \
            (f)->port = co_kernel_monitor_port(co_current_kernel());        \
            ck_assert_int_gt((f)->port, 0);                                 \
        }                                                                   \
        (c)->port = (f)->port;                                              \
        CO_AWAIT_CALL((f)->rc, console_open, (c));                          \
        ck_assert_int_eq((f)->rc, 0);                                       \
        ck_assert_ptr_nonnull(strstr((c)->buf, "curio monitor:"));          \
    } while (0)

/* Send cmd on console c; c->buf is the answer, its prompt cut off. */
#define ASK(f, c, line)                                                     \
    do {                                                                    \
        (c)->cmd = (line);                                                  \
        (c)->cmd_len = strlen(line);                                        \
        CO_AWAIT_CALL((f)->rc, console_ask, (c));                           \
        ck_assert_int_ge((f)->rc, 0);                                       \
    } while (0)

static co_status ps_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    f->cf.ev = &f->ev;
    CO_SPAWN(t, &f->worker, chain_outer, f->cf);
    OPEN_CONSOLE(f, &f->c1);
    f->at = CO_HERE; ASK(f, &f->c1, "ps\n");
    /* the header, then one row per task in id order */
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "id  name"));
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "state"));
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "where"));
    /* main waits for this answer: blocked at the await in console_ask */
    ck_assert(console_row(f->c1.buf, 1, "main", "blocked", f->at));
    /* the worker is blocked where its outermost level awaits */
    ck_assert(console_row(f->c1.buf, co_task_id(f->worker), "chain_outer",
                          "blocked", at_outer));
    ck_assert_str_eq(co_task_where(f->worker), at_outer);
    /* its row's bytes: co_task_memory, just before where it waits */
    snprintf(f->expect, sizeof f->expect, "%zu  %s",
             co_task_memory(f->worker), at_outer);
    ck_assert_ptr_nonnull(strstr(f->c1.buf, f->expect));
    /* the monitor's own tasks are listed too */
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "  monitor "));
    ck_assert(console_row(f->c1.buf, 0, "monitor console", "running",
                          NULL));
    co_event_set(&f->ev);
    AWAIT_JOIN(f->rc, t, f->worker);
    ck_assert_int_eq(f->rc, 0);
    ASK(f, &f->c1, "ps\n");
    ck_assert_ptr_null(strstr(f->c1.buf, "chain_outer"));   /* gone */
    co_socket_close(&f->c1.sock);
    CO_END;
}

START_TEST(test_ps_lists_tasks)
{
    struct mon_frame m = { 0 };
    RUN(ps_main, m);
}
END_TEST

static co_status where_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    f->cf.ev = &f->ev;
    /* suspends before the monitor is on: only its place is known */
    CO_SPAWN(t, &f->early, chain_outer, f->cf);
    CO_YIELD();
    OPEN_CONSOLE(f, &f->c1);
    CO_SPAWN(t, &f->worker, chain_outer, f->cf);
    CO_YIELD();                     /* the worker suspends, tracked */
    snprintf(f->c1.cmd_buf, sizeof f->c1.cmd_buf, "where %u\n",
             (unsigned)co_task_id(f->worker));
    ASK(f, &f->c1, f->c1.cmd_buf);
    snprintf(f->expect, sizeof f->expect,
             "task %u 'chain_outer' blocked\n"
             "  chain_outer at %s\n"
             "  chain_middle at %s\n"
             "  chain_inner at %s\n",
             (unsigned)co_task_id(f->worker), at_outer, at_middle, at_inner);
    ck_assert_str_eq(f->c1.buf, f->expect);
    /* a prefix, and the task that suspended untracked */
    snprintf(f->c1.cmd_buf, sizeof f->c1.cmd_buf, "wh %u\n",
             (unsigned)co_task_id(f->early));
    ASK(f, &f->c1, f->c1.cmd_buf);
    snprintf(f->expect, sizeof f->expect,
             "task %u 'chain_outer' blocked\n"
             "  ? at %s (suspended before await chains were tracked)\n",
             (unsigned)co_task_id(f->early), at_outer);
    ck_assert_str_eq(f->c1.buf, f->expect);
    /* parents: the worker, then main */
    snprintf(f->c1.cmd_buf, sizeof f->c1.cmd_buf, "parents %u\n",
             (unsigned)co_task_id(f->worker));
    ASK(f, &f->c1, f->c1.cmd_buf);
    snprintf(f->expect, sizeof f->expect, "%6u  chain_outer\n     1  main\n",
             (unsigned)co_task_id(f->worker));
    ck_assert_str_eq(f->c1.buf, f->expect);
    ASK(f, &f->c1, "where 99999\n");
    ck_assert_str_eq(f->c1.buf, "error: no task 99999\n");
    ASK(f, &f->c1, "where x1\n");
    ck_assert_str_eq(f->c1.buf, "error: usage: where TASK-ID\n");
    co_event_set(&f->ev);
    AWAIT_JOIN(f->rc, t, f->worker);
    AWAIT_JOIN(f->rc, t, f->early);
    co_socket_close(&f->c1.sock);
    CO_END;
}

START_TEST(test_where_shows_the_await_chain)
{
    struct mon_frame m = { 0 };
    RUN(where_main, m);
}
END_TEST

static co_status cancel_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    f->cf.ev = &f->ev;
    CO_SPAWN(t, &f->worker, chain_outer, f->cf);
    OPEN_CONSOLE(f, &f->c1);
    snprintf(f->c1.cmd_buf, sizeof f->c1.cmd_buf, "cancel %u\n",
             (unsigned)co_task_id(f->worker));
    ASK(f, &f->c1, f->c1.cmd_buf);
    snprintf(f->expect, sizeof f->expect,
             "task %u 'chain_outer': cancellation requested\n",
             (unsigned)co_task_id(f->worker));
    ck_assert_str_eq(f->c1.buf, f->expect);
    AWAIT_JOIN(f->rc, t, f->worker);
    ck_assert_int_eq(f->rc, -ECANCELED);   /* from the innermost await */
    ASK(f, &f->c1, "cancel 99999\n");
    ck_assert_str_eq(f->c1.buf, "error: no task 99999\n");
    ASK(f, &f->c1, "cancel\n");
    ck_assert_str_eq(f->c1.buf, "error: usage: cancel TASK-ID\n");
    co_socket_close(&f->c1.sock);
    CO_END;
}

START_TEST(test_cancel_cancels)
{
    struct mon_frame m = { 0 };
    RUN(cancel_main, m);
}
END_TEST

static co_status bad_input_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    OPEN_CONSOLE(f, &f->c1);
    ASK(f, &f->c1, "frobnicate\n");
    ck_assert_str_eq(f->c1.buf, "error: unknown command 'frobnicate' "
                                "(try help)\n");
    ASK(f, &f->c1, "s\n");                  /* signal or stats */
    ck_assert_str_eq(f->c1.buf, "error: 's' is ambiguous (try help)\n");
    ASK(f, &f->c1, "help me\n");
    ck_assert_str_eq(f->c1.buf, "error: usage: help\n");
    ASK(f, &f->c1, "\x01\xff\x7f garbage\n");
    ck_assert_str_eq(f->c1.buf, "error: binary input ignored\n");
    ASK(f, &f->c1, "signal FROB\n");       /* test_signal_monitor.c: more */
    ck_assert_str_eq(f->c1.buf, "error: unknown signal 'FROB'\n");
    /* 1000 bytes without a newline, sent in one go, then its end */
    memset(f->c1.cmd_buf, 'x', 1000);
    memcpy(f->c1.cmd_buf + 1000, "ps\n", 4);
    ASK(f, &f->c1, f->c1.cmd_buf);
    ck_assert_str_eq(f->c1.buf, "error: line too long (at most 255 bytes)\n");
    /* empty lines get the prompt alone; the session goes on */
    ASK(f, &f->c1, "\r\n");
    ck_assert_str_eq(f->c1.buf, "");
    ASK(f, &f->c1, "he\n");
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "where N"));
    ASK(f, &f->c1, "stats\n");
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "tasks_alive "));
    ck_assert_ptr_nonnull(strstr(f->c1.buf, "memory_kernel "));
    {   /* what the kernel counts (no task was spawned since the answer) */
        co_kernel_stats st;
        ck_assert_int_eq(co_kernel_get_stats(co_current_kernel(), &st), 0);
        snprintf(f->expect, sizeof f->expect, "tasks_spawned  %" PRIu64 "\n",
                 st.tasks_spawned);
        ck_assert_ptr_nonnull(strstr(f->c1.buf, f->expect));
    }
    co_socket_close(&f->c1.sock);
    CO_END;
}

START_TEST(test_bad_input_gets_an_error_line)
{
    struct mon_frame m = { 0 };
    RUN(bad_input_main, m);
}
END_TEST

static co_status two_consoles_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    OPEN_CONSOLE(f, &f->c1);
    OPEN_CONSOLE(f, &f->c2);
    ASK(f, &f->c1, "ps\n");
    /* each console is a task of its own: both are listed */
    ck_assert(console_row(f->c1.buf, 0, "monitor console", "running",
                          NULL));
    ck_assert(console_row(f->c1.buf, 0, "monitor console", "blocked", NULL));
    ASK(f, &f->c2, "help\n");
    ck_assert_ptr_nonnull(strstr(f->c2.buf, "quit"));
    /* quit closes that console only */
    ASK(f, &f->c1, "quit\n");
    ck_assert(f->c1.eof);                   /* end of stream, no prompt */
    ck_assert_str_eq(f->c1.buf, "");
    ASK(f, &f->c2, "stats\n");
    ck_assert_ptr_nonnull(strstr(f->c2.buf, "tasks_alive "));
    ck_assert(!f->c2.eof);
    ASK(f, &f->c2, "q\n");
    ck_assert(f->c2.eof);
    co_socket_close(&f->c1.sock);
    co_socket_close(&f->c2.sock);
    CO_END;
}

START_TEST(test_two_consoles_and_quit)
{
    struct mon_frame m = { 0 };
    RUN(two_consoles_main, m);
}
END_TEST

/* ------------------------------------------------ enabling, deadlock */

static co_status enable_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    co_kernel *k = co_current_kernel();
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_kernel_monitor_port(k), -ENOTCONN);
    ck_assert_int_eq(co_kernel_monitor_port(NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_enable_monitor(NULL, NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_enable_monitor(k, "nonsense"), -EINVAL);
    ck_assert_int_eq(co_kernel_enable_monitor(k, ":80"), -EINVAL);
    ck_assert_int_eq(co_kernel_enable_monitor(k, "127.0.0.1:70000"), -EINVAL);
    ck_assert_int_eq(co_kernel_enable_monitor(k, "127.0.0.1:x"), -EINVAL);
    ck_assert_int_eq(co_kernel_monitor_port(k), -ENOTCONN);
    ck_assert_int_eq(co_kernel_enable_monitor(k, "localhost:0"), 0);
    ck_assert_int_gt(co_kernel_monitor_port(k), 0);
    ck_assert_int_eq(co_kernel_enable_monitor(k, NULL), -EALREADY);
    CO_END;
}

START_TEST(test_enable_validates)
{
    struct mon_frame m = { 0 };
    RUN(enable_main, m);
}
END_TEST

static co_status env_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    f->port = co_kernel_monitor_port(co_current_kernel());
    ck_assert_int_gt(f->port, 0);
    OPEN_CONSOLE(f, &f->c1);
    co_socket_close(&f->c1.sock);
    CO_END;
}

START_TEST(test_environment_turns_it_on)
{
    struct mon_frame m = { 0 };
    setenv("CURIO_MONITOR", "127.0.0.1:0", 1);
    RUN(env_main, m);
    setenv("CURIO_MONITOR", "bogus", 1);    /* said on stderr, run goes on */
    ck_assert_int_eq(run_capturing_stderr(enable_main, &m, sizeof m), 0);
    ck_assert_ptr_nonnull(strstr(captured, "CURIO_MONITOR=bogus"));
    unsetenv("CURIO_MONITOR");
}
END_TEST

/* Tasks that deadlock are reported as with the monitor off: its own
 * waits keep nothing alive.  Even with a console connected. */
static co_status deadlock_main(co_task *t, void *arg)
{
    struct mon_frame *f = arg;
    CO_BEGIN(t, f);
    OPEN_CONSOLE(f, &f->c1);
    CO_AWAIT(f->rc, co_event_wait(t, &f->ev));   /* nobody sets it */
    ck_assert_int_eq(f->rc, -ECANCELED);
    co_socket_close(&f->c1.sock);
    CO_RETURN(f->rc);
    CO_END;
}

START_TEST(test_deadlock_still_detected)
{
    struct mon_frame m = { 0 };
    ck_assert_int_eq(run_capturing_stderr(deadlock_main, &m, sizeof m),
                     -EDEADLK);
    ck_assert_ptr_nonnull(strstr(captured, "curio: deadlock"));
}
END_TEST

Suite *monitor_suite(void)
{
    Suite *s = suite_create("monitor");
    TCase *tc = tcase_create("console");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ps_lists_tasks);
    tcase_add_test(tc, test_where_shows_the_await_chain);
    tcase_add_test(tc, test_cancel_cancels);
    tcase_add_test(tc, test_bad_input_gets_an_error_line);
    tcase_add_test(tc, test_two_consoles_and_quit);
    tcase_add_test(tc, test_enable_validates);
    tcase_add_test(tc, test_environment_turns_it_on);
    tcase_add_test(tc, test_deadlock_still_detected);
    suite_add_tcase(s, tc);
    return s;
}
