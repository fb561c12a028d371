/* select.c -- which tests a runner adds (see select.h). */
#include <fnmatch.h>
#include <stddef.h>
#include <string.h>

#include <check.h>

#include "select.h"

static char **patterns;
static int n_patterns;
static const char *suite_now;
static int added;

int select_init(int argc, char **argv)
{
    int quiet = argc > 0 && strcmp(argv[0], "-q") == 0;
    patterns = argv + quiet;
    n_patterns = argc - quiet;
    return quiet;
}

static int named(const char *name)
{
    for (int i = 0; i < n_patterns; i++)
        if (fnmatch(patterns[i], name, 0) == 0)
            return 1;
    return 0;
}

void select_suite(const char *name)
{
    suite_now = name;
}

int select_count(void)
{
    return added;
}

void select_add(TCase *tc, const TTest *tt, int signal, int exit_value,
                int start, int end)
{
    /* Check's own entry point: the macros select.h redefines end here */
    if (n_patterns > 0 && !(suite_now && named(suite_now)) && !named(tt->name))
        return;
    _tcase_add_test(tc, tt, signal, exit_value, start, end);
    added++;
}
