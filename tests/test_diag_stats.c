/*
 * test_diag_stats.c -- what core/diag.h lets a program (and the monitor)
 * read: the kernel's statistics, a task's exact memory, its cycles and its
 * deadline, and every live task in id order.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

/* Under AddressSanitizer the slab steps aside (core/slab_impl.h): every
 * task comes from malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ON 0
#endif
#endif
#ifndef SLAB_ON
#define SLAB_ON 1
#endif

#define HEADER 64u                 /* sizeof(co_task) */
#define SIZE_PREFIX 16u            /* malloc'd and mapped blocks */

/* What co_task_memory must say for a frame of n bytes from the kernel's
 * own memory: a 16-byte slab class up to 512 bytes, else the bytes asked
 * of malloc or mmap with their size prefix. */
static size_t expected_memory(size_t frame)
{
    size_t size = HEADER + frame;
    if (SLAB_ON && size <= 512)
        return (size + 15) / 16 * 16;
    return size + SIZE_PREFIX;
}

/* ------------------------------------------------------------ helpers */

struct nap_frame {
    co_frame co;
    double seconds;
    int yields, i, rc;
};

/* Yields `yields` times, then sleeps `seconds` (if > 0). */
static co_status nap(co_task *t, void *arg)
{
    struct nap_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->yields; f->i++)
        CO_AWAIT(f->rc, co_yield(t));
    if (f->seconds > 0)
        CO_AWAIT(f->rc, co_sleep(t, f->seconds));
    CO_RETURN(f->rc);
    CO_END;
}

static int sum_memory(co_task *t, void *arg)
{
    *(uint64_t *)arg += co_task_memory(t);
    return 0;
}

/* ------------------------------------------------------------ statistics */

struct stats_main_frame {
    co_frame co;
    co_task *h[3];
    struct nap_frame nf;
    co_kernel_stats st;
    uint64_t sum;
    int i, rc;
};

static co_status stats_main(co_task *t, void *arg)
{
    struct stats_main_frame *f = arg;
    co_kernel *k = co_current_kernel();
    CO_BEGIN(t, f);
    /* three sleepers, with a deadline once they have run */
    f->nf.seconds = 30;
    for (f->i = 0; f->i < 3; f->i++)
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], nap, f->nf), 0);
    ck_assert_int_eq(co_kernel_get_stats(k, &f->st), 0);
    ck_assert_uint_eq(f->st.tasks_alive, 4);
    ck_assert_uint_eq(f->st.tasks_spawned, 4);
    ck_assert_uint_eq(f->st.timers, 0);
    CO_AWAIT(f->rc, co_yield(t));      /* they run and sleep */
    ck_assert_int_eq(co_kernel_get_stats(k, &f->st), 0);
    ck_assert_uint_eq(f->st.tasks_alive, 4);
    ck_assert_uint_eq(f->st.timers, 3);
    /* counted per cycle: main's first slice, at least */
    ck_assert_uint_ge(f->st.switches, 1);
    ck_assert_uint_eq(f->st.io_waits, 0);
    ck_assert_uint_eq(f->st.memory_pool, 0);
    ck_assert_uint_gt(f->st.memory_kernel, 0);
    /* the tasks' memory is the sum of theirs */
    f->sum = 0;
    ck_assert_int_eq(co_kernel_foreach_task(k, sum_memory, &f->sum), 0);
    ck_assert_uint_eq(f->st.memory_tasks, f->sum);
    ck_assert_uint_eq(f->sum, expected_memory(sizeof *f) +
                                  3 * expected_memory(sizeof f->nf));
    /* one ends: it leaves the count, and the timers */
    ck_assert_int_eq(co_task_cancel_nowait(f->h[1]), 1);
    AWAIT_JOIN(f->rc, t, f->h[1]);
    ck_assert_int_eq(f->rc, -ECANCELED);
    ck_assert_int_eq(co_kernel_get_stats(k, &f->st), 0);
    ck_assert_uint_eq(f->st.tasks_alive, 3);
    ck_assert_uint_eq(f->st.tasks_spawned, 4);
    ck_assert_uint_eq(f->st.timers, 2);
    ck_assert_uint_eq(f->st.memory_tasks, expected_memory(sizeof *f) +
                                              2 * expected_memory(sizeof f->nf));
    CO_END;                            /* the others: shutdown cancels them */
}

