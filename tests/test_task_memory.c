/*
 * test_task_memory.c -- many tasks at once, frames of many sizes (from the
 * slab and from malloc) that stay intact, and co_strerror.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "task_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ many tasks */

#define MANY 100000
static co_task *many[MANY];

struct idx_frame {
    co_frame co;
    int idx, rc;
};

static co_status idx_task(co_task *t, void *arg)
{
    struct idx_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->idx % 2) {
        CO_AWAIT(f->rc, co_yield(t));
        ck_assert_int_eq(f->rc, 0);
    }
    CO_RETURN(f->idx);
    CO_END;
}

struct many_main_frame {
    co_frame co;
    struct idx_frame w;
    int i, rc, last_id;
    int64_t sum;
};

static co_status many_main(co_task *t, void *arg)
{
    struct many_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < MANY; f->i++) {
        f->w.idx = f->i;
        f->rc = CO_SPAWN(t, &many[f->i], idx_task, f->w);
        ck_assert_int_gt(f->rc, f->last_id);
        f->last_id = f->rc;
    }
    for (f->i = 0; f->i < MANY; f->i++) {
        AWAIT_JOIN(f->rc, t, many[f->i]);
        ck_assert_int_eq(f->rc, f->i);
        f->sum += f->rc;
    }
    CO_RETURN(f->sum == (int64_t)MANY * (MANY - 1) / 2 ? 1 : -1);
    CO_END;
}

START_TEST(test_many_tasks)
{
    struct many_main_frame m = { 0 };
    ck_assert_int_eq(co_run(many_main, &m, sizeof m), 1);
}
END_TEST

/* ------------------------------------------------------------ task memory */

/* Frames of many sizes, small ones from the kernel's slab and large ones
 * from malloc, alive at the same time while others end and are freed: each
 * task fills its frame with its own pattern, yields so that the others
 * spawn, end and reuse memory, then checks that its frame is intact. */
#define SIZED_TASKS 64
#define SIZED_MAX 900

struct sized_frame {
    co_frame co;
    int seed, len, rounds, i, rc;
    unsigned char bytes[SIZED_MAX];
};

static co_status sized_task(co_task *t, void *arg)
{
    struct sized_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->len; f->i++)
        f->bytes[f->i] = (unsigned char)(f->seed * 31 + f->i);
    for (f->i = 0; f->i < f->rounds; f->i++)
        CO_AWAIT(f->rc, co_yield(t));
    for (f->i = 0; f->i < f->len; f->i++)
        if (f->bytes[f->i] != (unsigned char)(f->seed * 31 + f->i))
            CO_RETURN(-EPROTO);
    CO_RETURN(f->seed);
    CO_END;
}

struct sized_main_frame {
    co_frame co;
    co_task *h[SIZED_TASKS];
    int i, rc;
};

static co_status sized_main(co_task *t, void *arg)
{
    struct sized_main_frame *f = arg;
    struct sized_frame w;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < SIZED_TASKS; f->i++) {
        memset(&w, 0, sizeof w);
        w.seed = f->i;
        w.rounds = f->i % 5;        /* some end while others still run */
        /* frame sizes from 32 bytes (header included) up past 512 */
        w.len = (f->i * 37) % SIZED_MAX;
        size_t size = offsetof(struct sized_frame, bytes) + (size_t)w.len;
        ck_assert_int_gt(co_spawn(t, &f->h[f->i], sized_task, &w, size,
                                  NULL), 0);
        if (f->i % 3 == 0)          /* let the earlier ones run meanwhile */
            CO_AWAIT(f->rc, co_yield(t));
    }
    for (f->i = 0; f->i < SIZED_TASKS; f->i++) {
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
        ck_assert_int_eq(f->rc, f->i);
    }
    CO_END;
}

START_TEST(test_frames_of_many_sizes_stay_intact)
{
    struct sized_main_frame m = { 0 };
    ck_assert_int_eq(co_run(sized_main, &m, sizeof m), 0);
    /* and again in a kernel that reuses the first run's memory */
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    for (int run = 0; run < 2; run++)
        ck_assert_int_eq(co_kernel_run(k, sized_main, &m, sizeof m), 0);
    co_kernel_free(k);
}
END_TEST

/* ------------------------------------------------------------ strerror */

START_TEST(test_strerror)
{
    const char *to = co_strerror(-ETIMEDOUT);
    const char *ca = co_strerror(-ECANCELED);
    ck_assert_ptr_nonnull(to);
    ck_assert_ptr_nonnull(ca);
    ck_assert_int_gt((int)strlen(to), 0);
    ck_assert_int_gt((int)strlen(ca), 0);
    ck_assert_str_ne(to, ca);
    ck_assert_str_eq(co_strerror(0), "ok");
    ck_assert_str_eq(co_strerror(12), "ok");
    /* the header names it "would block"; extra words after that are fine */
    ck_assert_int_eq(strncmp(co_strerror(CO_WOULDBLOCK), "would block", 11),
                     0);
    ck_assert_str_eq(co_strerror(-EPIPE), strerror(EPIPE));
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *task_memory_suite(void)
{
    Suite *s = suite_create("task_memory");
    TCase *tc;

    tc = tcase_create("scheduling");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_frames_of_many_sizes_stay_intact);
    suite_add_tcase(s, tc);

    tc = tcase_create("identity");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    tcase_add_checked_fixture(tc, task_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_many_tasks);
    suite_add_tcase(s, tc);
    return s;
}
