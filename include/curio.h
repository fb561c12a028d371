/*
 * curio.h -- the one header a curio-for-C program includes.
 * Paths are relative to the project (or installed include/curio) root.
 *
 * C++ can include it too (C++11 to C++17: C++20 makes `co_yield`, the
 * name of a curio function, a keyword).  The declarations get C linkage,
 * and the C11 keywords the headers use are spelled the C++ way while
 * they are read, then forgotten.
 */
#ifndef CURIO_H
#define CURIO_H

#ifdef __cplusplus
#  ifndef _Noreturn
#    define _Noreturn [[noreturn]]
#    define CURIO__UNDEF_NORETURN
#  endif
#  ifndef _Alignas
#    define _Alignas(n) alignas(n)
#    define CURIO__UNDEF_ALIGNAS
#  endif
extern "C" {
#endif

#include "macros/co.h"
#include "core/task.h"
#include "core/kernel.h"
#include "core/embed.h"
#include "core/timeout.h"
#include "core/cancel.h"
#include "core/group.h"
#include "core/waits.h"
#include "core/errors.h"
#include "core/io.h"
#include "core/pool.h"
#include "core/diag.h"
#include "core/signals.h"
#include "net/socket.h"
#include "net/stream.h"
#include "net/file.h"
#include "net/subprocess.h"
#include "net/connection.h"
#include "net/channel.h"
#include "net/server.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphores.h"
#include "sync/condition.h"
#include "sync/queue.h"
#include "core/async.h"
#include "core/async_thread.h"
#include "core/monitor.h"
#include "sync/universal.h"
#include "core/thread_pool.h"
#include "core/process_pool.h"

#ifdef __cplusplus
}
#  ifdef CURIO__UNDEF_NORETURN
#    undef _Noreturn
#    undef CURIO__UNDEF_NORETURN
#  endif
#  ifdef CURIO__UNDEF_ALIGNAS
#    undef _Alignas
#    undef CURIO__UNDEF_ALIGNAS
#  endif
#endif

#endif
