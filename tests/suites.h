/* suites.h -- the Check suites tests/main.c runs, one per tests/test_*.c. */
#ifndef TESTS_SUITES_H
#define TESTS_SUITES_H

#include <check.h>

Suite *task_suite(void);
Suite *time_suite(void);
Suite *cancel_suite(void);
/* tests/test_macros.c, compiled once per coroutine backend */
Suite *macro_suite_switch(void);
Suite *macro_suite_labels(void);

#endif
