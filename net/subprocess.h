/*
 * subprocess.h -- child processes for tasks (Curio's curio.subprocess:
 * Popen, run, check_output).
 *
 * A co_process is a running program.  Its stdin, stdout and stderr can be
 * pipes to the parent, and a pipe is a co_stream (net/stream.h): readline,
 * read_exactly, write ... work on it as on a socket.  Waiting for the
 * child to exit is a blocking primitive like any other:
 *
 *     co_process_opts o = {
 *         .argv = (const char *const[]){ "ls", "-l", NULL },
 *         .out = CO_PROC_PIPE,
 *     };
 *     if ((f->rc = co_process_spawn(&f->p, &o)) < 0)
 *         CO_RETURN(f->rc);                       // -ENOENT: no such program
 *     CO_AWAIT(f->n, co_stream_readline(t, co_process_stream(f->p, 1),
 *                                       f->line, sizeof f->line));
 *     CO_AWAIT(f->rc, co_process_wait(t, f->p));
 *     ... co_process_returncode(f->p) ...
 * CO_FINALLY
 *     co_process_close(&f->p);                    // kills and reaps if need be
 *
 * and co_subprocess_run / co_subprocess_check_output do the whole round
 * trip -- start, feed the input, collect stdout and stderr, wait -- with a
 * timeout and a check of the exit status.
 *
 * How the exit is seen.  Each child gets a pidfd (pidfd_open(2), Linux
 * 5.3 and later), which becomes readable when the child exits; the task
 * waits on it as on a socket, through the kernel that spawned the child.
 * So it works in every kernel and every thread, with no SIGCHLD handler
 * and nothing shared between kernels.  The child is reaped by the library
 * (waitpid on its own pid, which the open pidfd keeps from being reused):
 * code elsewhere in the program that reaps any child (waitpid(-1), a
 * SIGCHLD handler that does, SIGCHLD set to SIG_IGN) takes the exit status
 * away, and the wait then returns -ECHILD.  Where pidfd_open(2) is
 * missing (ENOSYS: Linux before 5.3, some sandboxes, valgrind) the wait
 * polls waitpid instead, sleeping 1 ms, then 2, 4 ... up to 50 ms between
 * tries: an exit is noticed later, everything else is the same.
 *
 * What the child gets.  Only fds 0, 1 and 2, set up as the options say:
 * every fd the library makes is close-on-exec, and the child closes
 * every other fd before it starts the program (also those the program
 * opened without O_CLOEXEC).  Signals: an empty signal mask, and SIGPIPE
 * and SIGXFSZ back to their default action (the library ignores SIGPIPE
 * in the parent: net/socket.h).  Pipes are blocking on the child's side
 * and non-blocking on the parent's.
 *
 * No zombies.  co_process_wait reaps the child; co_process_close reaps it
 * too, killing it first (SIGKILL) if it still runs.  run, check_output
 * and communicate reap the child whatever happens.  A process object that
 * is never closed leaves its child unreaped until the program ends.
 *
 * Results: >= 0 on success, a negative errno on failure.  The blocking
 * functions obey THE RULE of core/waits.h.
 */
#ifndef CO_SUBPROCESS_H
#define CO_SUBPROCESS_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "../core/api.h"
#include "../core/task.h"
#include "../core/timeout.h"
#include "stream.h"

typedef struct co_process co_process;

/* ------------------------------------------------------------ starting */

/* What each of the child's stdin, stdout and stderr is
 * (co_process_opts.in, .out, .err). */
enum {
    CO_PROC_INHERIT = 0,  /* the parent's own 0, 1 or 2 (the default) */
    CO_PROC_PIPE,         /* a pipe to the parent: co_process_stream */
    CO_PROC_DEVNULL,      /* /dev/null */
    CO_PROC_FD,           /* the caller's fd in in_fd / out_fd / err_fd,
                             given to the child as it is (it stays the
                             caller's; a non-blocking fd stays so, which
                             few programs expect) */
    CO_PROC_STDOUT,       /* .err only: wherever stdout goes (2>&1) */
    CO_PROC_FROM,         /* .in only: the stdout pipe of process in_from
                             (a shell's `a | b`, below) */
};

typedef struct co_process_opts {
    /* The program and its arguments, NULL-terminated.  argv[0] is looked
     * up in the PATH of the parent's environment unless it has a '/';
     * relative to cwd if one is given. */
    const char *const *argv;
    const char *cwd;            /* NULL: the parent's working directory */
    const char *const *envp;    /* "NAME=value" strings, NULL-terminated;
                                   NULL: the parent's environment */
    int in, out, err;           /* CO_PROC_* above */
    int in_fd, out_fd, err_fd;  /* for CO_PROC_FD */
    /*
     * For in = CO_PROC_FROM: a process whose stdout is a pipe.  That pipe
     * becomes the new child's stdin and is no longer the parent's: on
     * success its stream is closed (co_process_stream(in_from, 1) is NULL
     * from then on), so the writer gets EPIPE if the reader ends first,
     * as in a shell pipeline.  -EINVAL if in_from has no stdout pipe,
     * -EBUSY if bytes were read ahead into its stream (they would be lost
     * to the new child).
     */
    co_process *in_from;
} co_process_opts;

