#include "sg_cpu.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <unistd.h>

int sg_cpu_has_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int sg_cpu_has_avx512_bf16(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    /* CPUID leaf 7, sub-leaf 1: EAX bit 5 (the compiler's cpu model predates it). */
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!sg_cpu_has_avx512() || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return (eax >> 5) & 1;
#else
    return 0;
#endif
}

int sg_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int sg_cpu_count(void) {
    /* sysconf reads /sys on every call: ask once (a benign race: every thread gets the same answer). */
    static _Atomic int cached = 0;
    int n = cached;
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
        cached = n;
    }
    return n;
}

static _Atomic int sg_threads = 0; /* 0: not set, use all cores */

void sg_threads_set(int n) { sg_threads = n > 0 ? n : 0; }

int sg_threads_get(void) {
    int n = sg_threads;
    return n > 0 ? n : sg_cpu_count();
}
