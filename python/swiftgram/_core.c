/* The C extension shim: Python objects <-> the Swift core's C ABI (swiftgram.h).
 *
 * Operands arrive through the buffer protocol (read-only buffers accepted, never written,
 * never copied); the output must be a writable buffer. The GIL is released for the one
 * call into Swift, so other Python threads run meanwhile. Plans are PyCapsules that own
 * the Swift plan and release it when collected.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include "swiftgram.h"

#define ERRLEN 1024
#define MAX_OPERANDS 1024
#define PLAN_NAME "swiftgram.plan"

static PyObject *raise_sg(int32_t code, const char *msg) {
    PyObject *type = code == SG_ERR_TYPE ? PyExc_TypeError
                   : code == SG_ERR_MEMORY ? PyExc_MemoryError
                   : code == SG_ERR_RUNTIME ? PyExc_RuntimeError : PyExc_ValueError;
    PyErr_SetString(type, msg);
    return NULL;
}

static void plan_destructor(PyObject *capsule) {
    void *p = PyCapsule_GetPointer(capsule, PLAN_NAME);
    if (p) sg_plan_destroy(p);
}

static void *get_plan(PyObject *obj) {
    return PyCapsule_GetPointer(obj, PLAN_NAME); /* sets TypeError/ValueError if wrong */
}

