/* Our own declarations of the part of XLA's FFI C ABI (xla/ffi/api/c_api.h, API major
 * version 0) that the einsum handler uses: the call frame, buffers, attributes, error
 * creation and the metadata probe. XLA keeps this ABI stable: structs only grow at the
 * end and carry their size, so a handler built against these declarations runs in every
 * jaxlib of the same major version. Names are ours; layouts and values are XLA's. */
#ifndef SG_XLA_FFI_ABI_H
#define SG_XLA_FFI_ABI_H
#include <stddef.h>
#include <stdint.h>

#define SG_XLA_API_MAJOR 0
#define SG_XLA_API_MINOR 1  /* the oldest minor version with everything used here */

typedef struct sg_xla_extension {
    size_t struct_size;
    int32_t type;  /* 1: metadata probe */
    struct sg_xla_extension *next;
} sg_xla_extension;
#define SG_XLA_EXTENSION_METADATA 1

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    int major_version;
    int minor_version;
} sg_xla_api_version;

typedef struct {
    size_t struct_size;
    sg_xla_api_version api_version;
    uint32_t traits;
} sg_xla_metadata;

typedef struct {
    sg_xla_extension extension_base;
    sg_xla_metadata *metadata;
} sg_xla_metadata_extension;

typedef struct sg_xla_error sg_xla_error;  /* opaque */

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    const char *message;
    int32_t errc;  /* absl status codes: 3 invalid argument, 8 resource exhausted, 13 internal */
} sg_xla_error_create_args;

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    sg_xla_error *error;
} sg_xla_error_destroy_args;

/* The intra-op thread pool XLA lends its CPU handlers (ExecutionContext: opaque). */
typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    void *ctx;
    void (*task)(void *data);
    void *data;
} sg_xla_schedule_args;

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    void *ctx;
    int64_t *num_threads;
} sg_xla_num_threads_args;

/* XLA's function table, in XLA's order, up to the last entry used (the thread pool's);
 * a table whose struct_size does not reach an entry lacks it. */
typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    sg_xla_api_version api_version;
    const void *internal_api;
    sg_xla_error *(*error_create)(sg_xla_error_create_args *args);
    void *error_get_message;
    void (*error_destroy)(sg_xla_error_destroy_args *args);
    void *handler_register, *stream_get, *type_register, *execution_context_get, *state_set, *state_get;
    void *device_memory_allocate, *device_memory_free;
    sg_xla_error *(*thread_pool_schedule)(sg_xla_schedule_args *args);
    sg_xla_error *(*thread_pool_num_threads)(sg_xla_num_threads_args *args);
} sg_xla_api;

/* Element types (xla::PrimitiveType). */
enum {
    SG_XLA_PRED = 1, SG_XLA_S8 = 2, SG_XLA_S16 = 3, SG_XLA_S32 = 4, SG_XLA_S64 = 5,
    SG_XLA_U8 = 6, SG_XLA_U16 = 7, SG_XLA_U32 = 8, SG_XLA_U64 = 9,
    SG_XLA_F16 = 10, SG_XLA_F32 = 11, SG_XLA_F64 = 12, SG_XLA_C64 = 15, SG_XLA_BF16 = 16, SG_XLA_C128 = 18
};

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    int32_t dtype;
    void *data;
    int64_t rank;
    int64_t *dims;
} sg_xla_buffer;

typedef struct { const char *ptr; size_t len; } sg_xla_bytes;
typedef struct { int32_t dtype; void *value; } sg_xla_scalar;

enum { SG_XLA_ATTR_ARRAY = 1, SG_XLA_ATTR_DICTIONARY = 2, SG_XLA_ATTR_SCALAR = 3, SG_XLA_ATTR_STRING = 4 };
enum { SG_XLA_ARG_BUFFER = 1 };

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    int64_t size;
    int32_t *types;
    void **items;
} sg_xla_list;  /* XLA_FFI_Args and XLA_FFI_Rets share this layout */

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    int64_t size;
    int32_t *types;
    sg_xla_bytes **names;
    void **attrs;
} sg_xla_attrs;

typedef struct {
    size_t struct_size;
    sg_xla_extension *extension_start;
    const sg_xla_api *api;
    void *ctx;
    int32_t stage;
    sg_xla_list args;
    sg_xla_list rets;
    sg_xla_attrs attrs;
} sg_xla_call_frame;

#define SG_XLA_STRUCT_SIZE(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
#endif
