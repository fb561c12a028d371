/*
 * test_fault.c -- running out of memory: every allocation the library
 * makes can be made to fail (core/fault_impl.h), and each failure must
 * come back as -ENOMEM with nothing lost, leaked or left half done.
 *
 * Two kinds of test.  Scenes: a precise situation in which one
 * allocation used to fail at the worst moment (a wait that had already
 * handed its lock over, a join that had already marked itself); now the
 * memory is reserved before anything is handed over, so the operation
 * does not fail at all.  Sweeps: a program using most of the library is
 * run again and again with its n-th allocation failing, for every n; each
 * run must end with 0 or -ENOMEM, consistent, with nothing leaked (the
 * sanitizer and valgrind runs of this suite check the leaks).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "curio.h"
#include "core/fault_impl.h"
#include "../log.h"
#include "fault.h"

static void setup(void)
{
    log_reset();
    co_fault_fail_after(-1);
}

static void teardown(void)
{
    co_fault_fail_after(-1);
}

/* The timer heap starts with room for 64 entries; a 65th blocked task
 * with a deadline used to make it grow then. */
#define HEAP_FIRST 64

struct sleeper_frame {
    co_frame co;
    int rc;
};

static co_status sleeper(co_task *t, void *arg)
{
    struct sleeper_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_sleep(t, 60.0));
    CO_RETURN(f->rc);
    CO_END;
}

/* Fill the first heap with sleepers (cancelled at shutdown). */
#define FILL_HEAP(t, f)                                                     \
    do {                                                                    \
        for ((f)->i = 0; (f)->i < HEAP_FIRST; (f)->i++) {                   \
            struct sleeper_frame s_ = { .rc = 0 };                          \
            ck_assert_int_gt(co_spawn((t), NULL, sleeper, &s_, sizeof s_,   \
                                      &(co_spawn_opts){ .flags =            \
                                                        CO_DAEMON }), 0);   \
        }                                                                   \
        CO_AWAIT((f)->rc, co_yield(t));    /* they all block */             \
    } while (0)

/* ------------------------------------------------------------ kernel */

START_TEST(test_kernel_new_out_of_memory)
{
    co_fault_fail_after(0);
    errno = 0;
    ck_assert_ptr_null(co_kernel_new());
    ck_assert_int_eq(errno, ENOMEM);
    struct sleeper_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(sleeper, &m, sizeof m), -ENOMEM);
}
END_TEST

/* Spawning fails cleanly at every allocation it makes (the task block,
 * the registry, the timer heap's reserved place), and the kernel goes on. */
struct spawn_frame {
    co_frame co;
    long n;
    int rc, ok, failed;
    co_task *h;
};

static co_status returns_seven(co_task *t, void *arg)
{
    struct { co_frame co; } *f = arg;
    CO_BEGIN(t, f);
    CO_RETURN(7);
    CO_END;
}

static co_status spawn_main(co_task *t, void *arg)
{
    struct spawn_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->n = 0; f->n < 200; f->n++) {
        co_fault_fail_after(f->n % 3);
        struct { co_frame co; char pad[600]; } big = { { 0 }, { 0 } };
        f->rc = f->n % 2 ? co_spawn(t, &f->h, returns_seven, &big,
                                    sizeof big, NULL)
                         : co_spawn(t, &f->h, returns_seven, NULL,
                                    sizeof(co_frame), NULL);
        co_fault_fail_after(-1);
        if (f->rc < 0) {
            ck_assert_int_eq(f->rc, -ENOMEM);
            f->failed++;
            continue;
        }
        CO_AWAIT(f->rc, co_task_join(t, f->h, &f->ok));
        ck_assert_int_eq(f->rc, 0);
        ck_assert_int_eq(f->ok, 7);
    }
    note("failed=%s", f->failed > 0 ? "some" : "none");
    CO_END;
}

START_TEST(test_spawn_out_of_memory)
{
    struct spawn_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(spawn_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "failed=some");
}
END_TEST

