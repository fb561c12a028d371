// main.cpp -- curio from C++: include <curio.h>, spawn a task written in C,
// and write coroutines in C++ with the same macros (labels backend, so a
// switch may hold an await).  Frames stay plain structs: spawn copies them.
#include <cstdint>
#include <cstdio>
#include <string>

#include <curio.h>
#include "producer.h"

namespace {

const int N = 5;

// A C++ child coroutine, awaited with CO_AWAIT_CALL: yields once, then
// returns twice its input.
struct twice_frame {
    co_frame co;
    int x;
};

co_status twice(co_task *t, void *arg)
{
    twice_frame *f = static_cast<twice_frame *>(arg);
    CO_BEGIN(t, f);
    CO_YIELD();
    CO_RETURN(2 * f->x);
    CO_END;
}

struct launch_frame {
    co_frame co;
    co_queue q;
    co_task *producer;
    twice_frame child;
    void *item;
    int got, odd, even, produced, doubled, rc;
};

co_status launch(co_task *t, void *arg)
{
    launch_frame *f = static_cast<launch_frame *>(arg);
    CO_BEGIN(t, f);
    if (co_queue_init(&f->q, CO_QUEUE_FIFO, 0) < 0)
        CO_RETURN(-1);
    {
        c_producer_frame pf = {};
        pf.q = &f->q;
        pf.n = N;
        if (CO_SPAWN(t, &f->producer, c_producer, pf) < 0)
            CO_RETURN(-2);
    }
    for (f->got = 0; f->got < N; f->got++) {
        CO_AWAIT(f->rc, co_queue_get(t, &f->q, &f->item));
        if (f->rc < 0)
            CO_RETURN(f->rc);
        switch (static_cast<int>(reinterpret_cast<std::intptr_t>(f->item)) % 2) {
        case 0:
            CO_YIELD();             // an await inside a switch: labels only
            f->even += static_cast<int>(reinterpret_cast<std::intptr_t>(f->item));
            break;
        default:
            f->odd += static_cast<int>(reinterpret_cast<std::intptr_t>(f->item));
            break;
        }
    }
    CO_AWAIT(f->rc, co_task_join(t, f->producer, &f->produced));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->child.x = f->odd + f->even;
    CO_AWAIT_CALL(f->doubled, twice, &f->child);
    // 1+2+3+4+5 = 15, doubled, from the consumer's side and the producer's
    CO_RETURN(f->doubled == 2 * f->produced ? f->doubled : -3);
    CO_FINALLY;
    co_queue_free(&f->q);
    CO_END;
}

} // namespace

int main()
{
    launch_frame frame = {};
    int rc = co_run(launch, &frame, sizeof frame);
    std::string who =
#if defined(__clang__)
        "clang++";
#elif defined(__GNUC__)
        "g++";
#else
        "C++";
#endif
    if (rc != 30) {
        std::fprintf(stderr, "tests/cxx (%s): expected 30, got %d (%s)\n",
                     who.c_str(), rc, co_strerror(rc));
        return 1;
    }
    std::printf("tests/cxx (%s, C++ %ld): a C task and C++ coroutines: ok\n",
                who.c_str(), static_cast<long>(__cplusplus));
    return 0;
}
