/*
 * test_signal_wait.c -- co_signal_event and co_signal_queue in one kernel:
 * a waiting task gets a signal raised by another task or by a thread,
 * queued signals come out in order, a full queue counts its drops,
 * dispositions are put back exactly, and a signal wait is a blocking
 * point like any (cancel, timeout, freed under it, bad arguments).
 *
 * Signals go to this process (raise, kill(getpid())): SIGUSR1, SIGUSR2
 * and SIGHUP, whose default action would end the run, so a test that did
 * not watch what it raises fails loudly.  A "fence" -- SIGUSR2 on an
 * event, raised last -- tells a task that the kernel has handed on every
 * signal raised before it (the hub keeps them in order).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "suites.h"

/* glibc's SA_RESTORER (not in the headers we compile with): it adds it
 * to whatever disposition is set through sigaction, default included. */
#define FLAG_RESTORER 0x04000000

/* The disposition of sig now, for comparisons. */
static struct sigaction disposition(int sig)
{
    struct sigaction sa;
    ck_assert_int_eq(sigaction(sig, NULL, &sa), 0);
    return sa;
}

static int same_disposition(const struct sigaction *a,
                            const struct sigaction *b)
{
    if (a->sa_handler != b->sa_handler ||
        ((a->sa_flags ^ b->sa_flags) & ~FLAG_RESTORER))
        return 0;
    /* The mask of SIG_DFL / SIG_IGN means nothing (and ThreadSanitizer
     * reports its own there). */
    if (a->sa_handler == SIG_DFL || a->sa_handler == SIG_IGN)
        return 1;
    for (int s = 1; s < 32; s++)
        if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s))
            return 0;
    return 1;
}

/* ----------------------------------------- delivered to a waiting task */

struct raiser_frame { co_frame co; int sig; };

/* Raises its signal once the waiter has blocked (spawned after it). */
static co_status raiser(co_task *t, void *arg)
{
    struct raiser_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(kill(getpid(), f->sig), 0);
    CO_END;
}

struct event_frame {
    co_frame co;
    co_signal_event ev;
    co_task *raiser;
    struct raiser_frame r;
    int rc;
};

static co_status event_main(co_task *t, void *arg)
{
    struct event_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(&f->ev,
                                          CO_SIGNALS(SIGHUP, SIGUSR1)), 0);
    ck_assert_int_eq(co_signal_event_is_set(&f->ev), 0);
    f->r.sig = SIGUSR1;
    CO_SPAWN(t, &f->raiser, raiser, f->r);
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, SIGUSR1);
    ck_assert_int_eq(co_signal_event_is_set(&f->ev), SIGUSR1);
    /* set: a wait returns at once, again and again */
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, SIGUSR1);
    ck_assert_int_eq(co_signal_event_clear(&f->ev), 0);
    ck_assert_int_eq(co_signal_event_is_set(&f->ev), 0);
    /* the other signal of the set */
    f->r.sig = SIGHUP;
    CO_SPAWN(t, &f->raiser, raiser, f->r);
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, SIGHUP);
    CO_FINALLY;
    co_signal_event_free(&f->ev);
    CO_END;
}

START_TEST(test_event_gets_a_signal_from_a_task)
{
    struct event_frame f = { 0 };
    RUN(event_main, f);
}
END_TEST

/* From a worker thread, which blocks every signal: the process gets it,
 * some other thread runs the handler, the kernel hands it on. */
static intptr_t kill_from_thread(void *arg)
{
    return kill(getpid(), *(int *)arg) == 0 ? 0 : -errno;
}

struct thread_frame {
    co_frame co;
    co_signal_event ev;
    co_thread_call call;
    int sig, rc;
};

static co_status thread_main(co_task *t, void *arg)
{
    struct thread_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(&f->ev, CO_SIGNALS(SIGUSR2)), 0);
    f->sig = SIGUSR2;
    co_thread_call_init(&f->call, kill_from_thread, &f->sig, NULL);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, SIGUSR2);
    CO_FINALLY;
    co_signal_event_free(&f->ev);
    CO_END;
}

