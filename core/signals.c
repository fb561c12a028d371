/*
 * signals.c -- one process-wide signal hub, and each kernel's side of it.
 *
 * A signal arrives in whichever thread of the process the system picks,
 * at any instruction.  So the handler does as little as a handler may:
 * atomics and write(2).  For every kernel that takes an interest it
 * appends the signal to that kernel's ring (a lock-free array of signal
 * numbers, many writers and one reader) and writes to the kernel's
 * eventfd; the kernel's loop sees the eventfd readable, takes the ring in
 * order and hands each signal to its watchers (co_signal_event,
 * co_signal_queue) -- now in its own thread, where waking tasks is safe.
 * libev's ev_signal is not used: it works in the default loop only.
 *
 * The hub keeps the kernels interested in any signal in a list the
 * handler walks without a lock.  Entries are added and removed under
 * hub.lock, which also guards the dispositions: the first user of a
 * signal installs the handler and keeps what it found, the last one puts
 * that back.  An entry removed from the list is freed (and its eventfd
 * closed) only once no handler is inside the walk: `busy` counts handlers
 * there, and since the handler counts itself before it reads the list and
 * the remover unlinks before it reads the count (both sequentially
 * consistent), a handler either never sees the entry or is waited for.
 *
 * Ctrl-C (signals.h) rides on the same machinery: a kernel whose run has
 * the default sets `sigint_default`; the handler, finding nobody watching
 * SIGINT, marks `ctrlc` of every such kernel and wakes it, and the kernel
 * cancels its main task.  A kernel whose `ctrlc` is already marked means
 * a second Ctrl-C: the handler itself restores SIGINT's default
 * disposition and raises it, so the process ends even if the cleanup the
 * first one started is stuck and its kernel never looks again.
 */
#include <errno.h>
#include <ev.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc_impl.h"
#include "errors.h"
#include "kernel_impl.h"
#include "signals.h"
#include "signals_impl.h"

#define SIG_LIMIT 64                /* signals 1..64, one bit each */
#define RING_SIZE 256               /* deliveries a kernel has not taken */

static uint64_t bit(int sig) { return (uint64_t)1 << (sig - 1); }

/* A watcher's record: what co_signal_event / co_signal_queue point to.
 * Kept off the object so that a watcher whose kernel is freed first, or
 * whose object's memory has gone, leaves the kernel nothing dangling. */
struct co__signal_watch {
    struct co__signal_watch *next, *prev;   /* the kernel's watchers */
    co_kernel *kernel;              /* NULL once detached */
    uint64_t mask;                  /* the signals it watches */
    int is_queue;
    co_waitq waiters;
    int last;                       /* event: the signal that set it, or 0 */
    uint32_t cap, head, len;        /* queue: a ring of cap signals */
    uint64_t dropped;
    int ring[];
};

/* A kernel's entry in the hub.  The first part is what the handler reads
 * and writes: atomics only.  The rest is the kernel thread's. */
struct co__signal_kernel {
    struct co__signal_kernel *_Atomic next;  /* the hub's list */
    _Atomic int fd;                 /* eventfd the kernel's loop watches */
    _Atomic uint64_t watch;         /* signals some watcher here watches */
    _Atomic int sigint_default;     /* this run has the Ctrl-C default */
    _Atomic int ctrlc;              /* ...and a Ctrl-C came for it */
    _Atomic uint32_t tail;          /* ring slots handed out */
    _Atomic uint32_t head;          /* ring slots taken by the kernel */
    _Atomic uint32_t lost;          /* deliveries the full ring refused */
    _Atomic int ring[RING_SIZE];    /* 0: free, or reserved not yet written */

    co_kernel *kernel;
    ev_io io;
    struct co__signal_watch *watches;
    uint32_t count[SIG_LIMIT + 1];  /* watchers per signal */
    int default_on;                 /* sigint_default, as the kernel knows it */
    int ctrlc_done;                 /* main was cancelled for it */
};

static struct {
    pthread_mutex_t lock;
    struct co__signal_kernel *_Atomic head;
    _Atomic int busy;               /* handlers walking the list */
    _Atomic int int_watchers;       /* watchers of SIGINT, process-wide */
    _Atomic int int_was_default;    /* SIGINT's saved disposition is SIG_DFL */
    unsigned users[SIG_LIMIT + 1];  /* watchers and Ctrl-C defaults */
    struct sigaction saved[SIG_LIMIT + 1];
} hub = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ------------------------------------------------------------ handler */

