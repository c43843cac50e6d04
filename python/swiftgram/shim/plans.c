/* Plans: the core's parse, plan, path and report behind PyCapsules that own the Swift
 * plan, and execute from buffer-protocol operands (read-only buffers accepted, never
 * written or copied), the GIL released for the one call into Swift. */
#include "shim.h"

PyObject *raise_sg(int32_t code, const char *msg) {
    PyObject *type = code == SG_ERR_TYPE ? PyExc_TypeError
                   : code == SG_ERR_MEMORY ? PyExc_MemoryError
                   : code == SG_ERR_RUNTIME ? PyExc_RuntimeError : PyExc_ValueError;
    PyErr_SetString(type, msg);
    return NULL;
}

void plan_destructor(PyObject *capsule) {
    void *p = PyCapsule_GetPointer(capsule, PLAN_NAME);
    if (p) sg_plan_destroy(p);
}

void *get_plan(PyObject *obj) {
    return PyCapsule_GetPointer(obj, PLAN_NAME); /* sets TypeError/ValueError if wrong */
}

/* Reads a sequence of ints into a freshly allocated int64 array (caller frees). */
int64_t *int64_array(PyObject *seq, Py_ssize_t *n, const char *what) {
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast) return NULL;
    *n = PySequence_Fast_GET_SIZE(fast);
    int64_t *out = PyMem_Malloc(sizeof(int64_t) * (*n > 0 ? *n : 1));
    if (!out) { Py_DECREF(fast); PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < *n; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) { PyMem_Free(out); Py_DECREF(fast); return NULL; }
        out[i] = v;
    }
    Py_DECREF(fast);
    return out;
}

/* plan(subscripts, ndims, flat_shapes, strategy, flat_path, memory_limit) -> capsule */
PyObject *py_plan(PyObject *self, PyObject *args) {
    const char *subscripts;
    PyObject *ndims_o, *shapes_o, *path_o;
    int strategy;
    double memory_limit;
    if (!PyArg_ParseTuple(args, "sOOiOd", &subscripts, &ndims_o, &shapes_o, &strategy, &path_o, &memory_limit))
        return NULL;
    Py_ssize_t nops, nshape, npath;
    int64_t *ndims = int64_array(ndims_o, &nops, "ndims must be a sequence");
    if (!ndims) return NULL;
    int64_t *shapes = int64_array(shapes_o, &nshape, "shapes must be a sequence");
    if (!shapes) { PyMem_Free(ndims); return NULL; }
    int64_t *path = int64_array(path_o, &npath, "path must be a sequence");
    if (!path) { PyMem_Free(ndims); PyMem_Free(shapes); return NULL; }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < nops; i++) total += ndims[i] > 0 ? ndims[i] : 0;
    void *plan = NULL;
    char err[ERRLEN] = {0};
    int32_t rc = total == nshape
        ? sg_plan_create(subscripts, nops, ndims, shapes, strategy, path, npath, memory_limit, &plan, err, ERRLEN)
        : (snprintf(err, ERRLEN, "einsum: shapes do not match ranks"), SG_ERR_VALUE);
    PyMem_Free(ndims); PyMem_Free(shapes); PyMem_Free(path);
    if (rc != SG_OK) return raise_sg(rc, err);
    PyObject *cap = PyCapsule_New(plan, PLAN_NAME, plan_destructor);
    if (!cap) sg_plan_destroy(plan);
    return cap;
}

/* A tuple of ints; negative values become None (a dimension known only at run time). */
static PyObject *int64_tuple(const int64_t *v, int64_t n, int negative_is_none) {
    PyObject *t = PyTuple_New(n);
    for (int64_t i = 0; t && i < n; i++) {
        PyObject *item = negative_is_none && v[i] < 0 ? (Py_INCREF(Py_None), Py_None) : PyLong_FromLongLong(v[i]);
        if (!item) { Py_CLEAR(t); break; }
        PyTuple_SET_ITEM(t, i, item);
    }
    return t;
}

/* parse(subscripts, ndims[, flat_shapes]) -> (labels of each operand's axes, output labels)
 * or, with shapes (-1: unknown), (..., ..., size of each label or None) */
