/*
 * test_list.h -- every suite tests/main.c runs, one line each, in the
 * order they run.  SUITE(name) is the suite tests/test_<name>.c builds
 * with name_suite() and suite_create("name"); the name is also what
 * `run_tests name` and CK_RUN_SUITE select.  A new tests/test_*.c is
 * compiled by the Makefile on its own; it runs once it has a line here.
 *
 * No include guard: the includer defines SUITE, includes this file, and
 * undefines SUITE (suites.h for the declarations, main.c for the table).
 */
SUITE(task_sched)
SUITE(task_identity)
SUITE(task_join)
SUITE(task_kernel)
SUITE(task_crash)
SUITE(task_memory)
SUITE(time)
SUITE(cancel_task)
SUITE(cancel_wait)
SUITE(cancel_disable)
SUITE(cancel_wakes)
SUITE(misuse)
SUITE(embed)
SUITE(socket_echo)
SUITE(socket_io)
SUITE(socket_interrupt)
SUITE(socket_close)
SUITE(socket_sendall)
SUITE(socket_deadlock)
SUITE(socket_errors)
SUITE(socket_addr)
SUITE(stream_readline)
SUITE(stream_read)
SUITE(stream_readlines)
SUITE(stream_bulk)
SUITE(stream_interrupt)
SUITE(stream_close)
SUITE(stream_blocking)
SUITE(server)
SUITE(pool_send)
SUITE(pool_many)
SUITE(pool_room)
SUITE(pool_stream)
SUITE(pool_spawn)
SUITE(sync)
SUITE(condition)
SUITE(queue)
SUITE(universal_post)
SUITE(universal_threads)
SUITE(universal_interrupt)
SUITE(universal_join)
SUITE(universal_waiters)
SUITE(universal_outcome)
SUITE(races)
SUITE(fairness)
/* tests/test_macros.c, compiled once per coroutine backend */
SUITE(macros_switch)
SUITE(macros_labels)