/* Reads a sequence of ints into a freshly allocated int64 array (caller frees). */
static int64_t *int64_array(PyObject *seq, Py_ssize_t *n, const char *what) {
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
static PyObject *py_plan(PyObject *self, PyObject *args) {
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

/* parse(subscripts, ndims) -> (labels of every operand's axes, output labels) */
static PyObject *py_parse(PyObject *self, PyObject *args) {
    const char *subscripts;
    PyObject *ndims_o;
    if (!PyArg_ParseTuple(args, "sO", &subscripts, &ndims_o)) return NULL;
    Py_ssize_t nops;
    int64_t *ndims = int64_array(ndims_o, &nops, "ndims must be a sequence");
    if (!ndims) return NULL;
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < nops; i++) total += ndims[i] > 0 && ndims[i] <= 64 ? ndims[i] : 0;
    int64_t *labels = PyMem_Malloc(sizeof(int64_t) * (total + 1)), out[128], out_ndim = 0;
    char err[ERRLEN] = {0};
    PyObject *result = NULL;
    if (!labels) { PyMem_Free(ndims); return PyErr_NoMemory(); }
    int32_t rc = sg_parse(subscripts, nops, ndims, labels, out, &out_ndim, err, ERRLEN);
    if (rc != SG_OK) { raise_sg(rc, err); goto done; }
    PyObject *ins = PyList_New(nops), *outs = PyList_New(out_ndim);
    if (!ins || !outs) { Py_XDECREF(ins); Py_XDECREF(outs); goto done; }
    for (Py_ssize_t k = 0, at = 0; k < nops; k++) {
        PyObject *l = PyList_New(ndims[k]);
        if (!l) { Py_DECREF(ins); Py_DECREF(outs); goto done; }
        for (int64_t d = 0; d < ndims[k]; d++) PyList_SET_ITEM(l, d, PyLong_FromLongLong(labels[at++]));
        PyList_SET_ITEM(ins, k, l);
    }
    for (int64_t d = 0; d < out_ndim; d++) PyList_SET_ITEM(outs, d, PyLong_FromLongLong(out[d]));
    result = Py_BuildValue("(NN)", ins, outs);
done:
    PyMem_Free(ndims);
    PyMem_Free(labels);
    return result;
}

/* plan_info(plan) -> (output_shape, is_view) */
static PyObject *py_plan_info(PyObject *self, PyObject *arg) {
    void *plan = get_plan(arg);
    if (!plan) return NULL;
    int64_t nd = sg_plan_output_ndim(plan);
    int64_t shape[128];
    if (nd > 128) return raise_sg(SG_ERR_VALUE, "einsum: output has more than 128 dimensions");
    sg_plan_output_shape(plan, shape);
    PyObject *t = PyTuple_New(nd);
    if (!t) return NULL;
    for (int64_t i = 0; i < nd; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(shape[i]));
    return Py_BuildValue("(NO)", t, sg_plan_is_view(plan) ? Py_True : Py_False);
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
    PyObject *t = PyTuple_New(nd);
    if (!t) return NULL;
    for (int64_t i = 0; i < nd; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(out[i]));
    return t;
}

/* view_strides(plan, operand_strides_in_elements) -> output strides in elements */
static PyObject *py_view_strides(PyObject *self, PyObject *args) {
    return strides_answer(args, sg_plan_view_strides, 1, "einsum: plan is not a view of this operand");
}

/* output_order(plan, strides) -> the output's axes fastest first under order='K' (strides:
 * every operand's, together) */
static PyObject *py_output_order(PyObject *self, PyObject *args) {
    return strides_answer(args, sg_plan_output_order, 0, "einsum: strides do not match the plan's operands");
}

/* plan_path(plan) -> list of tuples */
static PyObject *py_plan_path(PyObject *self, PyObject *arg) {
    void *plan = get_plan(arg);
    if (!plan) return NULL;
    int64_t n = sg_plan_path(plan, NULL, 0);
    int64_t *flat = PyMem_Malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    if (!flat) return PyErr_NoMemory();
    sg_plan_path(plan, flat, n);
    PyObject *list = PyList_New(0);
    for (int64_t i = 0; list && i < n; ) {
        int64_t len = flat[i++];
        PyObject *t = PyTuple_New(len);
        if (!t) { Py_CLEAR(list); break; }
        for (int64_t j = 0; j < len; j++) PyTuple_SET_ITEM(t, j, PyLong_FromLongLong(flat[i + j]));
        i += len;
        if (PyList_Append(list, t) < 0) Py_CLEAR(list);
        Py_DECREF(t);
    }
    PyMem_Free(flat);
    return list;
}

/* plan_report(plan) -> str */
static PyObject *py_plan_report(PyObject *self, PyObject *arg) {
    void *plan = get_plan(arg);
    if (!plan) return NULL;
    int64_t n = sg_plan_report(plan, NULL, 0);
    char *buf = PyMem_Malloc(n);
    if (!buf) return PyErr_NoMemory();
    sg_plan_report(plan, buf, n);
    PyObject *s = PyUnicode_FromString(buf);
    PyMem_Free(buf);
    return s;
}

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

/* execute(plan, dtype, operands, out, alpha): out[...] = alpha * einsum(operands) */
static PyObject *py_execute(PyObject *self, PyObject *args) {
    PyObject *cap, *ops_o, *out_o;
    int dtype;
    double alpha;
    if (!PyArg_ParseTuple(args, "OiOOd", &cap, &dtype, &ops_o, &out_o, &alpha)) return NULL;
    void *plan = get_plan(cap);
    if (!plan) return NULL;
    PyObject *ops = PySequence_Fast(ops_o, "operands must be a sequence");
    if (!ops) return NULL;
    Py_ssize_t nops = PySequence_Fast_GET_SIZE(ops);
    if (nops != sg_plan_nops(plan) || nops > MAX_OPERANDS) {
        Py_DECREF(ops);
        return raise_sg(SG_ERR_VALUE, "einsum: operand count does not match the plan");
    }
    Py_buffer *views = PyMem_Calloc(nops + 1, sizeof(Py_buffer));
    const void **data = PyMem_Calloc(nops + 1, sizeof(void *));
    int64_t *shapes = PyMem_Calloc(64 * (nops + 1), sizeof(int64_t));
    int64_t *strides = PyMem_Calloc(64 * (nops + 1), sizeof(int64_t));
    Py_ssize_t got = 0, at = 0;
    PyObject *result = NULL;
    if (!views || !data || !shapes || !strides) { PyErr_NoMemory(); goto done; }
    for (; got < nops; got++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(ops, got), &views[got], PyBUF_STRIDES | PyBUF_FORMAT) < 0) goto done;
        if (buffer_dtype(&views[got]) != dtype) {
            PyErr_Format(PyExc_TypeError, "einsum: operand %zd has buffer format '%s', not the requested dtype", got, views[got].format);
            got++;
            goto done;
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
    if (buffer_dtype(out) != dtype) { PyErr_SetString(PyExc_TypeError, "einsum: output buffer does not have the requested dtype"); goto done; }
    if (out->ndim != sg_plan_output_ndim(plan)) { PyErr_SetString(PyExc_ValueError, "einsum: output rank does not match the plan"); goto done; }
    int64_t out_shape[64], out_strides[64];
    Py_ssize_t oat = 0;
    if (append_layout(out, out_shape, out_strides, &oat, "output", 0) < 0) goto done;

    char err[ERRLEN] = {0};
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = sg_plan_execute(plan, dtype, data, shapes, strides, out->buf, out_shape, out_strides, alpha, err, ERRLEN);
    Py_END_ALLOW_THREADS
    if (rc != SG_OK) { raise_sg(rc, err); goto done; }
    result = Py_NewRef(Py_None);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views); PyMem_Free(data); PyMem_Free(shapes); PyMem_Free(strides);
    Py_DECREF(ops);
    return result;
}