/* ------------------------------------------------------------ sleeping */

/* A running task can always sleep: its place in the timer heap was
 * reserved when it was spawned.  (It used to get -ENOMEM here, as the
 * 65th task with a deadline.) */
struct sleep_frame {
    co_frame co;
    co_timeout to;
    int i, rc;
};

static co_status sleep_main(co_task *t, void *arg)
{
    struct sleep_frame *f = arg;
    CO_BEGIN(t, f);
    FILL_HEAP(t, f);
    co_fault_fail_after(0);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_sleep(t, 10.0));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("sleep=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    note("sleep=%s", rcs(f->rc));
    co_fault_fail_after(-1);
    CO_END;
}

START_TEST(test_sleep_needs_no_memory)
{
    struct sleep_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(sleep_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "sleep=TIMEOUT sleep=0");
}
END_TEST

/* ------------------------------------------------------------ condition */

/* A condition wait hands its lock to the next waiter before it blocks; it
 * used to fail with -ENOMEM after that, returning without the lock while
 * another task held it.  Now the wait cannot fail once it has begun, and
 * the waiter holds the lock on every return. */
static co_condition cond;
static co_event go;

struct cond_waiter_frame {
    co_frame co;
    co_timeout to;
    int pending, rc;
};

static co_status cond_waiter(co_task *t, void *arg)
{
    struct cond_waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_event_wait(t, &go));
    co_timeout_after(t, &f->to, 0.02);
    CO_AWAIT(f->rc, co_condition_wait(t, &cond, &f->pending));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("wait=%s owner=%s", rcs(f->rc),
         co_lock_owner(co_condition_lock(&cond)) == t ? "self" : "other");
    ck_assert_int_eq(co_condition_release(t, &cond), 0);
    CO_END;
}

struct cond_taker_frame {
    co_frame co;
    int rc;
};

static co_status cond_taker(co_task *t, void *arg)
{
    struct cond_taker_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_condition_acquire(t, &cond));
    note("taker=%s", rcs(f->rc));
    ck_assert_int_eq(co_condition_release(t, &cond), 0);
    CO_END;
}

struct cond_main_frame {
    co_frame co;
    co_task *w, *x;
    int i, rc, result;
};

static co_status cond_main(co_task *t, void *arg)
{
    struct cond_main_frame *f = arg;
    struct cond_waiter_frame w = { .rc = 0 };
    struct cond_taker_frame x = { .rc = 0 };
    CO_BEGIN(t, f);
    FILL_HEAP(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->w, cond_waiter, w), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* w holds the lock */
    ck_assert_int_gt(CO_SPAWN(t, &f->x, cond_taker, x), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* x waits for it */
    co_fault_fail_after(0);
    co_event_set(&go);
    CO_AWAIT(f->rc, co_yield(t));          /* w waits, x takes the lock */
    co_fault_fail_after(-1);
    CO_AWAIT(f->rc, co_task_join(t, f->w, &f->result));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_task_join(t, f->x, &f->result));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_condition_wait_keeps_the_lock)
{
    ck_assert_int_eq(co_condition_init(&cond, NULL), 0);
    go = (co_event){ .priv.set = 0 };
    struct cond_main_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(cond_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "taker=0 wait=TIMEOUT owner=self");
}
END_TEST

/* ------------------------------------------------------------ join, cancel */

static co_event release_target;

struct target_frame {
    co_frame co;
    int rc;
};

static co_status target(co_task *t, void *arg)
{
    struct target_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_event_wait(t, &release_target));
    CO_RETURN(f->rc < 0 ? f->rc : 7);
    CO_END;
}

struct waiter_frame {
    co_frame co;
    co_task *on;
    int rc;
};

static co_status waits_for(co_task *t, void *arg)
{
    struct waiter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_task_wait(t, f->on));
    CO_END;
}

struct join_frame {
    co_frame co;
    co_timeout to;
    co_task *target, *waiter;
    int i, rc, result;
};

