/* What every framework op (XLA FFI handler, TensorFlow kernel) shares: run one einsum on
 * the framework's dense row-major buffers, in place, through a plan cached per subscripts
 * and shapes.
 *
 * Framework threads call ops concurrently and without the GIL; the cache is locked and a
 * plan evicted while another thread runs it is destroyed by the last user. */
#ifndef SG_OP_PLANS_H
#define SG_OP_PLANS_H
#include <stdint.h>

#include "swiftgram.h"

#define SG_OP_MAX_OPERANDS 32
#define SG_OP_MAX_RANK 64

typedef struct sg_op_plan sg_op_plan;

/* A plan for `subscripts` (len bytes, need not be NUL-terminated) on nops operands with
 * the given ranks and flattened shapes; NULL on error (kind in *kind, message in err).
 * Release it with sg_op_release. */
sg_op_plan *sg_op_acquire(const char *subscripts, int64_t len, int64_t nops, const int64_t *ndims,
                          const int64_t *shapes, int32_t *kind, char *err, int64_t errlen);
void sg_op_release(sg_op_plan *plan);

/* The plan's output rank and shape (shape[0..SG_OP_MAX_RANK)). */
int64_t sg_op_output_shape(const sg_op_plan *plan, int64_t *shape);

/* Runs the plan on contiguous row-major buffers (shapes as acquired); out has the given
 * rank and shape, which must be the plan's; parallel loops on executor (NULL: the core's
 * pool). Returns 0 or an SG_ERR_* kind. */
int32_t sg_op_run(const sg_op_plan *plan, const sg_executor *executor, int32_t dtype, const void *const *data,
                  void *out, const int64_t *out_shape, int64_t out_ndim, double alpha, char *err, int64_t errlen);
#endif
