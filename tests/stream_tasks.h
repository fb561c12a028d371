/*
 * stream_tasks.h -- what the test_stream_*.c suites (net/stream.h)
 * share: checksums and chunk sizes, the bulk buffers, the text of lines
 * and the task that dribbles it, the main task's usual frame (a socketpair
 * with a stream over each end), the fixture, and a reader and a writer.
 *
 * Orders of events come from the scheduler: a spawned task runs in the
 * next cycle, and a co_yield lets every ready task run (and block) first.
 * Timeouts appear only where a timeout is what is tested.  Every test
 * counts the entries of /proc/self/fd before and after its kernel ran.
 */
#ifndef TESTS_STREAM_TASKS_H
#define TESTS_STREAM_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "curio.h"
#include "net/stream.h"

#define MIB ((size_t)1 << 20)

uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n);

#define FNV_SEED 14695981039346656037u

/* xorshift32: a deterministic stream of chunk sizes; state in the frame */
uint32_t next_rand(uint32_t *s);

/* Buffers for the bulk tests, made before co_run. */
extern unsigned char *stream_big, *sink;
extern size_t stream_big_len;

void stream_big_alloc(size_t len);
void stream_big_free(void);
void stream_setup(void);

/* Main's frame for most scenarios. */
struct scene {
    co_frame co;
    co_socket *pair[2];
    co_stream *a, *b;          /* streams over pair[0] / pair[1] */
    co_task *t1, *t2;
    co_timeout to;
    size_t got, sent, off, nlines;
    uint32_t rng;
    int rc, i;
    size_t bufsize;            /* for the b stream */
    char buf[1024];
};

/* A socketpair with a stream over each end (b with f->bufsize). */
void open_pair(struct scene *f);
void close_pair(struct scene *f);

/* Write buf in one co_stream_write; logs "<name>:<result>"; the count
 * that went is stored in *sent_out. */
struct stream_writer_frame {
    co_frame co;
    co_stream *st;
    const char *name;
    const void *buf;
    size_t len, sent;
    size_t *sent_out;
    int rc;
};

co_status writer(co_task *t, void *arg);

/* A text of lines 0..22 bytes long (some empty), one of 500 bytes, and a
 * last line without a newline. */
extern char text[4096];
extern size_t text_len;

#define LONG_LINE 500

void make_text(void);

/* Sends text in chunks of 1..7 bytes with a yield after each, then shuts
 * its side down. */
struct dribble_frame {
    co_frame co;
    co_stream *st;
    size_t off, n, sent;
    uint32_t rng;
    int rc;
};

co_status dribbler(co_task *t, void *arg);

/* The default buffer; an odd size that makes the buffer wrap often; a
 * buffer exactly as stream_big as the longest line. */
extern const size_t chunk_bufsizes[];

#endif
