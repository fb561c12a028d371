/*
 * test_fault.c -- running out of memory: every allocation the library
 * makes can be made to fail (core/fault_impl.h), and each failure must
 * come back as -ENOMEM with nothing lost, leaked or left half done.
 */
#include <errno.h>

#include "curio.h"
#include "core/fault_impl.h"
#include "../log.h"
#include "fault.h"

static void setup(void)
{
    log_reset();
    co_fault_fail_after(-1);
}

static void teardown(void)
{
    co_fault_fail_after(-1);
}

/* ------------------------------------------------------------ kernel */

START_TEST(test_kernel_new_out_of_memory)
{
    co_fault_fail_after(0);
    ck_assert_ptr_null(co_kernel_new());
    co_fault_fail_after(-1);
}
END_TEST

Suite *fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("fault");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kernel_new_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
