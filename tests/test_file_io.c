/*
 * test_file_io.c -- async files (net/file.h) as streams: round trips of
 * write, seek, read, readline, readlines and readall, positions after
 * reads ahead, truncation, the modes of co_aopen, a file read past its
 * end growing, and a file used by code written for any stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "file_helpers.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* More than a few pieces (CO_POOL_CHUNK) and not a multiple of one. */
#define BULK (5 * 65536 + 1234)

static const char *path_a, *path_b;
static unsigned char *bulk;

/* ------------------------------------------------------------ round trip */

struct trip_frame {
    co_frame co;
    co_stream *file;
    size_t sent, got;
    off_t pos;
    int rc, n;
    char line[64];
    unsigned char *back;
};

/* Lines, then BULK patterned bytes; back to the start; the same again. */
static co_status trip_main(co_task *t, void *arg)
{
    struct trip_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "w+"));
    note("open=%s file=%d", rcs(f->rc), co_stream_is_file(f->file));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "hello\nworld\n", 12,
                                    &f->sent));
    note("write=%s/%zu", rcs(f->rc), f->sent);
    CO_AWAIT(f->rc, co_stream_write(t, f->file, bulk, BULK, &f->sent));
    note("bulk=%s/%d", rcs(f->rc), f->sent == BULK);
    CO_AWAIT(f->rc, co_stream_flush(t, f->file));
    note("flush=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_tell(t, f->file, &f->pos));
    note("tell=%s/%d", rcs(f->rc), f->pos == 12 + BULK);
    CO_AWAIT(f->rc, co_file_seek(t, f->file, 0, SEEK_SET, &f->pos));
    note("seek=%s/%ld", rcs(f->rc), (long)f->pos);
    CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line, sizeof f->line));
    note("line=%.*s", f->n - 1, f->line);
    CO_AWAIT(f->rc, co_file_tell(t, f->file, &f->pos));
    note("at=%ld", (long)f->pos);           /* the reader's, not the fd's */
    CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line, sizeof f->line));
    note("line=%.*s", f->n - 1, f->line);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->file, f->back, BULK,
                                           &f->got));
    note("exactly=%s/%d same=%d", rcs(f->rc), f->got == BULK,
         memcmp(f->back, bulk, BULK) == 0);
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->line, sizeof f->line));
    note("end=%d", f->n);
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("close=%s null=%d", rcs(f->rc), f->file == NULL);
    CO_END;
}

START_TEST(test_round_trip)
{
    struct trip_frame f = { .back = malloc(BULK) };
    RUN(trip_main, f);
    ck_assert_str_eq(lg, "open=0 file=1 write=0/12 bulk=0/1 flush=0 tell=0/1 "
                         "seek=0/0 line=hello at=6 line=world "
                         "exactly=0/1 same=1 end=0 close=0 null=1");
    ck_assert_int_eq(file_size(path_a), 12 + BULK);
    free(f.back);
}
END_TEST

/* ------------------------------------------------------------ readlines */

struct lines_frame {
    co_frame co;
    co_stream *file;
    size_t got, nlines;
    int rc;
    char buf[4096];
};

static co_status lines_main(co_task *t, void *arg)
{
    struct lines_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r"));
    CO_AWAIT(f->rc, co_stream_readlines(t, f->file, f->buf, sizeof f->buf,
                                        &f->got, &f->nlines));
    note("readlines=%s lines=%zu bytes=%zu", rcs(f->rc), f->nlines, f->got);
    note("first=%.*s", 6, f->buf);
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    CO_END;
}

START_TEST(test_readlines)
{
    char text[4096];
    size_t len = 0;
    for (int i = 0; i < 300; i++)
        len += (size_t)sprintf(text + len, "line%d\n", i);
    len += (size_t)sprintf(text + len, "last");    /* no '\n' */
    put_file(path_a, text, len);
    struct lines_frame f = { 0 };
    RUN(lines_main, f);
    char want[128];
    snprintf(want, sizeof want, "readlines=0 lines=301 bytes=%zu "
                                "first=line0\n", len);
    ck_assert_str_eq(lg, want);
}
END_TEST

