/*
 * test_races_outcome.c -- a blocking call whose own completion and its timeout
 * region's expiry come due in the same kernel cycle reports ONE outcome,
 * never both:
 *
 *   - it completes (0, the item, the lock, the byte count), and the region
 *     then ends cleanly: co_timeout_end returns the body's result and
 *     co_timeout_expired is 0 -- the expiry, never delivered to a blocking
 *     call, is discarded when the region ends (or goes to the next
 *     blocking call if the region goes on); or
 *   - it returns -ETIMEDOUT and did nothing: the item stays queued for the
 *     next getter, the lock is not held, the bytes are not consumed, the
 *     connection stays in the backlog -- and the region reports
 *     -ETIMEDOUT, as does every later call inside it.
 *
 * The race is built deterministically.  A waiter blocks inside a region
 * that expires at t0 + DEADLINE; a hander (the task that hands over:
 * releases, puts, sets, connects, writes, returns) and the main task hold
 * the kernel's thread up past that deadline -- a "slow callback", here on
 * purpose -- in one of these orders (enum scene):
 *
 *   HELD_THEN_HAND   the hander holds the kernel up, then hands over in the
 *                    same turn: in-kernel primitives wake the waiter
 *                    directly, before the kernel looks at its timers again,
 *                    so the call completes.  For I/O the readiness and the
 *                    expiry then reach the kernel in the same poll: either
 *                    outcome is allowed (libev runs the timer first today,
 *                    so it is -ETIMEDOUT), each checked precisely.
 *   HAND_THEN_HELD   the hander hands over, lets the kernel poll (I/O) so
 *                    that the waiter is woken, then holds the kernel up
 *                    before the waiter runs: completes.
 *   EXPIRY_FIRST     the hander sleeps until just after the deadline and
 *                    main holds the kernel up past both: one timer pass
 *                    wakes the waiter (earlier deadline) first, then the
 *                    hander: -ETIMEDOUT, and the hand-over that follows
 *                    goes to nobody / stays available.
 *   HANDER_FIRST     the same, but the hander's sleep ends just before the
 *                    deadline: it runs first and hands over to a waiter
 *                    the expiry has already woken.  -ETIMEDOUT for
 *                    in-kernel primitives and I/O (the waiter had left the
 *                    wait queue), 0 for the universal queue and event
 *                    (served under their mutex: a waiter served before it
 *                    ran completes, co_wait_completed).
 *   NEXT_CALL        as HAND_THEN_HELD (the call completes), then one more
 *                    blocking call inside the region: the expiry goes to
 *                    that call, and the region ends expired -- though the
 *                    first call completed and keeps what it got.
 *
 * Each primitive's check asserts the state for the outcome it saw: who
 * owns the lock, how many items are queued, which bytes are readable.  A
 * waiter that timed out tries once more outside the region and must get
 * the very thing it did not get (the retry is "the next getter"); at the
 * end everything was handed over exactly once.  Then retry-on-timeout
 * loops under random stalls check that every item / byte arrives exactly
 * once.  The stalls are the subject of these tests, not synchronisation.
 */
#define _GNU_SOURCE                 /* MSG_DONTWAIT, SOCK_CLOEXEC */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "races_tasks.h"
#include "suites.h"

#define COMPLETED "wait=done end=ok expired=0"
#define TIMED_OUT "wait=TIMEOUT end=TIMEOUT expired=1"
#define TIMED_OUT_RETRIED TIMED_OUT " again=done"
#define NEXT_COMPLETED "wait=done next=TIMEOUT end=TIMEOUT expired=1"

/* Run the scene and compare its log with the outcome expected (or either
 * of two).  If the machine itself held the kernel up at the wrong moment
 * (a loaded machine, valgrind), the order meant did not happen: the
 * invariants were checked all the same, and the scene is run again. */
static void run_scene(int i, enum scene s, co_func fn, const char *want,
                      const char *or_want)
{
    for (int attempt = 0;; attempt++) {
        races_setup();
        R.p = &prims[i];
        R.scene = s;
        struct race_main_frame m = { .i = 0 };
        RUN(fn, m);
        if (!R.late)
            break;
        ck_assert_msg(attempt < 20, "%s: the kernel was always late",
                      R.p->name);
    }
    ck_assert_msg(strcmp(lg, want) == 0 ||
                  (or_want && strcmp(lg, or_want) == 0),
                  "%s: got \"%s\", want \"%s\"%s%s%s", R.p->name, lg, want,
                  or_want ? " or \"" : "", or_want ? or_want : "",
                  or_want ? "\"" : "");
}

