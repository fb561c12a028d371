/*
 * supervisor.c -- a small supervisor: workers run in a task group; one
 * that fails is restarted (up to a limit), one that finishes is reported.
 *
 * The supervisor takes the workers in the order they finish
 * (co_group_next_done), reads each one's result and frame, and either
 * spawns it again into the same group or reports it.  The group's join
 * sits in CO_FINALLY: however the supervisor ends -- done, cancelled, out
 * of time -- the workers still running are cancelled and have finished
 * before it returns.  The whole run is under a one-second timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"

#define WORKERS 3
#define MAX_RESTARTS 2

/* Worker n fails on its first n - 1 attempts: something to restart. */
struct worker_frame {
    co_frame co;
    int n, attempt, rc;
};

static co_status worker(co_task *t, void *arg)
{
    struct worker_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 0.01 * f->n));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    if (f->attempt < f->n - 1)
        CO_RETURN(-EIO);
    CO_RETURN(100 * f->n + f->attempt);
    CO_END;
}

struct supervisor_frame {
    co_frame co;
    co_group g;
    co_timeout limit;
    co_task *done;
    struct worker_frame w;
    int rc, result, i;
};

static co_status supervisor(co_task *t, void *arg)
{
    struct supervisor_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->limit, 1.0);
    for (f->i = 1; f->i <= WORKERS; f->i++) {
        f->w = (struct worker_frame){ .n = f->i };
        CO_GROUP_SPAWN(t, &f->g, NULL, worker, f->w);
    }
    for (;;) {
        CO_AWAIT(f->rc, co_group_next_done(t, &f->g, &f->done));
        if (f->rc < 0 || !f->done)
            break;
        /* what it was (its frame) and how it ended; the handle is ours:
         * joining it, which returns at once, frees it */
        f->w = *(struct worker_frame *)co_task_frame(f->done);
        CO_AWAIT(f->rc, co_task_join(t, f->done, &f->result));
        if (f->result >= 0) {
            printf("worker %d finished: %d\n", f->w.n, f->result);
        } else if (f->w.attempt < MAX_RESTARTS) {
            printf("worker %d failed (%s): restarting\n", f->w.n,
                   co_strerror(f->result));
            f->w.attempt++;             /* the same worker, once more */
            CO_GROUP_SPAWN(t, &f->g, NULL, worker, f->w);
        } else {
            printf("worker %d failed (%s): giving up\n", f->w.n,
                   co_strerror(f->result));
        }
    }
    CO_FINALLY;
    CO_AWAIT(f->rc, co_group_join(t, &f->g));
    f->rc = co_timeout_end(t, &f->limit, f->rc);
    CO_RETURN(f->rc);
    CO_END;
}

static const char usage[] =
    "usage: supervisor\n"
    "Runs three workers in a task group; worker n fails on its first n - 1\n"
    "attempts.  Failed workers are restarted up to twice, finished ones are\n"
    "reported.  Takes no arguments.\n";

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    struct supervisor_frame frame = { .rc = 0 };
    int rc = co_run(supervisor, &frame, sizeof frame);
    printf("supervisor returned %d (%s)\n", rc, co_strerror(rc));
    return rc == 0 ? 0 : 1;
}
