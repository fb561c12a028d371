/* producer.c -- the C half of the C++ test: an ordinary curio task. */
#include <stdint.h>

#include "producer.h"

co_status c_producer(co_task *t, void *arg)
{
    struct c_producer_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= f->n; f->i++) {
        CO_AWAIT(f->rc, co_sleep(t, 0.001));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        CO_AWAIT(f->rc, co_queue_put(t, f->q, (void *)(intptr_t)f->i));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        f->sum += f->i;
    }
    CO_RETURN(f->sum);
    CO_END;
}
