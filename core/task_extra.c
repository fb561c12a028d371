/*
 * task_extra.c -- the rarer data of a task, off its 64-byte header.
 *
 * Most tasks are never joined while running, never in a group, never
 * inspected: a million sleeping tasks must fit in 128 MiB, so what only
 * some tasks need lives in a record the kernel makes the first time a task
 * needs it, reached through the header's 32-bit `extra` index.  Records
 * are reused through a free list, so a server that joins a task per
 * connection allocates only as many as are in use at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_impl.h"
#include "kernel_impl.h"

/* A new record's index, or 0 when out of memory. */
static uint32_t new_record(co_kernel *k)
{
    if (k->extras_len == 0)
        k->extras_len = 1;             /* index 0 means "none" */
    if (k->extras_len >= k->extras_cap) {
        uint32_t cap = k->extras_cap ? k->extras_cap * 2 : 16;
        co_task_extra **a = co__alloc_resize(k->extras, cap * sizeof *a);
        if (!a)
            return 0;
        k->extras = a;
        k->extras_cap = cap;
    }
    if (!(k->extras[k->extras_len] = co__alloc(sizeof(co_task_extra))))
        return 0;
    k->extras[k->extras_len]->chain = NULL;    /* made by await_chain.c */
    return k->extras_len++;
}

int co__task_extra_reserve(co_kernel *k)
{
    if (k->extras_free)
        return 0;
    uint32_t i = new_record(k);
    if (!i)
        return -ENOMEM;
    k->extras[i]->next_free = 0;
    k->extras_free = i;
    return 0;
}

co_task_extra *co__task_extra_make(co_kernel *k, co_task *t)
{
    if (t->extra)
        return k->extras[t->extra];
    uint32_t i = k->extras_free;
    if (i) {
        k->extras_free = k->extras[i]->next_free;
    } else if (!(i = new_record(k))) {
        return NULL;
    }
    co_task_extra *x = k->extras[i];
    struct co_await_site *chain = x->chain;    /* kept for reuse */
    memset(x, 0, sizeof *x);
    x->chain = chain;
    co_waitq_init(&x->joiners);
    x->task = t;
    t->extra = i;
    return x;
}

/* t is being freed: its record (its queue empty by now) goes on the free
 * list. */
void co__task_extra_release(co_kernel *k, co_task *t)
{
    if (!t->extra)
        return;
    k->extras[t->extra]->next_free = k->extras_free;
    k->extras_free = t->extra;
    t->extra = 0;
}

/* At kernel free. */
void co__task_extra_free_all(co_kernel *k)
{
    for (uint32_t i = 1; i < k->extras_len; i++) {
        free(k->extras[i]->chain);
        free(k->extras[i]);
    }
    free(k->extras);
    k->extras = NULL;
    k->extras_len = k->extras_cap = k->extras_free = 0;
}
