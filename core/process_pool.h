/*
 * process_pool.h -- run CPU-heavy code in worker processes without
 * stalling the kernel (Curio's run_in_process).
 *
 * Each kernel has a pool of worker processes, started on first use, at
 * most one per CPU by default (co_kernel_set_max_processes).  A task hands
 * the pool a call -- a function and its input bytes -- and blocks; a
 * worker runs fn(in, in_len, &out, &out_len) and the task gets back its
 * result and output bytes.  Callers beyond the pool's size wait, first
 * come first served.  Work and results travel over two pipes per worker
 * as length-prefixed messages, so a worker computing for minutes holds up
 * no other task.
 *
 *     static int64_t count_primes(const void *in, size_t len,
 *                                 void **out, size_t *out_len)
 *     { ...pure computation on in...; return n; }
 *
 *     co_process_call_init(&f->call, count_primes, &f->range, sizeof f->range);
 *     CO_AWAIT(f->rc, co_run_in_process(t, &f->call));
 *     if (f->rc == 0) use(f->call.result, f->call.out, f->call.out_len);
 *     free(f->call.out);
 *
 * The workers are fork()ed from the program, without exec, so that fn --
 * a function pointer -- means the same thing in the worker: the request
 * carries its address.  As with Python's 'fork' start method:
 *   - fn runs in a copy of the program as it was when its worker started
 *     (globals changed later are not seen; what fn changes stays in the
 *     worker).  It must use no curio (the kernel's copy is not running),
 *     nor anything another thread of the program might have been holding
 *     a lock in when the worker was forked; malloc and stdio are fine.
 *   - A worker keeps stdin, stdout and stderr and has every other
 *     descriptor closed; it flushes stdout after each call.  Signals are
 *     at their defaults and unblocked.  It must not call exit() (atexit
 *     handlers are the program's): return, or _exit() -- which counts as
 *     a crash.
 *   - A worker is killed (SIGKILL, through PR_SET_PDEATHSIG) if the thread
 *     that started it ends; a worker never outlives co_kernel_free.
 *   - Making the pool sets SIGPIPE to be ignored if it was at its default
 *     (a write to a dead worker's pipe is then EPIPE), as sockets do.
 *
 * Cancellation and timeouts release the task at once (-ECANCELED,
 * -ETIMEDOUT).  A call no worker has started is dropped; a worker that
 * holds the call is killed -- SIGTERM, then SIGKILL after 0.5 s -- and
 * reaped by the kernel in the background; the next call starts a new one.
 * A worker that dies during a call (it crashed, called _exit, or someone
 * killed it) fails that call alone with -ESRCH and is replaced the same
 * way.  co_kernel_free kills and reaps every worker left: no process, and
 * no zombie, survives the kernel.
 */
#ifndef CO_PROCESS_POOL_H
#define CO_PROCESS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "kernel.h"
#include "task.h"

/* Runs in a worker process: in_len bytes at `in` (NULL when in_len is 0).
 * Returns >= 0 on success (the call's `result`) or a negative errno.  It
 * may set *out to malloc'd bytes and *out_len to their number: the worker
 * sends them back and frees them (also on failure, when it sends none). */
typedef int64_t (*co_process_fn)(const void *in, size_t in_len, void **out,
                                 size_t *out_len);

struct co__process_worker;

/* A call.  It must live in the caller's frame until co_run_in_process has
 * returned: `priv` keeps the call's progress across suspensions, and the
 * input is sent from `in` (which must stay valid as long) a piece at a
 * time. */
typedef struct co_process_call {
    co_process_fn fn;
    const void *in;
    size_t in_len;
    int64_t result;            /* what fn returned (0 until it has) */
    void *out;                 /* fn's output, malloc'd: the caller frees
                                  it; NULL unless the call returned 0 */
    size_t out_len;
    struct co__process_call_private {   /* the pool's */
        struct co__process_worker *worker;
        size_t done;           /* bytes of this stage sent or received */
        unsigned char head[16];  /* the header being sent or received */
        int stage;
    } priv;
} co_process_call;

/* Fill in a call (result 0, no output).  Nothing to free until a call has
 * returned output. */
CO_API void co_process_call_init(co_process_call *c, co_process_fn fn,
                                 const void *in, size_t in_len);

/*
 * Blocking: run call->fn on call->in in a worker process.  0 with
 * call->result, call->out and call->out_len set (free(call->out) when
 * done); the function's own negative result (-ERANGE below INT_MIN); or
 *   -ESRCH      the worker died during the call (it crashed, or was killed
 *               by someone else); it is replaced
 *   -ECANCELED, -ETIMEDOUT   the worker holding the call is killed
 *   -EINVAL     NULL call or fn, or NULL in with a nonzero in_len
 *   -ENOMEM     no memory for the pool or the output
 *   -EAGAIN     no worker exists and none could be started (fork failed);
 *               -EMFILE / -ENFILE when no pipe could be made
 */
CO_API co_status co_run_in_process(co_task *self, co_process_call *call);

/* k's thread: the most worker processes k's pool may run at once (>= 1);
 * by default the number of CPUs online.  Idle workers over a lowered
 * bound end now, busy ones once their call is done.  0 or -EINVAL. */
CO_API int co_kernel_set_max_processes(co_kernel *k, int n);

/* k's thread: k's worker processes now, idle or busy (not those being
 * killed); 0 before first use, or for NULL. */
CO_API int co_kernel_process_count(co_kernel *k);

#endif /* CO_PROCESS_POOL_H */
