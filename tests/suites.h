/* suites.h -- what every tests/test_*.c includes: the suites tests/main.c
 * runs (their list is tests/test_list.h), the by-name selection their
 * tcase_add_test calls go through (select.h), and AWAIT_JOIN. */
#ifndef TESTS_SUITES_H
#define TESTS_SUITES_H

#include <check.h>

#include "select.h"

#define SUITE(name) Suite *name##_suite(void);
#include "test_list.h"
#undef SUITE

/* Most tests only care about "what did joining give": the task's result when
 * the join succeeded, or the join's own error.  AWAIT_JOIN folds the two
 * (co_task_join keeps them apart; tests of that use co_task_join directly).  The
 * result is written on the join's final evaluation and read at once, so
 * one scratch variable serves every test. */
extern int test_join_result;
#define AWAIT_JOIN(rc, self, target)                                        \
    do {                                                                    \
        CO_AWAIT(rc, co_task_join((self), (target), &test_join_result));    \
        if ((rc) == 0)                                                      \
            (rc) = test_join_result;                                        \
    } while (0)

#endif
