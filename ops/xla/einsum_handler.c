/* The XLA FFI handler `sg_xla_einsum`: one einsum on XLA's own buffers, in place, inside
 * a jitted program (registered by swiftgram.keras' JAX backend as the custom call target
 * "swiftgram_einsum").
 *
 * Operands: n buffers of one dtype; result: one buffer of that dtype. Attributes:
 * subscripts (explicit: every term, "->" and the output, letters only), alpha (float,
 * scales the result), pair (int: 1 means the single operand is both operands of a
 * two-term einsum). Under jax.vmap (vmap_method="expand_dims") operands and result carry
 * extra leading axes, size 1 where unbatched: they become a leading "..." in each term,
 * so one call computes the whole batch.
 *
 * The core's parallel loops run on the intra-op thread pool XLA lends its handlers
 * (sg_plan_execute_on), not on the core's own: no second pool competes with XLA's
 * threads for the same cores. */
#include <stdio.h>
#include <string.h>

#include "op_plans.h"
#include "swiftgram.h"
#include "xla_ffi_abi.h"

#define MAX_SUBSCRIPTS 1024

static sg_xla_error *fail(const sg_xla_call_frame *frame, int32_t errc, const char *message) {
    sg_xla_error_create_args args = {SG_XLA_STRUCT_SIZE(sg_xla_error_create_args, errc), NULL, message, errc};
    return frame->api->error_create(&args);
}

static int32_t sg_dtype(int32_t xla) {
    switch (xla) {
    case SG_XLA_PRED: return SG_BOOL;
    case SG_XLA_S8: return SG_INT8;
    case SG_XLA_S16: return SG_INT16;
    case SG_XLA_S32: return SG_INT32;
    case SG_XLA_S64: return SG_INT64;
    case SG_XLA_U8: return SG_UINT8;
    case SG_XLA_U16: return SG_UINT16;
    case SG_XLA_U32: return SG_UINT32;
    case SG_XLA_U64: return SG_UINT64;
    case SG_XLA_F16: return SG_FLOAT16;
    case SG_XLA_F32: return SG_FLOAT32;
    case SG_XLA_F64: return SG_FLOAT64;
    case SG_XLA_C64: return SG_COMPLEX64;
    case SG_XLA_C128: return SG_COMPLEX128;
    case SG_XLA_BF16: return SG_BFLOAT16;
    default: return -1;
    }
}

static int scalar_as_double(const sg_xla_scalar *s, double *out) {
    switch (s->dtype) {
    case SG_XLA_F64: *out = *(const double *)s->value; return 1;
    case SG_XLA_F32: *out = *(const float *)s->value; return 1;
    case SG_XLA_S64: *out = (double)*(const int64_t *)s->value; return 1;
    case SG_XLA_S32: *out = *(const int32_t *)s->value; return 1;
    case SG_XLA_PRED: case SG_XLA_S8: case SG_XLA_U8: *out = *(const uint8_t *)s->value; return 1;
    default: return 0;
    }
}

/* The subscripts with a leading "..." in each term whose buffer has more axes than the
 * term has letters (vmap's batch axes); false if they do not fit. */
static int with_batch_axes(const sg_xla_bytes *given, const int64_t *ranks, int64_t nops, int64_t out_rank,
                           char *text, size_t cap, size_t *len) {
    size_t n = 0;
    int64_t term = 0, letters = 0;
    int start = 1;
    for (size_t i = 0; i <= given->len; i++) {
        char c = i < given->len ? given->ptr[i] : 0;
        if (start) {
            /* Count this term's letters, then write its prefix. */
            letters = 0;
            for (size_t j = i; j < given->len && given->ptr[j] != ',' && given->ptr[j] != '-'; j++) letters++;
            int64_t rank = term < nops ? ranks[term] : out_rank;
            if (rank > letters) {
                if (n + 3 >= cap) return 0;
                memcpy(text + n, "...", 3);
                n += 3;
            }
            start = 0;
        }
        if (!c) break;
        if (n + 1 >= cap) return 0;
        text[n++] = c;
        if (c == ',' || c == '>') {
            term = c == ',' ? term + 1 : nops;
            start = 1;
        }
    }
    *len = n;
    return 1;
}

/* XLA's thread pool as the core's executor. */
static int schedule_on_xla(void *pool, void (*task)(void *), void *data) {
    const sg_xla_call_frame *frame = pool;
    sg_xla_schedule_args args = {SG_XLA_STRUCT_SIZE(sg_xla_schedule_args, data), NULL, frame->ctx, task, data};
    sg_xla_error *error = frame->api->thread_pool_schedule(&args);
    if (!error) return 0;
    sg_xla_error_destroy_args destroy = {SG_XLA_STRUCT_SIZE(sg_xla_error_destroy_args, error), NULL, error};
    frame->api->error_destroy(&destroy);
    return -1;
}

