/*
 * async.c -- callbacks posted to a kernel from other threads.
 *
 * A mutex-protected FIFO of caller-supplied nodes and one ev_async per
 * kernel.  The ev_async is unref'd: by itself it does not keep ev_run
 * going, so a kernel whose tasks wait only on each other is still reported
 * as deadlocked; co_kernel_hold() takes an ev_ref for a task that waits on
 * another thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc_impl.h"
#include "kernel_impl.h"

void co_post_init(co_post *p, void (*fn)(void *arg), void *arg)
{
    if (p)
        *p = (co_post){ .fn = fn, .arg = arg };
}

/* Run posted nodes one at a time: a callback may unpost (or free) a node
 * that was queued behind it. */
static void on_posts(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop, (void)revents;
    co_kernel *k = w->data;
    for (;;) {
        pthread_mutex_lock(&k->post_lock);
        co_post *p = k->post_head;
        if (p) {
            k->post_head = p->next;
            if (p->next)
                p->next->prev = NULL;
            else
                k->post_tail = NULL;
            p->next = p->prev = NULL;
            p->pending = 0;
        }
        pthread_mutex_unlock(&k->post_lock);
        if (!p)
            break;
        int owned = p->owned;
        p->fn(p->arg);             /* p may be gone now */
        if (owned)
            free(p);
    }
}

/* Started once, at creation, and left running until the kernel is freed,
 * so a post made before a run or between runs is seen by the next.  No
 * other thread knows the kernel yet: no lock. */
static void async_start(co_kernel *k)
{
    ev_async_start(k->loop, &k->post_wakeup);
    ev_unref(k->loop);
    k->post_live = 1;
}

/* libev makes the descriptor behind every ev_async of a loop (an eventfd)
 * when the first one starts, and aborts the process if it cannot.  So the
 * kernel starts its own at creation, after making sure a descriptor is
 * free: out of descriptors, co_kernel_new fails with EMFILE instead.  (A
 * thread that takes the last descriptor between the probe and the start
 * can still beat us to it; nothing short of libev's own cooperation
 * closes that window.) */
static int descriptor_free(void)
{
    int fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

int co__async_init(co_kernel *k)
{
    int rc = descriptor_free();
    if (rc < 0)
        return rc;
    if ((rc = pthread_mutex_init(&k->post_lock, NULL)) != 0)
        return -rc;
    ev_async_init(&k->post_wakeup, on_posts);
    k->post_wakeup.data = k;
    async_start(k);
    return 0;
}

void co__async_free(co_kernel *k)
{
    pthread_mutex_lock(&k->post_lock);
    k->post_live = 0;
    co_post *p = k->post_head;
    k->post_head = k->post_tail = NULL;
    pthread_mutex_unlock(&k->post_lock);
    while (p) {                    /* dropped, not run */
        co_post *next = p->next;
        p->next = p->prev = NULL;
        p->pending = 0;
        if (p->owned)
            free(p);
        p = next;
    }
    if (ev_is_active(&k->post_wakeup)) {
        ev_ref(k->loop);           /* balance the unref before stopping */
        ev_async_stop(k->loop, &k->post_wakeup);
    }
    while (k->holds) {
        k->holds--;
        ev_unref(k->loop);
    }
    pthread_mutex_destroy(&k->post_lock);
}

int co_kernel_post(co_kernel *k, co_post *p)
{
    if (!k || !p || !p->fn)
        return -EINVAL;
    pthread_mutex_lock(&k->post_lock);
    if (!p->pending) {
        p->pending = 1;
        p->next = NULL;
        p->prev = k->post_tail;
        if (k->post_tail)
            k->post_tail->next = p;
        else
            k->post_head = p;
        k->post_tail = p;
        /* Only into an empty FIFO: otherwise a wake-up is already on its
         * way, and on_posts drains the FIFO until it finds it empty.
         * (ev_async_send costs a memory fence even when it coalesces: a
         * thread waking 100k tasks paid a third of its time there.)
         * Under the lock, so the watcher cannot be stopped meanwhile. */
        if (k->post_live && !p->prev) {
            ev_async_send(k->loop, &k->post_wakeup);
            if (k->post_signal_fd >= 0)    /* advanced from another loop */
                co__embed_signal_post(k);
        }
    }
    pthread_mutex_unlock(&k->post_lock);
    return 0;
}

int co_kernel_post_fn(co_kernel *k, void (*fn)(void *arg), void *arg)
{
    if (!k || !fn)
        return -EINVAL;
    co_post *p = co__alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    co_post_init(p, fn, arg);
    p->owned = 1;
    return co_kernel_post(k, p);
}

int co_kernel_unpost(co_kernel *k, co_post *p)
{
    if (!k || !p)
        return 0;
    pthread_mutex_lock(&k->post_lock);
    int was = p->pending;
    if (was) {
        if (p->prev)
            p->prev->next = p->next;
        else
            k->post_head = p->next;
        if (p->next)
            p->next->prev = p->prev;
        else
            k->post_tail = p->prev;
        p->next = p->prev = NULL;
        p->pending = 0;
    }
    pthread_mutex_unlock(&k->post_lock);
    return was;
}

void co_kernel_hold(co_kernel *k)
{
    if (!k)
        return;
    k->holds++;
    ev_ref(k->loop);
}

void co_kernel_unhold(co_kernel *k)
{
    if (!k || !k->holds)
        return;
    k->holds--;
    ev_unref(k->loop);
}