START_TEST(test_diag_stats_counts)
{
    struct stats_main_frame m = { .rc = 0 };
    co_kernel *k = co_kernel_new();
    ck_assert_int_eq(co_kernel_run(k, stats_main, &m, sizeof m), 0);
    co_kernel_stats st;
    ck_assert_int_eq(co_kernel_get_stats(k, &st), 0);
    ck_assert_uint_eq(st.tasks_alive, 0);
    ck_assert_uint_eq(st.tasks_spawned, 4);
    ck_assert_uint_eq(st.timers, 0);
    ck_assert_uint_eq(st.memory_tasks, 0);
    /* main: spawn+yield, stats+cancel+join, join returns; each sleeper:
     * sleep, then its cancellation (2 x 3); shutdown cancels the two left */
    ck_assert_uint_eq(st.switches, 3 + 3 * 2);
    co_kernel_free(k);
}
END_TEST

/* ------------------------------------------------------------ I/O waits */

struct reader_frame {
    co_frame co;
    co_socket *s;
    char buf[8];
    int rc;
};

static co_status reader(co_task *t, void *arg)
{
    struct reader_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf, 0));
    CO_RETURN(f->rc);
    CO_END;
}

struct io_main_frame {
    co_frame co;
    co_socket *pair[2];
    co_task *h;
    struct reader_frame rf;
    co_kernel_stats st;
    int i, rc;
};

static co_status io_main(co_task *t, void *arg)
{
    struct io_main_frame *f = arg;
    co_kernel *k = co_current_kernel();
    CO_BEGIN(t, f);
    open_socketpair(f->pair);
    f->rf.s = f->pair[0];
    for (f->i = 0; f->i < 2; f->i++) {
        ck_assert_int_gt(CO_SPAWN(t, &f->h, reader, f->rf), 0);
        CO_AWAIT(f->rc, co_yield(t));   /* it blocks on the empty socket */
        ck_assert_int_eq(co_kernel_get_stats(k, &f->st), 0);
        ck_assert_uint_eq(f->st.io_waits, (unsigned)f->i + 1);
        CO_AWAIT(f->rc, co_socket_send(t, f->pair[1], "x", 1, 0));
        ck_assert_int_eq(f->rc, 1);
        AWAIT_JOIN(f->rc, t, f->h);
        ck_assert_int_eq(f->rc, 1);
    }
    co_socket_close(&f->pair[0]);
    co_socket_close(&f->pair[1]);
    CO_END;
}

START_TEST(test_diag_stats_io_waits)
{
    struct io_main_frame m = { .rc = 0 };
    RUN(io_main, m);
}
END_TEST

/* ------------------------------------------------------------ memory */

struct big_frame {
    co_frame co;
    char bytes[100000];
};

struct mid_frame {
    co_frame co;
    char bytes[1000];
};

struct small_frame {
    co_frame co;
    char bytes[40];
};

struct memory_main_frame {
    co_frame co;
    co_task *h;
    co_spawn_opts opts;
    int rc;
};

/* The caller's storage: 4 KiB, aligned for any type. */
static _Alignas(max_align_t) unsigned char storage[4096];

static co_status memory_main(co_task *t, void *arg)
{
    struct memory_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_uint_eq(co_task_memory(t), expected_memory(sizeof *f));

    /* a slab class (rounded up to 16), or malloc under ASan */
    ck_assert_int_gt(co_spawn(t, &f->h, nap, NULL, sizeof(struct small_frame),
                              NULL), 0);
    ck_assert_uint_eq(co_task_memory(f->h),
                      expected_memory(sizeof(struct small_frame)));
    if (SLAB_ON)
        ck_assert_uint_eq(co_task_memory(f->h),
                          (HEADER + sizeof(struct small_frame) + 15) / 16 * 16);
    AWAIT_JOIN(f->rc, t, f->h);

    /* too big for the slab: malloc, with its size prefix */
    ck_assert_int_gt(co_spawn(t, &f->h, nap, NULL, sizeof(struct mid_frame),
                              NULL), 0);
    ck_assert_uint_eq(co_task_memory(f->h),
                      HEADER + sizeof(struct mid_frame) + SIZE_PREFIX);
    AWAIT_JOIN(f->rc, t, f->h);

    /* big: its own mapping, with its length in front */
    ck_assert_int_gt(co_spawn(t, &f->h, nap, NULL, sizeof(struct big_frame),
                              NULL), 0);
    ck_assert_uint_eq(co_task_memory(f->h),
                      HEADER + sizeof(struct big_frame) + SIZE_PREFIX);
    AWAIT_JOIN(f->rc, t, f->h);

    /* caller storage: all of it, as given */
    f->opts = (co_spawn_opts){ .name = "stored", .storage = storage,
                               .storage_size = sizeof storage };
    ck_assert_int_gt(co_spawn(t, &f->h, nap, NULL, sizeof(struct small_frame),
                              &f->opts), 0);
    ck_assert_uint_eq(co_task_memory(f->h), sizeof storage);
    AWAIT_JOIN(f->rc, t, f->h);
    CO_END;
}

