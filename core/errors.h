/* errors.h -- naming results, and reporting misuse.  (Not error.h: that
 * is the name of a glibc header.) */
#ifndef CO_ERRORS_H
#define CO_ERRORS_H

#include "api.h"

/* A readable name for a result: "ok" for >= 0, "would block" for
 * CO_WOULDBLOCK, the C library's text for a negative errno. */
CO_API const char *co_strerror(int result);

/* Misuse that cannot be reported as a value: print what, where, and abort. */
_Noreturn CO_API void co_panic_at(const char *func, const char *file,
                                  int line, const char *what);
#define co_panic(what) co_panic_at(__func__, __FILE__, __LINE__, (what))

#endif /* CO_ERRORS_H */
