/*
 * test_signal_monitor.c -- the monitor's `signal NAME` command: it sends
 * the signal to the process, where a watcher sees it; names are taken
 * with or without SIG, in either case, or as numbers; an unknown one is
 * an error line.  The console is the test's main task, as in
 * test_monitor.c, on a free port.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "monitor_tasks.h"
#include "suites.h"

struct sig_frame {
    co_frame co;
    co_signal_queue q;
    struct console_frame c;
    int rc, port;
    char expect[128];
};

#define ASK(f, line)                                                        \
    do {                                                                    \
        (f)->c.cmd = (line);                                                \
        (f)->c.cmd_len = strlen(line);                                      \
        CO_AWAIT_CALL((f)->rc, console_ask, &(f)->c);                       \
        ck_assert_int_ge((f)->rc, 0);                                       \
    } while (0)

static co_status signal_main(co_task *t, void *arg)
{
    struct sig_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_queue_init(&f->q, CO_SIGNALS(SIGUSR1,
                                          SIGUSR2, SIGHUP), 0), 0);
    ck_assert_int_eq(co_kernel_enable_monitor(co_current_kernel(),
                                              "127.0.0.1:0"), 0);
    f->c.port = co_kernel_monitor_port(co_current_kernel());
    ck_assert_int_gt(f->c.port, 0);
    CO_AWAIT_CALL(f->rc, console_open, &f->c);
    ck_assert_int_eq(f->rc, 0);

    ASK(f, "signal USR1\n");
    snprintf(f->expect, sizeof f->expect, "sent SIGUSR1 to process %ld\n",
             (long)getpid());
    ck_assert_str_eq(f->c.buf, f->expect);
    ASK(f, "sig sigusr2\n");
    ASK(f, "signal 1\n");           /* SIGHUP */
    snprintf(f->expect, sizeof f->expect, "sent SIGHUP to process %ld\n",
             (long)getpid());
    ck_assert_str_eq(f->c.buf, f->expect);
    /* all three reached the watcher, in order */
    CO_AWAIT(f->rc, co_signal_queue_get(t, &f->q));
    ck_assert_int_eq(f->rc, SIGUSR1);
    CO_AWAIT(f->rc, co_signal_queue_get(t, &f->q));
    ck_assert_int_eq(f->rc, SIGUSR2);
    CO_AWAIT(f->rc, co_signal_queue_get(t, &f->q));
    ck_assert_int_eq(f->rc, SIGHUP);

    ASK(f, "signal NOPE\n");
    ck_assert_str_eq(f->c.buf, "error: unknown signal 'NOPE'\n");
    ASK(f, "signal 0\n");
    ck_assert_str_eq(f->c.buf, "error: unknown signal '0'\n");
    ASK(f, "signal 99\n");
    ck_assert_str_eq(f->c.buf, "error: unknown signal '99'\n");
    ASK(f, "signal\n");
    ck_assert_str_eq(f->c.buf, "error: usage: signal NAME\n");
    ASK(f, "help\n");
    ck_assert_ptr_nonnull(strstr(f->c.buf, "signal NAME    send signal"));
    ck_assert_uint_eq(co_signal_queue_len(&f->q), 0);
    CO_FINALLY;
    co_socket_close(&f->c.sock);
    co_signal_queue_free(&f->q);
    CO_END;
}

START_TEST(test_signal_command_sends_it)
{
    struct sig_frame f = { 0 };
    RUN(signal_main, f);
}
END_TEST

Suite *signal_monitor_suite(void)
{
    Suite *s = suite_create("signal_monitor");
    TCase *tc = tcase_create("monitor");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_signal_command_sends_it);
    suite_add_tcase(s, tc);
    return s;
}
