/* swiftgram C ABI: the only interface between the Python shim and the Swift core.
 *
 * Conventions: every function that can fail returns 0 on success or an error kind
 * (SG_ERR_*), and writes a NUL-terminated message into err[0..errlen). Nothing traps.
 * Shapes and strides are int64; strides are in elements, not bytes.
 */
#ifndef SWIFTGRAM_H
#define SWIFTGRAM_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types (SG_BOOL ... SG_COMPLEX128), error kinds (SG_OK, SG_ERR_*) and path
 * strategies (SG_PATH_*): defined once, in CSupport's sg_codes.h. */
#include "sg_codes.h"
/* sg_executor: a framework's thread pool lent for one call. */
#include "sg_executor.h"

/* Parses and plans `subscripts` for nops operands with the given ranks and (flattened)
 * shapes. For SG_PATH_EXPLICIT, `path` holds the path's tuples flattened, each tuple
 * preceded by its length; memory_limit < 0 means none. On success *plan receives an
 * opaque handle owned by the caller (sg_plan_destroy). */
int32_t sg_plan_create(const char *subscripts, int64_t nops, const int64_t *ndims,
                       const int64_t *shapes, int32_t strategy, const int64_t *path,
                       int64_t path_len, double memory_limit, void **plan,
                       char *err, int64_t errlen);
void sg_plan_destroy(void *plan);

/* Parses `subscripts` for operands of the given ranks: writes every operand axis' label
 * (flattened, sum of ndims entries) into in_labels, the output's into out_labels (cap 128),
 * its rank into *out_ndim. Labels: 0-51 letters ('A'-'Z', 'a'-'z'), 52+ broadcast dims.
 * With shapes (flattened; -1 for a dimension known only at run time, as in a framework's
 * static shapes), also writes each label's size into label_sizes[0..SG_MAX_LABELS): a
 * known size other than 1 if an operand has one, else -1 if any axis is unknown, else 1;
 * known sizes that disagree are an error, as in sg_plan_create. shapes and label_sizes
 * are both NULL or both given. */
#define SG_MAX_LABELS (52 + 64)
int32_t sg_parse(const char *subscripts, int64_t nops, const int64_t *ndims, const int64_t *shapes,
                 int64_t *in_labels, int64_t *out_labels, int64_t *out_ndim, int64_t *label_sizes,
                 char *err, int64_t errlen);

/* Number of operands, and the rank of operand k, the plan was made for. */
int64_t sg_plan_nops(const void *plan);
int64_t sg_plan_operand_ndim(const void *plan, int64_t k);
/* Output rank, then its shape into shape[0..ndim). */
int64_t sg_plan_output_ndim(const void *plan);
void sg_plan_output_shape(const void *plan, int64_t *shape);
/* 1 if the result is a view of the single operand (NumPy returns a view there). */
int32_t sg_plan_is_view(const void *plan);
/* 1 if the path's last step contracts two operands over a shared label (NumPy's optimize
 * path runs it as a matmul and assigns a 0-d result to out= whatever the casting rule). */
int32_t sg_plan_ends_in_shared_contraction(const void *plan);
/* For a view plan: output strides (elements) from the operand's strides. */
void sg_plan_view_strides(const void *plan, const int64_t *operand_strides, int64_t *out_strides);
/* For a new result under order='K': its axes, fastest first, into order[0..output ndim),
 * as numpy.einsum lays it out for operands with these strides (all operands' axes
 * together; bytes or elements, only their order within an operand matters). */
void sg_plan_output_order(const void *plan, const int64_t *operand_strides, int64_t *order);
/* The path in the same flattened form as sg_plan_create takes; returns the needed length
 * (writes at most cap entries). */
int64_t sg_plan_path(const void *plan, int64_t *out, int64_t cap);
/* NumPy-style einsum_path report; returns the needed length including the NUL. */
int64_t sg_plan_report(const void *plan, char *out, int64_t cap);

/* Runs the plan. Operand i has data[i], and its shape and element strides at the same
 * place in the flattened `shapes` / `strides` arrays (ranks as planned); the output has
 * out_shape / out_strides. Shapes must equal the planned ones (checked: a mismatch is an
 * error, never an out-of-bounds read). The output must not overlap any operand. alpha
 * scales the result (must be 1 for integer and bool dtypes). accumulate != 0 adds the
 * result to what out holds (out += alpha * result: partial sums of blocks), else it is
 * overwritten. Safe to call concurrently on one plan. */
int32_t sg_plan_execute(const void *plan, int32_t dtype, const void *const *data,
                        const int64_t *shapes, const int64_t *strides, void *out,
                        const int64_t *out_shape, const int64_t *out_strides,
                        double alpha, int32_t accumulate, char *err, int64_t errlen);

/* sg_plan_execute with the engine's parallel loops on a framework's thread pool (see
 * sg_executor.h; NULL: the core's own pool). For framework ops that are lent the
 * framework's intra-op threads, such as XLA's FFI handlers. */
int32_t sg_plan_execute_on(const sg_executor *executor, const void *plan, int32_t dtype,
                           const void *const *data, const int64_t *shapes, const int64_t *strides,
                           void *out, const int64_t *out_shape, const int64_t *out_strides,
                           double alpha, int32_t accumulate, char *err, int64_t errlen);

/* sg_plan_execute_on for operands of mixed dtypes: operand i holds elements of
 * operand_dtypes[i] (NULL: every operand holds `dtype`), which the core reads converted to
 * `dtype` (into a scratch copy, once per call) where sg_dtype_reads allows it; any other
 * pair is a type error. */
int32_t sg_plan_execute_typed(const sg_executor *executor, const void *plan, int32_t dtype,
                              const int32_t *operand_dtypes, const void *const *data,
                              const int64_t *shapes, const int64_t *strides, void *out,
                              const int64_t *out_shape, const int64_t *out_strides,
                              double alpha, int32_t accumulate, char *err, int64_t errlen);
/* 1 if the core reads operands of dtype `source` converted to `dtype`: every conversion
 * that keeps each value (integers rounded to the nearest float), except from uint64 and
 * from or into bfloat16; else 0. */
int32_t sg_dtype_reads(int32_t dtype, int32_t source);

/* Engine threads per call (n <= 0: all cores), and the micro-kernel ISA in use. */
void sg_set_num_threads(int64_t n);
int64_t sg_get_num_threads(void);
const char *sg_isa_name(void);
/* The configuration in use (ISA, threads, detected caches, blocking per type), as text;
 * returns the needed length including the NUL. */
int64_t sg_config_report(char *out, int64_t cap);

#ifdef __cplusplus
}
#endif
#endif