PyObject *py_parse(PyObject *self, PyObject *args) {
    const char *subscripts;
    PyObject *ndims_o, *shapes_o = NULL;
    if (!PyArg_ParseTuple(args, "sO|O", &subscripts, &ndims_o, &shapes_o)) return NULL;
    Py_ssize_t nops, nshape = 0;
    int64_t *ndims = int64_array(ndims_o, &nops, "ndims must be a sequence"), *shapes = NULL;
    if (!ndims) return NULL;
    if (shapes_o && !(shapes = int64_array(shapes_o, &nshape, "shapes must be a sequence"))) {
        PyMem_Free(ndims);
        return NULL;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < nops; i++) total += ndims[i] > 0 && ndims[i] <= 64 ? ndims[i] : 0;
    int64_t *labels = PyMem_Malloc(sizeof(int64_t) * (total + 1)), out[128], out_ndim = 0, sizes[SG_MAX_LABELS];
    char err[ERRLEN] = {0};
    PyObject *result = NULL, *ins = NULL;
    if (!labels) { PyErr_NoMemory(); goto done; }
    int32_t rc = shapes && nshape != total
        ? (snprintf(err, ERRLEN, "einsum: shapes do not match ranks"), SG_ERR_VALUE)
        : sg_parse(subscripts, nops, ndims, shapes, labels, out, &out_ndim, shapes ? sizes : NULL, err, ERRLEN);
    if (rc != SG_OK) { raise_sg(rc, err); goto done; }
    if (!(ins = PyTuple_New(nops))) goto done;
    for (Py_ssize_t k = 0, at = 0; k < nops; at += ndims[k], k++) {
        PyObject *t = int64_tuple(labels + at, ndims[k], 0);
        if (!t) goto done;
        PyTuple_SET_ITEM(ins, k, t);
    }
    result = shapes ? Py_BuildValue("(ONN)", ins, int64_tuple(out, out_ndim, 0), int64_tuple(sizes, SG_MAX_LABELS, 1))
                    : Py_BuildValue("(ON)", ins, int64_tuple(out, out_ndim, 0));
done:
    Py_XDECREF(ins);
    PyMem_Free(ndims);
    PyMem_Free(shapes);
    PyMem_Free(labels);
    return result;
}

/* plan_info(plan) -> (output_shape, is_view, ends_in_shared_contraction) */
PyObject *py_plan_info(PyObject *self, PyObject *arg) {
    void *plan = get_plan(arg);
    if (!plan) return NULL;
    int64_t nd = sg_plan_output_ndim(plan);
    int64_t shape[128];
    if (nd > 128) return raise_sg(SG_ERR_VALUE, "einsum: output has more than 128 dimensions");
    sg_plan_output_shape(plan, shape);
    return Py_BuildValue("(NOO)", int64_tuple(shape, nd, 0), sg_plan_is_view(plan) ? Py_True : Py_False,
                         sg_plan_ends_in_shared_contraction(plan) ? Py_True : Py_False);
}

/* A per-output-axis answer of the core from operand strides: args are (plan, strides);
 * answer(plan, strides, out) fills out[0..output ndim). The strides are operand 0's axes
 * (view_only: and the plan must be a view) or all operands' axes together. */
typedef void (*StridesAnswer)(const void *, const int64_t *, int64_t *);
static PyObject *strides_answer(PyObject *args, StridesAnswer answer, int view_only, const char *mismatch) {
    PyObject *cap, *strides_o;
    if (!PyArg_ParseTuple(args, "OO", &cap, &strides_o)) return NULL;
    void *plan = get_plan(cap);
    if (!plan) return NULL;
    Py_ssize_t n;
    int64_t *strides = int64_array(strides_o, &n, "strides must be a sequence");
    if (!strides) return NULL;
    int64_t expected = 0;
    for (int64_t k = 0; k < (view_only ? 1 : sg_plan_nops(plan)); k++) expected += sg_plan_operand_ndim(plan, k);
    if (n != expected || (view_only && !sg_plan_is_view(plan))) {
        PyMem_Free(strides);
        return raise_sg(SG_ERR_VALUE, mismatch);
    }
    int64_t nd = sg_plan_output_ndim(plan), out[128];
    answer(plan, strides, out);
    PyMem_Free(strides);
    return int64_tuple(out, nd, 0);
}

/* view_strides(plan, operand_strides_in_elements) -> output strides in elements */
PyObject *py_view_strides(PyObject *self, PyObject *args) {
    return strides_answer(args, sg_plan_view_strides, 1, "einsum: plan is not a view of this operand");
}

