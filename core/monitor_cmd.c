/*
 * monitor_cmd.c -- the monitor's commands: parse a line, write the answer.
 *
 * Everything here runs inside the console task, in one go, without
 * awaiting: what `ps` shows is one consistent moment of the kernel.  The
 * answer is built in memory and sent afterwards (core/monitor.c).
 *
 * A line is trusted in nothing: it may hold any bytes.  Anything but
 * printable ASCII and tabs is refused before parsing, so an answer never
 * echoes control characters back to a terminal.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_impl.h"
#include "diag.h"
#include "errors.h"
#include "monitor_impl.h"
#include "signals_impl.h"

void co__monitor_printf(co__monitor_reply *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = r->cap - r->len;
        int n = vsnprintf(r->p ? r->p + r->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            r->len += (size_t)n;
            return;
        }
        size_t cap = r->cap ? r->cap : 256;
        while (cap - r->len <= (size_t)n)
            cap *= 2;
        char *p = co__alloc_resize(r->p, cap);
        if (!p) {
            r->failed = 1;
            return;
        }
        r->p = p;
        r->cap = cap;
    }
}

void co__monitor_reply_free(co__monitor_reply *r)
{
    free(r->p);
    *r = (co__monitor_reply){ 0 };
}

/* ------------------------------------------------------------- finding */

struct find { uint32_t id; co_task *found; };

static int match_id(co_task *t, void *arg)
{
    struct find *f = arg;
    if (co_task_id(t) != f->id)
        return 0;
    f->found = t;
    return 1;
}

/* The live task with that id, or NULL. */
static co_task *find_task(co_kernel *k, uint32_t id)
{
    struct find f = { id, NULL };
    co_kernel_foreach_task(k, match_id, &f);
    return f.found;
}

/* A task id: digits only, 1 .. UINT32_MAX; 0 if arg is not one. */
static uint32_t parse_id(const char *arg)
{
    if (!arg || *arg < '0' || *arg > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || v > UINT32_MAX)
        return 0;
    return (uint32_t)v;
}

/* The task a command's argument names, or NULL after the error line
 * (usage, or no such live task) has been written. */
static co_task *task_arg(co_kernel *k, const char *cmd, const char *arg,
                         co__monitor_reply *r)
{
    uint32_t id = parse_id(arg);
    co_task *t = id ? find_task(k, id) : NULL;
    if (!id)
        co__monitor_printf(r, "error: usage: %s TASK-ID\n", cmd);
    else if (!t)
        co__monitor_printf(r, "error: no task %" PRIu32 "\n", id);
    return t;
}

/* ------------------------------------------------------------ commands */

struct ps_ctx { co__monitor_reply *r; };

static const char *name_of(const co_task *t)
{
    const char *name = co_task_name(t);
    return name ? name : "?";
}

static int ps_row(co_task *t, void *arg)
{
    co__monitor_reply *r = ((struct ps_ctx *)arg)->r;
    char deadline[32] = "-";
    double d = co_task_deadline(t);
    if (isfinite(d))
        snprintf(deadline, sizeof deadline, "%.3fs", d);
    const char *where = co_task_where(t);
    co__monitor_printf(r, "%6" PRIu32 "  %-20.20s %-8s %9" PRIu64
                       " %9s %7zu  %s\n",
                       co_task_id(t), name_of(t), co_task_state(t),
                       co_task_cycles(t), deadline, co_task_memory(t),
                       where ? where : "-");
    return r->failed;
}

static void cmd_ps(co_kernel *k, co__monitor_reply *r)
{
    co__monitor_printf(r, "%6s  %-20s %-8s %9s %9s %7s  %s\n", "id", "name",
                       "state", "cycles", "deadline", "bytes", "where");
    struct ps_ctx c = { r };
    co_kernel_foreach_task(k, ps_row, &c);
}

static void cmd_where(co_kernel *k, const char *arg, co__monitor_reply *r)
{
    co_task *t = task_arg(k, "where", arg, r);
    if (!t)
        return;
    uint32_t id = co_task_id(t);
    co_await_site chain[CO_AWAIT_CHAIN_MAX];
    int more = 0;
    int n = co_task_await_chain(t, chain, CO_AWAIT_CHAIN_MAX, &more);
    co__monitor_printf(r, "task %" PRIu32 " '%s' %s\n", id, name_of(t),
                       co_task_state(t));
    if (n <= 0) {
        co__monitor_printf(r, "  (no await chain: the task is %s)\n",
                           co_task_state(t));
        return;
    }
    for (int i = 0; i < n; i++) {
        if (i == 1 && more > 0)
            co__monitor_printf(r, "  ... %d level(s) not recorded\n", more);
        if (chain[i].func)
            co__monitor_printf(r, "  %s at %s\n", chain[i].func,
                               chain[i].where);
        else
            co__monitor_printf(r, "  ? at %s (suspended before await chains "
                                  "were tracked)\n", chain[i].where);
    }
}

static void cmd_parents(co_kernel *k, const char *arg, co__monitor_reply *r)
{
    co_task *t = task_arg(k, "parents", arg, r);
    if (!t)
        return;
    /* Ids grow with spawn order, so a parent's id is smaller: the walk
     * ends even if the registry were inconsistent. */
    for (;;) {
        co__monitor_printf(r, "%6" PRIu32 "  %s\n", co_task_id(t),
                           name_of(t));
        uint32_t pid = co_task_parent_id(t);
        if (pid == 0 || pid >= co_task_id(t))
            break;
        co_task *p = find_task(k, pid);
        if (!p) {
            co__monitor_printf(r, "%6" PRIu32 "  (ended)\n", pid);
            break;
        }
        t = p;
    }
}

