/* The C extension shim's private declarations, shared by its files:
 *   module.c    the module, its method table, threads and ISA
 *   plans.c     plans (the core's parse/plan/report) and execute from buffers
 *   fastpath.c  the call fast path for signatures seen before
 *   memory.c    result memory: 64-byte aligned blocks, kept for reuse
 * Everything crosses into the Swift core through swiftgram.h alone. */
#ifndef SWIFTGRAM_SHIM_H
#define SWIFTGRAM_SHIM_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
/* One NumPy C-API table for all files; module.c imports it. */
#define PY_ARRAY_UNIQUE_SYMBOL swiftgram_ARRAY_API
#ifndef SWIFTGRAM_SHIM_MODULE
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
#include "swiftgram.h"

#define ERRLEN 1024
#define MAX_OPERANDS 1024
#define PLAN_NAME "swiftgram.plan"

/* plans.c: errors, plan capsules, int sequences, and the plan API's methods */
PyObject *raise_sg(int32_t code, const char *msg);
void plan_destructor(PyObject *capsule);
void *get_plan(PyObject *obj);
int64_t *int64_array(PyObject *seq, Py_ssize_t *n, const char *what);
/* A text answer of the core (sg_plan_report, sg_config_report) as a str. */
PyObject *core_text(int64_t (*fill)(const void *, char *, int64_t), const void *ctx);
PyObject *py_plan(PyObject *self, PyObject *args);
PyObject *py_parse(PyObject *self, PyObject *args);
PyObject *py_plan_info(PyObject *self, PyObject *arg);
PyObject *py_view_strides(PyObject *self, PyObject *args);
PyObject *py_output_order(PyObject *self, PyObject *args);
PyObject *py_plan_path(PyObject *self, PyObject *arg);
PyObject *py_plan_report(PyObject *self, PyObject *arg);
PyObject *py_execute(PyObject *self, PyObject *args);

/* memory.c: result blocks; order is the axes fastest first (NULL: C order) */
extern PyTypeObject BlockType;
extern size_t cache_cap;
PyObject *aligned_array(PyArray_Descr *descr, int nd, npy_intp *dims, const int64_t *order);
PyObject *py_aligned_empty(PyObject *self, PyObject *args);

/* fastpath.c: gram()'s table keys ([0] unnormalised, [1] normalised), made by module.c */
extern PyObject *gram_keys[2];
PyObject *py_fast_remember(PyObject *self, PyObject *args);
PyObject *py_fast_einsum(PyObject *self, PyObject *const *argv, Py_ssize_t argc);
PyObject *py_fast_gram(PyObject *self, PyObject *const *argv, Py_ssize_t argc);
#endif