/* ---- The call fast path ---------------------------------------------------------------
 * einsum(subscripts, *arrays) with default keywords is the call that repeats (a loop, a
 * training step). Its result depends only on the signature (subscripts, optimize, every
 * operand's shape and dtype), which the Python front end validates once and then
 * remembers here; a call with a known signature goes straight from the ndarrays to the
 * core: no Python-level checks, no buffer objects, one aligned allocation. Operands must
 * be plain, aligned, native-order ndarrays (any strides in whole elements); anything else
 * misses and takes the general path, so the fast path never changes a result. gram()
 * entries sit in the same table, keyed by one of two private objects in place of the
 * subscripts (normalised or not), so no einsum call can match them; they carry the scale,
 * and their result is C-ordered whatever the operands' order, as gram()'s always is. */
#define FAST_SLOTS 512
#define FAST_MAX_OPS 8
#define FAST_MAX_DIMS 32 /* all operands' axes together */

typedef struct {
    PyObject *subscripts, *optimize, *plan; /* strong references; plan NULL: empty slot */
    PyArray_Descr *descr;                   /* the result dtype */
    int code, nops, ndims[FAST_MAX_OPS], type_nums[FAST_MAX_OPS];
    npy_intp dims[FAST_MAX_DIMS];
    int out_nd;
    npy_intp out_dims[FAST_MAX_DIMS];
    double alpha;  /* the result's scale: 1 for einsum, 1/positions for a normalised gram */
    Py_hash_t hash;
    /* The core's order='K' layout for the operand strides last seen (order_len: their
     * count + 1; 0 when none): calls in a loop pass the same strides. */
    int order_len;
    int64_t order_strides[FAST_MAX_DIMS], order[FAST_MAX_DIMS];
} FastEntry;

static FastEntry fast_table[FAST_SLOTS];

/* gram()'s table keys: [0] unnormalised, [1] normalised (exported as GRAM_KEYS). */
static PyObject *gram_keys[2];

/* optimize values the fast path keys on: True/False and strings ('greedy', ...). */
static int fast_optimize_ok(PyObject *o) { return PyBool_Check(o) || PyUnicode_CheckExact(o); }

static int fast_same_object(PyObject *a, PyObject *b) {
    if (a == b) return 1;
    if (!PyUnicode_CheckExact(a) || !PyUnicode_CheckExact(b)) return 0;
    return PyUnicode_Compare(a, b) == 0;
}

/* The signature of arrays ops[0..nops) into e (without the references); -1 if they do
 * not qualify, -2 on a Python error. sub is einsum's subscripts or a gram key. */
static int fast_signature(PyObject *sub, PyObject *const *ops, Py_ssize_t nops, PyObject *optimize, FastEntry *e) {
    int keyed = PyUnicode_CheckExact(sub) || sub == gram_keys[0] || sub == gram_keys[1];
    if (!keyed || nops < 1 || nops > FAST_MAX_OPS || !fast_optimize_ok(optimize)) return -1;
    Py_hash_t h = PyObject_Hash(sub), ho = PyObject_Hash(optimize);
    if (h == -1 || ho == -1) return -2;
    Py_uhash_t x = (Py_uhash_t)h * 1000003u ^ (Py_uhash_t)ho;
    int at = 0;
    for (Py_ssize_t k = 0; k < nops; k++) {
        if (!PyArray_CheckExact(ops[k])) return -1;
        PyArrayObject *a = (PyArrayObject *)ops[k];
        int nd = PyArray_NDIM(a);
        if (at + nd > FAST_MAX_DIMS || !PyArray_ISALIGNED(a) || !PyArray_ISNOTSWAPPED(a)) return -1;
        e->ndims[k] = nd;
        e->type_nums[k] = PyArray_TYPE(a);
        x = (x ^ (Py_uhash_t)(e->type_nums[k] * 64 + nd)) * 1000003u;
        for (int d = 0; d < nd; d++) {
            e->dims[at++] = PyArray_DIM(a, d);
            x = (x ^ (Py_uhash_t)PyArray_DIM(a, d)) * 1000003u;
        }
    }
    e->nops = (int)nops;
    e->hash = (Py_hash_t)x;
    return 0;
}

