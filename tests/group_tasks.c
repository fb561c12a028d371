/* group_tasks.c -- what the group suites share (see group_tasks.h). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "group_tasks.h"
#include "log.h"

void group_setup(void)
{
    log_reset();
}

co_status group_worker(co_task *t, void *arg)
{
    struct gw_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->yields < 0) {
        CO_AWAIT(f->rc, co_sleep(t, 1e9));
        CO_RETURN(f->rc);
    }
    for (f->i = 0; f->i < f->yields; f->i++) {
        CO_AWAIT(f->rc, co_yield(t));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_RETURN(f->value);
    CO_FINALLY;
    if (CO_RESULT() < 0 && (CO_RESULT() == -ECANCELED ||
                            CO_RESULT() == -ETIMEDOUT))
        note("%s:%s", f->name, rcs(CO_RESULT()));
    else
        note("%s=%s", f->name, rcs(CO_RESULT()));
    if (f->slow_cleanup) {
        co_disable_cancellation(t);
        for (f->i = 0; f->i < 3; f->i++)
            CO_AWAIT(f->rc, co_yield(t));
        co_enable_cancellation(t);
        note("%s:cleaned", f->name);
    }
    CO_END;
}
