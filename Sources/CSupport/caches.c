/* Cache detection for the GEMM blocking (see sg_caches.h). */
#include "sg_caches.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static sg_cache_info info;
static char source[48];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Reads a sysfs value of cpu0's cache index `index`; 0 when absent. */
static int read_attr(int index, const char *attr, char *buf, size_t len) {
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, attr);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok;
}

/* "32K", "1024K", "2M", "65536": bytes; 0 if unreadable. */
static int64_t parse_size(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) return 0;
    switch (*end) {
    case 'K': case 'k': return v << 10;
    case 'M': case 'm': return v << 20;
    case 'G': case 'g': return v << 30;
    default: return v;
    }
}

/* CPUs in a list such as "0-1" or "0,2-5". */
static int count_cpus(const char *list) {
    int n = 0;
    for (const char *p = list; *p && *p != '\n';) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) break;
        if (*end == '-') b = strtol(end + 1, &end, 10);
        n += (int)(b - a + 1);
        p = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return n > 0 ? n : 1;
}

static int from_sysfs(void) {
    int found = 0;
    for (int index = 0; index < 16; index++) {
        char level[16], type[32], size[32], shared[256];
        if (!read_attr(index, "level", level, sizeof level) || !read_attr(index, "type", type, sizeof type) ||
            !read_attr(index, "size", size, sizeof size))
            continue;
        if (strncmp(type, "Instruction", 11) == 0) continue;
        int64_t bytes = parse_size(size);
        if (!bytes) continue;
        switch (atoi(level)) {
        case 1: info.l1d = bytes; found = 1; break;
        case 2: info.l2 = bytes; found = 1; break;
        case 3:
            info.l3 = bytes;
            info.l3_sharing = read_attr(index, "shared_cpu_list", shared, sizeof shared) ? count_cpus(shared) : 1;
            found = 1;
            break;
        }
    }
    return found;
}

/* CPUID's deterministic cache parameters: leaf 4 (Intel) or 0x8000001D (AMD). */
static int from_cpuid(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d, max_ext = __get_cpuid_max(0x80000000, NULL);
    unsigned leaf = 4;
    if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541 /* "Auth"enticAMD */) {
        if (max_ext < 0x8000001D) return 0;
        leaf = 0x8000001D;
    } else if (__get_cpuid_max(0, NULL) < 4) {
        return 0;
    }
    int found = 0;
    for (unsigned sub = 0; sub < 16; sub++) {
        __cpuid_count(leaf, sub, a, b, c, d);
        unsigned type = a & 31, level = (a >> 5) & 7;
        if (type == 0) break;
        if (type == 2) continue;  /* instruction cache */
        int64_t bytes = (int64_t)((b >> 22) + 1) * (((b >> 12) & 1023) + 1) * ((b & 4095) + 1) * ((int64_t)c + 1);
        if (level == 1) info.l1d = bytes;
        if (level == 2) info.l2 = bytes;
        if (level == 3) { info.l3 = bytes; info.l3_sharing = 1; }
        found = 1;
    }
    return found;
#else
    return 0;
#endif
}

/* SWIFTGRAM_CACHES="l1d=48K,l2=2M,l3=32M": any of them, in any order. */
static int from_environment(void) {
    const char *env = getenv("SWIFTGRAM_CACHES");
    if (!env) return 0;
    int found = 0;
    for (const char *p = env; *p;) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        if (!eq || (comma && comma < eq)) break;
        int64_t bytes = parse_size(eq + 1);
        size_t key = (size_t)(eq - p);
        if (bytes && key == 3 && strncmp(p, "l1d", 3) == 0) { info.l1d = bytes; found = 1; }
        if (bytes && key == 2 && strncmp(p, "l2", 2) == 0) { info.l2 = bytes; found = 1; }
        if (bytes && key == 2 && strncmp(p, "l3", 2) == 0) { info.l3 = bytes; found = 1; }
        if (!comma) break;
        p = comma + 1;
    }
    return found;
}

static void detect(void) {
    const char *how = from_sysfs() ? "sysfs" : from_cpuid() ? "cpuid" : "assumed";
    /* Levels nothing reported: common sizes of current server cores. */
    if (!info.l1d) info.l1d = 32 << 10;
    if (!info.l2) info.l2 = 512 << 10;
    if (!info.l3) info.l3 = info.l2 * 4;
    if (info.l3_sharing < 1) info.l3_sharing = 1;
    snprintf(source, sizeof source, "%s%s", how, from_environment() ? "+SWIFTGRAM_CACHES" : "");
    info.source = source;
}

const sg_cache_info *sg_caches(void) {
    pthread_once(&once, detect);
    return &info;
}
