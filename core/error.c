/* error.c -- naming results; aborting on misuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
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