/* output_order(plan, strides) -> the output's axes fastest first under order='K' (strides:
 * every operand's, together) */
PyObject *py_output_order(PyObject *self, PyObject *args) {
    return strides_answer(args, sg_plan_output_order, 0, "einsum: strides do not match the plan's operands");
}

/* plan_path(plan) -> list of tuples */
PyObject *py_plan_path(PyObject *self, PyObject *arg) {
    void *plan = get_plan(arg);
    if (!plan) return NULL;
    int64_t n = sg_plan_path(plan, NULL, 0);
    int64_t *flat = PyMem_Malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    if (!flat) return PyErr_NoMemory();
    sg_plan_path(plan, flat, n);
    PyObject *list = PyList_New(0);
    for (int64_t i = 0; list && i < n; ) {
        int64_t len = flat[i++];
        PyObject *t = int64_tuple(flat + i, len, 0);
        if (!t) { Py_CLEAR(list); break; }
        i += len;
        if (PyList_Append(list, t) < 0) Py_CLEAR(list);
        Py_DECREF(t);
    }
    PyMem_Free(flat);
    return list;
}

/* A text answer of the core: fill(ctx, out, cap) writes at most cap bytes with the NUL and
 * returns the length it needs. */
PyObject *core_text(int64_t (*fill)(const void *, char *, int64_t), const void *ctx) {
    int64_t n = fill(ctx, NULL, 0);
    char *buf = PyMem_Malloc(n);
    if (!buf) return PyErr_NoMemory();
    fill(ctx, buf, n);
    PyObject *s = PyUnicode_FromString(buf);
    PyMem_Free(buf);
    return s;
}

/* plan_report(plan) -> str */
PyObject *py_plan_report(PyObject *self, PyObject *arg) {
    void *plan = get_plan(arg);
    return plan ? core_text(sg_plan_report, plan) : NULL;
}

/* Whether a buffer of format code `got` holds elements of `dtype`: its own code, or 16-bit
 * unsigned words for bfloat16 (the buffer protocol has no bfloat16 format). */
static int holds(int got, int dtype) { return got == dtype || (dtype == SG_BFLOAT16 && got == SG_UINT16); }

/* The dtype code a buffer's format describes, or -1. */
static int buffer_dtype(const Py_buffer *b) {
    const char *f = b->format ? b->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    else if (*f == '>' || *f == '!') return -1; /* big-endian: the front end converts first */
    Py_ssize_t s = b->itemsize;
    if (f[0] == 'Z' && f[1] && !f[2]) return f[1] == 'f' && s == 8 ? SG_COMPLEX64 : f[1] == 'd' && s == 16 ? SG_COMPLEX128 : -1;
    if (!f[0] || f[1]) return -1;
    switch (f[0]) {
    case '?': return s == 1 ? SG_BOOL : -1;
    case 'e': return s == 2 ? SG_FLOAT16 : -1;
    case 'f': return s == 4 ? SG_FLOAT32 : -1;
    case 'd': return s == 8 ? SG_FLOAT64 : -1;
    case 'b': case 'h': case 'i': case 'l': case 'q':
        return s == 1 ? SG_INT8 : s == 2 ? SG_INT16 : s == 4 ? SG_INT32 : s == 8 ? SG_INT64 : -1;
    case 'B': case 'H': case 'I': case 'L': case 'Q':
        return s == 1 ? SG_UINT8 : s == 2 ? SG_UINT16 : s == 4 ? SG_UINT32 : s == 8 ? SG_UINT64 : -1;
    default: return -1;
    }
}

/* Appends a buffer's shape and element strides; fails on strides that are not whole elements. */
static int append_layout(const Py_buffer *b, int64_t *shapes, int64_t *strides, Py_ssize_t *at, const char *what, Py_ssize_t k) {
    for (int d = 0; d < b->ndim; d++) {
        if (b->strides[d] % b->itemsize != 0) {
            PyErr_Format(PyExc_ValueError, "einsum: %s %zd has a stride of %zd bytes, not a multiple of its item size %zd",
                         what, k, b->strides[d], b->itemsize);
            return -1;
        }
        shapes[*at] = b->shape[d];
        strides[*at] = b->strides[d] / b->itemsize;
        (*at)++;
    }
    return 0;
}