/* A join that cannot make its queue of joiners fails with -ENOMEM and
 * leaves no trace: the task is still the caller's to wait for and join. */
static co_status join_enomem_main(co_task *t, void *arg)
{
    struct join_frame *f = arg;
    struct target_frame tf = { .rc = 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->target, target, tf), 0);
    co_fault_fail_after(0);
    CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
    co_fault_fail_after(-1);
    note("join=%s", rcs(f->rc));
    co_event_set(&release_target);
    CO_AWAIT(f->rc, co_task_wait(t, f->target));
    note("wait=%s done=%d result=%d", rcs(f->rc), co_task_done(f->target),
         co_task_result(f->target));
    CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
    note("join=%s result=%d", rcs(f->rc), f->result);
    CO_END;
}

START_TEST(test_join_out_of_memory_leaves_no_trace)
{
    release_target = (co_event){ .priv.set = 0 };
    struct join_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(join_enomem_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "join=-12 wait=0 done=1 result=7 join=0 result=7");
}
END_TEST

/* The case that used to go wrong: the queue of joiners exists, the join
 * marks itself as a join, then could not enter the timer heap (-ENOMEM)
 * -- and the mark stayed, so a later co_task_wait collected the result and
 * freed the task under the caller.  Now the join cannot fail there: it
 * waits, and times out. */
static co_status join_region_main(co_task *t, void *arg)
{
    struct join_frame *f = arg;
    struct target_frame tf = { .rc = 0 };
    struct waiter_frame wf = { .rc = 0 };
    CO_BEGIN(t, f);
    FILL_HEAP(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->target, target, tf), 0);
    wf.on = f->target;
    ck_assert_int_gt(CO_SPAWN(t, &f->waiter, waits_for, wf), 0);
    CO_AWAIT(f->rc, co_yield(t));          /* the joiners' queue exists */
    co_fault_fail_after(0);
    co_timeout_after(t, &f->to, 0.01);
    CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    co_fault_fail_after(-1);
    note("join=%s", rcs(f->rc));
    co_event_set(&release_target);
    CO_AWAIT(f->rc, co_task_wait(t, f->target));
    note("wait=%s done=%d result=%d", rcs(f->rc), co_task_done(f->target),
         co_task_result(f->target));
    CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
    note("join=%s result=%d", rcs(f->rc), f->result);
    CO_AWAIT(f->rc, co_task_join(t, f->waiter, &f->result));
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_join_under_timeout_needs_no_memory)
{
    release_target = (co_event){ .priv.set = 0 };
    struct join_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(join_region_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "join=TIMEOUT wait=0 done=1 result=7 "
                         "join=0 result=7");
}
END_TEST

/* co_task_cancel that cannot wait (-ENOMEM) has not cancelled anything: it
 * used to cancel first, then fail, so the caller could not tell. */
static co_status cancel_enomem_main(co_task *t, void *arg)
{
    struct join_frame *f = arg;
    struct target_frame tf = { .rc = 0 };
    CO_BEGIN(t, f);
    ck_assert_int_gt(CO_SPAWN(t, &f->target, target, tf), 0);
    CO_AWAIT(f->rc, co_yield(t));
    co_fault_fail_after(0);
    CO_AWAIT(f->rc, co_task_cancel(t, f->target));
    co_fault_fail_after(-1);
    note("cancel=%s cancelled=%d", rcs(f->rc),
         co_task_cancelled(f->target));
    CO_AWAIT(f->rc, co_task_cancel(t, f->target));
    note("cancel=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_task_join(t, f->target, &f->result));
    note("result=%s", rcs(f->result));
    CO_END;
}

START_TEST(test_cancel_out_of_memory_cancels_nothing)
{
    release_target = (co_event){ .priv.set = 0 };
    struct join_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(cancel_enomem_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "cancel=-12 cancelled=0 cancel=1 result=CANCEL");
}
END_TEST

/* ------------------------------------------------------------ queue */

static co_queue queue;

struct getter_frame {
    co_frame co;
    void *item;
    int first, rc;
};

static co_status getter(co_task *t, void *arg)
{
    struct getter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_queue_get(t, &queue, &f->item));
    ck_assert_int_eq(f->rc, 0);
    if (f->first)                  /* from now on nothing can be allocated */
        co_fault_fail_after(0);
    CO_RETURN((int)(intptr_t)f->item);
    CO_END;
}

