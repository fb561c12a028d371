/* universal_tasks.c -- what the universal suites share (see universal_tasks.h). */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curio.h"
#include "core/async.h"
#include "sync/universal.h"
#include "log.h"
#include "universal_tasks.h"

void universal_setup(void)
{
    log_reset();
}

void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

unsigned char seen[TOTAL + 1];   /* how often each item was taken */

uint64_t expected_sum(void)
{
    return (uint64_t)TOTAL * (TOTAL + 1) / 2;
}

void check_seen(void)
{
    for (int i = 1; i <= TOTAL; i++)
        ck_assert_msg(seen[i] == 1, "item %d taken %d times", i, seen[i]);
}

co_status getter(co_task *t, void *arg)
{
    struct getter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_uqueue_get(t, f->q, &f->item));
    note("%s:get=%s:%s", f->name, rcs(f->rc),
         f->rc == 0 ? (const char *)f->item : "-");
    CO_AWAIT(f->rc, co_sleep(t, 0));
    note("%s:next=%s", f->name, rcs(f->rc));
    CO_END;
}

void *put_one(void *arg)
{
    ck_assert_int_eq(co_uqueue_put_thread(arg, (void *)"x", -1), 0);
    return NULL;
}

void *set_event(void *arg)
{
    ck_assert_int_eq(co_uevent_set(arg), 0);
    return NULL;
}
