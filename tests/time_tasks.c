/* time_tasks.c -- what the time suites share (see time_tasks.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "log.h"
#include "time_tasks.h"

co_waitq time_wq;

void time_setup(void)
{
    lg[0] = '\0';
    co_waitq_init(&time_wq);
}

co_status wait_until(co_task *t, co_waitq *q, int64_t deadline)
{
    int rc;
    if (co_wait_enter(t, &rc)) return rc;
    return co_block(t, q, deadline);
}
