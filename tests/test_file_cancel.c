/*
 * test_file_cancel.c -- async files when things go wrong: a read
 * cancelled or timed out while its piece waits on a thread (the loop runs
 * on; what was read is counted and what comes later is kept), an open
 * cancelled, errors of writes behind reported by flush and close, closing
 * with pieces under way, and bad arguments.
 *
 * A FIFO stands in for a slow disk: a read of it blocks its thread until
 * the test writes, as a read of a hung network file system would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curio.h"
#include "file_helpers.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

static const char *path_a, *fifo;

/* The test's own end of the FIFO, for writing (no reader needed: the
 * stream opens it "r+"). */
static int fifo_writer(void)
{
    int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static void put(int fd, const char *s)
{
    ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* ------------------------------------------------------------ ticker */

struct ticker_frame { co_frame co; int *ticks; int rc; };

static co_status ticker(co_task *t, void *arg)
{
    struct ticker_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_sleep(t, 0.05));
        if (f->rc < 0)
            break;
        (*f->ticks)++;
    }
    CO_END;
}

/* ------------------------------------------------------------ cancel */

struct reader_frame {
    co_frame co;
    co_stream *file;
    double within;             /* > 0: under a timeout region */
    co_timeout to;
    size_t got;
    int rc;
    char buf[16];
};

/* read_exactly 10 bytes; notes how many came. */
static co_status reader(co_task *t, void *arg)
{
    struct reader_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->within > 0)
        co_timeout_after(t, &f->to, f->within);
    CO_AWAIT(f->rc, co_stream_read_exactly(t, f->file, f->buf, 10,
                                           &f->got));
    if (f->within > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    note("read=%s got=%zu:%.*s", rcs(f->rc), f->got, (int)f->got, f->buf);
    CO_RETURN(f->rc);
    CO_END;
}

struct cancel_frame {
    co_frame co;
    co_stream *file;
    co_task *tk, *r;
    struct ticker_frame tf;
    struct reader_frame rf;
    int ticks, wfd, rc, n;
    int64_t t0;
    double within;
    char buf[16];
};

/* The reader gets 4 bytes, then its next piece blocks; at 0.3 s it is
 * cancelled (or times out): it returns at once, with its 4 bytes, while
 * the ticker has ticked on.  Bytes written afterwards land in the stream
 * (the piece was still reading) and the next read gets them. */
static co_status cancel_main(co_task *t, void *arg)
{
    struct cancel_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, fifo, "r+"));
    f->wfd = fifo_writer();
    put(f->wfd, "abcd");
    f->tf = (struct ticker_frame){ .ticks = &f->ticks };
    CO_SPAWN(t, &f->tk, ticker, f->tf);
    f->rf = (struct reader_frame){ .file = f->file, .within = f->within };
    f->t0 = co_now_ns();
    CO_SPAWN(t, &f->r, reader, f->rf);
    if (f->within > 0) {
        AWAIT_JOIN(f->rc, t, f->r);
    } else {
        CO_AWAIT(f->rc, co_sleep(t, 0.3));
        CO_AWAIT(f->rc, co_task_cancel(t, f->r));
    }
    note("prompt=%d ticking=%d", co_now_ns() - f->t0 < 450000000,
         f->ticks >= 4);
    put(f->wfd, "efg");
    CO_AWAIT(f->n, co_stream_read(t, f->file, f->buf, sizeof f->buf));
    note("kept=%.*s", f->n, f->buf);
    close(f->wfd);
    CO_AWAIT(f->rc, co_task_cancel(t, f->tk));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("close=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_read_cancelled)
{
    struct cancel_frame f = { 0 };
    RUN(cancel_main, f);
    ck_assert_str_eq(lg, "read=CANCEL got=4:abcd prompt=1 ticking=1 "
                         "kept=efg close=0");
}
END_TEST

START_TEST(test_read_timed_out)
{
    struct cancel_frame f = { .within = 0.3 };
    RUN(cancel_main, f);
    ck_assert_str_eq(lg, "read=TIMEOUT got=4:abcd prompt=1 ticking=1 "
                         "kept=efg close=0");
}
END_TEST

/* ------------------------------------------------------------ open */

struct opener_frame { co_frame co; co_stream *file; int rc; };

static co_status opener(co_task *t, void *arg)
{
    struct opener_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, fifo, "r"));
    note("open=%s null=%d", rcs(f->rc), f->file == NULL);
    CO_RETURN(f->rc);
    CO_END;
}

