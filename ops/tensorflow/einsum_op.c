/* The TensorFlow op SwiftgramEinsum, registered when tf.load_op_library loads this
 * library: one einsum on TensorFlow's tensors, read in place, into an output TensorFlow
 * allocates. No Python runs in the graph, so graphs holding it can be saved, exported and
 * served by any process that loads this library.
 *
 *   y = SwiftgramEinsum(xs: N * T, subscripts: string, alpha: string, pair: bool)
 *
 * alpha is the result's scale as decimal text (TensorFlow's float attributes are float32;
 * text keeps a float64 scale exact). pair: the single operand is both operands of a
 * two-term einsum. The output's shape is unknown to TensorFlow's shape inference (its C
 * API cannot read string attributes); swiftgram.keras sets it from the core's answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_plans.h"
#include "swiftgram.h"
#include "tf_c_abi.h"

typedef struct {
    char *subscripts;
    double alpha;
    int pair;
} op_state;

static int32_t sg_dtype(int tf) {
    switch (tf) {
    case SG_TF_BOOL: return SG_BOOL;
    case SG_TF_INT8: return SG_INT8;
    case SG_TF_INT16: return SG_INT16;
    case SG_TF_INT32: return SG_INT32;
    case SG_TF_INT64: return SG_INT64;
    case SG_TF_UINT8: return SG_UINT8;
    case SG_TF_UINT16: return SG_UINT16;
    case SG_TF_UINT32: return SG_UINT32;
    case SG_TF_UINT64: return SG_UINT64;
    case SG_TF_HALF: return SG_FLOAT16;
    case SG_TF_FLOAT: return SG_FLOAT32;
    case SG_TF_DOUBLE: return SG_FLOAT64;
    case SG_TF_COMPLEX64: return SG_COMPLEX64;
    case SG_TF_COMPLEX128: return SG_COMPLEX128;
    case SG_TF_BFLOAT16: return SG_BFLOAT16;
    default: return -1;
    }
}

static char *string_attr(TF_OpKernelConstruction *ctx, const char *name, TF_Status *status) {
    int32_t list_size, total_size;
    TF_OpKernelConstruction_GetAttrSize(ctx, name, &list_size, &total_size, status);
    if (TF_GetCode(status) != SG_TF_OK) return NULL;
    char *text = malloc((size_t)total_size + 1);
    if (!text) return NULL;
    TF_OpKernelConstruction_GetAttrString(ctx, name, text, (size_t)total_size, status);
    text[total_size] = 0;
    return text;
}

static void *create(TF_OpKernelConstruction *ctx) {
    TF_Status *status = TF_NewStatus();
    op_state *state = calloc(1, sizeof *state);
    char *alpha = NULL;
    unsigned char pair = 0;
    if (state) state->subscripts = string_attr(ctx, "subscripts", status);
    if (state && state->subscripts) alpha = string_attr(ctx, "alpha", status);
    if (alpha) TF_OpKernelConstruction_GetAttrBool(ctx, "pair", &pair, status);
    if (TF_GetCode(status) == SG_TF_OK && (!state || !state->subscripts || !alpha))
        TF_SetStatus(status, SG_TF_RESOURCE_EXHAUSTED, "SwiftgramEinsum: out of memory");
    if (TF_GetCode(status) == SG_TF_OK) {
        char *end;
        state->alpha = strtod(alpha, &end);
        state->pair = pair != 0;
        if (end == alpha || *end) TF_SetStatus(status, SG_TF_INVALID_ARGUMENT, "SwiftgramEinsum: alpha is no number");
    }
    free(alpha);
    if (TF_GetCode(status) != SG_TF_OK) TF_OpKernelConstruction_Failure(ctx, status);
    TF_DeleteStatus(status);
    return state;
}

static void destroy(void *p) {
    op_state *state = p;
    if (state) free(state->subscripts);
    free(state);
}

static void compute(void *p, TF_OpKernelContext *ctx) {
    const op_state *state = p;
    TF_Status *status = TF_NewStatus();
    TF_Tensor *inputs[SG_OP_MAX_OPERANDS] = {0};
    int nargs = TF_NumInputs(ctx);
    int64_t nops = state->pair ? 2 : nargs;
    char err[512] = "";
    int32_t kind = SG_OK;
    if (nargs < 1 || nops > SG_OP_MAX_OPERANDS || (state->pair && nargs != 1)) {
        kind = SG_ERR_VALUE;
        snprintf(err, sizeof err, "SwiftgramEinsum: %d operands (pair=%d)", nargs, state->pair);
    }
    int64_t ranks[SG_OP_MAX_OPERANDS], shapes[SG_OP_MAX_OPERANDS * SG_OP_MAX_RANK];
    const void *data[SG_OP_MAX_OPERANDS];
    for (int i = 0; kind == SG_OK && i < nargs; i++) {
        TF_GetInput(ctx, i, &inputs[i], status);
        if (TF_GetCode(status) != SG_TF_OK) {
            kind = SG_ERR_RUNTIME;
            snprintf(err, sizeof err, "%s", TF_Message(status));
        } else if (TF_NumDims(inputs[i]) > SG_OP_MAX_RANK) {
            kind = SG_ERR_VALUE;
            snprintf(err, sizeof err, "SwiftgramEinsum: operand %d has rank above %d", i, SG_OP_MAX_RANK);
        }
    }
    int tf_dtype = kind == SG_OK ? TF_TensorType(inputs[0]) : 0;
    int32_t dtype = sg_dtype(tf_dtype);
    if (kind == SG_OK && dtype < 0) {
        kind = SG_ERR_TYPE;
        snprintf(err, sizeof err, "SwiftgramEinsum: unsupported dtype %d", tf_dtype);
    }
    for (int64_t k = 0, at = 0; kind == SG_OK && k < nops; k++) {
        TF_Tensor *t = inputs[state->pair ? 0 : k];
        ranks[k] = TF_NumDims(t);
        for (int d = 0; d < ranks[k]; d++) shapes[at++] = TF_Dim(t, d);
        data[k] = TF_TensorData(t);
    }
    sg_op_plan *plan = NULL;
    if (kind == SG_OK)
        plan = sg_op_acquire(state->subscripts, (int64_t)strlen(state->subscripts), nops, ranks, shapes, &kind, err,
                             sizeof err);
    if (plan) {
        int64_t out_shape[SG_OP_MAX_RANK];
        int64_t out_ndim = sg_op_output_shape(plan, out_shape);
        size_t bytes = TF_DataTypeSize(tf_dtype);
        for (int64_t d = 0; d < out_ndim; d++) bytes *= (size_t)out_shape[d];
        TF_Tensor *out = TF_AllocateOutput(ctx, 0, tf_dtype, out_shape, (int)out_ndim, bytes, status);
        if (TF_GetCode(status) != SG_TF_OK) {
            kind = SG_ERR_MEMORY;
            snprintf(err, sizeof err, "%s", TF_Message(status));
        } else {
            kind = sg_op_run(plan, NULL, dtype, data, TF_TensorData(out), out_shape, out_ndim, state->alpha, err,
                             sizeof err);
        }
        if (out) TF_DeleteTensor(out);
        sg_op_release(plan);
    }
    for (int i = 0; i < nargs && i < SG_OP_MAX_OPERANDS; i++)
        if (inputs[i]) TF_DeleteTensor(inputs[i]);
    if (kind != SG_OK) {
        TF_SetStatus(status, kind == SG_ERR_MEMORY ? SG_TF_RESOURCE_EXHAUSTED : SG_TF_INVALID_ARGUMENT, err);
        TF_OpKernelContext_Failure(ctx, status);
    }
    TF_DeleteStatus(status);
}

static void unknown_shape(TF_ShapeInferenceContext *ctx, TF_Status *status) {
    TF_ShapeInferenceContextSetUnknownShape(ctx, status);
}

/* Registration when the library is loaded. */
__attribute__((constructor)) static void register_op(void) {
    TF_Status *status = TF_NewStatus();
    TF_OpDefinitionBuilder *op = TF_NewOpDefinitionBuilder("SwiftgramEinsum");
    TF_OpDefinitionBuilderAddAttr(op, "subscripts: string");
    TF_OpDefinitionBuilderAddAttr(op, "alpha: string = '1.0'");
    TF_OpDefinitionBuilderAddAttr(op, "pair: bool = false");
    TF_OpDefinitionBuilderAddAttr(op, "N: int >= 1");
    TF_OpDefinitionBuilderAddAttr(op, "T: {bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, half, "
                                      "bfloat16, float, double, complex64, complex128}");
    TF_OpDefinitionBuilderAddInput(op, "xs: N * T");
    TF_OpDefinitionBuilderAddOutput(op, "y: T");
    TF_OpDefinitionBuilderSetShapeInferenceFunction(op, unknown_shape);
    TF_RegisterOpDefinition(op, status);
    if (TF_GetCode(status) == SG_TF_OK) {
        TF_KernelBuilder *kernel = TF_NewKernelBuilder("SwiftgramEinsum", "CPU", create, compute, destroy);
        TF_RegisterKernelBuilder("SwiftgramEinsum", kernel, status);
    }
    if (TF_GetCode(status) != SG_TF_OK)
        fprintf(stderr, "swiftgram: registering the TensorFlow op failed: %s\n", TF_Message(status));
    TF_DeleteStatus(status);
}