/* More distinct storage sizes than the kernel's table holds (16): the
 * rest are kept per task, and every one is still exact. */
#define STORED 20
static _Alignas(max_align_t) unsigned char stores[STORED][1024];
static co_task *stored[STORED];

struct storages_main_frame {
    co_frame co;
    co_spawn_opts opts;
    co_kernel_stats st;
    uint64_t sum;
    int i, rc;
};

static co_status storages_main(co_task *t, void *arg)
{
    struct storages_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < STORED; f->i++) {
        f->opts = (co_spawn_opts){ .storage = stores[f->i],
                                   .storage_size = 1024 - 16 * f->i };
        ck_assert_int_gt(co_spawn(t, &stored[f->i], nap, NULL,
                                  sizeof(struct nap_frame), &f->opts), 0);
    }
    f->sum = co_task_memory(t);
    for (f->i = 0; f->i < STORED; f->i++) {
        ck_assert_uint_eq(co_task_memory(stored[f->i]), 1024 - 16 * f->i);
        f->sum += co_task_memory(stored[f->i]);
    }
    ck_assert_int_eq(co_kernel_get_stats(co_current_kernel(), &f->st), 0);
    ck_assert_uint_eq(f->st.memory_tasks, f->sum);
    for (f->i = 0; f->i < STORED; f->i++) {
        AWAIT_JOIN(f->rc, t, stored[f->i]);
        ck_assert_int_eq(f->rc, 0);
    }
    CO_END;
}

START_TEST(test_diag_task_memory_many_storage_sizes)
{
    struct storages_main_frame m = { .rc = 0 };
    RUN(storages_main, m);
}
END_TEST

START_TEST(test_diag_task_memory)
{
    struct memory_main_frame m = { .rc = 0 };
    RUN(memory_main, m);
    ck_assert_uint_eq(co_task_memory(NULL), 0);
}
END_TEST

/* The stats' sum over every kind at once, ended tasks not yet joined
 * included. */
struct mixed_main_frame {
    co_frame co;
    co_task *h[4];
    co_spawn_opts opts;
    co_kernel_stats st;
    uint64_t sum;
    int i, rc;
};

static co_status mixed_main(co_task *t, void *arg)
{
    static const size_t sizes[3] = { sizeof(struct small_frame),
                                     sizeof(struct mid_frame),
                                     sizeof(struct big_frame) };
    struct mixed_main_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++)
        ck_assert_int_gt(co_spawn(t, &f->h[f->i], nap, NULL, sizes[f->i],
                                  NULL), 0);
    f->opts = (co_spawn_opts){ .storage = storage,
                               .storage_size = sizeof storage };
    ck_assert_int_gt(co_spawn(t, &f->h[3], nap, NULL, sizes[0], &f->opts), 0);
    CO_AWAIT(f->rc, co_yield(t));      /* they have all ended, unjoined */
    ck_assert_int_eq(co_kernel_get_stats(co_current_kernel(), &f->st), 0);
    ck_assert_uint_eq(f->st.tasks_alive, 1);
    f->sum = co_task_memory(t);
    for (f->i = 0; f->i < 4; f->i++) {
        ck_assert(co_task_done(f->h[f->i]));
        f->sum += co_task_memory(f->h[f->i]);
    }
    ck_assert_uint_eq(f->st.memory_tasks, f->sum);
    for (f->i = 0; f->i < 4; f->i++)
        AWAIT_JOIN(f->rc, t, f->h[f->i]);
    ck_assert_int_eq(co_kernel_get_stats(co_current_kernel(), &f->st), 0);
    ck_assert_uint_eq(f->st.memory_tasks, co_task_memory(t));
    CO_END;
}

