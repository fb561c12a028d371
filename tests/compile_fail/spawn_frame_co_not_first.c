/* Must not compile: CO_SPAWN's frame does not begin with its co_frame (the
 * kernel resets a frame's first bytes when it spawns it).
 * expect: first member must be its `co_frame co`
 */
#include "curio.h"

struct bad { int n; co_frame co; };
struct good { co_frame co; };

static co_status child(co_task *t, void *arg)
{
    struct bad *f = arg;
    CO_BEGIN(t, f);
    CO_END;
}

static co_status parent(co_task *t, void *arg)
{
    struct good *f = arg;
    struct bad b = { 0 };
    CO_BEGIN(t, f);
    CO_SPAWN(t, NULL, child, b);
    CO_END;
}

int main(void)
{
    struct good g = { 0 };
    return co_run(parent, &g, sizeof g);
}
