/*
 * test_pool_spawn.c -- spawn leaves the pages of a big frame untouched
 * where the template is zero, and copies what is not (sparse frames).
 */
#define _GNU_SOURCE                 /* mincore, struct tcp_info */
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
#include "suites.h"

/* ------------------------------------------------------------ sparse spawn */

struct big_frame {
    co_frame co;
    int marker;
    unsigned char big[1 << 20];
};

/* Templates are static: 1 MiB does not belong on a stack. */
static struct big_frame big_template;

/* What the task checks (set by the test). */
static int check_residency;         /* 0: THP "always" */
static int sparse_checked;

/* Residency of the pages of [lo, lo + len) (page-aligned) into vec; the
 * count resident. */
static size_t resident_pages(uintptr_t lo, size_t len, unsigned char *vec)
{
    ck_assert_int_eq(mincore((void *)lo, len, vec), 0);
    size_t n = 0, pg = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < len / pg; i++)
        n += vec[i] & 1;
    return n;
}

static co_status sparse_task(co_task *t, void *arg)
{
    struct big_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(f->marker, 0x5eed);
    {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        uintptr_t lo = ((uintptr_t)f->big + pg - 1) / pg * pg;
        uintptr_t hi = ((uintptr_t)(f->big + sizeof f->big)) / pg * pg;
        size_t npages = (hi - lo) / pg;
        unsigned char *vec = calloc(npages + 1, 1);
        unsigned char one = 0;
        ck_assert_ptr_nonnull(vec);
        ck_assert_uint_ge(npages, (sizeof f->big) / pg - 1);
        size_t at = ((uintptr_t)&f->big[500000] - lo) / pg;
        size_t before = resident_pages(lo, hi - lo, vec);
        if (check_residency) {
            ck_assert_msg(before <= 2, "%zu of %zu pages of an all-zero "
                          "template are resident", before, npages);
            ck_assert_int_eq(vec[at] & 1, 0);
        }
        /* writing makes exactly those pages resident */
        f->big[0] = 1;
        f->big[500000] = 1;
        size_t after = resident_pages(lo, hi - lo, vec);
        ck_assert_int_eq(vec[at] & 1, 1);
        ck_assert_int_eq(mincore((void *)((uintptr_t)f->big / pg * pg), pg,
                                 &one), 0);
        ck_assert_int_eq(one & 1, 1);
        if (check_residency)
            ck_assert_uint_le(after, before + 2);
        free(vec);
    }
    /* the frame came zeroed where the template was skipped */
    for (size_t i = 0; i < sizeof f->big; i++)
        if (f->big[i] != (i == 0 || i == 500000))
            ck_abort_msg("big[%zu] = %u", i, f->big[i]);
    sparse_checked++;
    CO_END;
}

/* A template with non-zero bytes among zero pieces: all copied. */
static co_status copied_task(co_task *t, void *arg)
{
    struct big_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(f->marker, 0x5eed);
    for (size_t i = 0; i < sizeof f->big; i++) {
        unsigned want = i == 600000 ? 0xab : i == sizeof f->big - 1 ? 0xcd
                                                                   : 0;
        if (f->big[i] != want)
            ck_abort_msg("big[%zu] = %u, want %u", i, f->big[i], want);
    }
    sparse_checked++;
    CO_END;
}

struct sparse_frame {
    co_frame co;
    co_task *a;
    int rc;
};

static co_status sparse_main(co_task *t, void *arg)
{
    struct sparse_frame *f = arg;
    CO_BEGIN(t, f);
    memset(&big_template, 0, sizeof big_template);
    big_template.marker = 0x5eed;
    ck_assert_int_gt(co_spawn(t, &f->a, sparse_task, &big_template,
                              sizeof big_template, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    big_template.big[600000] = 0xab;
    big_template.big[sizeof big_template.big - 1] = 0xcd;  /* the last,
                                                               short piece */
    ck_assert_int_gt(co_spawn(t, &f->a, copied_task, &big_template,
                              sizeof big_template, NULL), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(sparse_checked, 2);
    ck_assert_uint_eq(in_use(), 0);
    CO_END;
}

/* Whether a page's residency says what spawn did.  (It does under
 * AddressSanitizer and Valgrind too: neither touches a program's own
 * anonymous mappings.)  With transparent huge pages "always", though, the
 * system may back the task's mapping -- merged with neighbouring ones --
 * by a huge page at the first touch, making untouched pages resident. */
static int residency_meaningful(const char **why)
{
    char mode[128] = "";
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (fp) {
        if (!fgets(mode, sizeof mode, fp))
            mode[0] = '\0';
        fclose(fp);
    }
    if (strstr(mode, "[always]")) {
        *why = "transparent huge pages \"always\"";
        return 0;
    }
    return 1;
}

START_TEST(test_spawn_leaves_zero_pages_untouched)
{
    const char *why = NULL;
    check_residency = residency_meaningful(&why);
    if (!check_residency)
        fprintf(stderr, "test_pool: page residency bound not asserted "
                        "under %s\n", why);
    sparse_checked = 0;
    struct sparse_frame m = { 0 };
    RUN(sparse_main, m);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *pool_spawn_suite(void)
{
    Suite *s = suite_create("pool_spawn");
    TCase *tc;

    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_spawn_leaves_zero_pages_untouched);
    suite_add_tcase(s, tc);
    return s;
}
