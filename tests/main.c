/*
 * main.c -- run the Check suites in one runner; non-zero exit on failure.
 *
 *   build/tests/run_tests                     every suite of tests/test_list.h
 *   build/tests/run_tests socket_io           one suite
 *   build/tests/run_tests test_recv_timeout   one test (its START_TEST name)
 *   build/tests/run_tests 'socket_*' '*_timeout'   globs, several at once
 *   make check TEST=test_recv_timeout         the same through make
 *
 * A test runs with its tcase's fixtures and timeout, as in the full run.
 * Check's own variables still apply: CK_FORK=no (one process: debuggers,
 * valgrind), CK_VERBOSITY=verbose (every test's name), CK_RUN_SUITE and
 * CK_RUN_CASE.  Exit status 77 when the names select no test (silently
 * after -q, which make check TEST=... passes to each runner it tries).
 */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "suites.h"

int test_join_result;

static const struct {
    const char *name;
    Suite *(*make)(void);
} suites[] = {
#define SUITE(name) { #name, name##_suite },
#include "test_list.h"
#undef SUITE
};

int main(int argc, char **argv)
{
    int quiet = select_init(argc - 1, argv + 1);
    /* A suite none of whose tests is selected goes to a runner that never
     * runs: freeing it frees the suite (Check has no suite_free). */
    SRunner *sr = srunner_create(NULL), *unselected = srunner_create(NULL);
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++) {
        int before = select_count();
        select_suite(suites[i].name);
        Suite *s = suites[i].make();
        srunner_add_suite(select_count() > before ? sr : unselected, s);
    }
    srunner_free(unselected);
    if (select_count() == 0) {
        if (!quiet) {
            fprintf(stderr, "run_tests: no test or suite named");
            for (int i = 1; i < argc; i++)
                fprintf(stderr, " %s", argv[i]);
            fprintf(stderr, "\n");
        }
        srunner_free(sr);
        return 77;
    }
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
