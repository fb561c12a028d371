/* main.c -- run every Check suite in one runner; non-zero exit on failure. */
#include <stdlib.h>

#include <check.h>

#include "suites.h"

int test_join_result;

int main(void)
{
    SRunner *sr = srunner_create(task_suite());
    srunner_add_suite(sr, time_suite());
    srunner_add_suite(sr, cancel_suite());
    srunner_add_suite(sr, misuse_suite());
    srunner_add_suite(sr, embed_suite());
    srunner_add_suite(sr, hooks_suite());
    Suite *(*const more[])(void) = { socket_suite, stream_suite,
                                     server_suite, pool_suite, sync_suite,
                                     condition_suite, queue_suite,
                                     universal_suite, races_suite,
                                     fairness_suite, rules_suite };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++)
        if (more[i])
            srunner_add_suite(sr, more[i]());
    srunner_add_suite(sr, macro_suite_switch());
    srunner_add_suite(sr, macro_suite_labels());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
