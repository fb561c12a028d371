/*
 * curio.h -- the one header a curio-for-C program includes.
 * Paths are relative to the project (or installed include/curio) root.
 */
#ifndef CURIO_H
#define CURIO_H

#include "macros/co.h"
#include "core/task.h"
#include "core/kernel.h"
#include "core/embed.h"
#include "core/time.h"
#include "core/cancel.h"
#include "core/wait.h"
#include "core/error.h"
#include "core/io.h"
#include "core/pool.h"
#include "net/socket.h"
#include "net/stream.h"
#include "net/server.h"
#include "sync/event.h"
#include "sync/lock.h"
#include "sync/rlock.h"
#include "sync/semaphore.h"
#include "sync/condition.h"
#include "sync/queue.h"
#include "core/async.h"
#include "sync/universal.h"

#endif