START_TEST(test_event_gets_a_signal_from_a_thread)
{
    struct thread_frame f = { 0 };
    RUN(thread_main, f);
}
END_TEST

/* ------------------------------------------------------------- queues */

struct queue_frame {
    co_frame co;
    co_signal_queue q, small;
    co_signal_event fence;
    int got[4];
    int i, rc;
};

static co_status queue_main(co_task *t, void *arg)
{
    struct queue_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_queue_init(&f->q, CO_SIGNALS(SIGUSR1,
                                          SIGHUP, SIGUSR1), 0), 0);
    ck_assert_int_eq(co_signal_queue_get_nowait(&f->q), -EAGAIN);
    /* each raise is delivered before it returns (this thread) */
    raise(SIGHUP);
    raise(SIGUSR1);
    raise(SIGUSR1);
    raise(SIGHUP);
    for (f->i = 0; f->i < 4; f->i++) {
        CO_AWAIT(f->rc, co_signal_queue_get(t, &f->q));
        f->got[f->i] = f->rc;
    }
    ck_assert_int_eq(f->got[0], SIGHUP);
    ck_assert_int_eq(f->got[1], SIGUSR1);
    ck_assert_int_eq(f->got[2], SIGUSR1);
    ck_assert_int_eq(f->got[3], SIGHUP);
    ck_assert_uint_eq(co_signal_queue_len(&f->q), 0);
    ck_assert_uint_eq(co_signal_queue_dropped(&f->q), 0);

    /* a queue of 2 given 5: 2 kept, the 3 later ones counted as dropped */
    ck_assert_int_eq(co_signal_queue_init(&f->small, CO_SIGNALS(SIGUSR1), 2),
                     0);
    ck_assert_int_eq(co_signal_event_init(&f->fence, CO_SIGNALS(SIGUSR2)), 0);
    for (f->i = 0; f->i < 5; f->i++)
        raise(SIGUSR1);
    raise(SIGUSR2);
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->fence));
    ck_assert_int_eq(f->rc, SIGUSR2);
    ck_assert_uint_eq(co_signal_queue_len(&f->small), 2);
    ck_assert_uint_eq(co_signal_queue_dropped(&f->small), 3);
    /* the big one saw all five, in no danger */
    ck_assert_uint_eq(co_signal_queue_len(&f->q), 5);
    ck_assert_int_eq(co_signal_queue_get_nowait(&f->small), SIGUSR1);
    ck_assert_int_eq(co_signal_queue_get_nowait(&f->small), SIGUSR1);
    ck_assert_int_eq(co_signal_queue_get_nowait(&f->small), -EAGAIN);
    CO_FINALLY;
    co_signal_queue_free(&f->q);     /* 5 not taken: dropped with it */
    co_signal_queue_free(&f->small);
    co_signal_event_free(&f->fence);
    CO_END;
}

START_TEST(test_queue_keeps_order_and_counts_drops)
{
    struct queue_frame f = { 0 };
    RUN(queue_main, f);
}
END_TEST

/* Two watchers of one signal in one kernel: both see it. */
struct both_frame {
    co_frame co;
    co_signal_event a;
    co_signal_queue b;
    int rc;
};

static co_status both_main(co_task *t, void *arg)
{
    struct both_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(&f->a, CO_SIGNALS(SIGUSR1)), 0);
    ck_assert_int_eq(co_signal_queue_init(&f->b, CO_SIGNALS(SIGUSR1), 4), 0);
    raise(SIGUSR1);
    CO_AWAIT(f->rc, co_signal_queue_get(t, &f->b));
    ck_assert_int_eq(f->rc, SIGUSR1);
    ck_assert_int_eq(co_signal_event_is_set(&f->a), SIGUSR1);
    CO_FINALLY;
    co_signal_event_free(&f->a);
    co_signal_queue_free(&f->b);
    CO_END;
}

START_TEST(test_two_watchers_both_see_it)
{
    struct both_frame f = { 0 };
    RUN(both_main, f);
}
END_TEST

/* ------------------------------------------------------- dispositions */

static void custom_handler(int sig) { (void)sig; }

