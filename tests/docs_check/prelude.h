/* docs_check: what every documentation block is compiled after, unless it
 * begins with its own #include lines or is marked "alone"
 * (see tests/docs_check.sh). */
#include "tests/docs_check/std.h"
#include "include/curio.h"