struct queue_main_frame {
    co_frame co;
    co_task *g[16];
    void *item;
    int i, rc, result;
};

/* A putter that waits on a full bounded queue is handed its room by a
 * get; storing its item then used to need memory (the array had not
 * grown to maxsize), and on failure the room was lost: other putters
 * stayed blocked beside free room.  Now the storage is taken before the
 * putter blocks, and the woken put cannot fail. */
static co_status woken_putter_main(co_task *t, void *arg)
{
    struct queue_main_frame *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&queue, CO_QUEUE_FIFO, 32), 0);
    for (f->i = 0; f->i < 16; f->i++) {
        struct getter_frame g = { .first = f->i == 0 };
        ck_assert_int_gt(CO_SPAWN(t, &f->g[f->i], getter, g), 0);
    }
    CO_AWAIT(f->rc, co_yield(t));          /* 16 getters wait */
    /* 16 items owed to them (they have not run yet) and 16 more: the
     * queue is full, and its array too */
    for (f->i = 0; f->i < 32; f->i++) {
        CO_AWAIT(f->rc, co_queue_put(t, &queue, (void *)(intptr_t)f->i));
        ck_assert_int_eq(f->rc, 0);
    }
    ck_assert(co_queue_full(&queue));
    /* blocks; the first getter to run frees room, and exhausts memory */
    CO_AWAIT(f->rc, co_queue_put(t, &queue, (void *)(intptr_t)32));
    co_fault_fail_after(-1);
    note("put=%s qsize=%zu", rcs(f->rc), co_queue_qsize(&queue));
    for (f->i = 0; f->i < 16; f->i++) {
        CO_AWAIT(f->rc, co_task_join(t, f->g[f->i], &f->result));
        ck_assert_int_eq(f->result, f->i);
    }
    for (f->i = 16; f->i <= 32; f->i++) {
        CO_AWAIT(f->rc, co_queue_get(t, &queue, &f->item));
        ck_assert_int_eq((int)(intptr_t)f->item, f->i);
    }
    ck_assert_int_eq(co_queue_qsize(&queue), 0);
    CO_END;
}

START_TEST(test_woken_putter_cannot_fail)
{
    struct queue_main_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(woken_putter_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "put=0 qsize=17");
    ck_assert_int_eq(co_queue_free(&queue), 0);
}
END_TEST

/* A get never allocates (an item waits in the array until its getter
 * runs): with every allocation failing, a task waits in get, and a put
 * into the storage co_queue_init made wakes it with the item. */
static co_status getter_slot_main(co_task *t, void *arg)
{
    struct queue_main_frame *f = arg;
    struct getter_frame g = { .first = 0 };
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_queue_init(&queue, CO_QUEUE_FIFO, 0), 0);
    ck_assert_int_gt(CO_SPAWN(t, &f->g[0], getter, g), 0);
    co_fault_fail_after(0);
    CO_AWAIT(f->rc, co_yield(t));          /* it waits */
    CO_AWAIT(f->rc, co_queue_put(t, &queue, (void *)(intptr_t)5));
    co_fault_fail_after(-1);
    note("put=%s", rcs(f->rc));
    CO_AWAIT(f->rc, co_task_join(t, f->g[0], &f->result));
    note("got=%d qsize=%zu", f->result, co_queue_qsize(&queue));
    CO_END;
}

