/* pool_tasks.c -- what the pool suites share (see pool_tasks.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curio.h"
#include "core/pool.h"
#include "helpers.h"
#include "log.h"
#include "pool_tasks.h"

co_pool_stats stats(void)
{
    co_pool_stats s;
    ck_assert_int_eq(co_pool_get_stats(&s), 0);
    return s;
}

size_t in_use(void)
{
    return stats().in_use;
}

unsigned char *pat;

size_t pat_len;

void pat_alloc(size_t len)
{
    pat = pattern_alloc(len);
    pat_len = len;
}

co_waitq progress;

unsigned long echo_recvs, echo_sends;     /* pool_echo_task's rounds */

unsigned long handlers_ended, handler_failures;

void bump(unsigned long *counter)
{
    (*counter)++;
    co_waitq_wake_all(&progress, 0);
}

co_status wait_count(co_task *t, const unsigned long *counter,
                     unsigned long n)
{
    int rc;
    if (co_wait_enter(t, &rc))
        return rc;
    if (*counter >= n)
        return 0;
    return co_block(t, &progress, CO_NO_DEADLINE);
}

void pool_setup(void)
{
    log_reset();
    co_waitq_init(&progress);
    echo_recvs = echo_sends = 0;
    handlers_ended = handler_failures = 0;
    pat = NULL;
    pat_len = 0;
}

void pool_teardown(void)
{
    free(pat);
    pat = NULL;
}

size_t fill_send_side(co_socket *s, size_t off)
{
    size_t filled = 0;
    for (size_t piece = 16 * KIB; piece > 0;) {
        ck_assert_uint_le(off + filled + piece, pat_len);
        int rc = co_socket_try_send(s, pat + off + filled, piece, 0);
        if (rc == -EAGAIN) {
            piece /= 2;
            continue;
        }
        ck_assert_int_gt(rc, 0);
        filled += (size_t)rc;
    }
    return filled;
}

void shrink_sndbuf(co_socket *s, int bytes)
{
    ck_assert_int_eq(co_socket_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bytes,
                                          sizeof bytes), 0);
}

struct rlimit saved_limit;

rlim_t raise_fd_limit(void)
{
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved_limit), 0);
    struct rlimit r = saved_limit;
    r.rlim_cur = r.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
    return r.rlim_max;
}

void restore_fd_limit(void)
{
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
}

co_status pool_echo_task(co_task *t, void *arg)
{
    struct pool_echo_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_socket_recv_bytes(t, f->s, &f->data, f->maxlen));
        if (f->n <= 0)
            break;
        ck_assert_uint_le((size_t)f->n, CHUNK);
        ck_assert_uint_eq(f->data.len, (size_t)f->n);
        ck_assert_ptr_nonnull(f->data.data);
        bump(&echo_recvs);
        CO_AWAIT(f->rc, co_socket_sendall_bytes(t, f->s, &f->data));
        /* given back, whatever the outcome */
        ck_assert_ptr_null(f->data.block);
        ck_assert_uint_eq(f->data.len, 0);
        if (f->rc < 0)
            CO_RETURN(f->rc);
        f->total += (size_t)f->n;
        bump(&echo_sends);
    }
    if (f->n < 0)
        CO_RETURN(f->n);
    if (f->shut)
        ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_RETURN((int)f->total);
    CO_FINALLY
    co_bytes_free(&f->data);
    CO_END;
}

co_status pool_writer_task(co_task *t, void *arg)
{
    struct writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->s, pat + f->off, f->len,
                                      &f->sent));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    if (f->shut)
        ck_assert_int_eq(co_socket_shutdown(f->s, SHUT_WR), 0);
    CO_END;
}

co_status read_verify(co_task *t, void *arg)
{
    struct verify_frame *f = arg;
    CO_BEGIN(t, f);
    f->got = 0;
    while (f->got < f->want) {
        f->ask = f->want - f->got;
        if (f->ask > sizeof f->buf)
            f->ask = sizeof f->buf;
        CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, f->ask, 0));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        if (f->rc == 0)
            CO_RETURN(f->want == SIZE_MAX ? 0 : -EPIPE);
        ck_assert_uint_le(f->off + f->got + (size_t)f->rc, pat_len);
        if (memcmp(f->buf, pat + f->off + f->got, (size_t)f->rc) != 0) {
            for (int i = 0; i < f->rc; i++)
                if (f->buf[i] != pat[f->off + f->got + (size_t)i]) {
                    note("byte %zu of the stream at %zu is wrong",
                         f->got + (size_t)i, f->off);
                    break;
                }
            CO_RETURN(-EPROTO);
        }
        f->got += (size_t)f->rc;
    }
    CO_END;
}

co_status take_task(co_task *t, void *arg)
{
    struct take_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->timeout > 0)
        ck_assert_int_eq(co_timeout_after(t, &f->to, f->timeout), 0);
    CO_AWAIT(f->rc, co_socket_recv_bytes(t, f->s, &f->data, 64));
    if (f->timeout > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    if (f->rc > 0) {
        ck_assert_uint_eq(f->data.len, (size_t)f->rc);
        note("%s=%d:%.*s", f->name, f->rc, f->rc, (const char *)f->data.data);
    } else {
        ck_assert_ptr_null(f->data.block);
        note("%s=%s", f->name, rcs(f->rc));
    }
    if (f->rc > 0 && f->go)
        CO_AWAIT(f->rc2, co_event_wait(t, f->go));
    CO_RETURN(f->rc);
    CO_FINALLY
    co_bytes_free(&f->data);
    CO_END;
}

void send_now(co_socket *s, const char *msg)
{
    ck_assert_int_eq(co_socket_try_send(s, msg, strlen(msg), 0),
                     (int)strlen(msg));
}