struct disp_frame {
    co_frame co;
    co_signal_event e1, e2;
    struct sigaction before_usr1, before_hup;
};

static co_status disp_main(co_task *t, void *arg)
{
    struct disp_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(&f->e1, CO_SIGNALS(SIGUSR1)), 0);
    ck_assert_int_eq(co_signal_event_init(&f->e2,
                                          CO_SIGNALS(SIGUSR1, SIGHUP)), 0);
    {
        struct sigaction now = disposition(SIGUSR1);
        ck_assert(now.sa_handler != custom_handler);
        ck_assert(now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN);
    }
    co_signal_event_free(&f->e1);
    /* SIGUSR1 is still watched (e2): still the library's */
    {
        struct sigaction now = disposition(SIGUSR1);
        ck_assert(now.sa_handler != custom_handler);
    }
    co_signal_event_free(&f->e2);
    {
        struct sigaction now = disposition(SIGUSR1);
        ck_assert(same_disposition(&now, &f->before_usr1));
        now = disposition(SIGHUP);
        ck_assert(same_disposition(&now, &f->before_hup));
    }
    co_signal_event_free(&f->e2);   /* twice: nothing */
    CO_END;
}

START_TEST(test_dispositions_are_put_back)
{
    struct disp_frame f = { 0 };
    /* a program's own handler, with flags and a mask of its own */
    struct sigaction mine = { 0 }, old_usr1, old_hup;
    mine.sa_handler = custom_handler;
    mine.sa_flags = SA_NODEFER;
    sigemptyset(&mine.sa_mask);
    sigaddset(&mine.sa_mask, SIGTERM);
    ck_assert_int_eq(sigaction(SIGUSR1, &mine, &old_usr1), 0);
    ck_assert_int_eq(sigaction(SIGHUP, NULL, &old_hup), 0);
    f.before_usr1 = disposition(SIGUSR1);
    f.before_hup = disposition(SIGHUP);
    RUN(disp_main, f);
    struct sigaction after = disposition(SIGUSR1);
    ck_assert(same_disposition(&after, &mine));
    ck_assert(after.sa_handler == custom_handler);
    ck_assert_int_eq(sigaction(SIGUSR1, &old_usr1, NULL), 0);
}
END_TEST

/* ------------------------------------------ a blocking point like any */

struct waiter_frame { co_frame co; co_signal_event *ev; co_signal_queue *q; };

static co_status event_waiter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    int rc;
    CO_BEGIN(t, f);
    CO_AWAIT(rc, co_signal_event_wait(t, f->ev));
    CO_RETURN(rc);
    CO_END;
}

static co_status queue_getter(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    int rc;
    CO_BEGIN(t, f);
    CO_AWAIT(rc, co_signal_queue_get(t, f->q));
    CO_RETURN(rc);
    CO_END;
}

struct interrupt_frame {
    co_frame co;
    co_signal_event ev;
    co_signal_queue q;
    co_timeout to;
    co_task *w1, *w2;
    struct waiter_frame wf;
    int rc;
};

static co_status interrupt_main(co_task *t, void *arg)
{
    struct interrupt_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(&f->ev, CO_SIGNALS(SIGUSR1)), 0);
    ck_assert_int_eq(co_signal_queue_init(&f->q, CO_SIGNALS(SIGUSR1), 0), 0);
    f->wf.ev = &f->ev;
    f->wf.q = &f->q;
    /* timeout */
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.02, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.02, co_signal_queue_get(t, &f->q));
    ck_assert_int_eq(f->rc, -ETIMEDOUT);
    /* cancellation */
    CO_SPAWN(t, &f->w1, event_waiter, f->wf);
    CO_SPAWN(t, &f->w2, queue_getter, f->wf);
    CO_YIELD();
    ck_assert_str_eq(co_task_state(f->w1), "blocked");
    ck_assert_str_eq(co_task_state(f->w2), "blocked");
    CO_AWAIT(f->rc, co_task_cancel(t, f->w1));
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_AWAIT(f->rc, co_task_cancel(t, f->w2));
    AWAIT_JOIN(f->rc, t, f->w2);
    ck_assert_int_eq(f->rc, -ECANCELED);
    /* freed under waiting tasks: they get -EBADF */
    CO_SPAWN(t, &f->w1, event_waiter, f->wf);
    CO_SPAWN(t, &f->w2, queue_getter, f->wf);
    CO_YIELD();
    co_signal_event_free(&f->ev);
    co_signal_queue_free(&f->q);
    AWAIT_JOIN(f->rc, t, f->w1);
    ck_assert_int_eq(f->rc, -EBADF);
    AWAIT_JOIN(f->rc, t, f->w2);
    ck_assert_int_eq(f->rc, -EBADF);
    /* and a freed object is not one to wait on */
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_FINALLY;
    co_signal_event_free(&f->ev);
    co_signal_queue_free(&f->q);
    CO_END;
}

