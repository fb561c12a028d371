/*
 * errors_impl.h -- misuse reports from inside the library (private: not
 * installed).  The public side is errors.h.
 */
#ifndef CO_ERRORS_IMPL_H
#define CO_ERRORS_IMPL_H

#include "errors.h"

/* co_panic_at for a place recorded as a "file:line" string (CO_HERE, a
 * task's last suspension point); `fallback` names it when where is NULL. */
_Noreturn void co__error_panic_where(const char *func, const char *where,
                                     const char *fallback, const char *what);

#endif /* CO_ERRORS_IMPL_H */
