/* Must not compile: a handler frame whose CO_CLIENT_HEADER is not first
 * (the server writes the header's members in place).
 * expect: a handler frame must begin with CO_CLIENT_HEADER
 */
#include "curio.h"

struct handler_frame { int n; CO_CLIENT_HEADER; };

static co_status handler(co_task *t, void *arg)
{
    struct handler_frame *f = arg;
    CO_BEGIN(t, f);
    CO_END;
}

int main(void)
{
    co_server_frame s = CO_TCP_SERVER_INIT("", 0, handler,
                                           struct handler_frame);
    return co_run(co_tcp_server, &s, sizeof s);
}