START_TEST(test_wait_is_cancellable_and_times_out)
{
    struct interrupt_frame f = { 0 };
    RUN(interrupt_main, f);
}
END_TEST

/* A signal handed to a getter stays its own, though the getter is
 * cancelled before it runs again (THE RULE). */
struct handed_frame {
    co_frame co;
    co_signal_queue q;
    co_signal_event fence;
    co_task *w;
    struct waiter_frame wf;
    int rc;
};

static co_status handed_main(co_task *t, void *arg)
{
    struct handed_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_queue_init(&f->q, CO_SIGNALS(SIGUSR1), 0), 0);
    ck_assert_int_eq(co_signal_event_init(&f->fence, CO_SIGNALS(SIGUSR2)), 0);
    f->wf.q = &f->q;
    CO_SPAWN(t, &f->w, queue_getter, f->wf);
    CO_YIELD();                     /* the getter blocks */
    /* the fence first: main is woken first, and runs first */
    raise(SIGUSR2);
    raise(SIGUSR1);
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->fence));
    /* the getter has been woken with SIGUSR1 and has not run yet */
    ck_assert_str_eq(co_task_state(f->w), "ready");
    co_task_cancel_nowait(f->w);
    AWAIT_JOIN(f->rc, t, f->w);
    ck_assert_int_eq(f->rc, SIGUSR1);
    ck_assert_uint_eq(co_signal_queue_len(&f->q), 0);
    CO_FINALLY;
    co_signal_queue_free(&f->q);
    co_signal_event_free(&f->fence);
    CO_END;
}

START_TEST(test_handed_signal_survives_cancel)
{
    struct handed_frame f = { 0 };
    RUN(handed_main, f);
}
END_TEST

/* ---------------------------------------------------- bad arguments */

struct args_frame { co_frame co; co_signal_event ev; co_signal_queue q;
                    int rc; };

static co_status args_main(co_task *t, void *arg)
{
    struct args_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(NULL, CO_SIGNALS(SIGUSR1)),
                     -EINVAL);
    ck_assert_int_eq(co_signal_event_init(&f->ev, NULL, 1), -EINVAL);
    ck_assert_int_eq(co_signal_event_init(&f->ev, (const int[]){ SIGUSR1 },
                                          0), -EINVAL);
    {
        static const int bad[] = { 0, -1, 65, SIGKILL, SIGSTOP, SIGSEGV,
                                   SIGBUS, SIGILL, SIGFPE };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            ck_assert_int_eq(co_signal_event_init(&f->ev, &bad[i], 1),
                             -EINVAL);
        /* one bad signal in a list: nothing watched */
        int mixed[] = { SIGUSR1, SIGKILL };
        struct sigaction before = disposition(SIGUSR1);
        ck_assert_int_eq(co_signal_queue_init(&f->q, mixed, 2, 4), -EINVAL);
        struct sigaction after = disposition(SIGUSR1);
        ck_assert(same_disposition(&before, &after));
    }
    ck_assert_ptr_null(f->ev.priv.w);
    /* nothing made: the waits refuse, the rest answer by their type */
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_signal_event_wait(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_signal_queue_get(t, &f->q));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_signal_queue_get_nowait(&f->q), -EINVAL);
    ck_assert_int_eq(co_signal_queue_get_nowait(NULL), -EINVAL);
    ck_assert_int_eq(co_signal_event_is_set(NULL), 0);
    ck_assert_int_eq(co_signal_event_clear(NULL), -EINVAL);
    ck_assert_uint_eq(co_signal_queue_len(NULL), 0);
    ck_assert_uint_eq(co_signal_queue_dropped(NULL), 0);
    co_signal_event_free(NULL);
    co_signal_queue_free(NULL);
    co_signal_event_free(&f->ev);   /* zeros: nothing */
    /* an event is not a queue */
    ck_assert_int_eq(co_signal_event_init(&f->ev, CO_SIGNALS(SIGUSR1)), 0);
    CO_AWAIT(f->rc, co_signal_queue_get(t, (co_signal_queue *)&f->ev));
    ck_assert_int_eq(f->rc, -EINVAL);
    ck_assert_int_eq(co_signal_queue_get_nowait((co_signal_queue *)&f->ev),
                     -EINVAL);
    /* bad arguments come before a pending cancellation (THE RULE) */
    co_task_cancel_nowait(t);
    CO_AWAIT(f->rc, co_signal_event_wait(t, NULL));
    ck_assert_int_eq(f->rc, -EINVAL);
    CO_AWAIT(f->rc, co_signal_event_wait(t, &f->ev));
    ck_assert_int_eq(f->rc, -ECANCELED);
    CO_FINALLY;
    co_signal_event_free(&f->ev);
    CO_END;
}