START_TEST(test_handoff_needs_no_memory)
{
    struct queue_main_frame m = { .rc = 0 };
    ck_assert_int_eq(co_run(getter_slot_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "put=0 got=5 qsize=0");
    ck_assert_int_eq(co_queue_free(&queue), 0);
}
END_TEST

/* ------------------------------------------------------------ sweep */

/*
 * A small program using tasks, joins, a bounded queue, a lock, a
 * condition, an event, sleeps under timeouts and a universal queue.  Run
 * with its n-th allocation failing, for every n until it no longer
 * reaches that many: each run ends with 0 or -ENOMEM and, when every
 * item made it through, with the items intact and in order.
 */
#define SWEEP_ITEMS 12

struct sweep_state {
    co_queue q;
    co_lock lock;
    co_condition cond;
    co_event done;
    co_uqueue uq;
    int produced, consumed, sum, ready;
};

static struct sweep_state sw;

struct sweep_worker_frame {
    co_frame co;
    co_timeout to;
    void *item;
    int pending, i, rc;
};

static co_status sweep_producer(co_task *t, void *arg)
{
    struct sweep_worker_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 1; f->i <= SWEEP_ITEMS; f->i++) {
        CO_AWAIT(f->rc, co_queue_put(t, &sw.q, (void *)(intptr_t)f->i));
        if (f->rc < 0)
            break;
        sw.produced++;
    }
    /* the end marker: tell the consumer, through the condition */
    CO_AWAIT(f->rc, co_condition_acquire(t, &sw.cond));
    if (f->rc < 0)
        CO_RETURN(f->rc);          /* cancelled: the consumer failed */
    sw.ready = 1;
    co_condition_notify_all(t, &sw.cond);
    co_condition_release(t, &sw.cond);
    CO_END;
}

static co_status sweep_consumer(co_task *t, void *arg)
{
    struct sweep_worker_frame *f = arg;
    CO_BEGIN(t, f);
    for (;;) {
        co_timeout_after(t, &f->to, 0.05);
        CO_AWAIT(f->rc, co_queue_get(t, &sw.q, &f->item));
        f->rc = co_timeout_end(t, &f->to, f->rc);
        if (f->rc == -ETIMEDOUT)
            break;                 /* the producer has stopped */
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_int_eq((int)(intptr_t)f->item, sw.consumed + 1);
        sw.consumed++;
        CO_AWAIT(f->rc, co_lock_acquire(t, &sw.lock));
        ck_assert_int_eq(f->rc, 0);
        sw.sum += (int)(intptr_t)f->item;
        co_lock_release(t, &sw.lock);
        CO_AWAIT(f->rc, co_uqueue_put(t, &sw.uq, f->item));
        if (f->rc < 0)
            CO_RETURN(f->rc);
    }
    CO_AWAIT(f->rc, co_condition_acquire(t, &sw.cond));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->pending = 0;
    while (!sw.ready && f->rc == 0)
        CO_AWAIT(f->rc, co_condition_wait(t, &sw.cond, &f->pending));
    co_condition_release(t, &sw.cond);
    CO_RETURN(f->rc);
    CO_FINALLY;
    co_event_set(&sw.done);        /* however it ended */
    CO_END;
}

/* A crowd big enough to make the registry, the timer heap, the slab and
 * the joiners' queues grow. */
#define SWEEP_CROWD 100

struct crowd_frame {
    co_frame co;
    co_timeout to;
    int rc;
};

static co_status crowd_member(co_task *t, void *arg)
{
    struct crowd_frame *f = arg;
    CO_BEGIN(t, f);
    co_timeout_after(t, &f->to, 10.0);
    CO_AWAIT(f->rc, co_event_wait(t, &sw.done));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    CO_RETURN(f->rc);
    CO_END;
}

struct sweep_main_frame {
    co_frame co;
    co_task *p, *c, *crowd[SWEEP_CROWD];
    void *item;
    int n, i, rc, result;
};

