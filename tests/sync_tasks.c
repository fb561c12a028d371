/* sync_tasks.c -- what the sync suites share (see sync_tasks.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "curio.h"
#include "log.h"
#include "sync_tasks.h"

co_event ev;

co_lock lock;

co_rlock rlock;

co_semaphore sem;

void sync_setup(void)
{
    log_reset();
    memset(&ev, 0, sizeof ev);
    memset(&lock, 0, sizeof lock);
    memset(&rlock, 0, sizeof rlock);
    co_semaphore_init(&sem, 1);
}

co_status take(co_task *t, enum kind k)
{
    switch (k) {
    case K_EVENT: return co_event_wait(t, &ev);
    case K_LOCK:  return co_lock_acquire(t, &lock);
    case K_RLOCK: return co_rlock_acquire(t, &rlock);
    case K_SEM:   return co_semaphore_acquire(t, &sem);
    }
    return -EINVAL;
}

int give(co_task *t, enum kind k)
{
    switch (k) {
    case K_EVENT: return co_event_set(&ev);
    case K_LOCK:  return co_lock_release(t, &lock);
    case K_RLOCK: return co_rlock_release(t, &rlock);
    case K_SEM:   return co_semaphore_release(&sem);
    }
    return -EINVAL;
}

co_waitq *queue_of(enum kind k)
{
    switch (k) {
    case K_EVENT: return &ev.priv.waiters;
    case K_LOCK:  return &lock.priv.waiters;
    case K_RLOCK: return &rlock.priv.lock.priv.waiters;
    case K_SEM:   return &sem.priv.waiters;
    }
    return NULL;
}

int waiting(enum kind k)
{
    co_waitq *q = queue_of(k);
    int n = 0;
    if (co_waitq_empty(q))
        return 0;
    for (co_link *l = q->head.next; l != &q->head; l = l->next)
        n++;
    return n;
}

void assert_free(enum kind k)
{
    ck_assert_int_eq(waiting(k), 0);
    switch (k) {
    case K_EVENT:
        break;
    case K_LOCK:
        ck_assert(!co_lock_locked(&lock));
        ck_assert_ptr_null(co_lock_owner(&lock));
        break;
    case K_RLOCK:
        ck_assert(!co_rlock_locked(&rlock));
        ck_assert_int_eq(co_rlock_count(&rlock), 0);
        break;
    case K_SEM:
        ck_assert_int_eq(co_semaphore_value(&sem), 1);
        break;
    }
}

int locked(enum kind k)
{
    switch (k) {
    case K_EVENT: return !co_event_is_set(&ev);
    case K_LOCK:  return co_lock_locked(&lock);
    case K_RLOCK: return co_rlock_locked(&rlock);
    case K_SEM:   return co_semaphore_locked(&sem);
    }
    return -1;
}

co_status worker(co_task *t, void *arg)
{
    struct worker_frame *f = arg;
    CO_BEGIN(t, f);
    note("%s wait", f->name);
    if (f->show_locked)
        note("locked=%d", locked(f->kind));
    if (f->timeout > 0)
        co_timeout_after(t, &f->to, f->timeout);
    CO_AWAIT(f->rc, take(t, f->kind));
    if (f->timeout > 0)
        f->rc = co_timeout_end(t, &f->to, f->rc);
    if (f->rc < 0) {
        note("%s acquire=%s", f->name, rcs(f->rc));
        CO_RETURN(f->rc);
    }
    f->held = 1;
    note("%s acquire", f->name);
    if (f->hold > 0)
        CO_AWAIT(f->rc, co_sleep(t, f->hold));
    else if (f->hold == 0)
        CO_AWAIT(f->rc, co_yield(t));
    if (f->rc < 0)
        note("%s hold=%s", f->name, rcs(f->rc));
    CO_RETURN(f->rc);
    CO_FINALLY;
    if (f->held && f->kind != K_EVENT) {
        ck_assert_int_eq(give(t, f->kind), 0);
        note("%s release", f->name);
    }
    CO_END;
}