START_TEST(test_bad_arguments)
{
    struct args_frame f = { 0 };
    ck_assert_int_eq(co_run(args_main, &f, sizeof f), 0);
    /* outside any kernel: no kernel to watch for */
    co_signal_event ev = { 0 };
    ck_assert_int_eq(co_signal_event_init(&ev, CO_SIGNALS(SIGUSR1)),
                     -EINVAL);
    ck_assert_int_eq(co_kernel_set_sigint(NULL, 1), -EINVAL);
}
END_TEST

/* --------------------------------------- a watcher outliving its kernel */

static co_signal_event left_behind;

struct leave_frame { co_frame co; };

static co_status leave_main(co_task *t, void *arg)
{
    struct leave_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_signal_event_init(&left_behind, CO_SIGNALS(SIGUSR1)),
                     0);
    CO_END;                         /* not freed */
}

START_TEST(test_watcher_outlives_its_kernel)
{
    struct sigaction ign = { 0 }, old;
    ign.sa_handler = SIG_IGN;
    ck_assert_int_eq(sigaction(SIGUSR1, &ign, &old), 0);
    int fds = count_fds();
    co_kernel *k = co_kernel_new();
    ck_assert_ptr_nonnull(k);
    struct leave_frame f = { 0 };
    ck_assert_int_eq(co_kernel_run(k, leave_main, &f, sizeof f), 0);
    ck_assert(disposition(SIGUSR1).sa_handler != SIG_IGN);  /* still watched */
    co_kernel_free(k);
    /* the kernel took its watchers' dispositions back with it */
    ck_assert(disposition(SIGUSR1).sa_handler == SIG_IGN);
    ck_assert_int_eq(count_fds(), fds);
    raise(SIGUSR1);                 /* ignored, nothing touched */
    ck_assert_int_eq(co_signal_event_is_set(&left_behind), 0);
    co_signal_event_free(&left_behind);      /* the record goes now */
    ck_assert_ptr_null(left_behind.priv.w);
    ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
}
END_TEST

Suite *signal_wait_suite(void)
{
    Suite *s = suite_create("signal_wait");
    TCase *tc = tcase_create("wait");
    tcase_add_test(tc, test_event_gets_a_signal_from_a_task);
    tcase_add_test(tc, test_event_gets_a_signal_from_a_thread);
    tcase_add_test(tc, test_queue_keeps_order_and_counts_drops);
    tcase_add_test(tc, test_two_watchers_both_see_it);
    tcase_add_test(tc, test_dispositions_are_put_back);
    tcase_add_test(tc, test_wait_is_cancellable_and_times_out);
    tcase_add_test(tc, test_handed_signal_survives_cancel);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_watcher_outlives_its_kernel);
    suite_add_tcase(s, tc);
    return s;
}
