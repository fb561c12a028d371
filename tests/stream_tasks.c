/* stream_tasks.c -- what the stream suites share (see stream_tasks.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "net/stream.h"
#include "helpers.h"
#include "log.h"
#include "stream_tasks.h"

uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

unsigned char *stream_big, *sink;

size_t stream_big_len;

void stream_big_alloc(size_t len)
{
    stream_big = pattern_alloc(len);
    sink = calloc(1, len + 1);
    ck_assert_ptr_nonnull(sink);
    stream_big_len = len;
}

void stream_big_free(void)
{
    free(stream_big);
    free(sink);
    stream_big = sink = NULL;
    stream_big_len = 0;
}

void stream_setup(void)
{
    log_reset();
}

void open_pair(struct scene *f)
{
    open_socketpair(f->pair);
    ck_assert_int_eq(co_stream_new(&f->a, f->pair[0], 0), 0);
    ck_assert_int_eq(co_stream_new(&f->b, f->pair[1], f->bufsize), 0);
}

void close_pair(struct scene *f)
{
    if (f->a)
        ck_assert_int_eq(co_stream_close(&f->a), 0);
    if (f->b)
        ck_assert_int_eq(co_stream_close(&f->b), 0);
}

co_status writer(co_task *t, void *arg)
{
    struct stream_writer_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_stream_write(t, f->st, f->buf, f->len, &f->sent));
    *f->sent_out = f->sent;
    note("%s:%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

char text[4096];

size_t text_len;

void make_text(void)
{
    text_len = 0;
    for (int i = 0; i < 60; i++) {
        int len = i == 30 ? LONG_LINE : (i * 7) % 23;
        for (int j = 0; j < len; j++)
            text[text_len++] = (char)('a' + (i + j) % 26);
        text[text_len++] = '\n';
    }
    memcpy(text + text_len, "tail-no-newline", 15);
    text_len += 15;
    ck_assert_uint_lt(text_len, sizeof text);
}

co_status dribbler(co_task *t, void *arg)
{
    struct dribble_frame *f = arg;
    CO_BEGIN(t, f);
    while (f->off < text_len) {
        f->n = 1 + next_rand(&f->rng) % 7;
        if (f->n > text_len - f->off)
            f->n = text_len - f->off;
        CO_AWAIT(f->rc, co_stream_write(t, f->st, text + f->off, f->n,
                                        &f->sent));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_uint_eq(f->sent, f->n);
        f->off += f->n;
        CO_AWAIT(f->rc, co_yield(t));
    }
    ck_assert_int_eq(co_socket_shutdown(co_stream_socket(f->st), SHUT_WR),
                     0);
    CO_END;
}

const size_t chunk_bufsizes[] = { 0, 509, LONG_LINE + 1 };
