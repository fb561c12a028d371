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

#include "curio.h"
/* sweep.c: co_run(fn) with its n-th allocation failing (n < 0: none);
 * asserts the fds are as they were; co_run's result. */
int fault_run_once(long n, co_func fn, const void *frame, size_t size);
/* Run once(n) for every n the program allocates, and a few more: each
 * must give 0 or -ENOMEM; without failures it must give 0. */
void fault_sweep(const char *name, int (*once)(long n));

#endif