static co_status sweep_main(co_task *t, void *arg)
{
    struct sweep_main_frame *f = arg;
    struct sweep_worker_frame w = { .rc = 0 };
    CO_BEGIN(t, f);
    for (f->n = 0; f->n < SWEEP_CROWD; f->n++) {
        struct crowd_frame c = { .rc = 0 };
        if ((f->rc = CO_SPAWN(t, &f->crowd[f->n], crowd_member, c)) < 0)
            CO_RETURN(f->rc);      /* shutdown cancels the crowd */
    }
    if ((f->rc = co_queue_init(&sw.q, CO_QUEUE_FIFO, 3)) < 0)
        CO_RETURN(f->rc);
    if ((f->rc = CO_SPAWN(t, &f->p, sweep_producer, w)) < 0)
        CO_RETURN(f->rc);
    if ((f->rc = CO_SPAWN(t, &f->c, sweep_consumer, w)) < 0)
        CO_RETURN(f->rc);          /* shutdown cancels the producer */
    CO_AWAIT(f->rc, co_event_wait(t, &sw.done));
    CO_AWAIT(f->rc, co_task_join(t, f->c, &f->result));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    if (f->result < 0)             /* shutdown cancels the producer */
        CO_RETURN(f->result);
    CO_AWAIT(f->rc, co_task_join(t, f->p, &f->result));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    for (f->i = 0; f->i < SWEEP_CROWD; f->i++) {   /* released by done */
        CO_AWAIT(f->rc, co_task_join(t, f->crowd[f->i], &f->result));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        ck_assert_int_eq(f->result, 0);
    }
    /* what went through the universal queue, in order */
    for (int i = 1; co_uqueue_get_thread(&sw.uq, &f->item, 0) == 0; i++)
        ck_assert_int_eq((int)(intptr_t)f->item, i);
    if (sw.produced < SWEEP_ITEMS)
        CO_RETURN(-ENOMEM);
    ck_assert_int_eq(sw.consumed, SWEEP_ITEMS);
    ck_assert_int_eq(sw.sum, SWEEP_ITEMS * (SWEEP_ITEMS + 1) / 2);
    CO_END;
}

static int sweep_once(long n)
{
    sw = (struct sweep_state){ .produced = 0 };
    ck_assert_int_eq(co_uqueue_init(&sw.uq, 0), 0);
    co_condition_init(&sw.cond, NULL);
    struct sweep_main_frame m = { .rc = 0 };
    co_fault_fail_after(n);
    int rc = co_run(sweep_main, &m, sizeof m);
    co_fault_fail_after(-1);
    co_uqueue_free(&sw.uq);
    ck_assert_int_eq(co_queue_free(&sw.q), 0);
    ck_assert_int_le(sw.consumed, sw.produced);
    return rc;
}

START_TEST(test_sweep_every_allocation)
{
    long n = 0;
    int rc;
    long before = co_fault_attempts();
    ck_assert_int_eq(sweep_once(-1), 0);
    long needed = co_fault_attempts() - before;
    ck_assert_int_gt(needed, 5);
    fprintf(stderr, "sweep: %ld allocations\n", needed);
    for (n = 0; n < needed + 5; n++) {
        rc = sweep_once(n);
        ck_assert_msg(rc == 0 || rc == -ENOMEM,
                      "allocation %ld failing: co_run gave %d", n, rc);
    }
    ck_assert_int_eq(sweep_once(needed + 5), 0);
}
END_TEST

Suite *fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("scenes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kernel_new_out_of_memory);
    tcase_add_test(tc, test_spawn_out_of_memory);
    tcase_add_test(tc, test_sleep_needs_no_memory);
    tcase_add_test(tc, test_condition_wait_keeps_the_lock);
    tcase_add_test(tc, test_join_out_of_memory_leaves_no_trace);
    tcase_add_test(tc, test_join_under_timeout_needs_no_memory);
    tcase_add_test(tc, test_cancel_out_of_memory_cancels_nothing);
    tcase_add_test(tc, test_woken_putter_cannot_fail);
    tcase_add_test(tc, test_handoff_needs_no_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("sweep");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sweep_every_allocation);
    suite_add_tcase(s, tc);
    fault_group_tcase(s);
    fault_file_tcase(s);
    fault_channel_tcase(s);
    return s;
}