static int fast_matches(const FastEntry *e, const FastEntry *key, PyObject *sub, PyObject *optimize) {
    if (!e->plan || e->hash != key->hash || e->nops != key->nops) return 0;
    int dims = 0;
    for (int k = 0; k < e->nops; k++) {
        if (e->ndims[k] != key->ndims[k] || e->type_nums[k] != key->type_nums[k]) return 0;
        dims += e->ndims[k];
    }
    if (memcmp(e->dims, key->dims, sizeof(npy_intp) * dims) != 0) return 0;
    return fast_same_object(e->subscripts, sub) && fast_same_object(e->optimize, optimize);
}

/* fast_remember(subscripts, arrays, optimize, plan, code, dtype, alpha=1):
 * the front end vouches that this signature computes plan in dtype (code), scaled by
 * alpha, with every array read in place. subscripts is a gram key for gram() calls. */
static PyObject *py_fast_remember(PyObject *self, PyObject *args) {
    PyObject *sub, *arrays, *optimize, *plan, *dtype_o;
    int code;
    double alpha = 1.0;
    if (!PyArg_ParseTuple(args, "OO!OOiO|d", &sub, &PyTuple_Type, &arrays, &optimize, &plan, &code, &dtype_o,
                          &alpha)) return NULL;
    void *p = get_plan(plan);
    if (!p) return NULL;
    FastEntry key;
    int rc = fast_signature(sub, &PyTuple_GET_ITEM(arrays, 0), PyTuple_GET_SIZE(arrays), optimize, &key);
    if (rc == -2) return NULL;
    int64_t out_nd = sg_plan_output_ndim(p), shape[128];
    if (rc < 0 || out_nd > FAST_MAX_DIMS || key.nops != sg_plan_nops(p)) Py_RETURN_FALSE;
    PyArray_Descr *descr = NULL;
    if (!PyArray_DescrConverter(dtype_o, &descr)) return NULL;
    sg_plan_output_shape(p, shape);
    FastEntry *e = &fast_table[(Py_uhash_t)key.hash % FAST_SLOTS];
    PyObject *old_sub = e->subscripts, *old_opt = e->optimize, *old_plan = e->plan;
    PyArray_Descr *old_descr = e->descr;
    *e = key;
    e->subscripts = Py_NewRef(sub);
    e->optimize = Py_NewRef(optimize);
    e->plan = Py_NewRef(plan);
    e->descr = descr;
    e->code = code;
    e->alpha = alpha;
    e->order_len = 0;
    e->out_nd = (int)out_nd;
    for (int d = 0; d < out_nd; d++) e->out_dims[d] = (npy_intp)shape[d];
    Py_XDECREF(old_sub); Py_XDECREF(old_opt); Py_XDECREF(old_plan); Py_XDECREF(old_descr);
    Py_RETURN_TRUE;
}

/* ---- Result memory ---------------------------------------------------------------------
 * Results live in 64-byte aligned blocks (frameworks such as TF then take them without
 * copying, and SIMD stores never split cache lines), each owned by a Block object that is
 * the array's base. A large block, when its array dies, is kept for the next result of a
 * similar size instead of going back to the kernel: a fresh block costs a page fault and
 * the kernel zeroing every page on first touch (a 36 MB outer product: ~1.8 ms of work
 * that takes 0.5 ms in reused memory), and on this VM two threads faulting at once can
 * take several times as long as one. At most CACHE_SLOTS blocks and cache_cap bytes are
 * kept (SWIFTGRAM_RESULT_CACHE_MB, default 256; 0 keeps none). tracemalloc sees the blocks
 * of live results, as it sees NumPy's own. */
#define CACHE_SLOTS 4
#define CACHE_MIN ((size_t)1 << 20)
#define TRACE_DOMAIN 0x5367 /* live result blocks, as tracemalloc sees them ("Sg") */
#define HUGE_MIN ((size_t)1 << 22) /* NumPy asks for transparent huge pages from 4 MiB */

