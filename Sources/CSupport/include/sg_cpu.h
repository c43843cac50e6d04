#ifndef SG_CPU_H
#define SG_CPU_H
#include <stdint.h>
/* What Swift cannot express portably: CPU feature checks for run-time ISA dispatch, the
 * atomic thread count, and the worker thread pool. */
int sg_cpu_has_avx512(void);   /* AVX-512 F + VL + BW + DQ and OS support */
int sg_cpu_has_avx2_fma(void); /* AVX2 + FMA and OS support */
int sg_cpu_has_avx512_bf16(void); /* the above AVX-512 and AVX512-BF16 (vdpbf16ps) */
int sg_cpu_count(void);        /* online logical CPUs */
/* Engine thread count, shared by all calls; atomic because it may change mid-call. */
void sg_threads_set(int n);
int sg_threads_get(void);

/* Runs fn(ctx, i, worker) for i in [0, n) on up to `threads` threads (the caller is worker
 * 0, helpers 1...threads-1; items are handed out dynamically), and returns when all are
 * done. See pool.c. */
typedef void (*sg_pool_fn)(void *ctx, int64_t i, int worker);
void sg_parallel_for(int64_t n, int threads, sg_pool_fn fn, void *ctx);

/* A lock over one word (0 free), for critical sections of a few instructions between the
 * threads of one job: it spins, and yields the CPU while a holder that was descheduled
 * (a co-tenant's thread took its CPU) keeps it. */
void sg_spin_lock(int64_t *word);
void sg_spin_unlock(int64_t *word);

/* A software prefetch of the cache line holding p into all levels (packing reads operands
 * with strides the hardware prefetcher does not run ahead of). */
static inline void sg_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
