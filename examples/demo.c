/*
 * demo.c -- a tour of the curio-for-C kernel in under two seconds.
 *
 *   1. two countdowns with different intervals, interleaving
 *   2. a kid task cancelled by its parent; its CO_FINALLY cleans up
 *   3. a cancellation held back by a disabled region until it ends
 *   4. timeouts: timeout_after, nested regions, and ignore_after
 *   5. joining a task that returns a result
 *   6. a daemon task that the kernel cancels at shutdown
 *
 * Every line is stamped with the time since main started (the kernel's
 * clock, to a tenth of a second).  Events are spaced so the order is the
 * same on every run.
 *
 * The rule to remember: a coroutine keeps everything that must survive a
 * CO_AWAIT in its frame struct (f->...).  Ordinary locals are lost at every
 * suspension.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"

static double start;

static void say(const char *who, const char *fmt, ...)
{
    va_list ap;
    printf("[%.1fs] %-10s ", co_clock() - start, who);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* ------------------------------------------------ 1. countdowns */

struct countdown_frame {
    co_frame co;
    const char *name;
    int n;
    double interval;
    int rc;
};

static co_status countdown(co_task *t, void *arg)
{
    struct countdown_frame *f = arg;
    CO_BEGIN(t, f);
    while (f->n > 0) {
        say(f->name, "T-minus %d", f->n);
        CO_AWAIT(f->rc, co_sleep(t, f->interval));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        f->n--;
    }
    CO_END;
}

/* ------------------------------------------------ 2. the kid */

struct kid_frame {
    co_frame co;
    int rc;
};

static co_status kid(co_task *t, void *arg)
{
    struct kid_frame *f = arg;
    CO_BEGIN(t, f);
    say("kid", "Building the Millennium Falcon in Minecraft");
    CO_AWAIT(f->rc, co_sleep(t, 1000));
    CO_RETURN(f->rc);
CO_FINALLY
    /* runs however the body ended: here, the sleep returned -ECANCELED */
    say("kid", "Fine. Saving my work. (sleep said: %s)",
        co_strerror(CO_RESULT()));
    CO_END;
}

/* ------------------------------------------------ 3. a shielded section */

struct critical_frame {
    co_frame co;
    int rc;
};

