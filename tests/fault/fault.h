/* fault.h -- the fault suite (tests/fault/test_fault.c). */
#ifndef TESTS_FAULT_H
#define TESTS_FAULT_H

#include <check.h>

#include "../select.h"

Suite *fault_suite(void);
/* test_fault_group.c: task groups out of memory */
void fault_group_tcase(Suite *s);
/* test_fault_file.c: async files out of memory */
void fault_file_tcase(Suite *s);
/* test_fault_channel.c: connections out of memory */
void fault_channel_tcase(Suite *s);

#endif