/* A writer of the ring: reserve a slot (unless the ring is full), then
 * fill it.  The reader stops at a reserved slot not yet filled; the
 * wake-up written after filling brings it back. */
static void ring_put(struct co__signal_kernel *s, int sig)
{
    uint32_t t = atomic_load(&s->tail);
    do {
        if (t - atomic_load(&s->head) >= RING_SIZE) {
            atomic_fetch_add(&s->lost, 1);
            return;
        }
    } while (!atomic_compare_exchange_weak(&s->tail, &t, t + 1));
    atomic_store(&s->ring[t % RING_SIZE], sig);
}

static void wake(struct co__signal_kernel *s)
{
    int fd = atomic_load(&s->fd);
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so readable anyway */
    }
}

/* SIGINT's default action, now: the process ends as if we had never
 * handled it.  SIGINT is blocked while the handler runs (sa_mask), so
 * the raised one is delivered as the handler returns. */
static void die_of_sigint(void)
{
    struct sigaction dfl = { 0 };
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, NULL);
    raise(SIGINT);
}

static void on_signal(int sig)
{
    int saved_errno = errno;
    int dflt = sig == SIGINT && atomic_load(&hub.int_watchers) == 0;
    int taken = 0, again = 0;
    atomic_fetch_add(&hub.busy, 1);
    for (struct co__signal_kernel *s = atomic_load(&hub.head); s;
         s = atomic_load(&s->next)) {
        int watched = (atomic_load(&s->watch) & bit(sig)) != 0;
        int ctrlc = dflt && atomic_load(&s->sigint_default);
        if (!watched && !ctrlc)
            continue;
        taken = 1;
        if (watched)
            ring_put(s, sig);
        if (ctrlc && atomic_exchange(&s->ctrlc, 1))
            again = 1;
        wake(s);
    }
    atomic_fetch_sub(&hub.busy, 1);
    /* A second Ctrl-C; or one nobody takes (its last user is leaving),
     * which gets what SIGINT would have done without us. */
    if (dflt && (again || !taken) && atomic_load(&hub.int_was_default))
        die_of_sigint();
    errno = saved_errno;
}

/* ------------------------------------------------------- dispositions */

static int watchable(int sig)
{
    return sig >= 1 && sig <= SIG_LIMIT && sig != SIGKILL &&
           sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS &&
           sig != SIGILL && sig != SIGFPE;
}

static int is_default(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL;
}

/* Under hub.lock: one more user of sig; the first installs the handler. */
static int hub_use(int sig)
{
    if (hub.users[sig] == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigfillset(&sa.sa_mask);    /* one handler at a time per thread */
        if (sigaction(sig, &sa, &hub.saved[sig]) < 0)
            return -errno;
        if (sig == SIGINT)
            atomic_store(&hub.int_was_default, is_default(&hub.saved[sig]));
    }
    hub.users[sig]++;
    return 0;
}

/* Under hub.lock: one user less; the last puts back what the first found. */
static void hub_unuse(int sig)
{
    if (--hub.users[sig] == 0)
        sigaction(sig, &hub.saved[sig], NULL);
}

/* ------------------------------------------------------ kernel's side */

static void deliver(struct co__signal_kernel *s, int sig)
{
    for (struct co__signal_watch *w = s->watches; w; w = w->next) {
        if (!(w->mask & bit(sig)))
            continue;
        if (!w->is_queue) {
            w->last = sig;
            co_waitq_wake_all(&w->waiters, sig);
        } else if (co_waitq_wake_one(&w->waiters, sig)) {
            /* handed to the oldest getter */
        } else if (w->len < w->cap) {
            w->ring[(w->head + w->len++) % w->cap] = sig;
        } else {
            w->dropped++;
        }
    }
}

/* The eventfd is readable: take the ring, in order, up to a slot that is
 * reserved but not yet written (its writer wakes us again). */
