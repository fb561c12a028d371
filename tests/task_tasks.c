/* task_tasks.c -- what the task suites share (see task_tasks.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "task_tasks.h"

co_waitq task_wq;     /* shared by scenarios; initialised in task_setup */

void task_setup(void)
{
    log_reset();
    co_waitq_init(&task_wq);
}

co_status task_leaf(co_task *t, void *arg)
{
    struct task_leaf_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->name) note("%s", f->name);
    CO_RETURN(f->value);
    CO_END;
}

co_status task_yielder(co_task *t, void *arg)
{
    struct task_yielder_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->yields; f->i++) {
        if (f->name) note("%s", f->name);
        CO_AWAIT(f->rc, co_yield(t));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_RETURN(f->value);
    CO_END;
}

co_status task_waiter(co_task *t, void *arg)
{
    struct task_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, wait_on(t, &task_wq));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->name) note("%s=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}
