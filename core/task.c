/*
 * task.c -- spawning, ending, joining and releasing tasks.
 */
/* MAP_ANONYMOUS is not in POSIX.1-2008 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "errors.h"
#include "alloc_impl.h"
#include "kernel_impl.h"

_Static_assert(sizeof(co_task) == 64, "the task header is one cache line");
_Static_assert(offsetof(co_task, link) == 0, "co__task_of_link casts the link");

/* ------------------------------------------------------------ registry */

static int registry_add(co_kernel *k, co_task *t, const char *name)
{
    if (k->reg_len == k->reg_cap) {
        uint32_t cap = k->reg_cap ? k->reg_cap * 2 : 64;
        co_registry_entry *r = co__alloc_resize(k->reg, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        k->reg = r;
        k->reg_cap = cap;
    }
    t->slot = k->reg_len;
    k->reg[k->reg_len++] = (co_registry_entry){ t, name };
    return 0;
}

/* The last entry fills the hole, so the registry stays dense. */
static void registry_remove(co_kernel *k, co_task *t)
{
    co_registry_entry *e = &k->reg[t->slot];
    *e = k->reg[--k->reg_len];
    e->task->slot = t->slot;
    co__timer_heap_moved(k, e->task);
}

/* ------------------------------------------------------------ joiners */

/* The queue of tasks waiting for t to end, made on first use. */
static co_waitq *joiners_of(co_kernel *k, co_task *t)
{
    co_task_extra *x = co__task_extra_make(k, t);
    return x ? &x->joiners : NULL;
}

/* ------------------------------------------------------------ spawn */

/*
 * Blocks this big get pages of their own from the system.  Those come
 * zeroed and cost nothing until touched, so spawn writes only the pages
 * the frame's initial contents need: a frame with a big buffer that the
 * task seldom uses costs memory only when it does.  (Smaller blocks come
 * from the slab or malloc, whose memory spawn must write all of.)  The
 * mapping's length is kept in a header in front of the task.
 */
#define MAPPED_MIN ((size_t)64 * 1024)
#define MAPPED_CLASS 0xffu          /* in the slab-class bits */
/* A block from malloc or mmap has its length in a header in front of the
 * task (16 bytes: the task stays aligned), so co_task_memory is exact. */
#define SIZE_HEADER 16u
#define MAP_HEADER SIZE_HEADER
#define PIECE 4096u                 /* what a sparse copy skips at once */

static co_task *map_block(size_t size)
{
    size_t total = size + MAP_HEADER;
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *(size_t *)p = total;
    return (co_task *)(void *)((char *)p + MAP_HEADER);
}

static void unmap_block(co_task *t)
{
    char *p = (char *)t - MAP_HEADER;
    munmap(p, *(size_t *)(void *)p);
}

static co_task *malloc_block(size_t size)
{
    char *p = co__alloc(size + SIZE_HEADER);
    if (!p)
        return NULL;
    *(size_t *)(void *)p = size + SIZE_HEADER;
    return (co_task *)(void *)(p + SIZE_HEADER);
}

/* Copy src into zeroed dst, skipping the pieces of src that are zero:
 * their pages in dst stay untouched. */
static void copy_sparse(unsigned char *dst, const unsigned char *src,
                        size_t n)
{
    for (size_t off = 0; off < n; off += PIECE) {
        size_t len = n - off < PIECE ? n - off : PIECE;
        const unsigned char *s = src + off;
        if (s[0] != 0 || memcmp(s, s + 1, len - 1) != 0)
            memcpy(dst + off, s, len);
    }
}

/* Task memory goes back where it came from: the slab, malloc, its own
 * mapping, or nowhere (the caller's storage). */
static void free_block(co_kernel *k, co_task *t)
{
    unsigned slab_class = (t->flags & CO_SLAB_MASK) >> CO_SLAB_SHIFT;
    if (slab_class - 1 < CO_SLAB_CLASSES - 1)      /* 1..32: the slab */
        co__slab_free(&k->slab, t, slab_class);
    else if (slab_class == MAPPED_CLASS)
        unmap_block(t);
    else if (!(t->flags & CO_F_STORAGE))
        free((char *)t - SIZE_HEADER);
}

/* Caller storage: its size, for co_task_memory, is entry i of the
 * kernel's table of the sizes seen, and the task's slab-class bits hold
 * STORAGE_CLASS0 + i -- past the slab's classes, before MAPPED_CLASS -- so
 * it costs a storage task nothing; 0 once the table is full (the size then
 * goes in the task's record). */
#define STORAGE_CLASS0 0xe0u
_Static_assert(CO_SLAB_CLASSES <= STORAGE_CLASS0 &&
               STORAGE_CLASS0 + CO_STORAGE_SIZES <= MAPPED_CLASS,
               "the slab-class bits: slab, storage and mapped apart");

static unsigned storage_class(co_kernel *k, size_t size)
{
    for (uint32_t i = 0; i < k->storage_sizes_len; i++)
        if (k->storage_sizes[i] == size)
            return STORAGE_CLASS0 + i;
    if (k->storage_sizes_len == CO_STORAGE_SIZES)
        return 0;
    k->storage_sizes[k->storage_sizes_len] = size;
    return STORAGE_CLASS0 + k->storage_sizes_len++;
}

size_t co__task_block_size(co_kernel *k, const co_task *t)
{
    unsigned slab_class = (t->flags & CO_SLAB_MASK) >> CO_SLAB_SHIFT;
    if (t->flags & CO_F_STORAGE) {
        if (slab_class)
            return k->storage_sizes[slab_class - STORAGE_CLASS0];
        co_task_extra *x = co__task_extra_get(k, t);
        return x ? x->storage_size : 0;
    }
    if (slab_class && slab_class != MAPPED_CLASS)
        return (size_t)slab_class * CO_SLAB_GRAIN;
    /* malloc or mapped: the length in front */
    return *(const size_t *)(const void *)((const char *)t - SIZE_HEADER);
}

int co__task_spawn(co_kernel *k, uint32_t parent_id, co_task **out, co_func fn,
              const void *frame, size_t frame_size, const co_spawn_opts *opts)
{
    static const co_spawn_opts defaults = { 0 };
    if (!opts)
        opts = &defaults;
    if (!k || !fn || frame_size < sizeof(co_frame) ||
        frame_size > UINT32_MAX ||
        (opts->flags & ~(unsigned)(CO_DAEMON | CO_DETACHED | CO_ROUTINE_NET)))
        return -EINVAL;

    /* Its place in the timer heap first: a running task can always sleep
     * or wait under a timeout, with nothing to allocate then. */
    if (co__timer_heap_reserve(k, k->live + 1) < 0)
        return -ENOMEM;
    size_t size = CO_TASK_STORAGE(frame_size);
    co_task *t;
    uint32_t flags = CO_STATE_READY;
    unsigned slab_class = 0;
    if (opts->storage) {
        if (opts->storage_size < size ||
            (uintptr_t)opts->storage % alignof(max_align_t))
            return -EINVAL;
        t = opts->storage;
        flags |= CO_F_STORAGE |
                 storage_class(k, opts->storage_size) << CO_SLAB_SHIFT;
    } else if (size >= MAPPED_MIN) {
        if (!(t = map_block(size)))
            return -ENOMEM;
        flags |= MAPPED_CLASS << CO_SLAB_SHIFT;
    } else if ((t = co__slab_alloc(&k->slab, size, &slab_class))) {
        flags |= (uint32_t)slab_class << CO_SLAB_SHIFT;
    } else if (!(t = malloc_block(size))) {
        return -ENOMEM;
    }
    if (opts->flags & CO_DAEMON)
        flags |= CO_F_DAEMON;
    if (opts->flags & CO_DETACHED)
        flags |= CO_F_DETACHED;
    if (opts->flags & CO_ROUTINE_NET)
        flags |= CO_F_ROUTINE_NET;

    *t = (co_task){ .fn = fn, .parent_id = parent_id, .flags = flags };
    /* Caller storage whose size found no place in the kernel's table. */
    if ((flags & (CO_F_STORAGE | CO_SLAB_MASK)) == CO_F_STORAGE) {
        co_task_extra *x = co__task_extra_make(k, t);
        if (!x)
            return -ENOMEM;
        x->storage_size = opts->storage_size;
    }
    if (registry_add(k, t, opts->name ? opts->name : "task") < 0) {
        co__task_extra_release(k, t);
        free_block(k, t);
        return -ENOMEM;
    }
    void *f = co__task_frame_of(t);
    int zeroed = (flags & CO_SLAB_MASK) == MAPPED_CLASS << CO_SLAB_SHIFT;
    if (frame && zeroed)
        copy_sparse(f, frame, frame_size);
    else if (frame)
        memcpy(f, frame, frame_size);
    else if (!zeroed)
        memset(f, 0, frame_size);
    memset(f, 0, sizeof(co_frame));   /* start from the top */

    if (++k->last_id > INT32_MAX)      /* ids stay positive ints */
        k->last_id = 1;
    t->id = k->last_id;
    k->live++;
    k->spawned++;
    co__kernel_ready_push(k, t);
    if (__builtin_expect(k->hooks != NULL, 0))
        co__diag_created(k, t);
    /* A task spawned while the kernel shuts down is cancelled at once. */
    if (k->shutting_down)
        co_task_cancel_nowait(t);
    if (out)
        *out = t;
    return (int)t->id;
}

int co_spawn(co_task *self, co_task **out, co_func fn, const void *frame,
             size_t frame_size, const co_spawn_opts *opts)
{
    co_kernel *k = co__kernel;
    if (!self || !k)
        return -EINVAL;
    return co__task_spawn(k, self->id, out, fn, frame, frame_size, opts);
}

/* ------------------------------------------------------------ ending */

/* A result worth a crash report: an error, not a cancellation, and not one
 * the task was spawned to treat as routine (CO_ROUTINE_NET). */
static int failed(const co_task *t)
{
    if (t->result >= 0 || t->result == -ECANCELED)
        return 0;
    if (t->flags & CO_F_ROUTINE_NET)
        return t->result != -ECONNRESET && t->result != -EPIPE &&
               t->result != -ETIMEDOUT;
    return 1;
}

int co__task_failed(const co_task *t)
{
    return failed(t);
}

static void report_crash(co_kernel *k, co_task *t)
{
    fprintf(stderr,
            "curio: Task Crash: task %u '%s' failed with %d (%s) at %s\n",
            (unsigned)t->id, k->reg[t->slot].name, (int)t->result,
            co_strerror(t->result), t->where ? t->where : "start");
}

/* A released task's fn is NULL: a handle used after its join (a second
 * join, say) meets it while the block has not been reused -- the slab's
 * free list overwrites only the first word -- and gets -EINVAL rather than
 * corrupting the kernel.  Once the block is reused, nothing can tell. */
void co__task_release(co_kernel *k, co_task *t)
{
    registry_remove(k, t);
    co__task_extra_release(k, t);
    t->fn = NULL;
    free_block(k, t);
}

static int gone(const co_task *t)
{
    return !t || !t->fn;
}

void co__task_finish(co_kernel *k, co_task *t, int result)
{
    /* Still in a wait queue or the timer heap: it must not end. */
    if (__builtin_expect(co__task_state(t) != CO_STATE_RUNNING, 0))
        co__wait_panic_not_awaited(t, "task end", "returned");
    /* A region left open would outlive the frame it lives in. */
    if (__builtin_expect(t->timeouts != NULL, 0))
        co__timeout_panic_open_region(t, NULL);
    co__task_set_state(t, CO_STATE_DONE);
    t->result = result;
    k->live--;
    if (__builtin_expect(k->hooks != NULL, 0))
        co__diag_terminated(k, t);

    co_waitq *q = co__kernel_joiners(k, t);
    if (q) {
        /* Joiners get the result as their wake value, so none of them
         * touches t again once it has been freed below. */
        while (!co_waitq_empty(q)) {
            co_task *w = co__task_of_link(q->head.next);
            if (w->flags & CO_F_JOINING) {
                t->flags |= CO_F_JOINED;
                w->flags |= CO_F_GOT_RESULT;
                co_wake(w, result);
            } else {
                co_wake(w, 0);
            }
        }
    }
    if (q) {
        /* A group member tells its group (after its joiners: one of them
         * may have collected it); a group owner's groups must be done. */
        co_task_extra *x = co__task_extra_get(k, t);
        if (x->group)
            co__group_member_done(k, t, x);
        if (x->groups)
            co__group_owner_ended(k, t, x);
    }
    if (t == k->main) {
        k->main_result = result;
        k->main_done = 1;
        k->main = NULL;
        t->flags |= CO_F_JOINED;
        co__shutdown_begin(k);
    }
    /* Nobody will collect a detached or daemon task's failure: say it now. */
    if (failed(t) && !(t->flags & CO_F_JOINED) &&
        (t->flags & (CO_F_DETACHED | CO_F_DAEMON)))
        report_crash(k, t);
    if (__builtin_expect(k->doomed != NULL, 0)) {
        if (t == k->doomed_now)    /* the shutdown waited for this one */
            co__shutdown_next(k);
        return;                    /* its list points at tasks: they are
                                      freed by co__task_release_all */
    }
    if (t->flags & (CO_F_DETACHED | CO_F_JOINED))
        co__task_release(k, t);
}

/* At shutdown: free every task; report failures nobody collected.  A task
 * that never finished (it ignored cancellation) first leaves the queues it
 * waits in -- a user's event may outlive the kernel -- while every task's
 * memory, where such queues may live, is still there. */
void co__task_release_all(co_kernel *k)
{
    for (uint32_t i = 0; i < k->reg_len; i++)
        co__wait_forget(k, k->reg[i].task);
    while (k->reg_len) {
        co_task *t = k->reg[k->reg_len - 1].task;
        if (co__task_state(t) != CO_STATE_DONE)
            fprintf(stderr, "curio: task %u '%s' never finished (last at "
                            "%s); freed with its kernel\n",
                    (unsigned)t->id, k->reg[t->slot].name,
                    t->where ? t->where : "start");
        else if (failed(t) &&     /* daemon, detached: reported at the end */
                 !(t->flags & (CO_F_DAEMON | CO_F_DETACHED | CO_F_JOINED)))
            report_crash(k, t);
        co__task_release(k, t);
    }
}

/* ------------------------------------------------------------ waiting */

static int self_target(co_task *self, co_task *target, const char *what)
{
    if (self != target)
        return 0;
    fprintf(stderr, "curio: task %u '%s' tried to %s itself: it would wait "
                    "forever\n", (unsigned)self->id,
            co__kernel->reg[self->slot].name, what);
    return 1;
}

co_status co_task_join(co_task *self, co_task *target, int *result)
{
    int rc;
    /* The target is read only on a fresh call: once the wake is ours, a
     * joined target has been released. */
    int ok = co_wait_resumed(self) ||
             (!gone(target) && !(target->flags & CO_F_DETACHED));
    if (co_wait_begin(self, ok, &rc)) {
        if (!(self->flags & CO_F_GOT_RESULT))
            return rc;      /* bad arguments, our cancellation or timeout */
        self->flags &= ~CO_F_GOT_RESULT;
        if (result)
            *result = rc;
        return 0;
    }
    if (self_target(self, target, "join"))
        return -EDEADLK;
    if (co__task_state(target) == CO_STATE_DONE) {
        if (result)
            *result = target->result;
        if (target->extra)             /* a group member leaves its group */
            co__group_leave(co__kernel, target);
        co__task_release(co__kernel, target);
        return 0;
    }
    co_waitq *q = joiners_of(co__kernel, target);
    if (!q)
        return -ENOMEM;                /* nothing changed */
    co_status st = co_block(self, q, CO_NO_DEADLINE);
    self->flags |= CO_F_JOINING;       /* only once blocked: see co_wake */
    return st;
}

co_status co_task_wait(co_task *self, co_task *target)
{
    int rc;
    if (co_wait_begin(self, co_wait_resumed(self) || !gone(target), &rc))
        return rc;
    if (self_target(self, target, "wait for"))
        return -EDEADLK;
    if (co__task_state(target) == CO_STATE_DONE)
        return 0;
    co_waitq *q = joiners_of(co__kernel, target);
    if (!q)
        return -ENOMEM;
    return co_block(self, q, CO_NO_DEADLINE);
}

co_status co_task_cancel(co_task *self, co_task *target)
{
    int rc;
    if (co_wait_begin(self, co_wait_resumed(self) || !gone(target), &rc)) {
        int made = (self->flags & CO_F_CANCEL_MADE) != 0;
        self->flags &= ~CO_F_CANCEL_MADE;
        return rc == 0 ? made : rc;
    }
    if (self_target(self, target, "cancel (blocking)"))
        return -EDEADLK;
    if (co__task_state(target) == CO_STATE_DONE)
        return 0;                      /* cancelling it would be a no-op */
    /* What the wait needs first: out of memory, no cancellation is made. */
    co_waitq *q = joiners_of(co__kernel, target);
    if (!q)
        return -ENOMEM;
    int made = co_task_cancel_nowait(target);
    co_status st = co_block(self, q, CO_NO_DEADLINE);
    if (made)
        self->flags |= CO_F_CANCEL_MADE;
    return st;
}

/* co_yield's cases that fastpath.h does not inline: a cancellation or a
 * timeout to deliver, or misuse. */
co_status co__task_yield_slow(co_task *self)
{
    int rc;
    if (co__wait_enter(self, &rc, "co_yield"))
        return rc;
    co__task_block_unqueued(self);
    co_wake(self, 0);                  /* to the back of the ready queue */
    return CO_WOULDBLOCK;
}

int co_task_detach(co_task *t)
{
    co_kernel *k = co__kernel;
    if (gone(t) || !k || (t->flags & CO_F_DETACHED))
        return -EINVAL;
    co_task_extra *x = co__task_extra_get(k, t);
    if (x && x->group)                 /* its group frees it */
        return -EPERM;
    t->flags |= CO_F_DETACHED;
    if (co__task_state(t) == CO_STATE_DONE) {
        if (failed(t) && !(t->flags & CO_F_DAEMON))  /* daemons: already */
            report_crash(k, t);
        co__task_release(k, t);
    }
    return 0;
}

/* ------------------------------------------------------------ inspecting */

uint32_t co_task_id(const co_task *t) { return t ? t->id : 0; }
uint32_t co_task_parent_id(const co_task *t) { return t ? t->parent_id : 0; }
const char *co_task_where(const co_task *t) { return t ? t->where : NULL; }
void *co_task_frame(co_task *t) { return t ? co__task_frame_of(t) : NULL; }
int co_task_daemon(const co_task *t)
{
    return t && (t->flags & CO_F_DAEMON);
}
int co_task_done(const co_task *t)
{
    return t && co__task_state(t) == CO_STATE_DONE;
}
int co_task_cancelled(const co_task *t)
{
    return t && (t->flags & CO_F_CANCEL_REQ);
}

const char *co_task_name(const co_task *t)
{
    co_kernel *k = co__kernel;
    if (!t || !k || t->slot >= k->reg_len || k->reg[t->slot].task != t)
        return NULL;
    return k->reg[t->slot].name;
}

int co_task_result(const co_task *t)
{
    if (!t || co__task_state(t) != CO_STATE_DONE)
        return -EINVAL;
    return t->result;
}

const char *co_task_state(const co_task *t)
{
    static const char *const names[] = { "ready", "running", "blocked",
                                         "done" };
    return t ? names[co__task_state(t)] : NULL;
}

co_task *co__task_find(co_func fn, int (*match)(void *frame, const void *arg),
                       const void *arg)
{
    co_kernel *k = co__kernel;
    for (uint32_t i = 0; k && i < k->reg_len; i++) {
        co_task *t = k->reg[i].task;
        if (t->fn == fn && co__task_state(t) != CO_STATE_DONE &&
            match(co__task_frame_of(t), arg))
            return t;
    }
    return NULL;
}

co_task *co_current_task(void)
{
    return co__running == &co__no_task ? NULL : co__running;
}