static const char *timed_out(int i)
{
    return prims[i].no_retry ? TIMED_OUT : TIMED_OUT_RETRIED;
}

START_TEST(test_race_held_then_hand)
{
    /* I/O: readiness and expiry reach the kernel in one poll: either */
    run_scene(_i, HELD_THEN_HAND, race_main, COMPLETED,
              prims[_i].io ? timed_out(_i) : NULL);
}
END_TEST

START_TEST(test_race_hand_then_held)
{
    run_scene(_i, HAND_THEN_HELD, race_main, COMPLETED, NULL);
}
END_TEST

START_TEST(test_race_expiry_first)
{
    run_scene(_i, EXPIRY_FIRST, race_main, timed_out(_i), NULL);
}
END_TEST

START_TEST(test_race_hander_first)
{
    run_scene(_i, HANDER_FIRST, race_main,
              prims[_i].universal ? COMPLETED : timed_out(_i), NULL);
}
END_TEST

START_TEST(test_race_undelivered_expiry_goes_to_next_call)
{
    run_scene(_i, NEXT_CALL, race_main, NEXT_COMPLETED, NULL);
}
END_TEST

/* ------------------------------------------------------------ a thread */

/* The universal queue, served by a real thread while the kernel is held
 * up: the wake comes through the kernel's post queue, together with the
 * expiry.  Whichever the kernel sees first, the item is the waiter's. */

static int prim_named(const char *name)
{
    for (int i = 0; i < N_PRIMS; i++)
        if (strcmp(prims[i].name, name) == 0)
            return i;
    ck_abort_msg("no primitive named %s", name);
    return -1;
}

static void *put_y(void *arg)
{
    (void)arg;
    ck_assert_int_eq(co_uqueue_put_thread(&R.uq, ITEM_Y, -1), 0);
    return NULL;
}

static co_status thread_hander(co_task *t, void *arg)
{
    struct hand_frame *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; not_yet_blocked(R.w); f->i++) {
        ck_assert_int_lt(f->i, 100000);
        CO_AWAIT(f->rc, co_yield(t));
    }
    if (clock_now() >= R.t0 + DEADLINE)
        R.late = 1;
    stall_until(R.t0 + STALL_END);
    ck_assert_int_eq(pthread_create(&feeder, NULL, put_y, NULL), 0);
    ck_assert_int_eq(pthread_join(feeder, NULL), 0);   /* still held up */
    R.handed = 1;
    CO_END;
}

static co_status thread_race_main(co_task *t, void *arg)
{
    struct race_main_frame *f = arg;
    struct hand_frame h = { .i = 0 };
    struct wait_frame w = { .rc = 0 };
    CO_BEGIN(t, f);
    R.t0 = co_clock();
    uq_setup(t);
    ck_assert_int_gt(CO_SPAWN(t, &R.h, thread_hander, h), 0);
    ck_assert_int_gt(CO_SPAWN(t, &R.w, waiter, w), 0);
    AWAIT_JOIN(f->rc, t, R.w);
    ck_assert_int_eq(f->rc, 0);
    AWAIT_JOIN(f->rc, t, R.h);
    ck_assert_int_eq(f->rc, 0);
    ck_assert_int_eq(R.completions, 1);
    uq_check(t);
    CO_END;
}

START_TEST(test_race_uqueue_thread_put_while_held)
{
    run_scene(prim_named("universal queue get"), HELD_THEN_HAND,
              thread_race_main, COMPLETED, NULL);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *races_outcome_suite(void)
{
    Suite *s = suite_create("races_outcome");
    TCase *tc;

    tc = tcase_create("one outcome");
    tcase_add_checked_fixture(tc, races_setup, NULL);
    tcase_set_timeout(tc, 30);          /* valgrind */
    tcase_add_loop_test(tc, test_race_held_then_hand, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_hand_then_held, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_expiry_first, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_hander_first, 0, N_PRIMS);
    tcase_add_loop_test(tc, test_race_undelivered_expiry_goes_to_next_call,
                        0, N_PRIMS);
    tcase_add_test(tc, test_race_uqueue_thread_put_while_held);
    suite_add_tcase(s, tc);
    return s;
}
