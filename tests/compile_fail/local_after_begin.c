/* Must not compile with gcc's -Wjump-misses-init (the build's flags): a
 * local declared after CO_BEGIN holds garbage after an await.
 * expect: [-Werror=jump-misses-init]
 */
#include "curio.h"

struct frame { co_frame co; int rc; };

static co_status body(co_task *t, void *arg)
{
    struct frame *f = arg;
    CO_BEGIN(t, f);
    int n = 42;
    CO_AWAIT(f->rc, co_sleep(t, 0.001));
    CO_RETURN(n);
    CO_END;
}

int main(void)
{
    struct frame f = { 0 };
    return co_run(body, &f, sizeof f) != 42;
}