static co_status critical(co_task *t, void *arg)
{
    struct critical_frame *f = arg;
    CO_BEGIN(t, f);
    co_disable_cancellation(t);
    say("critical", "writing the save file, cancellation disabled");
    CO_AWAIT(f->rc, co_sleep(t, 0.2));
    say("critical", "save file written (sleep: %s)", co_strerror(f->rc));
    co_enable_cancellation(t);
    /* the request that arrived meanwhile is delivered here */
    CO_AWAIT(f->rc, co_sleep(t, 1000));
    say("critical", "next sleep: %s", co_strerror(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

/* ------------------------------------------------ 5. a result */

struct answer_frame {
    co_frame co;
    int rc;
};

static co_status answer(co_task *t, void *arg)
{
    struct answer_frame *f = arg;
    CO_BEGIN(t, f);
    say("answer", "thinking...");
    CO_AWAIT(f->rc, co_sleep(t, 0.1));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_RETURN(42);
    CO_END;
}

/* ------------------------------------------------ 6. the daemon */

struct heartbeat_frame {
    co_frame co;
    int beats;
    int rc;
};

static co_status heartbeat(co_task *t, void *arg)
{
    struct heartbeat_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        CO_AWAIT(f->rc, co_sleep(t, 0.1));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        f->beats++;                 /* quietly, so the output stays fixed */
    }
CO_FINALLY
    say("heartbeat", "daemon cancelled at shutdown (%s), cleaning up",
        co_strerror(CO_RESULT()));
    CO_END;
}

/* ------------------------------------------------ main */

struct main_frame {
    co_frame co;
    co_task *fast, *slow, *kid, *critical, *answer, *daemon;
    co_timeout outer, inner;
    int rc;
    int result;     /* a joined task's result (co_task_join's rc is the join's) */
};

static co_status demo_main(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    start = co_clock();

    /* 6 (started first, runs throughout): a daemon is never reported as
     * unjoined; the kernel cancels it when main returns. */
    {
        struct heartbeat_frame hb = { .beats = 0 };
        co_spawn(t, &f->daemon, heartbeat, &hb, sizeof hb,
                 &(const co_spawn_opts){ .name = "heartbeat",
                                         .flags = CO_DAEMON });
    }

    /* 1. Two countdowns at once. */
    say("main", "--- 1. two countdowns, every 0.2 s and every 0.3 s");
    {
        struct countdown_frame cf = { .name = "fast", .n = 3, .interval = 0.2 };
        CO_SPAWN(t, &f->fast, countdown, cf);
        cf = (struct countdown_frame){ .name = "slow", .n = 2, .interval = 0.3 };
        CO_SPAWN(t, &f->slow, countdown, cf);
    }
    CO_AWAIT(f->rc, co_task_join(t, f->fast, &f->result));
    say("main", "joined fast: %s", co_strerror(f->result));
    CO_AWAIT(f->rc, co_task_join(t, f->slow, &f->result));
    say("main", "joined slow: %s", co_strerror(f->result));

    /* 2. Cancelling a kid. */
    say("main", "--- 2. cancellation");
    {
        struct kid_frame kf = { .rc = 0 };
        CO_SPAWN(t, &f->kid, kid, kf);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.2));
    say("main", "Let's go");
    CO_AWAIT(f->rc, co_task_cancel(t, f->kid));
    say("main", "co_task_cancel(kid) returned %d: the kid has ended", f->rc);
    CO_AWAIT(f->rc, co_task_join(t, f->kid, &f->result));
    say("main", "co_task_join(kid): the kid's result is %d (%s)", f->result,
        co_strerror(f->result));

    /* 3. Cancellation waits for a disabled region to end. */
    say("main", "--- 3. cancellation held back");
    {
        struct critical_frame cf = { .rc = 0 };
        CO_SPAWN(t, &f->critical, critical, cf);
    }
    CO_AWAIT(f->rc, co_sleep(t, 0.1));
    say("main", "cancelling critical (it will finish its save first)");
    CO_AWAIT(f->rc, co_task_cancel(t, f->critical));
    say("main", "co_task_cancel(critical) returned %d", f->rc);
    CO_AWAIT(f->rc, co_task_join(t, f->critical, &f->result));
    say("main", "co_task_join(critical): its result is %d (%s)", f->result,
        co_strerror(f->result));

    /* 4. Timeouts. */
    say("main", "--- 4. timeouts");
    co_timeout_after(t, &f->outer, 0.1);
    CO_AWAIT(f->rc, co_sleep(t, 10));
    say("main", "sleep(10) under timeout_after(0.1): %s",
        co_strerror(f->rc));
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    say("main", "the region's result: %d (%s)", f->rc, co_strerror(f->rc));

    co_timeout_after(t, &f->outer, 0.1);        /* expires first */
    co_timeout_after(t, &f->inner, 5.0);
    CO_AWAIT(f->rc, co_sleep(t, 10));
    f->rc = co_timeout_end(t, &f->inner, f->rc);
    say("main", "nested: inner (5 s) expired? %s; it passes on %s",
        co_timeout_expired(&f->inner) ? "yes" : "no", co_strerror(f->rc));
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    say("main", "nested: outer (0.1 s) expired? %s; its result: %s",
        co_timeout_expired(&f->outer) ? "yes" : "no", co_strerror(f->rc));

    co_ignore_after(t, &f->outer, 0.1);
    CO_AWAIT(f->rc, co_sleep(t, 10));
    f->rc = co_timeout_end(t, &f->outer, f->rc);
    say("main", "ignore_after(0.1): result %d (%s), expired? %s", f->rc,
        co_strerror(f->rc), co_timeout_expired(&f->outer) ? "yes" : "no");

    /* 5. Join returns a task's result. */
    say("main", "--- 5. join returns a result");
    {
        struct answer_frame af = { .rc = 0 };
        CO_SPAWN(t, &f->answer, answer, af);
    }
    CO_AWAIT(f->rc, co_task_join(t, f->answer, &f->result));
    say("main", "the answer is %d", f->result);

    /* 6. Shutdown. */
    say("main", "--- 6. shutdown");
    say("main", "returning; the kernel cancels the %s task still running",
        co_task_name(f->daemon));
    CO_RETURN(0);
    CO_END;
}

static const char usage[] =
    "usage: demo\n"
    "A tour of the kernel in under two seconds: countdowns, cancellation,\n"
    "timeouts, join, a daemon task.  Takes no arguments.\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    struct main_frame frame = { .rc = 0 };
    int rc = co_run(demo_main, &frame, sizeof frame);
    printf("co_run returned %d (%s)\n", rc, co_strerror(rc));
    return rc == 0 ? 0 : 1;
}
