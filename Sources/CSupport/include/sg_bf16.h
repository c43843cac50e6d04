#ifndef SG_BF16_H
#define SG_BF16_H
/* AVX512-BF16's dot product of bfloat16 pairs, for the micro-kernel Swift cannot reach
 * (it imports no __bf16 vector type). Each 32-bit lane of a and b holds two bfloat16
 * values (k, k+1 of one row or column); every lane of acc gains a.lo*b.lo + a.hi*b.hi,
 * products exact, sums rounded to nearest even in float32 (subnormal inputs and results
 * count as zero: vdpbf16ps). Called only from code compiled with AVX512-BF16 enabled
 * (KernelsAVX512BF16: always inlined, the k loop stays in registers) and run only where
 * the CPU has it (sg_cpu_has_avx512_bf16). */
#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
static inline __attribute__((always_inline, target("avx512f,avx512bf16"))) __m512 sg_dot_bf16_pairs(__m512 acc, __m512 a, __m512 b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}
#endif
#endif