static void on_wake(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop, (void)revents;
    struct co__signal_kernel *s = io->data;
    uint64_t n;
    if (read(io->fd, &n, sizeof n) < 0) {
        /* EAGAIN: a wake-up already taken; look anyway */
    }
    uint32_t h = atomic_load(&s->head);     /* ours alone to move */
    for (;;) {
        int sig = atomic_load(&s->ring[h % RING_SIZE]);
        if (!sig)
            break;
        atomic_store(&s->ring[h % RING_SIZE], 0);
        atomic_store(&s->head, ++h);
        deliver(s, sig);
    }
    uint32_t lost = atomic_exchange(&s->lost, 0);
    for (struct co__signal_watch *w = s->watches; lost && w; w = w->next)
        if (w->is_queue)            /* which signal is not known */
            w->dropped += lost;
    if (s->default_on && !s->ctrlc_done && atomic_load(&s->ctrlc)) {
        s->ctrlc_done = 1;
        if (s->kernel->main)
            co_task_cancel_nowait(s->kernel->main);
    }
}

/* k's entry, made (and put in the hub's list) on first use. */
static struct co__signal_kernel *kernel_entry(co_kernel *k, int *rc)
{
    if (k->signals)
        return k->signals;
    struct co__signal_kernel *s = co__alloc_zeroed(1, sizeof *s);
    if (!s) {
        *rc = -ENOMEM;
        return NULL;
    }
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        *rc = -errno;
        free(s);
        return NULL;
    }
    atomic_store(&s->fd, fd);
    s->kernel = k;
    ev_io_init(&s->io, on_wake, fd, EV_READ);
    s->io.data = s;
    ev_io_start(k->loop, &s->io);
    ev_unref(k->loop);              /* waiting tasks hold the run instead */
    pthread_mutex_lock(&hub.lock);
    atomic_store(&s->next, atomic_load(&hub.head));
    atomic_store(&hub.head, s);
    pthread_mutex_unlock(&hub.lock);
    k->signals = s;
    return s;
}

/* Under hub.lock: w's signals are watched in s.  0 or -errno (nothing
 * changed then). */
static int attach(struct co__signal_kernel *s, struct co__signal_watch *w,
                  const int *signals, size_t n)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        int sig = signals[i];
        if (mask & bit(sig))
            continue;               /* a repeat */
        int rc = hub_use(sig);
        if (rc < 0) {
            for (int j = 1; j <= SIG_LIMIT; j++)
                if (mask & bit(j))
                    hub_unuse(j);
            return rc;
        }
        mask |= bit(sig);
    }
    for (int sig = 1; sig <= SIG_LIMIT; sig++)
        if (mask & bit(sig)) {
            s->count[sig]++;
            if (sig == SIGINT)
                atomic_fetch_add(&hub.int_watchers, 1);
        }
    atomic_fetch_or(&s->watch, mask);
    w->mask = mask;
    w->kernel = s->kernel;
    w->prev = NULL;
    w->next = s->watches;
    if (s->watches)
        s->watches->prev = w;
    s->watches = w;
    return 0;
}

/* Under hub.lock: w stops watching. */
static void detach(struct co__signal_kernel *s, struct co__signal_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    for (int sig = 1; sig <= SIG_LIMIT; sig++) {
        if (!(w->mask & bit(sig)))
            continue;
        if (--s->count[sig] == 0)
            atomic_fetch_and(&s->watch, ~bit(sig));
        if (sig == SIGINT)
            atomic_fetch_sub(&hub.int_watchers, 1);
        hub_unuse(sig);
    }
    w->kernel = NULL;
}

/* ------------------------------------------------------------ Ctrl-C */

static void default_on(co_kernel *k)
{
    int rc;
    struct co__signal_kernel *s = k->signals;
    if (s && s->default_on)
        return;
    if (!(s = kernel_entry(k, &rc)))
        return;                     /* no memory, no descriptor: no default */
    pthread_mutex_lock(&hub.lock);
    struct sigaction cur;
    int ok = hub.users[SIGINT] ? atomic_load(&hub.int_was_default)
             : sigaction(SIGINT, NULL, &cur) == 0 && is_default(&cur);
    if (ok) {
        /* marked first: a Ctrl-C right after the install finds us */
        atomic_store(&s->ctrlc, 0);
        atomic_store(&s->sigint_default, 1);
        if (hub_use(SIGINT) == 0) {
            s->default_on = 1;
            s->ctrlc_done = 0;
        } else {
            atomic_store(&s->sigint_default, 0);
        }
    }
    pthread_mutex_unlock(&hub.lock);
}

static void default_off(co_kernel *k)
{
    struct co__signal_kernel *s = k->signals;
    if (!s || !s->default_on)
        return;
    pthread_mutex_lock(&hub.lock);
    atomic_store(&s->sigint_default, 0);
    hub_unuse(SIGINT);
    pthread_mutex_unlock(&hub.lock);
    s->default_on = 0;
}