START_TEST(test_diag_stats_memory_is_the_sum)
{
    struct mixed_main_frame m = { .rc = 0 };
    RUN(mixed_main, m);
}
END_TEST

/* ------------------------------------------------------------ foreach */

struct visit {
    uint32_t ids[16];
    int n, stop_at;
};

static int visit(co_task *t, void *arg)
{
    struct visit *v = arg;
    v->ids[v->n++] = co_task_id(t);
    return v->n == v->stop_at ? 42 : 0;
}

struct foreach_main_frame {
    co_frame co;
    co_task *h[5];
    struct nap_frame nf;
    struct visit v;
    int i, rc;
};

static co_status foreach_main(co_task *t, void *arg)
{
    struct foreach_main_frame *f = arg;
    co_kernel *k = co_current_kernel();
    CO_BEGIN(t, f);
    f->nf.seconds = 30;
    for (f->i = 0; f->i < 4; f->i++)          /* tasks 2..5 */
        ck_assert_int_gt(CO_SPAWN(t, &f->h[f->i], nap, f->nf), 0);
    /* ending and freeing task 3 moves the last one into its registry slot */
    ck_assert_int_eq(co_task_cancel_nowait(f->h[1]), 1);
    AWAIT_JOIN(f->rc, t, f->h[1]);
    ck_assert_int_gt(CO_SPAWN(t, &f->h[4], nap, f->nf), 0);   /* task 6 */
    /* task 4 ends, not yet joined: not live, not listed */
    ck_assert_int_eq(co_task_cancel_nowait(f->h[2]), 1);
    CO_AWAIT(f->rc, co_task_wait(t, f->h[2]));

    f->v = (struct visit){ .stop_at = 0 };
    ck_assert_int_eq(co_kernel_foreach_task(k, visit, &f->v), 0);
    ck_assert_int_eq(f->v.n, 4);
    ck_assert_uint_eq(f->v.ids[0], 1);
    ck_assert_uint_eq(f->v.ids[1], 2);
    ck_assert_uint_eq(f->v.ids[2], 5);
    ck_assert_uint_eq(f->v.ids[3], 6);

    /* fn's nonzero return stops the walk and is returned */
    f->v = (struct visit){ .stop_at = 2 };
    ck_assert_int_eq(co_kernel_foreach_task(k, visit, &f->v), 42);
    ck_assert_int_eq(f->v.n, 2);
    ck_assert_uint_eq(f->v.ids[1], 2);
    AWAIT_JOIN(f->rc, t, f->h[2]);
    CO_END;
}

START_TEST(test_diag_foreach_in_id_order)
{
    struct foreach_main_frame m = { .rc = 0 };
    RUN(foreach_main, m);
}
END_TEST

/* ------------------------------------------------------------ cycles */

struct cycles_main_frame {
    co_frame co;
    co_task *h;
    struct nap_frame nf;
    int rc, count_from_task;
};

static co_status cycles_main(co_task *t, void *arg)
{
    struct cycles_main_frame *f = arg;
    CO_BEGIN(t, f);
    if (f->count_from_task)
        ck_assert_int_eq(co_kernel_count_cycles(co_current_kernel(), 1), 0);
    f->nf.yields = 4;
    ck_assert_int_gt(CO_SPAWN(t, &f->h, nap, f->nf), 0);
    CO_AWAIT(f->rc, co_task_wait(t, f->h));
    CO_RETURN((int)co_task_cycles(f->h) * 100 + (int)co_task_cycles(t));
    CO_END;
}

START_TEST(test_diag_task_cycles)
{
    /* counting on before the run: the child's 5 slices; main's first two
     * (it is running its second) */
    co_kernel *k = co_kernel_new();
    ck_assert_int_eq(co_kernel_count_cycles(k, 1), 0);
    struct cycles_main_frame m = { .rc = 0 };
    ck_assert_int_eq(co_kernel_run(k, cycles_main, &m, sizeof m), 502);
    co_kernel_free(k);

    /* off: nothing counted */
    k = co_kernel_new();
    ck_assert_int_eq(co_kernel_run(k, cycles_main, &m, sizeof m), 0);
    co_kernel_free(k);

    /* turned on by a task: from the next cycle (main's first slice is
     * not counted) */
    k = co_kernel_new();
    m.count_from_task = 1;
    ck_assert_int_eq(co_kernel_run(k, cycles_main, &m, sizeof m), 501);
    co_kernel_free(k);

    /* hooks count too */
    k = co_kernel_new();
    co_hooks h = { 0 };
    ck_assert_int_eq(co_kernel_add_hooks(k, &h), 0);
    m.count_from_task = 0;
    ck_assert_int_eq(co_kernel_run(k, cycles_main, &m, sizeof m), 502);
    co_kernel_free(k);
}
END_TEST

