/* errors.c -- naming results; aborting on misuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors_impl.h"
#include "../macros/co.h"

const char *co_strerror(int result)
{
    if (result == CO_WOULDBLOCK)
        return "would block";
    if (result >= 0)
        return "ok";
    return strerror(-result);
}

void co_panic_at(const char *func, const char *file, int line,
                 const char *what)
{
    fprintf(stderr, "curio: %s (%s:%d): %s\n", func, file, line, what);
    fflush(stderr);
    abort();
}

void co__error_panic_where(const char *func, const char *where,
                     const char *fallback, const char *what)
{
    char file[256];
    const char *colon = where ? strrchr(where, ':') : NULL;
    if (!colon || (size_t)(colon - where) >= sizeof file)
        co_panic_at(func, where ? where : fallback, 0, what);
    memcpy(file, where, (size_t)(colon - where));
    file[colon - where] = '\0';
    co_panic_at(func, file, atoi(colon + 1), what);
}