/* ------------------------------------------------------------ readall */

struct all_frame {
    co_frame co;
    co_stream *file;
    size_t got;
    int rc;
    unsigned char *back;
};

static co_status all_main(co_task *t, void *arg)
{
    struct all_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "rb"));
    CO_AWAIT(f->rc, co_stream_readall(t, f->file, f->back, BULK + 10,
                                      &f->got));
    note("readall=%s/%d same=%d", rcs(f->rc), f->got == BULK,
         memcmp(f->back, bulk, BULK) == 0);
    /* too small a buffer: -EMSGSIZE with it full, the rest readable */
    CO_AWAIT(f->rc, co_file_seek(t, f->file, 10, SEEK_END, NULL));
    note("beyond=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_seek(t, f->file, -10, SEEK_END, NULL));
    CO_AWAIT(f->rc, co_stream_readall(t, f->file, f->back, 4, &f->got));
    note("small=%s/%zu", rcs(f->rc), f->got);
    CO_AWAIT(f->rc, co_stream_readall(t, f->file, f->back + 4, 100,
                                      &f->got));
    note("rest=%s/%zu same=%d", rcs(f->rc), f->got,
         memcmp(f->back, bulk + BULK - 10, 10) == 0);
    co_stream_close(&f->file);
    CO_END;
}

START_TEST(test_readall)
{
    put_file(path_a, bulk, BULK);
    struct all_frame f = { .back = malloc(BULK + 10) };
    RUN(all_main, f);
    ck_assert_str_eq(lg, "readall=0/1 same=1 beyond=0 small=EMSGSIZE/4 "
                         "rest=0/6 same=1");
    free(f.back);
}
END_TEST

/* ------------------------------------------------------------ positions */

struct pos_frame {
    co_frame co;
    co_stream *file;
    size_t sent, got;
    off_t pos;
    int rc, n;
    char buf[128];
};

/* Reads ahead are given back: a write after a read lands where the reader
 * is, truncation at CO_FILE_HERE cuts there, SEEK_CUR counts from there. */
static co_status pos_main(co_task *t, void *arg)
{
    struct pos_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r+"));
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, 5));
    note("read=%.*s buffered=%zu", f->n, f->buf,
         co_stream_buffered(f->file));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "XY", 2, &f->sent));
    CO_AWAIT(f->rc, co_file_tell(t, f->file, &f->pos));
    note("write=%s tell=%ld", rcs(f->rc), (long)f->pos);
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, 3));
    note("next=%.*s", f->n, f->buf);
    CO_AWAIT(f->rc, co_file_seek(t, f->file, -4, SEEK_CUR, &f->pos));
    note("back=%ld", (long)f->pos);
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, sizeof f->buf));
    note("tail=%.*s", f->n, f->buf);
    CO_AWAIT(f->rc, co_file_seek(t, f->file, 12, SEEK_SET, NULL));
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, 1));
    CO_AWAIT(f->rc, co_file_truncate(t, f->file, CO_FILE_HERE));
    CO_AWAIT(f->rc, co_file_tell(t, f->file, &f->pos));
    note("cut=%s at=%ld", rcs(f->rc), (long)f->pos);
    CO_AWAIT(f->rc, co_file_truncate(t, f->file, 20));
    note("grow=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    CO_END;
}

START_TEST(test_positions)
{
    put_file(path_a, "0123456789abcdefghij", 20);
    struct pos_frame f = { 0 };
    RUN(pos_main, f);
    ck_assert_str_eq(lg, "read=01234 buffered=15 write=0 tell=7 next=789 "
                         "back=6 tail=Y789abcdefghij cut=0 at=13 grow=0");
    size_t len;
    unsigned char *got = get_file(path_a, &len);
    ck_assert_uint_eq(len, 20);
    ck_assert_int_eq(memcmp(got, "01234XY789abc\0\0\0\0\0\0\0", 20), 0);
    free(got);
}
END_TEST

