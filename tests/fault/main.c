/* main.c -- the fault suite's runner: the library built with
 * -DCO_FAULT_INJECTION, whose allocations the tests make fail. */
#include <stdlib.h>

#include <check.h>

#include "fault.h"

int main(void)
{
    SRunner *sr = srunner_create(fault_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
