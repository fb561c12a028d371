/* main.c -- the fault suite's runner: the library built with
 * -DCO_FAULT_INJECTION, whose allocations the tests make fail.  Names on
 * the command line select tests as in tests/main.c; exit status 77 when
 * they select none of these. */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "../select.h"
#include "fault.h"

int main(int argc, char **argv)
{
    (void)select_init(argc - 1, argv + 1);
    select_suite("fault");
    SRunner *sr = srunner_create(fault_suite());
    if (select_count() == 0) {
        srunner_free(sr);
        return 77;
    }
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
