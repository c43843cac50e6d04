/* Plan cache and dense runs for the framework ops (contract in op_plans.h). */
#include "op_plans.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftgram.h"

#define CACHE_SIZE 64  /* distinct (subscripts, shapes) of a model: a few per layer */

struct sg_op_plan {
    void *core;
    int64_t nops;
    int64_t ndims[SG_OP_MAX_OPERANDS];
    int64_t *shapes;   /* flattened, inside key */
    unsigned char *key;
    size_t keylen;
    int refs;          /* the cache's reference counts as one while cached */
    uint64_t used;     /* last use, for eviction */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sg_op_plan *cache[CACHE_SIZE];
static uint64_t clock_ticks;

static void drop(sg_op_plan *p) {  /* with lock held */
    if (--p->refs == 0) {
        sg_plan_destroy(p->core);
        free(p->key);
        free(p);
    }
}

/* Key: nops, ranks, shapes (int64 each), then the subscripts' bytes. */
static unsigned char *make_key(const char *subscripts, int64_t len, int64_t nops, const int64_t *ndims,
                               const int64_t *shapes, int64_t total, size_t *keylen) {
    size_t words = (size_t)(1 + nops + total);
    *keylen = words * sizeof(int64_t) + (size_t)len;
    unsigned char *key = malloc(*keylen);
    if (!key) return NULL;
    int64_t *w = (int64_t *)key;
    w[0] = nops;
    memcpy(w + 1, ndims, (size_t)nops * sizeof(int64_t));
    memcpy(w + 1 + nops, shapes, (size_t)total * sizeof(int64_t));
    memcpy(key + words * sizeof(int64_t), subscripts, (size_t)len);
    return key;
}

sg_op_plan *sg_op_acquire(const char *subscripts, int64_t len, int64_t nops, const int64_t *ndims,
                          const int64_t *shapes, int32_t *kind, char *err, int64_t errlen) {
    if (nops < 1 || nops > SG_OP_MAX_OPERANDS) {
        *kind = SG_ERR_VALUE;
        snprintf(err, (size_t)errlen, "einsum: %lld operands; the framework op takes 1 to %d",
                 (long long)nops, SG_OP_MAX_OPERANDS);
        return NULL;
    }
    int64_t total = 0;
    for (int64_t k = 0; k < nops; k++) {
        if (ndims[k] < 0 || ndims[k] > SG_OP_MAX_RANK) {
            *kind = SG_ERR_VALUE;
            snprintf(err, (size_t)errlen, "einsum: operand %lld has rank %lld, above %d", (long long)k,
                     (long long)ndims[k], SG_OP_MAX_RANK);
            return NULL;
        }
        total += ndims[k];
    }
    size_t keylen;
    unsigned char *key = make_key(subscripts, len, nops, ndims, shapes, total, &keylen);
    if (!key) {
        *kind = SG_ERR_MEMORY;
        snprintf(err, (size_t)errlen, "einsum: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&lock);
    for (int i = 0; i < CACHE_SIZE; i++) {
        sg_op_plan *p = cache[i];
        if (p && p->keylen == keylen && memcmp(p->key, key, keylen) == 0) {
            p->refs++;
            p->used = ++clock_ticks;
            pthread_mutex_unlock(&lock);
            free(key);
            return p;
        }
    }
    pthread_mutex_unlock(&lock);

    /* Planned outside the lock: planning many operands can take a while. */
    sg_op_plan *p = calloc(1, sizeof *p);
    char *text = malloc((size_t)len + 1);
    if (!p || !text) {
        free(p);
        free(text);
        free(key);
        *kind = SG_ERR_MEMORY;
        snprintf(err, (size_t)errlen, "einsum: out of memory");
        return NULL;
    }
    memcpy(text, subscripts, (size_t)len);
    text[len] = 0;
    *kind = sg_plan_create(text, nops, ndims, shapes, SG_PATH_AUTO, NULL, 0, -1.0, &p->core, err, errlen);
    free(text);
    if (*kind != SG_OK) {
        free(p);
        free(key);
        return NULL;
    }
    p->nops = nops;
    memcpy(p->ndims, ndims, (size_t)nops * sizeof(int64_t));
    p->key = key;
    p->keylen = keylen;
    p->shapes = (int64_t *)key + 1 + nops;
    p->refs = 2;  /* the caller's and the cache's */

    pthread_mutex_lock(&lock);
    p->used = ++clock_ticks;
    int slot = 0;
    for (int i = 0; i < CACHE_SIZE; i++) {
        if (!cache[i]) { slot = i; break; }
        if (cache[i]->used < cache[slot]->used) slot = i;
    }
    if (cache[slot]) drop(cache[slot]);
    cache[slot] = p;
    pthread_mutex_unlock(&lock);
    return p;
}

void sg_op_release(sg_op_plan *plan) {
    if (!plan) return;
    pthread_mutex_lock(&lock);
    drop(plan);
    pthread_mutex_unlock(&lock);
}

int64_t sg_op_output_shape(const sg_op_plan *plan, int64_t *shape) {
    int64_t n = sg_plan_output_ndim(plan->core);
    if (n <= SG_OP_MAX_RANK) sg_plan_output_shape(plan->core, shape);
    return n;
}

/* Row-major element strides of a shape. */
static void dense_strides(const int64_t *shape, int64_t ndim, int64_t *strides) {
    int64_t s = 1;
    for (int64_t i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

int32_t sg_op_run(const sg_op_plan *plan, const sg_executor *executor, int32_t dtype, const void *const *data,
                  void *out, const int64_t *out_shape, int64_t out_ndim, double alpha, char *err, int64_t errlen) {
    int64_t strides[SG_OP_MAX_OPERANDS * SG_OP_MAX_RANK];
    int64_t out_strides[SG_OP_MAX_RANK];
    if (out_ndim < 0 || out_ndim > SG_OP_MAX_RANK) {
        snprintf(err, (size_t)errlen, "einsum: result rank %lld above %d", (long long)out_ndim, SG_OP_MAX_RANK);
        return SG_ERR_VALUE;
    }
    for (int64_t k = 0, at = 0; k < plan->nops; at += plan->ndims[k], k++)
        dense_strides(plan->shapes + at, plan->ndims[k], strides + at);
    dense_strides(out_shape, out_ndim, out_strides);
    return sg_plan_execute_on(executor, plan->core, dtype, data, plan->shapes, strides, out, out_shape, out_strides,
                              alpha, 0, err, errlen);
}
