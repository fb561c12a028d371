/*
 * channel_tasks.c -- the tasks the test_channel_*.c suites share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel_tasks.h"
#include "helpers.h"
#include "log.h"

unsigned char *chan_big;

void channel_setup(void)
{
    log_reset();
    if (!chan_big)
        chan_big = pattern_alloc(CHAN_BIG + 1);
}

void channel_teardown(void)
{
    free(chan_big);
    chan_big = NULL;
}

const char *chan_rcs(int rc)
{
    return rc == -EACCES ? "EACCES" : rcs(rc);
}

co_status conn_echo(co_task *t, void *arg)
{
    struct conn_echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->c, &f->msg, &f->len));
        if (f->rc < 0)
            break;
        CO_AWAIT(f->rc, co_conn_send_bytes(t, f->c, f->msg, 0, f->len));
        free(f->msg);
        f->msg = NULL;
        if (f->rc < 0)
            break;
        f->n++;
    }
    if (f->close)
        co_conn_close(&f->c);
    CO_RETURN(f->rc == -EPIPE ? f->n : f->rc);
    CO_END;
}

static const size_t sizes[] = { 0, 5, CHAN_BIG };

co_status round_trips(co_task *t, void *arg)
{
    struct round_trips_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        CO_AWAIT(f->rc, co_conn_send_bytes(t, f->c, chan_big, 1,
                                           sizes[f->i]));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->c, &f->msg, &f->len));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_uint_eq(f->len, sizes[f->i]);
        ck_assert_int_eq(memcmp(f->msg, chan_big + 1, f->len), 0);
        free(f->msg);
        f->msg = NULL;
    }
    CO_RETURN(0);
    CO_END;
}

co_status raw_send(co_task *t, void *arg)
{
    struct raw_send_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, f->buf, f->len, &f->sent));
    if (f->close)
        co_socket_close(&f->s);
    CO_RETURN(f->rc);
    CO_END;
}
