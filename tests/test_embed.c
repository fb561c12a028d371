/*
 * test_embed.c -- core/embed.h: a kernel advanced from another loop.  Tasks
 * stay alive between calls; the kernel's descriptor polls readable for
 * I/O and for posts from other threads; its timeout says when a deadline
 * is due; shutdown is its own call and ends the tasks newest first.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "log.h"
#include "suites.h"

static void setup(void)
{
    log_reset();
}

/* Whether fd polls readable within ms milliseconds. */
static int readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Logs "<name>:<i>" and yields, `yields` times; then "<name>:end". */
struct stepper_frame {
    co_frame co;
    const char *name;
    int yields, i, rc;
};

static co_status stepper(co_task *t, void *arg)
{
    struct stepper_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < f->yields; f->i++) {
        if (f->name)
            note("%s:%d", f->name, f->i);
        CO_AWAIT(f->rc, co_yield(t));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    if (f->name)
        note("%s:end", f->name);
    CO_END;
}

/* Sleeps, then logs "<name>:woke=<rc>"; logs "<name>=<rc>" in cleanup. */
struct napper_frame {
    co_frame co;
    const char *name;
    double seconds;
    int rc;
};

static co_status napper(co_task *t, void *arg)
{
    struct napper_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, f->seconds));
    note("%s:woke=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    note("%s=%s", f->name, rcs(CO_RESULT()));
    CO_END;
}

static co_kernel *new_kernel(void)
{
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    return k;
}

START_TEST(test_advance_runs_what_is_ready_and_keeps_the_rest)
{
    co_kernel *k = new_kernel();
    struct stepper_frame s = { .name = "s", .yields = 3 };
    struct napper_frame n = { .name = "n", .seconds = 0.02 };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, stepper, &s, sizeof s, NULL),
                     0);
    ck_assert_int_gt(co_kernel_spawn(k, NULL, napper, &n, sizeof n, NULL), 0);
    ck_assert_double_eq(co_kernel_timeout(k), 0.0);     /* tasks are ready */

    ck_assert_int_eq(co_kernel_advance(k, 0), 1);       /* the napper waits */
    ck_assert_str_eq(lg, "s:0 s:1 s:2 s:end");
    ck_assert_ptr_null(co_current_kernel());            /* nothing runs now */
    double due = co_kernel_timeout(k);
    ck_assert(due > 0 && due <= 0.02);
    int ms = co_kernel_timeout_ms(k);
    ck_assert(ms >= 1 && ms <= 20);

    ck_assert_int_eq(co_kernel_advance(k, 0), 1);       /* not due yet */
    ck_assert_str_eq(lg, "s:0 s:1 s:2 s:end");
    /* the other loop waits for the kernel's descriptor or its timeout */
    int fd = co_kernel_fd(k);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(readable(fd, co_kernel_timeout_ms(k)), 0);
    while (co_kernel_timeout(k) > 0)                    /* clock granularity */
        readable(fd, 1);
    ck_assert_int_eq(co_kernel_advance(k, 0), 0);
    ck_assert_str_eq(lg, "s:0 s:1 s:2 s:end n:woke=0 n=0");
    ck_assert(isinf(co_kernel_timeout(k)));
    ck_assert_int_eq(co_kernel_timeout_ms(k), -1);
    ck_assert_int_eq(co_kernel_shutdown(k), 0);
    co_kernel_free(k);
}
END_TEST

/* A task that never blocks cannot keep advance(k, 0) from returning: it
 * is left ready, and the timeout says to call again at once. */
START_TEST(test_advance_returns_despite_a_task_that_never_blocks)
{
    co_kernel *k = new_kernel();
    struct stepper_frame s = { .yields = 1 << 30 };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, stepper, &s, sizeof s, NULL),
                     0);
    ck_assert_int_eq(co_kernel_advance(k, 0), 1);
    ck_assert_double_eq(co_kernel_timeout(k), 0.0);
    ck_assert_int_eq(co_kernel_timeout_ms(k), 0);
    ck_assert_int_eq(co_kernel_shutdown(k), 0);         /* cancelled */
    co_kernel_free(k);
}
END_TEST

