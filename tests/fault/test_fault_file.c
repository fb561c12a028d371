/*
 * test_fault_file.c -- async files out of memory.  A sweep fails each
 * allocation of a program that writes a file, reads it back and closes it,
 * in turn: every run must end with 0 or -ENOMEM, leave no descriptor open
 * and, when it ends with 0, have read back what it wrote (the valgrind and
 * sanitizer runs of this suite check that nothing leaks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "core/fault_impl.h"
#include "fault.h"

#define FILE_BYTES (3 * 65536 + 100)

static char path[64];
static unsigned char *data, *back;

struct fmain_frame {
    co_frame co;
    co_stream *file;
    size_t sent, got;
    off_t pos;
    int rc;
};

static co_status fmain(co_task *t, void *arg)
{
    struct fmain_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_aopen(t, &f->file, path, "w+"));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_AWAIT(f->rc, co_stream_write(t, f->file, data, FILE_BYTES, &f->sent));
    if (f->rc == 0)
        CO_AWAIT(f->rc, co_stream_flush(t, f->file));
    if (f->rc == 0)
        CO_AWAIT(f->rc, co_file_seek(t, f->file, 0, SEEK_SET, &f->pos));
    if (f->rc == 0)
        CO_AWAIT(f->rc, co_stream_readall(t, f->file, back, FILE_BYTES,
                                          &f->got));
    if (f->rc == 0) {
        ck_assert_uint_eq(f->got, FILE_BYTES);
        ck_assert_int_eq(memcmp(back, data, FILE_BYTES), 0);
        CO_AWAIT(f->rc, co_file_close(t, &f->file));
    }
    CO_RETURN(f->rc);
CO_FINALLY
    co_stream_close(&f->file);
    CO_END;
}

static int file_once(long n)
{
    struct fmain_frame m = { .rc = 0 };
    int rc = fault_run_once(n, fmain, &m, sizeof m);
    unlink(path);
    return rc;
}

START_TEST(test_file_sweep_every_allocation)
{
    snprintf(path, sizeof path, "/tmp/curio-fault-%d", (int)getpid());
    data = malloc(FILE_BYTES);
    back = malloc(FILE_BYTES);
    ck_assert(data && back);
    for (size_t i = 0; i < FILE_BYTES; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    fault_sweep("file", file_once);
    free(data);
    free(back);
}
END_TEST

void fault_file_tcase(Suite *s)
{
    TCase *tc = tcase_create("file");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_file_sweep_every_allocation);
    suite_add_tcase(s, tc);
}