typedef struct {
    PyObject_HEAD
    void *data;
    size_t size;
} Block;

static struct { void *data; size_t size; } cache[CACHE_SLOTS]; /* oldest first */
static size_t cache_cap = (size_t)256 << 20, cache_total;

/* Takes slot i's block out of the cache (later slots move up); returns it, its size in *got. */
static void *cache_remove(int i, size_t *got) {
    void *p = cache[i].data;
    *got = cache[i].size;
    cache_total -= *got;
    memmove(&cache[i], &cache[i + 1], sizeof(cache[0]) * (CACHE_SLOTS - 1 - i));
    cache[CACHE_SLOTS - 1].data = NULL;
    cache[CACHE_SLOTS - 1].size = 0;
    return p;
}

/* A kept block of size in [size, 2 * size] (the smallest), or a new one; NULL when out
 * of memory. */
static void *block_take(size_t size, size_t *got) {
    int best = -1;
    for (int i = 0; size >= CACHE_MIN && i < CACHE_SLOTS && cache[i].data; i++)
        if (cache[i].size >= size && cache[i].size / 2 <= size && (best < 0 || cache[i].size < cache[best].size)) best = i;
    if (best >= 0) return cache_remove(best, got);
    void *p = NULL;
    if (posix_memalign(&p, 64, size) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (size >= HUGE_MIN) { /* the whole pages inside the block, as NumPy does */
        size_t skip = (4096 - (uintptr_t)p % 4096) % 4096;
        madvise((char *)p + skip, size - skip, MADV_HUGEPAGE);
    }
#endif
    *got = size;
    return p;
}

static void block_dealloc(PyObject *self) {
    Block *b = (Block *)self;
    if (b->data) PyTraceMalloc_Untrack(TRACE_DOMAIN, (uintptr_t)b->data);
    if (b->data && b->size >= CACHE_MIN && b->size <= cache_cap) {
        size_t evicted;
        while (cache[CACHE_SLOTS - 1].data || cache_total + b->size > cache_cap) free(cache_remove(0, &evicted));
        int i = 0;
        while (cache[i].data) i++;
        cache[i].data = b->data;
        cache[i].size = b->size;
        cache_total += b->size;
    } else {
        free(b->data);
    }
    Py_TYPE(self)->tp_free(self);
}

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftgram._core.Block",
    .tp_basicsize = sizeof(Block),
    .tp_dealloc = block_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The memory of a swiftgram result (an array's base).",
};

/* An uninitialised array in a 64-byte aligned block, its axes laid out fastest first in
 * the order order[0..nd) (NULL: C order). */
static PyObject *aligned_array(PyArray_Descr *descr, int nd, npy_intp *dims, const int64_t *order) {
    npy_intp count = 1, item = PyDataType_ELSIZE(descr), strides[NPY_MAXDIMS];
    for (int d = 0; d < nd; d++) {
        if (dims[d] < 0) return raise_sg(SG_ERR_VALUE, "negative dimensions are not allowed");
        if (dims[d] > 0 && count > (NPY_MAX_INTP - 64) / item / dims[d]) return PyErr_NoMemory();
        count *= dims[d];
    }
    /* C and Fortran order go to NumPy without strides (it fills them in faster than it
     * checks given ones); any other order with its strides. */
    int c_order = 1, f_order = 1;
    npy_intp step = item;
    for (int k = nd - 1; k >= 0; k--) {
        int axis = order ? (int)order[nd - 1 - k] : k;
        if (axis < 0 || axis >= nd) return raise_sg(SG_ERR_VALUE, "einsum: invalid output axis order");
        c_order &= axis == k;
        f_order &= axis == nd - 1 - k;
        strides[axis] = step;
        step *= dims[axis] > 0 ? dims[axis] : 1;
    }
    size_t nbytes = (size_t)((count > 0 ? count : 1) * item);
    Block *b = PyObject_New(Block, &BlockType);
    if (!b) return NULL;
    b->data = block_take(nbytes, &b->size);
    if (!b->data) { b->size = 0; Py_DECREF(b); return PyErr_NoMemory(); }
    PyTraceMalloc_Track(TRACE_DOMAIN, (uintptr_t)b->data, b->size);
    Py_INCREF(descr);
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, descr, nd, dims, c_order || f_order ? NULL : strides,
                                         b->data, NPY_ARRAY_WRITEABLE | (!c_order && f_order ? NPY_ARRAY_F_CONTIGUOUS : 0),
                                         NULL);
    if (!arr || PyArray_SetBaseObject((PyArrayObject *)arr, (PyObject *)b) < 0) {
        Py_XDECREF(arr);
        Py_DECREF(b);
        return NULL;
    }
    return arr;
}