/* With a time budget it also waits: a sleeper due within the budget
 * finishes, and the call returns as soon as no task is left; a longer one
 * is still asleep when the budget is spent. */
START_TEST(test_advance_with_a_budget_waits_for_deadlines)
{
    co_kernel *k = new_kernel();
    struct napper_frame n = { .name = "short", .seconds = 0.01 };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, napper, &n, sizeof n, NULL), 0);
    ck_assert_int_eq(co_kernel_advance(k, 60.0), 0);    /* returns early */
    ck_assert_str_eq(lg, "short:woke=0 short=0");

    n.name = "long";
    n.seconds = 30;
    ck_assert_int_gt(co_kernel_spawn(k, NULL, napper, &n, sizeof n, NULL), 0);
    double before = co_clock();
    ck_assert_int_eq(co_kernel_advance(k, 0.02), 1);
    ck_assert(co_clock() - before >= 0.02);
    ck_assert_str_eq(lg, "short:woke=0 short=0");
    ck_assert_int_eq(co_kernel_shutdown(k), 0);
    ck_assert_str_eq(lg, "short:woke=0 short=0 long:woke=CANCEL long=CANCEL");
    co_kernel_free(k);
}
END_TEST

/* I/O: a task blocked on a socket; the kernel's descriptor is quiet until
 * the peer writes, then readable, and advancing delivers the bytes. */
struct reader_frame {
    co_frame co;
    int fd;
    co_socket *s;
    char buf[16];
    int rc;
};

static co_status reader(co_task *t, void *arg)
{
    struct reader_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_socket_from_fd(&f->s, f->fd), 0);
    CO_AWAIT(f->rc, co_socket_recv(t, f->s, f->buf, sizeof f->buf - 1, 0));
    if (f->rc > 0)
        note("got=%.*s", f->rc, f->buf);
    CO_FINALLY;
    co_socket_close(&f->s);
    CO_END;
}

START_TEST(test_kernel_fd_is_readable_when_io_is)
{
    co_kernel *k = new_kernel();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct reader_frame r = { .fd = sv[0] };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, reader, &r, sizeof r, NULL), 0);
    int fd = co_kernel_fd(k);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(co_kernel_fd(k), fd);              /* stays the same */

    ck_assert_int_eq(co_kernel_advance(k, 0), 1);       /* blocks in recv */
    ck_assert(isinf(co_kernel_timeout(k)));
    ck_assert_int_eq(readable(fd, 0), 0);
    ck_assert_int_eq(write(sv[1], "hello", 5), 5);
    ck_assert_int_eq(readable(fd, 5000), 1);
    ck_assert_int_eq(co_kernel_advance(k, 0), 0);
    ck_assert_str_eq(lg, "got=hello");
    ck_assert_int_eq(co_kernel_shutdown(k), 0);
    co_kernel_free(k);
    close(sv[1]);
}
END_TEST

/* A post from another thread makes the descriptor readable too. */
struct post_thread_arg {
    co_kernel *k;
    co_event *ev;
};

static void set_event(void *arg)
{
    co_event_set(arg);
}

static void *post_from_thread(void *arg)
{
    struct post_thread_arg *a = arg;
    ck_assert_int_eq(co_kernel_post_fn(a->k, set_event, a->ev), 0);
    return NULL;
}

struct event_waiter_frame {
    co_frame co;
    co_event *ev;
    int rc;
};

static co_status event_waiter(co_task *t, void *arg)
{
    struct event_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    co_kernel_hold(co_current_kernel());   /* a thread will set it */
    CO_AWAIT(f->rc, co_event_wait(t, f->ev));
    co_kernel_unhold(co_current_kernel());
    note("set=%s", rcs(f->rc));
    CO_END;
}

START_TEST(test_kernel_fd_is_readable_for_a_post)
{
    co_kernel *k = new_kernel();
    co_event ev = { 0 };
    struct event_waiter_frame w = { .ev = &ev };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, event_waiter, &w, sizeof w,
                                     NULL), 0);
    ck_assert_int_eq(co_kernel_advance(k, 0), 1);
    int fd = co_kernel_fd(k);
    ck_assert_int_eq(readable(fd, 0), 0);
    pthread_t th;
    struct post_thread_arg a = { k, &ev };
    ck_assert_int_eq(pthread_create(&th, NULL, post_from_thread, &a), 0);
    ck_assert_int_eq(readable(fd, 5000), 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(co_kernel_advance(k, 0), 0);
    ck_assert_str_eq(lg, "set=0");
    co_kernel_free(k);
}
END_TEST