void co__signal_run_begin(co_kernel *k)
{
    const char *env = getenv("CURIO_SIGINT");
    if (!k->sigint_off && !(env && strcmp(env, "0") == 0))
        default_on(k);
}

void co__signal_run_end(co_kernel *k)
{
    default_off(k);
}

int co_kernel_set_sigint(co_kernel *k, int on)
{
    if (!k)
        return -EINVAL;
    k->sigint_off = !on;
    if (k->running && k->main) {    /* a run of co_kernel_run, in k */
        if (on)
            default_on(k);
        else
            default_off(k);
    }
    return 0;
}

void co__signal_free(co_kernel *k)
{
    struct co__signal_kernel *s = k->signals;
    if (!s)
        return;
    default_off(k);
    pthread_mutex_lock(&hub.lock);
    while (s->watches)              /* their objects free the records */
        detach(s, s->watches);
    struct co__signal_kernel *_Atomic *at = &hub.head;
    while (atomic_load(at) != s)
        at = &atomic_load(at)->next;
    atomic_store(at, atomic_load(&s->next));
    while (atomic_load(&hub.busy))  /* a handler may still be at s */
        sched_yield();
    pthread_mutex_unlock(&hub.lock);
    ev_ref(k->loop);                /* balance the unref before stopping */
    ev_io_stop(k->loop, &s->io);
    close(atomic_load(&s->fd));
    free(s);
    k->signals = NULL;
}

/* ------------------------------------------------------------ watchers */

static int make(struct co__signal_handle *h, const int *signals, size_t n,
                int is_queue, size_t cap)
{
    co_kernel *k = co__kernel;
    if (!h || !signals || n == 0 || !k || cap > UINT32_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!watchable(signals[i]))
            return -EINVAL;
    int rc;
    if (cap > (SIZE_MAX - sizeof(struct co__signal_watch)) / sizeof(int))
        return -ENOMEM;             /* (a 32-bit size_t) */
    struct co__signal_watch *w =
        co__alloc_zeroed(1, sizeof *w + cap * sizeof(int));
    if (!w)
        return -ENOMEM;
    struct co__signal_kernel *s = kernel_entry(k, &rc);
    if (!s) {
        free(w);
        return rc;
    }
    w->is_queue = is_queue;
    w->cap = (uint32_t)cap;
    pthread_mutex_lock(&hub.lock);
    rc = attach(s, w, signals, n);
    pthread_mutex_unlock(&hub.lock);
    if (rc < 0) {
        free(w);
        return rc;
    }
    h->w = w;
    return 0;
}

static void release(struct co__signal_handle *h)
{
    struct co__signal_watch *w = h ? h->w : NULL;
    if (!w)
        return;
    h->w = NULL;
    if (w->kernel) {
        if (!co_waitq_empty(&w->waiters)) {
            if (co__kernel != w->kernel)
                co_panic("a signal watcher with waiting tasks freed "
                         "outside its kernel's thread");
            co_waitq_wake_all(&w->waiters, -EBADF);
        }
        pthread_mutex_lock(&hub.lock);
        detach(w->kernel->signals, w);
        pthread_mutex_unlock(&hub.lock);
    }
    free(w);
}

/* The record behind h, if it is usable by the running kernel. */
static struct co__signal_watch *usable(const struct co__signal_handle *h,
                                       int is_queue)
{
    struct co__signal_watch *w = h ? h->w : NULL;
    return w && w->is_queue == is_queue && w->kernel && w->kernel == co__kernel
               ? w : NULL;
}

/* Block self on w until a signal (the wake value) comes; the run is held
 * meanwhile, as for any wait on the world outside the kernel. */
static co_status block(co_task *self, struct co__signal_watch *w)
{
    co_kernel_hold(co__kernel);
    return co_block(self, &w->waiters, CO_NO_DEADLINE);
}

/* The re-evaluation after block: the hold is given back, the wake value
 * (a signal, -EBADF, -ECANCELED, -ETIMEDOUT) returned. */
static co_status unblock(co_task *self)
{
    int rc;
    co_kernel_unhold(co__kernel);
    co_wait_enter(self, &rc);
    return rc;
}