/* ------------------------------------------------------------ modes */

struct mode_frame {
    co_frame co;
    co_stream *file;
    size_t sent;
    int rc;
};

static co_status mode_main(co_task *t, void *arg)
{
    struct mode_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_b, "r"));
    note("missing=%s null=%d", rcs(f->rc), f->file == NULL);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "x"));
    note("exclusive=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "a"));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "+more", 5, &f->sent));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("append=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_b, "xb"));
    note("create=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    /* bad modes and arguments */
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "q"));
    note("q=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r++"));
    note("r++=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, ""));
    note("empty=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_aopen(t, &f->file, NULL, "r"));
    note("nopath=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_aopen(t, NULL, path_a, "r"));
    note("noout=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_modes)
{
    put_file(path_a, "data", 4);
    struct mode_frame f = { 0 };
    RUN(mode_main, f);
    ck_assert_str_eq(lg, "missing=ENOENT null=1 exclusive=EEXIST append=0 "
                         "create=0 q=EINVAL r++=EINVAL empty=EINVAL "
                         "nopath=EINVAL noout=EINVAL");
    size_t len;
    unsigned char *got = get_file(path_a, &len);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(memcmp(got, "data+more", 9), 0);
    free(got);
    ck_assert_int_eq(file_size(path_b), 0);
}
END_TEST

/* ------------------------------------------------------------ growing */

struct grow_frame {
    co_frame co;
    co_stream *file;
    int n;
    char line[64];
};

/* The end of a file is not final: what is appended later is read. */
static co_status grow_main(co_task *t, void *arg)
{
    struct grow_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->n, co_aopen(t, &f->file, path_a, "r"));
    CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line, sizeof f->line));
    note("first=%.*s", f->n, f->line);
    CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line, sizeof f->line));
    note("end=%d", f->n);
    {
        FILE *fp = fopen(path_a, "a");
        fputs("tail\n", fp);
        fclose(fp);
    }
    CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line, sizeof f->line));
    note("then=%.*s", f->n, f->line);
    co_stream_close(&f->file);
    CO_END;
}

START_TEST(test_end_is_not_final)
{
    put_file(path_a, "one", 3);
    struct grow_frame f = { 0 };
    RUN(grow_main, f);
    ck_assert_str_eq(lg, "first=one end=0 then=tail\n");
}
END_TEST

/* ------------------------------------------------------------ any stream */

struct generic_frame {
    co_frame co;
    co_stream *file;
    co_task *liner;
    struct stream_liner_frame lf;
    int rc;
};

/* stream_liner (helpers.c) was written for sockets' streams. */
static co_status generic_main(co_task *t, void *arg)
{
    struct generic_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r"));
    f->lf = (struct stream_liner_frame){ .st = f->file, .name = "liner" };
    CO_SPAWN(t, &f->liner, stream_liner, f->lf);
    AWAIT_JOIN(f->rc, t, f->liner);
    note("rc=%d socket=%d", f->rc, co_stream_socket(f->file) == NULL);
    co_stream_close(&f->file);
    CO_END;
}

START_TEST(test_any_stream_code)
{
    put_file(path_a, "from a file\nsecond\n", 19);
    struct generic_frame f = { 0 };
    RUN(generic_main, f);
    ck_assert_str_eq(lg, "liner:from a file rc=12 socket=1");
}
END_TEST

/* ------------------------------------------------------------ readers */

#define NLINES 2000

struct reader_frame {
    co_frame co;
    co_stream *file;
    int *seen;
    int n, count;
    char line[32];
};

static co_status reader(co_task *t, void *arg)
{
    struct reader_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->n, co_stream_readline(t, f->file, f->line,
                                          sizeof f->line - 1));
        if (f->n <= 0)
            break;
        f->line[f->n] = '\0';
        f->seen[atoi(f->line)]++;
        f->count++;
    }
    CO_RETURN(f->n < 0 ? f->n : f->count);
    CO_END;
}