/* Shutdown is explicit: the tasks left end newest first, one at a time;
 * the kernel can then be advanced (or run) again. */
START_TEST(test_shutdown_is_explicit_and_newest_first)
{
    co_kernel *k = new_kernel();
    struct napper_frame n = { .seconds = 30 };
    const char *names[] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) {
        n.name = names[i];
        ck_assert_int_gt(co_kernel_spawn(k, NULL, napper, &n, sizeof n, NULL),
                         0);
    }
    ck_assert_int_eq(co_kernel_advance(k, 0), 3);
    ck_assert_int_eq(co_kernel_advance(k, 0), 3);       /* still alive */
    ck_assert_str_eq(lg, "");
    ck_assert_int_eq(co_kernel_shutdown(k), 0);
    ck_assert_str_eq(lg, "c:woke=CANCEL c=CANCEL b:woke=CANCEL b=CANCEL "
                         "a:woke=CANCEL a=CANCEL");
    ck_assert_int_eq(co_kernel_shutdown(k), 0);         /* nothing left */

    log_reset();
    struct stepper_frame s = { .name = "again", .yields = 1 };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, stepper, &s, sizeof s, NULL),
                     0);
    ck_assert_int_eq(co_kernel_advance(k, 0), 0);
    ck_assert_str_eq(lg, "again:0 again:end");
    co_kernel_free(k);
}
END_TEST

/* co_kernel_run on an advanced kernel: its tasks go on beside main, and
 * main's end shuts them down. */
static co_status short_main(co_task *t, void *arg)
{
    struct stepper_frame *f = arg;
    CO_BEGIN(t, f);
    note("main");
    CO_RETURN(9);
    CO_END;
}

START_TEST(test_run_after_advance)
{
    co_kernel *k = new_kernel();
    struct napper_frame n = { .name = "bg", .seconds = 30 };
    ck_assert_int_gt(co_kernel_spawn(k, NULL, napper, &n, sizeof n, NULL), 0);
    ck_assert_int_eq(co_kernel_advance(k, 0), 1);
    struct stepper_frame m = { 0 };
    ck_assert_int_eq(co_kernel_run(k, short_main, &m, sizeof m), 9);
    ck_assert_str_eq(lg, "main bg:woke=CANCEL bg=CANCEL");
    co_kernel_free(k);
}
END_TEST

START_TEST(test_embed_bad_arguments)
{
    ck_assert_int_eq(co_kernel_advance(NULL, 0), -EINVAL);
    ck_assert_int_eq(co_kernel_shutdown(NULL), -EINVAL);
    ck_assert_int_eq(co_kernel_fd(NULL), -EINVAL);
    ck_assert(isnan(co_kernel_timeout(NULL)));
    ck_assert_int_eq(co_kernel_timeout_ms(NULL), -EINVAL);
    co_kernel *k = new_kernel();
    ck_assert_int_eq(co_kernel_advance(k, NAN), -EINVAL);
    ck_assert_int_eq(co_kernel_advance(k, -1), -EINVAL);
    ck_assert_int_eq(co_kernel_advance(k, 0), 0);       /* nothing to do */
    ck_assert(isinf(co_kernel_timeout(k)));
    co_kernel_free(k);
}
END_TEST

Suite *embed_suite(void)
{
    Suite *s = suite_create("embed");
    TCase *tc = tcase_create("embed");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_advance_runs_what_is_ready_and_keeps_the_rest);
    tcase_add_test(tc, test_advance_returns_despite_a_task_that_never_blocks);
    tcase_add_test(tc, test_advance_with_a_budget_waits_for_deadlines);
    tcase_add_test(tc, test_kernel_fd_is_readable_when_io_is);
    tcase_add_test(tc, test_kernel_fd_is_readable_for_a_post);
    tcase_add_test(tc, test_shutdown_is_explicit_and_newest_first);
    tcase_add_test(tc, test_run_after_advance);
    tcase_add_test(tc, test_embed_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
