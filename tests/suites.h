/* suites.h -- the Check suites tests/main.c runs, one per tests/test_*.c. */
#ifndef TESTS_SUITES_H
#define TESTS_SUITES_H

#include <check.h>

Suite *task_suite(void);
Suite *time_suite(void);
Suite *cancel_suite(void);
Suite *misuse_suite(void);
Suite *embed_suite(void);
Suite *hooks_suite(void);
/* Networking suites (net/); weak so that each can be developed alone. */
Suite *socket_suite(void) __attribute__((weak));
Suite *stream_suite(void) __attribute__((weak));
Suite *server_suite(void) __attribute__((weak));
Suite *pool_suite(void) __attribute__((weak));
Suite *fairness_suite(void) __attribute__((weak));
/* Synchronisation suites (sync/). */
Suite *sync_suite(void) __attribute__((weak));
Suite *condition_suite(void) __attribute__((weak));
Suite *queue_suite(void) __attribute__((weak));
Suite *universal_suite(void) __attribute__((weak));
Suite *races_suite(void) __attribute__((weak));
/* The rules every primitive shares (tests/test_rules.c). */
Suite *rules_suite(void) __attribute__((weak));
/* tests/test_macros.c, compiled once per coroutine backend */
Suite *macro_suite_switch(void);
Suite *macro_suite_labels(void);

/* Most tests only care about "what did joining give": the task's result when
 * the join succeeded, or the join's own error.  AWAIT_JOIN folds the two
 * (co_task_join keeps them apart; tests of that use co_task_join directly).  The
 * result is written on the join's final evaluation and read at once, so
 * one scratch variable serves every test. */
extern int test_join_result;
#define AWAIT_JOIN(rc, self, target)                                        \
    do {                                                                    \
        CO_AWAIT(rc, co_task_join((self), (target), &test_join_result));         \
        if ((rc) == 0)                                                      \
            (rc) = test_join_result;                                        \
    } while (0)

#endif
