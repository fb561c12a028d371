/* producer.h -- a task written in C, spawned from C++ (tests/cxx). */
#ifndef CXX_PRODUCER_H
#define CXX_PRODUCER_H

#include <curio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Puts 1..n into q, one per short sleep, then returns their sum. */
struct c_producer_frame {
    co_frame co;
    co_queue *q;
    int n, i, sum, rc;
};
co_status c_producer(co_task *t, void *arg);

#ifdef __cplusplus
}
#endif

#endif
