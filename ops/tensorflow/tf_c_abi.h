/* Our own declarations of the TensorFlow C functions the einsum op calls (TensorFlow's
 * tensorflow/c/{kernels.h, ops.h, tf_status.h, tf_tensor.h}; the shipped ops.h does not
 * compile as C). TensorFlow keeps this C API stable across releases. The functions live
 * in libtensorflow_framework, which `import tensorflow` has loaded before
 * tf.load_op_library loads the op: the op library does not link it. */
#ifndef SG_TF_C_ABI_H
#define SG_TF_C_ABI_H
#include <stddef.h>
#include <stdint.h>

typedef struct TF_Status TF_Status;
typedef struct TF_Tensor TF_Tensor;
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;

/* TF_DataType values. */
enum {
    SG_TF_FLOAT = 1, SG_TF_DOUBLE = 2, SG_TF_INT32 = 3, SG_TF_UINT8 = 4, SG_TF_INT16 = 5, SG_TF_INT8 = 6,
    SG_TF_COMPLEX64 = 8, SG_TF_INT64 = 9, SG_TF_BOOL = 10, SG_TF_BFLOAT16 = 14, SG_TF_UINT16 = 17,
    SG_TF_COMPLEX128 = 18, SG_TF_HALF = 19, SG_TF_UINT32 = 22, SG_TF_UINT64 = 23
};
/* TF_Code values (absl status codes). */
enum { SG_TF_OK = 0, SG_TF_INVALID_ARGUMENT = 3, SG_TF_RESOURCE_EXHAUSTED = 8, SG_TF_INTERNAL = 13 };

TF_Status *TF_NewStatus(void);
void TF_DeleteStatus(TF_Status *s);
void TF_SetStatus(TF_Status *s, int code, const char *msg);
int TF_GetCode(const TF_Status *s);
const char *TF_Message(const TF_Status *s);

TF_OpDefinitionBuilder *TF_NewOpDefinitionBuilder(const char *op_name);
void TF_OpDefinitionBuilderAddAttr(TF_OpDefinitionBuilder *builder, const char *attr_spec);
void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder *builder, const char *input_spec);
void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder *builder, const char *output_spec);
void TF_OpDefinitionBuilderSetShapeInferenceFunction(
    TF_OpDefinitionBuilder *builder, void (*fn)(TF_ShapeInferenceContext *ctx, TF_Status *status));
void TF_RegisterOpDefinition(TF_OpDefinitionBuilder *builder, TF_Status *status);
void TF_ShapeInferenceContextSetUnknownShape(TF_ShapeInferenceContext *ctx, TF_Status *status);

TF_KernelBuilder *TF_NewKernelBuilder(const char *op_name, const char *device_name,
                                      void *(*create)(TF_OpKernelConstruction *),
                                      void (*compute)(void *, TF_OpKernelContext *), void (*destroy)(void *));
void TF_RegisterKernelBuilder(const char *kernel_name, TF_KernelBuilder *builder, TF_Status *status);

void TF_OpKernelConstruction_GetAttrSize(TF_OpKernelConstruction *ctx, const char *attr_name, int32_t *list_size,
                                         int32_t *total_size, TF_Status *status);
void TF_OpKernelConstruction_GetAttrString(TF_OpKernelConstruction *ctx, const char *attr_name, char *val,
                                           size_t max_length, TF_Status *status);
void TF_OpKernelConstruction_GetAttrFloat(TF_OpKernelConstruction *ctx, const char *attr_name, float *val,
                                          TF_Status *status);
void TF_OpKernelConstruction_GetAttrBool(TF_OpKernelConstruction *ctx, const char *attr_name,
                                         unsigned char *val, TF_Status *status);
void TF_OpKernelConstruction_Failure(TF_OpKernelConstruction *ctx, TF_Status *status);

int TF_NumInputs(TF_OpKernelContext *ctx);
void TF_GetInput(TF_OpKernelContext *ctx, int i, TF_Tensor **tensor, TF_Status *status);
TF_Tensor *TF_AllocateOutput(TF_OpKernelContext *ctx, int index, int dtype, const int64_t *dims, int num_dims,
                             size_t len, TF_Status *status);
void TF_OpKernelContext_Failure(TF_OpKernelContext *ctx, TF_Status *status);

int TF_TensorType(const TF_Tensor *t);
int TF_NumDims(const TF_Tensor *t);
int64_t TF_Dim(const TF_Tensor *t, int dim_index);
void *TF_TensorData(const TF_Tensor *t);
size_t TF_DataTypeSize(int dtype);
void TF_DeleteTensor(TF_Tensor *t);
#endif
