/*
 * test_fault_channel.c -- connections out of memory.  A sweep fails each
 * allocation of a program that makes a connected pair, authenticates it
 * both ways, and sends three messages (empty, small, 200 KB) from one end
 * to the other, in turn: every run must end with 0 or -ENOMEM, leave no
 * descriptor open and, when it ends with 0, have received what was sent
 * (the sanitizer and valgrind runs of this suite check for leaks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "core/fault_impl.h"
#include "fault.h"

#define BIG (200 * 1000)

static unsigned char *big;
static const char key[] = "sesame";

struct side_frame {
    co_frame co;
    co_conn *c;
    int server;
    void *data;
    size_t len;
    int i, rc;
};

/* The server sends the three messages; the client checks them.  Each
 * side owns its end: main hands it over at the spawn, and whichever way a
 * side ends (shutdown may cancel it before it first runs) it closes it. */
static co_status side(co_task *t, void *arg)
{
    struct side_frame *f = arg;
    static const size_t sizes[3] = { 0, 5, BIG };
    CO_BEGIN(t, f);
    if (f->server)
        CO_AWAIT(f->rc, co_conn_auth_server(t, f->c, key, sizeof key - 1));
    else
        CO_AWAIT(f->rc, co_conn_auth_client(t, f->c, key, sizeof key - 1));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->i = 0; f->i < 3; f->i++) {
        if (f->server) {
            CO_AWAIT(f->rc, co_conn_send_bytes(t, f->c, big, 0, sizes[f->i]));
        } else {
            CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->c, &f->data, &f->len));
            if (f->rc == 0) {
                ck_assert_uint_eq(f->len, sizes[f->i]);
                ck_assert_int_eq(memcmp(f->data, big, f->len), 0);
            }
            free(f->data);
            f->data = NULL;
        }
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
CO_FINALLY
    co_conn_close(&f->c);
    CO_END;
}

struct cmain_frame {
    co_frame co;
    co_conn *pair[2];
    co_task *s, *c;
    struct side_frame sf;
    int rc, result;
};

static co_status cmain(co_task *t, void *arg)
{
    struct cmain_frame *f = arg;
    CO_BEGIN(t, f);
    if ((f->rc = co_conn_pipe(f->pair, 1)) < 0)
        CO_RETURN(f->rc);
    f->sf = (struct side_frame){ .c = f->pair[0], .server = 1 };
    if ((f->rc = CO_SPAWN(t, &f->s, side, f->sf)) < 0)
        CO_RETURN(f->rc);
    f->pair[0] = NULL;             /* the server side's now */
    f->sf = (struct side_frame){ .c = f->pair[1], .server = 0 };
    if ((f->rc = CO_SPAWN(t, &f->c, side, f->sf)) < 0)
        CO_RETURN(f->rc);          /* shutdown cancels the server side */
    f->pair[1] = NULL;
    CO_AWAIT(f->rc, co_task_join(t, f->c, &f->result));
    if (f->rc == 0 && f->result < 0)
        f->rc = f->result;
    if (f->rc < 0)
        CO_RETURN(f->rc);          /* shutdown cancels the server side */
    CO_AWAIT(f->rc, co_task_join(t, f->s, &f->result));
    if (f->rc == 0)
        f->rc = f->result;
    CO_RETURN(f->rc);
CO_FINALLY
    co_conn_close(&f->pair[0]);    /* the ends not handed over */
    co_conn_close(&f->pair[1]);
    CO_END;
}

static int channel_once(long n)
{
    struct cmain_frame m = { .rc = 0 };
    int rc = fault_run_once(n, cmain, &m, sizeof m);
    return rc;
}

START_TEST(test_channel_sweep_every_allocation)
{
    big = malloc(BIG);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 13 + i / 241);
    fault_sweep("channel", channel_once);
    free(big);
}
END_TEST

void fault_channel_tcase(Suite *s)
{
    TCase *tc = tcase_create("channel");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_channel_sweep_every_allocation);
    suite_add_tcase(s, tc);
}