/* The pool's size, or 0 where XLA lends none (the core's own pool is used then). */
static int64_t xla_threads(const sg_xla_call_frame *frame) {
    if (frame->api->struct_size < SG_XLA_STRUCT_SIZE(sg_xla_api, thread_pool_num_threads)) return 0;
    int64_t n = 0;
    sg_xla_num_threads_args args = {SG_XLA_STRUCT_SIZE(sg_xla_num_threads_args, num_threads), NULL, frame->ctx, &n};
    sg_xla_error *error = frame->api->thread_pool_num_threads(&args);
    if (error) {
        sg_xla_error_destroy_args destroy = {SG_XLA_STRUCT_SIZE(sg_xla_error_destroy_args, error), NULL, error};
        frame->api->error_destroy(&destroy);
        return 0;
    }
    return n;
}

__attribute__((visibility("default"))) sg_xla_error *sg_xla_einsum(sg_xla_call_frame *frame) {
    sg_xla_extension *ext = frame->extension_start;
    if (ext && ext->type == SG_XLA_EXTENSION_METADATA) {
        /* XLA's probe at registration: the API version we were built for. */
        sg_xla_metadata_extension *meta = (sg_xla_metadata_extension *)ext;
        if (meta->metadata->struct_size < SG_XLA_STRUCT_SIZE(sg_xla_metadata, traits))
            return fail(frame, 3, "swiftgram_einsum: XLA's metadata struct is older than this handler");
        meta->metadata->api_version = (sg_xla_api_version){SG_XLA_STRUCT_SIZE(sg_xla_api_version, minor_version),
                                                           NULL, SG_XLA_API_MAJOR, SG_XLA_API_MINOR};
        meta->metadata->traits = 0;
        return NULL;
    }
    const sg_xla_bytes *given = NULL;
    double alpha = 1.0, pair = 0.0;
    for (int64_t i = 0; i < frame->attrs.size; i++) {
        const sg_xla_bytes *name = frame->attrs.names[i];
        int32_t type = frame->attrs.types[i];
        if (name->len == 10 && !memcmp(name->ptr, "subscripts", 10) && type == SG_XLA_ATTR_STRING)
            given = frame->attrs.attrs[i];
        else if (name->len == 5 && !memcmp(name->ptr, "alpha", 5) && type == SG_XLA_ATTR_SCALAR) {
            if (!scalar_as_double(frame->attrs.attrs[i], &alpha))
                return fail(frame, 3, "swiftgram_einsum: alpha must be a float scalar");
        } else if (name->len == 4 && !memcmp(name->ptr, "pair", 4) && type == SG_XLA_ATTR_SCALAR) {
            if (!scalar_as_double(frame->attrs.attrs[i], &pair))
                return fail(frame, 3, "swiftgram_einsum: pair must be an integer scalar");
        }
    }
    if (!given) return fail(frame, 3, "swiftgram_einsum: the subscripts attribute is missing");
    int64_t nargs = frame->args.size;
    int64_t nops = pair != 0.0 ? 2 : nargs;
    if (nargs < 1 || nops > SG_OP_MAX_OPERANDS || (pair != 0.0 && nargs != 1) || frame->rets.size != 1)
        return fail(frame, 3, "swiftgram_einsum: wrong number of operands or results");

    const sg_xla_buffer *out = frame->rets.items[0];
    int64_t ranks[SG_OP_MAX_OPERANDS];
    int64_t shapes[SG_OP_MAX_OPERANDS * SG_OP_MAX_RANK];
    const void *data[SG_OP_MAX_OPERANDS];
    int64_t at = 0;
    for (int64_t k = 0; k < nops; k++) {
        const sg_xla_buffer *b = frame->args.items[pair != 0.0 ? 0 : k];
        if (frame->args.types[pair != 0.0 ? 0 : k] != SG_XLA_ARG_BUFFER || b->rank > SG_OP_MAX_RANK)
            return fail(frame, 3, "swiftgram_einsum: an operand is no buffer, or of too high a rank");
        if (b->dtype != out->dtype) return fail(frame, 3, "swiftgram_einsum: operands and result differ in dtype");
        ranks[k] = b->rank;
        memcpy(shapes + at, b->dims, (size_t)b->rank * sizeof(int64_t));
        at += b->rank;
        data[k] = b->data;
    }
    int32_t dtype = sg_dtype(out->dtype);
    if (dtype < 0) return fail(frame, 3, "swiftgram_einsum: unsupported dtype");

    char text[MAX_SUBSCRIPTS];
    size_t len;
    if (!with_batch_axes(given, ranks, nops, out->rank, text, sizeof text, &len))
        return fail(frame, 3, "swiftgram_einsum: subscripts too long");
    char err[512];
    int32_t kind;
    sg_op_plan *plan = sg_op_acquire(text, (int64_t)len, nops, ranks, shapes, &kind, err, sizeof err);
    if (!plan) return fail(frame, kind == SG_ERR_MEMORY ? 8 : 3, err);
    sg_executor xla = {schedule_on_xla, NULL, frame, xla_threads(frame)};
    kind = sg_op_run(plan, xla.threads > 0 ? &xla : NULL, dtype, data, out->data, out->dims, out->rank, alpha, err,
                     sizeof err);
    sg_op_release(plan);
    return kind == SG_OK ? NULL : fail(frame, kind == SG_ERR_MEMORY ? 8 : 3, err);
}