/* execute(plan, dtype, operands, out, alpha[, accumulate[, executor]]): out[...] = alpha *
 * einsum(operands), or with accumulate out[...] += alpha * einsum(operands), computed in
 * dtype; an operand of another dtype (its buffer's format) is read converted by the core
 * where sg_dtype_reads allows (else a TypeError). executor: the address of an sg_executor
 * (a framework's thread pool) for the parallel loops, 0: the core's own pool. */
PyObject *py_execute(PyObject *self, PyObject *args) {
    PyObject *cap, *ops_o, *out_o;
    int dtype, accumulate = 0;
    double alpha;
    unsigned long long executor = 0;
    if (!PyArg_ParseTuple(args, "OiOOd|pK", &cap, &dtype, &ops_o, &out_o, &alpha, &accumulate, &executor)) return NULL;
    void *plan = get_plan(cap);
    if (!plan) return NULL;
    PyObject *ops = PySequence_Fast(ops_o, "operands must be a sequence");
    if (!ops) return NULL;
    Py_ssize_t nops = PySequence_Fast_GET_SIZE(ops);
    if (nops != sg_plan_nops(plan) || nops > MAX_OPERANDS) {
        Py_DECREF(ops);
        return raise_sg(SG_ERR_VALUE, "einsum: operand count does not match the plan");
    }
    int32_t codes[MAX_OPERANDS];
    int mixed = 0;
    Py_buffer *views = PyMem_Calloc(nops + 1, sizeof(Py_buffer));
    const void **data = PyMem_Calloc(nops + 1, sizeof(void *));
    int64_t *shapes = PyMem_Calloc(64 * (nops + 1), sizeof(int64_t));
    int64_t *strides = PyMem_Calloc(64 * (nops + 1), sizeof(int64_t));
    Py_ssize_t got = 0, at = 0;
    PyObject *result = NULL;
    if (!views || !data || !shapes || !strides) { PyErr_NoMemory(); goto done; }
    for (; got < nops; got++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(ops, got), &views[got], PyBUF_STRIDES | PyBUF_FORMAT) < 0) goto done;
        codes[got] = buffer_dtype(&views[got]);
        if (holds(codes[got], dtype)) {
            codes[got] = dtype;
        } else if (codes[got] < 0) {
            PyErr_Format(PyExc_TypeError, "einsum: operand %zd has buffer format '%s', which is not a dtype the core reads",
                         got, views[got].format);
            got++;
            goto done;
        } else {
            mixed = 1;
        }
        if (views[got].ndim != sg_plan_operand_ndim(plan, got)) {
            PyErr_Format(PyExc_ValueError, "einsum: operand %zd has %d dimensions, the plan expects %lld",
                         got, views[got].ndim, (long long)sg_plan_operand_ndim(plan, got));
            got++;
            goto done;
        }
        if (append_layout(&views[got], shapes, strides, &at, "operand", got) < 0) { got++; goto done; }
        data[got] = views[got].buf;
    }
    Py_buffer *out = &views[nops];
    if (PyObject_GetBuffer(out_o, out, PyBUF_STRIDES | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto done;
    got++;
    if (!holds(buffer_dtype(out), dtype)) { PyErr_SetString(PyExc_TypeError, "einsum: output buffer does not have the requested dtype"); goto done; }
    if (out->ndim != sg_plan_output_ndim(plan)) { PyErr_SetString(PyExc_ValueError, "einsum: output rank does not match the plan"); goto done; }
    int64_t out_shape[64], out_strides[64];
    Py_ssize_t oat = 0;
    if (append_layout(out, out_shape, out_strides, &oat, "output", 0) < 0) goto done;

    char err[ERRLEN] = {0};
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sg_plan_execute_typed((const sg_executor *)(uintptr_t)executor, plan, dtype, mixed ? codes : NULL, data, shapes,
                               strides, out->buf, out_shape, out_strides, alpha, accumulate, err, ERRLEN);
    Py_END_ALLOW_THREADS
    if (rc != SG_OK) { raise_sg(rc, err); goto done; }
    result = Py_NewRef(Py_None);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views); PyMem_Free(data); PyMem_Free(shapes); PyMem_Free(strides);
    Py_DECREF(ops);
    return result;
}