/*
 * Start a child (posix_spawn(3)) as `opts` say; *out is its process
 * object.  Not blocking: the program has been started, or not, when it
 * returns.  Needs a kernel running in this thread (call it from a task).
 * 0; -EINVAL (NULL, no argv[0], a bad mode, a CO_PROC_FD fd < 0, no
 * kernel), -EBADF (a CO_PROC_FD fd that is not open); the error of
 * starting the program, synchronously: -ENOENT (no such program, or no
 * such cwd), -EACCES, -ENOEXEC ...; -EMFILE, -ENOMEM, -EAGAIN (then the
 * child that was started is killed and reaped).  On failure nothing is
 * left behind: no process, no fd.
 */
CO_API int co_process_spawn(co_process **out, const co_process_opts *opts);

/* ------------------------------------------------------------ the object */

/* The child's process id; -EINVAL for NULL. */
CO_API pid_t co_process_pid(const co_process *p);

/* co_process_returncode while the child has not been reaped (and for
 * NULL): no exit status is that. */
#define CO_PROC_RUNNING INT_MAX

/* Python's returncode: the exit status (0 ... 255) once the child has
 * been reaped, or -N if signal N ended it; CO_PROC_RUNNING before. */
CO_API int co_process_returncode(const co_process *p);

/*
 * The parent's end of the pipe to the child's fd 0, 1 or 2, as a stream
 * (write to 0, read from 1 and 2); NULL if that fd is not a pipe, or the
 * stream was closed.  The process owns it: do not co_stream_close it --
 * co_process_close_stream does.  Writing to a child that has closed its
 * stdin (or ended) gives -EPIPE, never SIGPIPE.
 */
CO_API co_stream *co_process_stream(const co_process *p, int fd);

/* Close the parent's end of the pipe to fd 0, 1 or 2: closing 0 gives
 * the child end of file on its stdin.  0, close(2)'s error; -EBADF if
 * that pipe is closed already or was never one; -EINVAL (NULL, fd not 0,
 * 1 or 2). */
CO_API int co_process_close_stream(co_process *p, int fd);

/*
 * Blocking: wait until the child has exited and reap it; 0, and
 * co_process_returncode says how it ended.  Returns 0 at once (a blocking
 * point all the same) if it was reaped already.  -ECANCELED / -ETIMEDOUT
 * leave the child running: cancelling a wait does not kill (run,
 * check_output and communicate do).  -EBUSY if another task waits for
 * this process; -EBADF if it is closed meanwhile; -ECHILD if someone else
 * reaped it (see "How the exit is seen"); -EINVAL for NULL.
 */
CO_API co_status co_process_wait(co_task *self, co_process *p);

/* Send signal sig to the child (through its pidfd: never to another
 * process that got its pid).  0; -ESRCH once it has been reaped; -EINVAL
 * (NULL, a bad signal). */
CO_API int co_process_send_signal(co_process *p, int sig);
/* co_process_send_signal(p, SIGTERM) */
CO_API int co_process_terminate(co_process *p);
/* co_process_send_signal(p, SIGKILL) */
CO_API int co_process_kill(co_process *p);

/*
 * Close *p: close the pipes, and if the child has not been reaped, reap
 * it -- killing it with SIGKILL first if it still runs, then waiting for
 * it to die, which blocks the thread for as long as the dying takes (so
 * wait for a child, or use run, rather than leave it to close).  A task
 * waiting in co_process_wait is woken with -EBADF.  *p becomes NULL.  0;
 * -EBADF if *p is NULL (closed already), -EINVAL if p is NULL.
 */
CO_API int co_process_close(co_process **p);

/* ------------------------------------------------------------ the round trip */

/*
 * What communicate, run and check_output collect.  out and err hold what
 * the child wrote to its stdout and stderr pipes, NUL-terminated (the NUL
 * is not counted in the lengths); NULL when that fd was not a pipe.  They
 * are malloc'd: co_process_result_free frees them.  in_sent counts the
 * bytes of input the child was given.
 */
typedef struct co_process_result {
    int returncode;             /* as co_process_returncode */
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    size_t in_sent;
} co_process_result;

/* Free out and err and set them to NULL (lengths 0).  NULL: nothing. */
CO_API void co_process_result_free(co_process_result *r);

