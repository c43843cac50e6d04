#ifndef SG_CODES_H
#define SG_CODES_H
/* The codes of swiftgram's C ABI (swiftgram.h includes this file): defined here once. The
 * Swift core reads them through the CSupport module (SwiftgramCore/Codes.swift), the
 * Python shim through swiftgram.h, and Python from the shim (_core.DTYPE_CODES,
 * _core.PATH_STRATEGIES). Values are part of the ABI. */

/* Element types (NumPy dtypes; bfloat16 is ml_dtypes', stored as its 16 bits). */
enum {
    SG_BOOL = 0, SG_INT8, SG_INT16, SG_INT32, SG_INT64,
    SG_UINT8, SG_UINT16, SG_UINT32, SG_UINT64,
    SG_FLOAT16, SG_FLOAT32, SG_FLOAT64, SG_COMPLEX64, SG_COMPLEX128, SG_BFLOAT16
};

/* Error kinds, mapped to Python exceptions by the shim. */
enum { SG_OK = 0, SG_ERR_VALUE = 1, SG_ERR_TYPE = 2, SG_ERR_MEMORY = 3, SG_ERR_RUNTIME = 4 };

/* Path strategies for sg_plan_create. */
enum { SG_PATH_LEFT_TO_RIGHT = 0, SG_PATH_GREEDY = 1, SG_PATH_OPTIMAL = 2, SG_PATH_EXPLICIT = 3,
       SG_PATH_AUTO = 4 };
#endif
