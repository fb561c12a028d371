/*
 * select.h -- running one test, or one suite, by name.
 *
 * Check selects suites and tcases (CK_RUN_SUITE, CK_RUN_CASE) but not one
 * test.  So every test reaches its tcase through select_add() instead of
 * Check's _tcase_add_test(): the tcase_add_* macros the suites use are
 * redefined below to call it, and it adds the test only if the runner's
 * command line selects it (or selects nothing).  A suite that ends up
 * with no test runs nothing; its fixtures are not even called.
 *
 * Included after <check.h> by every file that builds a suite (through
 * suites.h or tests/fault/fault.h).
 */
#ifndef TESTS_SELECT_H
#define TESTS_SELECT_H

#include <check.h>

/* The runner's arguments: each a suite name, a test name (the START_TEST
 * identifier) or a glob of either (fnmatch: 'socket_*', '*timeout*').
 * None: everything runs.  A first argument -q (make check TEST=..., which
 * tries each runner in turn) asks for silence when nothing matches; the
 * result says whether it was there. */
int select_init(int argc, char **argv);
/* Name the suite whose constructor runs next: the tests it adds are
 * selected whole when a pattern names the suite. */
void select_suite(const char *name);
/* How many tests were added so far. */
int select_count(void);
/* Check's _tcase_add_test, when the test is selected. */
void select_add(TCase *tc, const TTest *tt, int signal, int exit_value,
                int start, int end);

#undef tcase_add_test_raise_signal
#define tcase_add_test_raise_signal(tc, tt, signal)                         \
    select_add((tc), (tt), (signal), 0, 0, 1)
#undef tcase_add_exit_test
#define tcase_add_exit_test(tc, tt, exit_value)                             \
    select_add((tc), (tt), 0, (exit_value), 0, 1)
#undef tcase_add_loop_test
#define tcase_add_loop_test(tc, tt, s, e)                                   \
    select_add((tc), (tt), 0, 0, (s), (e))
#undef tcase_add_loop_test_raise_signal
#define tcase_add_loop_test_raise_signal(tc, tt, signal, s, e)              \
    select_add((tc), (tt), (signal), 0, (s), (e))
#undef tcase_add_loop_exit_test
#define tcase_add_loop_exit_test(tc, tt, exit_value, s, e)                  \
    select_add((tc), (tt), 0, (exit_value), (s), (e))
/* tcase_add_test(tc, tt) is Check's: tcase_add_test_raise_signal(tc, tt, 0) */

#endif
