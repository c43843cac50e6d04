#ifndef SG_CACHES_H
#define SG_CACHES_H
#include <stdint.h>
/* The data caches blocking is derived from, detected once: sysfs where Linux exposes it,
 * else CPUID (x86), else assumed sizes. SWIFTGRAM_CACHES overrides any of them for
 * experiments, e.g. "l1d=48K,l2=2M,l3=32M". Sizes in bytes; l3_sharing is how many of the
 * CPUs this process sees share the L3 (a VM sees only its own). */
typedef struct {
    int64_t l1d, l2, l3;
    int32_t l3_sharing;
    const char *source; /* "sysfs", "cpuid", "assumed"; "+SWIFTGRAM_CACHES" when overridden */
} sg_cache_info;

const sg_cache_info *sg_caches(void);
#endif