/* Private to net/subprocess_run.c. */
struct co__communicate_private {
    co_task *readers[2];        /* collecting stdout, stderr */
    co_task *killer;            /* SIGKILL after the grace period */
    size_t cap[2];              /* room in result.out, result.err */
    int started, i, rc, res;
};

/*
 * A coroutine: await it with CO_AWAIT_CALL on a frame in your frame.
 * Fill in proc, input, input_len and kill_grace first.
 *
 * Writes input to the child's stdin pipe while collecting its stdout and
 * stderr pipes (in tasks of their own), then closes stdin; returns once
 * the output has ended and the child has exited and been reaped.  0, with
 * `result` filled in and the three pipes closed.  A child that stops
 * reading its stdin early is not an error: result.in_sent says how much
 * it took.  With no input, a stdin pipe is closed at once.
 *
 * On any failure -- -ECANCELED, -ETIMEDOUT, -ENOMEM, -EBUSY (another task
 * waits for the process) -- the child is killed and reaped before the
 * coroutine returns, and `result` holds what had been collected (the
 * output read so far, in_sent, the returncode).  Killing: SIGKILL at once
 * when kill_grace is 0 (Curio's), else SIGTERM, then SIGKILL if the
 * child has not exited kill_grace seconds later.  The coroutine waits
 * for the child while it does so, with cancellation held back.
 *
 * -EINVAL (nothing started, nothing killed) for a NULL proc, input_len
 * without input or without a stdin pipe, a negative or NaN kill_grace.
 * The result is the caller's: co_process_result_free(&f->result), also
 * after a failure.
 */
typedef struct co_communicate_frame {
    co_frame co;
    co_process *proc;
    const void *input;
    size_t input_len;
    double kill_grace;          /* seconds; 0: SIGKILL at once */
    co_process_result result;
    struct co__communicate_private priv;
} co_communicate_frame;

CO_API co_status co_process_communicate(co_task *self, void *frame);

/*
 * run's failure for a child that exited with a non-zero status (or was
 * killed by a signal) under `check` (Curio's CalledProcessError): the
 * result is filled in all the same.  EPROTO ("protocol error": the child
 * broke the parent's expectation of success) because no other step of
 * run can fail with it -- starting, piping, waiting, killing do not -- so
 * it always means "the command ran and failed".
 */
#define CO_CALLED_PROCESS_ERROR (-EPROTO)

/* Private to net/subprocess_run.c. */
struct co__subprocess_private {
    co_process *proc;
    co_process_opts opts;
    co_timeout to;
    co_communicate_frame comm;
    int rc;
};

/*
 * Coroutines: run a program to its end (Curio's subprocess.run and
 * check_output).  Await with CO_AWAIT_CALL on a frame in your frame, or
 * spawn as a task.  Fill in opts (the program and its stdio, as for
 * co_process_spawn) and the rest first:
 *
 *     f->run = (co_subprocess_frame){
 *         .opts = { .argv = (const char *const[]){ "sort", NULL } },
 *         .input = "b\na\n", .input_len = 4, .timeout = 5.0,
 *     };
 *     CO_AWAIT_CALL(f->rc, co_subprocess_check_output, &f->run);
 *     ... f->run.result.out ...
 *     co_process_result_free(&f->run.result);
 *
 * run starts the child, communicates (input, if not NULL, goes to a stdin
 * pipe; stdout and stderr are collected where opts makes them
 * CO_PROC_PIPE) and reaps it.  check_output is run with opts.out =
 * CO_PROC_PIPE and check = 1.
 *
 * 0 with `result` filled in; CO_CALLED_PROCESS_ERROR under check for a
 * non-zero returncode; -ETIMEDOUT once `timeout` seconds (0: none) have
 * passed, -ECANCELED, or any failure of co_process_spawn and
 * co_process_communicate.  After a timeout or a cancellation the child
 * has been killed (see kill_grace) and reaped, and `result` holds the
 * output collected so far.  -EINVAL, starting nothing: bad opts, input
 * with opts.in other than CO_PROC_INHERIT or CO_PROC_PIPE, a negative or
 * NaN timeout or kill_grace.  Free the result with co_process_result_free
 * whatever the outcome.
 */
typedef struct co_subprocess_frame {
    co_frame co;
    co_process_opts opts;
    const void *input;          /* NULL: no input (stdin as opts says) */
    size_t input_len;
    int check;                  /* non-zero returncode: an error */
    double timeout;             /* seconds; 0: none */
    double kill_grace;          /* as co_communicate_frame's */
    co_process_result result;
    struct co__subprocess_private priv;
} co_subprocess_frame;

CO_API co_status co_subprocess_run(co_task *self, void *frame);
CO_API co_status co_subprocess_check_output(co_task *self, void *frame);

#endif /* CO_SUBPROCESS_H */