static void cmd_cancel(co_kernel *k, const char *arg, co__monitor_reply *r)
{
    co_task *t = task_arg(k, "cancel", arg, r);
    if (!t)
        return;
    uint32_t id = co_task_id(t);
    if (co_task_cancel_nowait(t) == 1)
        co__monitor_printf(r, "task %" PRIu32 " '%s': cancellation "
                              "requested\n", id, name_of(t));
    else
        co__monitor_printf(r, "task %" PRIu32 " '%s': already cancelled\n",
                           id, name_of(t));
}

/* Send the signal to the process, as `kill -NAME <pid>` from a shell
 * would: whoever watches it (co_signal_event, co_signal_queue, Ctrl-C's
 * default for SIGINT) gets it, else its disposition applies. */
static void cmd_signal(const char *arg, co__monitor_reply *r)
{
    int sig = co__signal_by_name(arg);
    if (!sig) {
        co__monitor_printf(r, "error: unknown signal '%.32s'\n", arg);
        return;
    }
    const char *name = co__signal_name(sig);
    if (kill(getpid(), sig) < 0) {
        co__monitor_printf(r, "error: signal: %s\n", co_strerror(-errno));
        return;
    }
    if (name)
        co__monitor_printf(r, "sent %s to process %ld\n", name,
                           (long)getpid());
    else
        co__monitor_printf(r, "sent signal %d to process %ld\n", sig,
                           (long)getpid());
}

static void cmd_stats(co_kernel *k, co__monitor_reply *r)
{
    co_kernel_stats s;
    int rc = co_kernel_get_stats(k, &s);
    if (rc < 0) {
        co__monitor_printf(r, "error: stats: %s\n", co_strerror(rc));
        return;
    }
    co__monitor_printf(r,
        "tasks_alive    %" PRIu64 "\n" "tasks_spawned  %" PRIu64 "\n"
        "switches       %" PRIu64 "\n" "io_waits       %" PRIu64 "\n"
        "timers         %" PRIu64 "\n" "memory_tasks   %" PRIu64 "\n"
        "memory_pool    %" PRIu64 "\n" "memory_kernel  %" PRIu64 "\n",
        s.tasks_alive, s.tasks_spawned, s.switches, s.io_waits, s.timers,
        s.memory_tasks, s.memory_pool, s.memory_kernel);
}

static void cmd_help(co__monitor_reply *r)
{
    co__monitor_printf(r,
        "ps             every task: id, name, state, cycles, deadline, bytes, "
        "where\n"
        "where N        the awaits task N is suspended in, outermost first\n"
        "parents N      task N, its parent, its parent's parent ...\n"
        "cancel N       cancel task N\n"
        "signal NAME    send signal NAME (INT, SIGUSR1, 15...) to the "
        "process\n"
        "stats          the kernel's statistics\n"
        "help           this list\n"
        "quit           close this console\n"
        "A command may be shortened to any prefix only it starts with.\n");
}

/* ------------------------------------------------------------- parsing */

enum cmd { C_PS, C_WHERE, C_PARENTS, C_CANCEL, C_SIGNAL, C_STATS, C_HELP,
           C_QUIT, C_COUNT };
static const char *const names[C_COUNT] = {
    "ps", "where", "parents", "cancel", "signal", "stats", "help", "quit",
};

/* The command named word or by a prefix of one command only; -1 unknown,
 * -2 ambiguous.  An exact name wins over longer ones it prefixes. */
static int lookup(const char *word, size_t n)
{
    int found = -1;
    for (int c = 0; c < C_COUNT; c++) {
        if (strncmp(names[c], word, n) != 0)
            continue;
        if (names[c][n] == '\0')
            return c;
        found = found == -1 ? c : -2;
    }
    return found;
}

int co__monitor_execute(co_kernel *k, const char *line, size_t len,
                        co__monitor_reply *r)
{
    if (len && line[len - 1] == '\r')      /* telnet and friends */
        len--;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            co__monitor_printf(r, "error: binary input ignored\n");
            return 0;
        }
    }
    char buf[CO__MONITOR_LINE_MAX + 1];
    if (len > CO__MONITOR_LINE_MAX) {       /* the caller's bound; still */
        co__monitor_printf(r, "error: line too long\n");
        return 0;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';

    char *save, *word = strtok_r(buf, " \t", &save);
    if (!word)
        return 0;                            /* an empty line: the prompt */
    char *arg = strtok_r(NULL, " \t", &save);
    char *extra = arg ? strtok_r(NULL, " \t", &save) : NULL;
    int c = lookup(word, strlen(word));
    if (c == -1) {
        co__monitor_printf(r, "error: unknown command '%.32s' (try help)\n",
                           word);
        return 0;
    }
    if (c == -2) {
        co__monitor_printf(r, "error: '%.32s' is ambiguous (try help)\n",
                           word);
        return 0;
    }
    int wants_arg = c == C_WHERE || c == C_PARENTS || c == C_CANCEL ||
                    c == C_SIGNAL;
    if (extra || (arg && !wants_arg) || (!arg && wants_arg)) {
        co__monitor_printf(r, "error: usage: %s%s\n", names[c],
                           c == C_SIGNAL ? " NAME" : wants_arg ? " TASK-ID"
                                                               : "");
        return 0;
    }
    switch (c) {
    case C_PS:      cmd_ps(k, r); break;
    case C_WHERE:   cmd_where(k, arg, r); break;
    case C_PARENTS: cmd_parents(k, arg, r); break;
    case C_CANCEL:  cmd_cancel(k, arg, r); break;
    case C_SIGNAL:  cmd_signal(arg, r); break;
    case C_STATS:   cmd_stats(k, r); break;
    case C_HELP:    cmd_help(r); break;
    case C_QUIT:    return 1;
    }
    return 0;
}
