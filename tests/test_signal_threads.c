/*
 * test_signal_threads.c -- kernels in several threads watching signals:
 * one SIGUSR2 sent to the process is seen by each of them (none takes it
 * from another), whichever thread the system runs the handler in; and
 * kernels that come and go while signals keep arriving leave the hub
 * consistent (its handler never writes to a kernel that has gone).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "curio.h"
#include "suites.h"

#define KERNELS 3

/* Threads report "watching" here; the test thread waits for all. */
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int ready;

static void say_ready(void)
{
    pthread_mutex_lock(&ready_lock);
    ready++;
    pthread_cond_broadcast(&ready_cond);
    pthread_mutex_unlock(&ready_lock);
}

static void wait_ready(int n)
{
    pthread_mutex_lock(&ready_lock);
    while (ready < n)
        pthread_cond_wait(&ready_cond, &ready_lock);
    pthread_mutex_unlock(&ready_lock);
}

struct watch_frame {
    co_frame co;
    co_signal_queue q;
    co_timeout to;
    int rc;
};

/* Watch SIGUSR2, say so, and return the first delivery (5 s at most). */
static co_status watch_main(co_task *t, void *arg)
{
    struct watch_frame *f = arg;
    CO_BEGIN(t, f);
    if ((f->rc = co_signal_queue_init(&f->q, CO_SIGNALS(SIGUSR2), 0)) < 0)
        CO_RETURN(f->rc);
    say_ready();
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 5.0, co_signal_queue_get(t, &f->q));
    if (f->rc > 0 && co_signal_queue_len(&f->q) != 0)
        f->rc = -EEXIST;            /* more than the one sent */
    CO_RETURN(f->rc);
    CO_FINALLY;
    co_signal_queue_free(&f->q);
    CO_END;
}

static void *kernel_thread(void *arg)
{
    struct watch_frame f = { 0 };
    *(int *)arg = co_run(watch_main, &f, sizeof f);
    return NULL;
}

START_TEST(test_every_kernel_sees_the_signal)
{
    pthread_t th[KERNELS];
    int rc[KERNELS];
    ready = 0;
    for (int i = 0; i < KERNELS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, kernel_thread, &rc[i]),
                         0);
    wait_ready(KERNELS);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    for (int i = 0; i < KERNELS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(rc[i], SIGUSR2);
    }
}
END_TEST

/* Kernels made and freed in a loop in two threads, watching SIGUSR1,
 * while the test thread sends SIGUSR1 all along (ignored in between: the
 * disposition a last watcher puts back).  Nothing is asserted about how
 * many each saw, only that every run ends well and nothing crashes. */
static atomic_int churning;

struct churn_frame {
    co_frame co;
    co_signal_event ev;
    co_timeout to;
    int rc;
};

static co_status churn_main(co_task *t, void *arg)
{
    struct churn_frame *f = arg;
    CO_BEGIN(t, f);
    if ((f->rc = co_signal_event_init(&f->ev, CO_SIGNALS(SIGUSR1))) < 0)
        CO_RETURN(f->rc);
    CO_AWAIT_IGNORE(f->rc, &f->to, 0.001, co_signal_event_wait(t, &f->ev));
    CO_RETURN(f->rc < 0 ? f->rc : 0);
    CO_FINALLY;
    co_signal_event_free(&f->ev);
    CO_END;
}

static void *churn_thread(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 200; i++) {
        struct churn_frame f = { 0 };
        if (co_run(churn_main, &f, sizeof f) != 0)
            (*bad)++;
    }
    atomic_fetch_sub(&churning, 1);
    return NULL;
}

START_TEST(test_kernels_come_and_go_under_signals)
{
    struct sigaction ign = { 0 }, old;
    ign.sa_handler = SIG_IGN;
    ck_assert_int_eq(sigaction(SIGUSR1, &ign, &old), 0);
    pthread_t th[2];
    int bad[2] = { 0, 0 };
    atomic_store(&churning, 2);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, churn_thread, &bad[i]),
                         0);
    while (atomic_load(&churning) > 0) {
        kill(getpid(), SIGUSR1);
        nanosleep(&(struct timespec){ 0, 100000 }, NULL);   /* pacing */
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(bad[i], 0);
    }
    struct sigaction now;
    ck_assert_int_eq(sigaction(SIGUSR1, &old, &now), 0);
    ck_assert(now.sa_handler == SIG_IGN);
}
END_TEST

Suite *signal_threads_suite(void)
{
    Suite *s = suite_create("signal_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_every_kernel_sees_the_signal);
    tcase_add_test(tc, test_kernels_come_and_go_under_signals);
    suite_add_tcase(s, tc);
    return s;
}