struct readers_frame {
    co_frame co;
    co_stream *file;
    co_task *r[3];
    struct reader_frame rf;
    int *seen;
    int i, rc, total, each_read;
};

/* Three tasks read one file's lines at once: none gets -EBUSY (they take
 * turns), every line is read once. */
static co_status readers_main(co_task *t, void *arg)
{
    struct readers_frame *f = arg;
    CO_BEGIN(t, f);
    /* a small buffer: many pieces, so the readers interleave */
    f->rc = open(path_a, O_RDONLY | O_CLOEXEC);
    ck_assert_int_eq(co_file_stream_new(&f->file, f->rc, 64), 0);
    f->rf = (struct reader_frame){ .file = f->file, .seen = f->seen };
    for (f->i = 0; f->i < 3; f->i++)
        CO_SPAWN(t, &f->r[f->i], reader, f->rf);
    f->each_read = 1;
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_JOIN(f->rc, t, f->r[f->i]);
        if (f->rc <= 0)
            f->each_read = 0;
        else
            f->total += f->rc;
    }
    note("total=%d", f->total);
    co_stream_close(&f->file);
    CO_END;
}

START_TEST(test_readers_take_turns)
{
    char *text = malloc(NLINES * 8);
    size_t len = 0;
    for (int i = 0; i < NLINES; i++)
        len += (size_t)sprintf(text + len, "%d\n", i);
    put_file(path_a, text, len);
    free(text);
    int *seen = calloc(NLINES, sizeof *seen);
    struct readers_frame f = { .seen = seen };
    RUN(readers_main, f);
    ck_assert_str_eq(lg, "total=2000");
    for (int i = 0; i < NLINES; i++)
        ck_assert_int_eq(seen[i], 1);
    free(seen);
}
END_TEST

/* ------------------------------------------------------------ lending */

struct lend_frame {
    co_frame co;
    co_stream *file;
    int fd, rc, n;
    char buf[16];
};

/* A file's fd is lent to blocking code only with nothing buffered, and
 * the stream refuses meanwhile. */
static co_status lend_main(co_task *t, void *arg)
{
    struct lend_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r"));
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, 2));
    note("buffered=%s", rcs(co_stream_blocking_begin(f->file)));
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, sizeof f->buf));
    f->fd = co_stream_blocking_begin(f->file);
    note("lent=%d", f->fd >= 0);
    f->n = (int)read(f->fd, f->buf, sizeof f->buf);   /* blocking code */
    note("direct=%.*s", f->n, f->buf);
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, sizeof f->buf));
    note("while=%s", rcs(f->n));
    note("end=%d", co_stream_blocking_end(f->file));
    note("again=%s", rcs(co_stream_blocking_end(f->file)));
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, sizeof f->buf));
    note("after=%d", f->n);
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    CO_END;
}

START_TEST(test_blocking_lend)
{
    put_file(path_a, "abcd", 4);
    struct lend_frame f = { 0 };
    RUN(lend_main, f);
    /* the stream read the whole file ahead: the fd is at its end */
    ck_assert_str_eq(lg, "buffered=EBUSY lent=1 direct= while=EBUSY "
                         "end=0 again=EINVAL after=0");
}
END_TEST

/* ------------------------------------------------------------ suite */

static void setup(void)
{
    file_setup();
    path_a = tmp_path("a");
    path_b = tmp_path("b");
    if (!bulk)
        bulk = pattern_alloc(BULK);
}

Suite *file_io_suite(void)
{
    Suite *s = suite_create("file_io");
    TCase *tc = tcase_create("file_io");
    tcase_add_checked_fixture(tc, setup, file_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_readlines);
    tcase_add_test(tc, test_readall);
    tcase_add_test(tc, test_positions);
    tcase_add_test(tc, test_modes);
    tcase_add_test(tc, test_end_is_not_final);
    tcase_add_test(tc, test_any_stream_code);
    tcase_add_test(tc, test_readers_take_turns);
    tcase_add_test(tc, test_blocking_lend);
    suite_add_tcase(s, tc);
    return s;
}