/* aligned_empty(shape, dtype, order) -> an uninitialised 64-byte aligned array; order is
 * its axes fastest first, or None for C order. */
static PyObject *py_aligned_empty(PyObject *self, PyObject *args) {
    PyObject *shape_o, *dtype_o, *order_o;
    if (!PyArg_ParseTuple(args, "OOO", &shape_o, &dtype_o, &order_o)) return NULL;
    npy_intp dims[NPY_MAXDIMS];
    int nd = PyArray_IntpFromSequence(shape_o, dims, NPY_MAXDIMS);
    if (nd < 0) return NULL;
    int64_t order[NPY_MAXDIMS];
    if (order_o != Py_None) {
        npy_intp axes[NPY_MAXDIMS];
        if (PyArray_IntpFromSequence(order_o, axes, NPY_MAXDIMS) != nd)
            return raise_sg(SG_ERR_VALUE, "aligned_empty: order must name every axis once");
        int seen[NPY_MAXDIMS] = {0};
        for (int d = 0; d < nd; d++) {
            if (axes[d] < 0 || axes[d] >= nd || seen[axes[d]]++)
                return raise_sg(SG_ERR_VALUE, "aligned_empty: order must name every axis once");
            order[d] = axes[d];
        }
    }
    PyArray_Descr *descr = NULL;
    if (!PyArray_DescrConverter(dtype_o, &descr)) return NULL;
    PyObject *arr = aligned_array(descr, nd, dims, order_o == Py_None ? NULL : order);
    Py_DECREF(descr);
    return arr;
}

/* The result of ops[0..nops) under sub and optimize, or None when the signature is not
 * known. */
static PyObject *fast_call(PyObject *sub, PyObject *const *ops, Py_ssize_t nops, PyObject *optimize) {
    FastEntry key;
    int rc = fast_signature(sub, ops, nops, optimize, &key);
    if (rc == -2) return NULL;
    if (rc < 0) Py_RETURN_NONE;
    FastEntry *e = &fast_table[(Py_uhash_t)key.hash % FAST_SLOTS];
    if (!fast_matches(e, &key, sub, optimize)) Py_RETURN_NONE;

    /* Operands' element strides; the output is laid out as order='K' lays it out (the
     * core's answer), except gram()'s, which is always C-ordered. */
    const void *data[FAST_MAX_OPS];
    int64_t shapes[FAST_MAX_DIMS], strides[FAST_MAX_DIMS];
    int at = 0;
    for (int k = 0; k < key.nops; k++) {
        PyArrayObject *a = (PyArrayObject *)ops[k];
        npy_intp item = PyArray_ITEMSIZE(a);
        for (int d = 0; d < key.ndims[k]; d++, at++) {
            if (PyArray_STRIDE(a, d) % item != 0) Py_RETURN_NONE;
            shapes[at] = PyArray_DIM(a, d);
            strides[at] = PyArray_STRIDE(a, d) / item;
        }
        data[k] = PyArray_DATA(a);
    }
    const int64_t *layout = NULL; /* C order: gram()'s, and any result of rank 0 or 1 */
    if (sub != gram_keys[0] && sub != gram_keys[1] && e->out_nd > 1) {
        if (e->order_len != at + 1 || memcmp(e->order_strides, strides, sizeof(int64_t) * at) != 0) {
            sg_plan_output_order(PyCapsule_GetPointer(e->plan, PLAN_NAME), strides, e->order);
            memcpy(e->order_strides, strides, sizeof(int64_t) * at);
            e->order_len = at + 1;
        }
        layout = e->order;
    }
    PyObject *out = aligned_array(e->descr, e->out_nd, e->out_dims, layout);
    if (!out) return NULL;
    PyArrayObject *o = (PyArrayObject *)out;
    if (PyArray_SIZE(o) > 0) {
        int64_t out_shape[FAST_MAX_DIMS], out_strides[FAST_MAX_DIMS];
        for (int d = 0; d < e->out_nd; d++) {
            out_shape[d] = PyArray_DIM(o, d);
            out_strides[d] = PyArray_STRIDE(o, d) / PyArray_ITEMSIZE(o);
        }
        /* The entry may be replaced by another thread while the GIL is released. */
        PyObject *plan = Py_NewRef(e->plan);
        int code = e->code;
        double alpha = e->alpha;
        char err[ERRLEN] = {0};
        Py_BEGIN_ALLOW_THREADS
        rc = sg_plan_execute(PyCapsule_GetPointer(plan, PLAN_NAME), code, data, shapes, strides,
                             PyArray_DATA(o), out_shape, out_strides, alpha, err, ERRLEN);
        Py_END_ALLOW_THREADS
        Py_DECREF(plan);
        if (rc != SG_OK) { Py_DECREF(out); return raise_sg(rc, err); }
    }
    return PyArray_Return(o); /* a 0-d result becomes a scalar, as numpy.einsum's */
}

