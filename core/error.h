/* error.h -- naming results, and reporting misuse. */
#ifndef CO_ERROR_H
#define CO_ERROR_H

/* A readable name for a result: "ok" for >= 0, "would block" for
 * CO_WOULDBLOCK, the C library's text for a negative errno. */
const char *co_strerror(int result);

/* Misuse that cannot be reported as a value: print what, where, and abort. */
_Noreturn void co_panic_at(const char *func, const char *file, int line,
                           const char *what);
#define co_panic(what) co_panic_at(__func__, __FILE__, __LINE__, (what))
/* The same for a place recorded as a "file:line" string (CO_HERE, a task's
 * last suspension point); `fallback` names it when where is NULL. */
_Noreturn void co__error_panic_where(const char *func, const char *where,
                               const char *fallback, const char *what);

#endif
