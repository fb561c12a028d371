/* fault.h -- the fault suite (tests/fault/test_fault.c). */
#ifndef TESTS_FAULT_H
#define TESTS_FAULT_H

#include <check.h>

#include "../select.h"

Suite *fault_suite(void);

#endif
