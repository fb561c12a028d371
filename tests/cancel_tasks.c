/* cancel_tasks.c -- what the cancel suites share (see cancel_tasks.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "log.h"
#include "cancel_tasks.h"

co_waitq cancel_wq;

void cancel_setup(void)
{
    lg[0] = '\0';
    co_waitq_init(&cancel_wq);
}

co_status long_sleeper(co_task *t, void *arg)
{
    struct sleeper_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s:start", f->name);
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    note("%s:sleep=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("%s:fin=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}

co_status qwaiter(co_task *t, void *arg)
{
    struct qwaiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &cancel_wq));
    note("%s=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}
