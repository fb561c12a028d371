/* queue_tasks.c -- what the queue suites share (see queue_tasks.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "queue_tasks.h"
#include "../core/async.h"
#include "../sync/queue.h"

co_queue q;

char none_tag;

void queue_setup(void)
{
    log_reset();
    q = (co_queue){ 0 };
}

void queue_teardown(void)
{
    co_queue_free(&q);
}

co_status consumer(co_task *t, void *arg)
{
    struct consumer_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
        ck_assert_int_eq(f->rc, 0);
        if (f->item == NONE)
            break;
        note("%s:%d", f->label, NUM(f->item));
        if (f->pause > 0)
            CO_AWAIT(f->rc, co_sleep(t, f->pause));
        ck_assert_int_eq(co_queue_task_done(&q), 0);
    }
    ck_assert_int_eq(co_queue_task_done(&q), 0);
    note("%s:done", f->label);
    CO_END;
}

co_status queue_getter(co_task *t, void *arg)
{
    struct queue_getter_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    if (f->rc == 0)
        note("%s:%d", f->label, NUM(f->item));
    else
        note("%s:%s", f->label, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->timeout > 0)
        CO_RESULT() = co_timeout_end(t, &f->to, CO_RESULT());
    CO_END;
}

co_status handed_getter(co_task *t, void *arg)
{
    struct handed_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_queue_get(t, &q, &f->item));
    note("G:get=%s item=%d", rcs(f->rc), NUM(f->item));
    CO_AWAIT(f->rc, co_sleep(t, 0));
    note("G:next=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

void note_left(void)
{
    void *item;
    while (co_queue_get_nowait(&q, &item) == 0)
        note("left:%d", NUM(item));
}

co_status queue_putter(co_task *t, void *arg)
{
    struct queue_putter_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, co_queue_put(t, &q, IT(f->value)));
    note("%s:put=%s", f->label, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->timeout > 0)
        CO_RESULT() = co_timeout_end(t, &f->to, CO_RESULT());
    CO_END;
}