int co_signal_event_init(co_signal_event *e, const int *signals, size_t n)
{
    return make(e ? &e->priv : NULL, signals, n, 0, 0);
}

co_status co_signal_event_wait(co_task *self, co_signal_event *e)
{
    int rc;
    if (co_wait_resumed(self) && e)
        return unblock(self);
    struct co__signal_watch *w = e ? usable(&e->priv, 0) : NULL;
    if (co_wait_begin(self, w != NULL, &rc))
        return rc;
    if (w->last)
        return w->last;
    return block(self, w);
}

int co_signal_event_is_set(const co_signal_event *e)
{
    return e && e->priv.w ? e->priv.w->last : 0;
}

int co_signal_event_clear(co_signal_event *e)
{
    if (!e || !e->priv.w || e->priv.w->is_queue)
        return -EINVAL;
    e->priv.w->last = 0;
    return 0;
}

void co_signal_event_free(co_signal_event *e)
{
    release(e ? &e->priv : NULL);
}

int co_signal_queue_init(co_signal_queue *q, const int *signals, size_t n,
                         size_t capacity)
{
    return make(q ? &q->priv : NULL, signals, n, 1,
                capacity ? capacity : CO_SIGNAL_QUEUE_DEFAULT);
}

static int take(struct co__signal_watch *w)
{
    int sig = w->ring[w->head];
    w->head = (w->head + 1) % w->cap;
    w->len--;
    return sig;
}

co_status co_signal_queue_get(co_task *self, co_signal_queue *q)
{
    int rc;
    if (co_wait_resumed(self) && q)
        return unblock(self);
    struct co__signal_watch *w = q ? usable(&q->priv, 1) : NULL;
    if (co_wait_begin(self, w != NULL, &rc))
        return rc;
    if (w->len)
        return take(w);
    return block(self, w);
}

int co_signal_queue_get_nowait(co_signal_queue *q)
{
    struct co__signal_watch *w = q ? q->priv.w : NULL;
    if (!w || !w->is_queue)
        return -EINVAL;
    return w->len ? take(w) : -EAGAIN;
}

size_t co_signal_queue_len(const co_signal_queue *q)
{
    return q && q->priv.w && q->priv.w->is_queue ? q->priv.w->len : 0;
}

uint64_t co_signal_queue_dropped(const co_signal_queue *q)
{
    return q && q->priv.w && q->priv.w->is_queue ? q->priv.w->dropped : 0;
}

void co_signal_queue_free(co_signal_queue *q)
{
    release(q ? &q->priv : NULL);
}

/* ------------------------------------------------------------ names */

static const struct { const char *name; int sig; } names[] = {
    { "SIGHUP", SIGHUP },   { "SIGINT", SIGINT },   { "SIGQUIT", SIGQUIT },
    { "SIGILL", SIGILL },   { "SIGTRAP", SIGTRAP }, { "SIGABRT", SIGABRT },
    { "SIGBUS", SIGBUS },   { "SIGFPE", SIGFPE },   { "SIGKILL", SIGKILL },
    { "SIGUSR1", SIGUSR1 }, { "SIGSEGV", SIGSEGV }, { "SIGUSR2", SIGUSR2 },
    { "SIGPIPE", SIGPIPE }, { "SIGALRM", SIGALRM }, { "SIGTERM", SIGTERM },
    { "SIGCHLD", SIGCHLD }, { "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP },
    { "SIGTSTP", SIGTSTP }, { "SIGTTIN", SIGTTIN }, { "SIGTTOU", SIGTTOU },
    { "SIGURG", SIGURG },   { "SIGXCPU", SIGXCPU }, { "SIGXFSZ", SIGXFSZ },
    { "SIGVTALRM", SIGVTALRM }, { "SIGPROF", SIGPROF }, { "SIGSYS", SIGSYS },
#ifdef SIGWINCH
    { "SIGWINCH", SIGWINCH },
#endif
#ifdef SIGIO
    { "SIGIO", SIGIO },
#endif
};

int co__signal_by_name(const char *name)
{
    if (!name || !*name)
        return 0;
    if (*name >= '0' && *name <= '9') {
        char *end;
        long v = strtol(name, &end, 10);
        return *end || v < 1 || v > SIG_LIMIT ? 0 : (int)v;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0 ||
            strcasecmp(name, names[i].name + 3) == 0)
            return names[i].sig;
    return 0;
}

const char *co__signal_name(int sig)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return NULL;
}
