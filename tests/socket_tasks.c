/* socket_tasks.c -- the tasks and helpers the socket suites share (see
 * socket_tasks.h). */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "log.h"
#include "socket_tasks.h"

unsigned char *big;
size_t big_len;

void big_alloc(size_t len)
{
    big = pattern_alloc(len);
    big_len = len;
}

void big_free(void)
{
    free(big);
    big = NULL;
    big_len = 0;
}

co_task *writer_task;      /* the bulk writer, for the reader to see */
int writer_seen_blocked;   /* times the reader saw it blocked */
co_sockaddr peer_seen;     /* what accept reported */

void socket_setup(void)
{
    log_reset();
    writer_task = NULL;
    writer_seen_blocked = 0;
    memset(&peer_seen, 0, sizeof peer_seen);
}

co_socket *bound_socket(int family, int type, const char *host,
                        co_sockaddr *bound)
{
    co_socket *s = NULL;
    co_sockaddr a;
    ck_assert_int_eq(co_socket_new(&s, family, type, 0), 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(co_sockaddr_inet(&a, family, host, 0), 0);
    ck_assert_int_eq(co_socket_bind(s, &a), 0);
    if (type == SOCK_STREAM)
        ck_assert_int_eq(co_socket_listen(s, 16), 0);
    ck_assert_int_eq(co_socket_getsockname(s, bound), 0);
    ck_assert_int_eq(bound->ss.ss_family, family);
    ck_assert_int_gt(co_sockaddr_port(bound), 0);
    return s;
}

co_status sendall_task(co_task *t, void *arg)
{
    struct sendall_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, f->buf, f->len, &f->sent));
    if (f->sent_out)
        *f->sent_out = f->sent;
    if (f->rc < 0)
        CO_RETURN(f->rc);
    ck_assert_uint_eq(f->sent, f->len);
    if (f->shut)
        ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_RETURN((int)f->sent);
    CO_END;
}

co_status echo_task(co_task *t, void *arg)
{
    struct echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0)
            break;
        ck_assert_int_le(f->rc, (int)sizeof f->buf);
        f->n = f->rc;
        CO_AWAIT(f->rc, co_socket_sendall(t, f->s, f->buf, (size_t)f->n,
                                          &f->sent));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_uint_eq(f->sent, (size_t)f->n);
        f->total += (size_t)f->n;
    }
    ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_RETURN((int)f->total);
    CO_END;
}

co_status acceptor_echo(co_task *t, void *arg)
{
    struct acceptor_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, &f->peer));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    ck_assert_ptr_nonnull(f->c);
    peer_seen = f->peer;
    f->echo.s = f->c;
    CO_AWAIT_CALL(f->rc, echo_task, &f->echo);
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->c)
        ck_assert_int_eq(co_socket_close(&f->c), 0);
    CO_END;
}

co_status accept_task(co_task *t, void *arg)
{
    struct accept_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_accept(t, f->l, &f->c, NULL));
    if (f->rc >= 0) {
        ck_assert_ptr_nonnull(f->c);
        ck_assert_int_eq(co_socket_close(&f->c), 0);
        note("%s=ok", f->name);
    } else {
        note("%s=%s", f->name, rcs(f->rc));
    }
    CO_RETURN(f->rc);
    CO_END;
}

co_status reader_task(co_task *t, void *arg)
{
    struct reader_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->chunk == 0 || f->chunk > sizeof f->buf)
        f->chunk = sizeof f->buf;
    for (;;) {
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, f->chunk, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0)
            break;
        ck_assert_int_le(f->rc, (int)f->chunk);
        for (int i = 0; i < f->rc; i++)
            if (f->buf[i] != pattern_byte(f->got + (size_t)i))
                ck_abort_msg("byte %zu: got %u, expected %u",
                             f->got + (size_t)i, f->buf[i],
                             pattern_byte(f->got + (size_t)i));
        f->got += (size_t)f->rc;
        if (writer_task && !co_task_done(writer_task)
            && strcmp(co_task_state(writer_task), "blocked") == 0)
            writer_seen_blocked++;
        if (f->pause > 0) {
            CO_AWAIT(f->rc, co_sleep(t, f->pause));
            ck_assert_int_eq(f->rc, 0);
        }
    }
    CO_RETURN((int)f->got);
    CO_END;
}

co_status recv_task(co_task *t, void *arg)
{
    struct recv_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf - 1, 0));
    if (f->rc > 0)
        note("%s=%d:%.*s", f->name, f->rc, f->rc, f->buf);
    else
        note("%s=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

co_status send_task(co_task *t, void *arg)
{
    struct send_frame *f = arg;
    CO_BEGIN(t, f);
    note("send");
    CO_AWAIT(f->rc, co_socket_send(t, f->s, f->msg, strlen(f->msg), 0));
    ck_assert_int_eq(f->rc, (int)strlen(f->msg));
    CO_END;
}

co_status mark_task(co_task *t, void *arg)
{
    struct mark_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s", f->name);
    CO_END;
}
