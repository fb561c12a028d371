/*
 * sweep.c -- what the fault suite's sweeps share: one run of a program
 * with its n-th allocation failing, leaving the fds as it found them, and
 * the sweep over every n that run needs.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "curio.h"
#include "core/fault_impl.h"
#include "fault.h"

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (dup2(fd, fd) >= 0)
            n++;
    return n;
}

int fault_run_once(long n, co_func fn, const void *frame, size_t size)
{
    int fds = open_fds();
    co_fault_fail_after(n);
    int rc = co_run(fn, frame, size);
    co_fault_fail_after(-1);
    ck_assert_int_eq(open_fds(), fds);
    return rc;
}

void fault_sweep(const char *name, int (*once)(long n))
{
    long before = co_fault_attempts();
    ck_assert_int_eq(once(-1), 0);
    long needed = co_fault_attempts() - before;
    ck_assert_int_gt(needed, 5);
    fprintf(stderr, "%s sweep: %ld allocations\n", name, needed);
    for (long n = 0; n < needed + 5; n++) {
        int rc = once(n);
        ck_assert_msg(rc == 0 || rc == -ENOMEM,
                      "allocation %ld failing: co_run gave %d", n, rc);
    }
    ck_assert_int_eq(once(needed + 5), 0);
}