struct open_frame {
    co_frame co;
    co_task *o;
    struct opener_frame of;
    int rc, wfd;
};

/* Opening a FIFO to read blocks until a writer comes: cancelled, the
 * task leaves at once; the fd the thread gets later is closed for it. */
static co_status open_main(co_task *t, void *arg)
{
    struct open_frame *f = arg;
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->o, opener, f->of);
    CO_AWAIT(f->rc, co_sleep(t, 0.1));
    CO_AWAIT(f->rc, co_task_cancel(t, f->o));
    f->wfd = fifo_writer();              /* the thread's open returns */
    CO_AWAIT(f->rc, co_sleep(t, 0.1));
    close(f->wfd);
    CO_END;
}

START_TEST(test_open_cancelled)
{
    struct open_frame f = { 0 };
    RUN(open_main, f);              /* no fd left open */
    ck_assert_str_eq(lg, "open=CANCEL null=1");
}
END_TEST

/* ------------------------------------------------------------ errors */

struct err_frame {
    co_frame co;
    co_stream *file;
    size_t sent;
    int rc;
};

/* Writes are accepted, their errors come with flush and close. */
static co_status err_main(co_task *t, void *arg)
{
    struct err_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, "/dev/full", "w"));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "0123456789", 10, &f->sent));
    note("write=%s/%zu", rcs(f->rc), f->sent);
    CO_AWAIT(f->rc, co_stream_flush(t, f->file));
    note("flush=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_stream_flush(t, f->file));
    note("again=%s", rcs(f->rc));            /* reported once */
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "x", 1, &f->sent));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("close=%s null=%d", rcs(f->rc), f->file == NULL);
    /* a file open only for reading */
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r"));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "x", 1, &f->sent));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, "y", 1, &f->sent));
    note("ro=%s/%zu", rcs(f->rc), f->sent);  /* the second reports it */
    CO_AWAIT(f->rc, co_file_truncate(t, f->file, 0));
    note("truncate=%d", f->rc < 0);
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("close=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_write_errors_reported)
{
    put_file(path_a, "keep", 4);
    struct err_frame f = { 0 };
    RUN(err_main, f);
    ck_assert_str_eq(lg, "write=0/10 flush=ENOSPC again=0 close=ENOSPC "
                         "null=1 ro=EBADF/0 truncate=1 close=0");
    ck_assert_int_eq(file_size(path_a), 4);
}
END_TEST

/* ------------------------------------------------------------ closing */

#define BIG (1 << 20)

struct behind_frame {
    co_frame co;
    co_stream *file;
    unsigned char *data;
    size_t sent;
    int rc;
};

/* co_stream_close right after a big write: the pieces behind it are all
 * written, then the fd closed (the kernel runs until they have landed). */
static co_status behind_main(co_task *t, void *arg)
{
    struct behind_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "w"));
    CO_AWAIT(f->rc, co_stream_write(t, f->file, f->data, BIG, &f->sent));
    note("write=%s/%d", rcs(f->rc), f->sent == BIG);
    note("close=%s", rcs(co_stream_close(&f->file)));
    CO_END;
}

START_TEST(test_close_with_write_behind)
{
    struct behind_frame f = { .data = pattern_alloc(BIG) };
    RUN(behind_main, f);
    ck_assert_str_eq(lg, "write=0/1 close=0");
    size_t len;
    unsigned char *got = get_file(path_a, &len);
    ck_assert_uint_eq(len, BIG);
    ck_assert_int_eq(memcmp(got, f.data, BIG), 0);
    free(got);
    free(f.data);
}
END_TEST

struct closing_frame {
    co_frame co;
    co_task *r;
    struct reader_frame rf;
    int rc, wfd;
};

/* Closed while a reader waits for its piece: the reader gets -EBADF at
 * once; the fd is closed when the piece lands. */
static co_status closing_main(co_task *t, void *arg)
{
    struct closing_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->rf.file, fifo, "r+"));
    CO_SPAWN(t, &f->r, reader, f->rf);
    CO_AWAIT(f->rc, co_sleep(t, 0.1));
    note("close=%s", rcs(co_stream_close(&f->rf.file)));
    AWAIT_JOIN(f->rc, t, f->r);
    f->wfd = fifo_writer();
    put(f->wfd, "late");                 /* the piece lands, dropped */
    close(f->wfd);
    CO_END;
}