/* fast_einsum(args, optimize) -> the result, or None when the signature is not known. */
static PyObject *py_fast_einsum(PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 2 || !PyTuple_CheckExact(argv[0])) return raise_sg(SG_ERR_VALUE, "fast_einsum(args, optimize)");
    PyObject *args = argv[0];
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (nargs < 2 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0))) Py_RETURN_NONE;
    return fast_call(PyTuple_GET_ITEM(args, 0), &PyTuple_GET_ITEM(args, 1), nargs - 1, argv[1]);
}

/* fast_gram(f1, f2, normalize) -> gram(f1, f2, normalize=normalize), or None when the
 * signature is not known (f2 None: f1 with itself). */
static PyObject *py_fast_gram(PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 3) return raise_sg(SG_ERR_VALUE, "fast_gram(f1, f2, normalize)");
    int normalize = PyObject_IsTrue(argv[2]);
    if (normalize < 0) return NULL;
    PyObject *ops[2] = {argv[0], argv[1] == Py_None ? argv[0] : argv[1]};
    return fast_call(gram_keys[normalize], ops, 2, Py_False);
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    sg_set_num_threads(n);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
    return PyLong_FromLongLong(sg_get_num_threads());
}

static PyObject *py_isa(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(sg_isa_name());
}

static PyMethodDef methods[] = {
    {"plan", py_plan, METH_VARARGS, "plan(subscripts, ndims, shapes, strategy, path, memory_limit) -> plan"},
    {"parse", py_parse, METH_VARARGS, "parse(subscripts, ndims) -> (input labels, output labels)"},
    {"plan_info", py_plan_info, METH_O, "plan_info(plan) -> (output_shape, is_view)"},
    {"view_strides", py_view_strides, METH_VARARGS, "view_strides(plan, strides) -> output strides (elements)"},
    {"output_order", py_output_order, METH_VARARGS, "output_order(plan, strides) -> axes fastest first (order='K')"},
    {"plan_path", py_plan_path, METH_O, "plan_path(plan) -> list of tuples"},
    {"plan_report", py_plan_report, METH_O, "plan_report(plan) -> str"},
    {"execute", py_execute, METH_VARARGS, "execute(plan, dtype, operands, out, alpha)"},
    {"fast_einsum", (PyCFunction)(void (*)(void))py_fast_einsum, METH_FASTCALL, "fast_einsum(args, optimize) -> result or None"},
    {"fast_gram", (PyCFunction)(void (*)(void))py_fast_gram, METH_FASTCALL, "fast_gram(f1, f2, normalize) -> result or None"},
    {"fast_remember", py_fast_remember, METH_VARARGS,
     "fast_remember(subscripts, arrays, optimize, plan, code, dtype, alpha=1) -> bool"},
    {"aligned_empty", py_aligned_empty, METH_VARARGS, "aligned_empty(shape, dtype, order) -> 64-byte aligned array"},
    {"set_num_threads", py_set_num_threads, METH_O, "set_num_threads(n)"},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "get_num_threads() -> int"},
    {"isa", py_isa, METH_NOARGS, "isa() -> name of the micro-kernel ISA in use"},
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
    PyObject *keys = PyTuple_Pack(2, gram_keys[0], gram_keys[1]);
    if (!keys || PyModule_AddObject(m, "GRAM_KEYS", keys) < 0) { Py_XDECREF(keys); goto fail; }  /* steals on success */
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