/* ------------------------------------------------------------ deadlines */

struct deadline_main_frame {
    co_frame co;
    co_task *h[2];
    struct nap_frame nf;
    co_timeout region;
    double d;
    int rc;
};

static co_status deadline_main(co_task *t, void *arg)
{
    struct deadline_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert(isinf(co_task_deadline(t)) && co_task_deadline(t) > 0);
    f->nf.seconds = 20;
    ck_assert_int_gt(CO_SPAWN(t, &f->h[0], nap, f->nf), 0);
    f->nf.seconds = 0;
    f->nf.yields = 1000;
    ck_assert_int_gt(CO_SPAWN(t, &f->h[1], nap, f->nf), 0);
    /* not yet run: no deadline */
    ck_assert(isinf(co_task_deadline(f->h[0])));
    CO_AWAIT(f->rc, co_yield(t));
    f->d = co_task_deadline(f->h[0]);         /* asleep: its wake-up */
    ck_assert(f->d > 15 && f->d <= 20);
    ck_assert(isinf(co_task_deadline(f->h[1])));  /* only yields */
    /* a timeout region is a deadline of the task that runs in it */
    ck_assert_int_eq(co_timeout_after(t, &f->region, 10), 0);
    f->d = co_task_deadline(t);
    ck_assert(f->d > 5 && f->d <= 10);
    ck_assert_int_eq(co_timeout_end(t, &f->region, 0), 0);
    ck_assert(isinf(co_task_deadline(t)));
    co_task_cancel_nowait(f->h[0]);
    co_task_cancel_nowait(f->h[1]);
    AWAIT_JOIN(f->rc, t, f->h[0]);
    AWAIT_JOIN(f->rc, t, f->h[1]);
    CO_END;
}

START_TEST(test_diag_task_deadline)
{
    struct deadline_main_frame m = { .rc = 0 };
    RUN(deadline_main, m);
    ck_assert(isnan(co_task_deadline(NULL)));
}
END_TEST

/* ------------------------------------------------------------ NULL policy */

static int never(co_task *t, void *arg)
{
    (void)t, (void)arg;
    return 1;
}

START_TEST(test_diag_null_policy)
{
    co_kernel *k = co_kernel_new();
    co_kernel_stats st;
    ck_assert_int_eq(co_kernel_get_stats(NULL, &st), -EINVAL);
    ck_assert_int_eq(co_kernel_get_stats(k, NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_count_cycles(NULL, 1), -EINVAL);
    ck_assert_int_eq(co_kernel_foreach_task(NULL, never, NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_foreach_task(k, NULL, NULL), -EINVAL);
    ck_assert_uint_eq(co_task_cycles(NULL), 0);
    ck_assert_uint_eq(co_task_memory(NULL), 0);
    ck_assert(isnan(co_task_deadline(NULL)));
    /* a fresh kernel: nothing yet, no task to visit */
    ck_assert_int_eq(co_kernel_get_stats(k, &st), 0);
    ck_assert_uint_eq(st.tasks_alive + st.tasks_spawned + st.switches +
                      st.io_waits + st.timers + st.memory_tasks +
                      st.memory_pool, 0);
    ck_assert_int_eq(co_kernel_foreach_task(k, never, NULL), 0);
    co_kernel_free(k);
}
END_TEST

Suite *diag_stats_suite(void)
{
    Suite *s = suite_create("diag_stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_diag_stats_counts);
    tcase_add_test(tc, test_diag_stats_io_waits);
    tcase_add_test(tc, test_diag_task_memory);
    tcase_add_test(tc, test_diag_task_memory_many_storage_sizes);
    tcase_add_test(tc, test_diag_stats_memory_is_the_sum);
    tcase_add_test(tc, test_diag_foreach_in_id_order);
    tcase_add_test(tc, test_diag_task_cycles);
    tcase_add_test(tc, test_diag_task_deadline);
    tcase_add_test(tc, test_diag_null_policy);
    suite_add_tcase(s, tc);
    return s;
}
