/* torch's intra-op thread pool as the core's executor (sg_executor.h), for the torch op of
 * swiftgram.keras: the core's parallel loops run inside at::parallel_for, on the threads
 * torch's own operators use, instead of beside them on the core's pool (where torch's
 * spinning OpenMP workers hold the cores the core's helpers wait for).
 *
 * torch exports at::parallel_for as a plain C function of its stable ABI
 * (torch/csrc/stable/c/shim.h: torch_parallel_for); Python hands its address to
 * sg_torch_executor, so this library links no torch library. */
#include <stddef.h>
#include <stdint.h>

#include "swiftgram.h"

typedef int32_t (*parallel_for_fn)(int64_t begin, int64_t end, int64_t grain,
                                   void (*func)(int64_t begin, int64_t end, void *ctx), void *ctx);

typedef struct {
    void (*body)(void *data, int64_t i);
    void *data;
} range_body;

static void run_range(int64_t begin, int64_t end, void *ctx) {
    const range_body *r = ctx;
    for (int64_t i = begin; i < end; i++) r->body(r->data, i);
}

static int fork_join_on_torch(void *pool, int64_t n, void (*body)(void *data, int64_t i), void *data) {
    range_body r = {body, data};
    return ((parallel_for_fn)pool)(0, n, 1, run_range, &r) == 0 ? 0 : -1;
}

/* The core asks for as many bodies as its thread setting allows; at::parallel_for runs
 * them on at most torch's threads (several bodies on one thread run one after another,
 * the later ones finding no items left), so torch.set_num_threads is respected. */
static sg_executor executor = {NULL, fork_join_on_torch, NULL, INT32_MAX};

/* The executor over torch's pool, given the address of torch_parallel_for. */
__attribute__((visibility("default"))) const sg_executor *sg_torch_executor(void *parallel_for_address) {
    executor.pool = parallel_for_address;
    return &executor;
}
