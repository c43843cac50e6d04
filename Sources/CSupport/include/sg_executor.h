#ifndef SG_EXECUTOR_H
#define SG_EXECUTOR_H
#include <stdint.h>
/* A framework's thread pool lent to the core for one call (sg_plan_execute_on; swiftgram.h
 * includes this file): the engine's parallel loops then run on the framework's threads
 * instead of the core's own pool, so two pools do not compete for the same cores.
 *
 * A pool offers one of two entries (the other NULL):
 * - schedule(pool, task, data) runs task(data) once on one of the pool's threads, soon;
 *   returns 0 if scheduled. The core never waits for a task to start: the calling thread
 *   works too, and items a late task would have taken, it takes itself; a task that
 *   starts after the loop ended returns at once. (XLA's FFI thread pool.)
 * - fork_join(pool, n, body, data) runs body(data, i) for i in [0, n) on the pool's
 *   threads, the calling thread among them, and returns when all have returned; 0 on
 *   success. Each body takes items until none are left. (torch's at::parallel_for.)
 * threads: how many threads the pool lends besides the calling thread. */
typedef struct sg_executor {
    int (*schedule)(void *pool, void (*task)(void *data), void *data);
    int (*fork_join)(void *pool, int64_t n, void (*body)(void *data, int64_t i), void *data);
    void *pool;
    int64_t threads;
} sg_executor;

/* The executor the calling thread's parallel loops use (NULL: the core's pool); returns
 * the previous one. The ABI sets it around one execution. */
const sg_executor *sg_pool_use_executor(const sg_executor *executor);
#endif