START_TEST(test_close_while_reading)
{
    struct closing_frame f = { 0 };
    RUN(closing_main, f);
    ck_assert_str_eq(lg, "close=0 read=EBADF got=0:");
}
END_TEST

struct victim_frame { co_frame co; co_stream *file; int rc; };

/* Cancelled while it holds an open file: its cleanup closes it. */
static co_status victim(co_task *t, void *arg)
{
    struct victim_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r"));
    CO_AWAIT(f->rc, co_sleep(t, 10));
CO_FINALLY
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("close=%s null=%d", rcs(f->rc), f->file == NULL);
    CO_END;
}

struct victim_main_frame { co_frame co; co_task *v; struct victim_frame vf;
                           int rc; };

static co_status victim_main(co_task *t, void *arg)
{
    struct victim_main_frame *f = arg;
    CO_BEGIN(t, f);
    CO_SPAWN(t, &f->v, victim, f->vf);
    CO_AWAIT(f->rc, co_sleep(t, 0.05));
    CO_AWAIT(f->rc, co_task_cancel(t, f->v));
    CO_END;
}

START_TEST(test_close_when_cancelled)
{
    put_file(path_a, "x", 1);
    struct victim_main_frame f = { 0 };
    RUN(victim_main, f);
    ck_assert_str_eq(lg, "close=CANCEL null=1");
}
END_TEST

/* ------------------------------------------------------------ arguments */

struct args_frame {
    co_frame co;
    co_stream *file, *sst;
    co_socket *pair[2];
    off_t pos;
    int rc, p[2];
};

static co_status args_main(co_task *t, void *arg)
{
    struct args_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path_a, "r"));
    CO_AWAIT(f->rc, co_file_seek(t, f->file, 0, 42, NULL));
    note("whence=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_seek(t, f->file, -1, SEEK_SET, NULL));
    note("negative=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_tell(t, f->file, NULL));
    note("nopos=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_truncate(t, f->file, -2));
    note("size=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_tell(t, NULL, &f->pos));
    note("nostream=%s", rcs(f->rc));
    co_stream_close(&f->file);
    /* a socket's stream is no file */
    open_socketpair(f->pair);
    co_socket_close(&f->pair[1]);
    ck_assert_int_eq(co_stream_new(&f->sst, f->pair[0], 0), 0);
    CO_AWAIT(f->rc, co_file_seek(t, f->sst, 0, SEEK_SET, NULL));
    note("socket=%s is_file=%d", rcs(f->rc), co_stream_is_file(f->sst));
    CO_AWAIT(f->rc, co_file_close(t, &f->sst));     /* closes any stream */
    note("closed=%s", rcs(f->rc));
    /* a pipe has no position */
    ck_assert_int_eq(pipe(f->p), 0);
    close(f->p[1]);
    ck_assert_int_eq(co_file_stream_new(&f->file, f->p[0], 0), 0);
    CO_AWAIT(f->rc, co_file_seek(t, f->file, 0, SEEK_SET, NULL));
    note("pipe_seek=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_tell(t, f->file, &f->pos));
    note("pipe_tell=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("bad_fd=%s", rcs(co_file_stream_new(&f->file, 9999, 0)));
    CO_AWAIT(f->rc, co_file_close(t, &f->file));
    note("again=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_bad_arguments)
{
    put_file(path_a, "x", 1);
    struct args_frame f = { 0 };
    RUN(args_main, f);
    ck_assert_str_eq(lg, "whence=EINVAL negative=EINVAL nopos=EINVAL "
                         "size=EINVAL nostream=EINVAL socket=EINVAL "
                         "is_file=0 closed=0 pipe_seek=ESPIPE "
                         "pipe_tell=ESPIPE bad_fd=EINVAL again=EBADF");
}
END_TEST

/* ------------------------------------------------------------ suite */

static void setup(void)
{
    file_setup();
    path_a = tmp_path("a");
    fifo = tmp_path("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
}

Suite *file_cancel_suite(void)
{
    Suite *s = suite_create("file_cancel");
    TCase *tc = tcase_create("file_cancel");
    tcase_add_checked_fixture(tc, setup, file_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_read_cancelled);
    tcase_add_test(tc, test_read_timed_out);
    tcase_add_test(tc, test_open_cancelled);
    tcase_add_test(tc, test_write_errors_reported);
    tcase_add_test(tc, test_close_with_write_behind);
    tcase_add_test(tc, test_close_while_reading);
    tcase_add_test(tc, test_close_when_cancelled);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
