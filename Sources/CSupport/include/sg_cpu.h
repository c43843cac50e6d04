#ifndef SG_CPU_H
#define SG_CPU_H
/* CPU feature checks for run-time ISA dispatch (Swift has no cpuid intrinsic). */
int sg_cpu_has_avx512(void);   /* AVX-512 F + VL + BW + DQ and OS support */
int sg_cpu_has_avx2_fma(void); /* AVX2 + FMA and OS support */
int sg_cpu_count(void);        /* online logical CPUs */
/* Engine thread count, shared by all calls; atomic because it may change mid-call. */
void sg_threads_set(int n);
int sg_threads_get(void);
#endif
