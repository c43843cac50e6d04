/* swiftgram._core: the C extension shim between Python objects and the Swift core's C
 * ABI (swiftgram.h). This file holds the module: its method table, the codes it exports
 * from the header (so Python defines none of them), threads and the ISA. The plan API is
 * in plans.c, the call fast path in fastpath.c, result memory in memory.c. */
#define SWIFTGRAM_SHIM_MODULE
#include "shim.h"

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    sg_set_num_threads(n);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
    return PyLong_FromLongLong(sg_get_num_threads());
}

static PyObject *py_reads(PyObject *self, PyObject *args) {
    int dtype, source;
    if (!PyArg_ParseTuple(args, "ii", &dtype, &source)) return NULL;
    return PyBool_FromLong(sg_dtype_reads(dtype, source));
}

static PyObject *py_isa(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(sg_isa_name());
}

static int64_t config_text(const void *unused, char *out, int64_t cap) { return sg_config_report(out, cap); }

static PyObject *py_config_report(PyObject *self, PyObject *unused) {
    return core_text(config_text, NULL);
}

/* The header's codes, for Python: DTYPE_CODES (NumPy dtype name -> SG_*), PATH_STRATEGIES
 * (optimize strategy -> SG_PATH_*). */
static int add_codes(PyObject *m) {
    PyObject *dtypes = Py_BuildValue(
        "{si,si,si,si,si,si,si,si,si,si,si,si,si,si,si}",
        "bool", SG_BOOL, "int8", SG_INT8, "int16", SG_INT16, "int32", SG_INT32, "int64", SG_INT64,
        "uint8", SG_UINT8, "uint16", SG_UINT16, "uint32", SG_UINT32, "uint64", SG_UINT64,
        "float16", SG_FLOAT16, "float32", SG_FLOAT32, "float64", SG_FLOAT64,
        "complex64", SG_COMPLEX64, "complex128", SG_COMPLEX128, "bfloat16", SG_BFLOAT16);
    if (!dtypes || PyModule_AddObject(m, "DTYPE_CODES", dtypes) < 0) { Py_XDECREF(dtypes); return -1; }
    PyObject *paths = Py_BuildValue(
        "{si,si,si,si,si}", "left-to-right", SG_PATH_LEFT_TO_RIGHT, "greedy", SG_PATH_GREEDY,
        "optimal", SG_PATH_OPTIMAL, "explicit", SG_PATH_EXPLICIT, "auto", SG_PATH_AUTO);
    if (!paths || PyModule_AddObject(m, "PATH_STRATEGIES", paths) < 0) { Py_XDECREF(paths); return -1; }
    return 0;
}

static PyMethodDef methods[] = {
    {"plan", py_plan, METH_VARARGS, "plan(subscripts, ndims, shapes, strategy, path, memory_limit) -> plan"},
    {"parse", py_parse, METH_VARARGS, "parse(subscripts, ndims[, flat_shapes]) -> (input labels, output labels[, label sizes])"},
    {"plan_info", py_plan_info, METH_O, "plan_info(plan) -> (output_shape, is_view)"},
    {"view_strides", py_view_strides, METH_VARARGS, "view_strides(plan, strides) -> output strides (elements)"},
    {"output_order", py_output_order, METH_VARARGS, "output_order(plan, strides) -> axes fastest first (order='K')"},
    {"plan_path", py_plan_path, METH_O, "plan_path(plan) -> list of tuples"},
    {"plan_report", py_plan_report, METH_O, "plan_report(plan) -> str"},
    {"execute", py_execute, METH_VARARGS, "execute(plan, dtype, operands, out, alpha[, accumulate[, executor]])"},
    {"fast_einsum", (PyCFunction)(void (*)(void))py_fast_einsum, METH_FASTCALL, "fast_einsum(args, optimize) -> result or None"},
    {"fast_gram", (PyCFunction)(void (*)(void))py_fast_gram, METH_FASTCALL, "fast_gram(f1, f2, normalize) -> result or None"},
    {"fast_remember", py_fast_remember, METH_VARARGS,
     "fast_remember(subscripts, arrays, optimize, plan, code, dtype, alpha=1, codes=None) -> bool"},
    {"aligned_empty", py_aligned_empty, METH_VARARGS, "aligned_empty(shape, dtype, order) -> 64-byte aligned array"},
    {"reads", py_reads, METH_VARARGS, "reads(dtype, source) -> whether the core reads source-dtype operands as dtype"},
    {"set_num_threads", py_set_num_threads, METH_O, "set_num_threads(n)"},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "get_num_threads() -> int"},
    {"isa", py_isa, METH_NOARGS, "isa() -> name of the micro-kernel ISA in use"},
    {"config_report", py_config_report, METH_NOARGS, "config_report() -> the core's configuration, as text"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "swiftgram._core", "swiftgram's C shim over the Swift core", -1, methods};

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    if (PyType_Ready(&BlockType) < 0) return NULL;
    const char *mb = getenv("SWIFTGRAM_RESULT_CACHE_MB");
    if (mb && *mb) {
        char *end;
        long long v = strtoll(mb, &end, 10);
        if (*end || v < 0) {
            PyErr_Format(PyExc_ValueError, "SWIFTGRAM_RESULT_CACHE_MB must be a non-negative integer, got '%s'", mb);
            return NULL;
        }
        cache_cap = (size_t)(v < (1LL << 30) ? v : 1LL << 30) << 20;
    }
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    for (int i = 0; i < 2; i++) {
        if (!gram_keys[i] && !(gram_keys[i] = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type))) goto fail;
    }
    if (add_codes(m) < 0) goto fail;
    PyObject *keys = PyTuple_Pack(2, gram_keys[0], gram_keys[1]);
    if (!keys || PyModule_AddObject(m, "GRAM_KEYS", keys) < 0) { Py_XDECREF(keys); goto fail; }  /* steals on success */
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
