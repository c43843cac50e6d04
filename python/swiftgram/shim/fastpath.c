#include "shim.h"

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
    int mixed;     /* operands of other dtypes than the result's, read converted by the core */
    int32_t op_codes[FAST_MAX_OPS];
    Py_hash_t hash;
    /* The core's order='K' layout for the operand strides last seen (order_len: their
     * count + 1; 0 when none): calls in a loop pass the same strides. */
    int order_len;
    int64_t order_strides[FAST_MAX_DIMS], order[FAST_MAX_DIMS];
} FastEntry;

static FastEntry fast_table[FAST_SLOTS];

/* gram()'s table keys: [0] unnormalised, [1] normalised (exported as GRAM_KEYS). */
PyObject *gram_keys[2];

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

/* fast_remember(subscripts, arrays, optimize, plan, code, dtype, alpha=1, codes=None):
 * the front end vouches that this signature computes plan in dtype (code), scaled by
 * alpha, with every array read in place; codes: each array's dtype code where some differ
 * from code (read converted by the core). subscripts is a gram key for gram() calls. */
PyObject *py_fast_remember(PyObject *self, PyObject *args) {
    PyObject *sub, *arrays, *optimize, *plan, *dtype_o, *codes_o = Py_None;
    int code;
    double alpha = 1.0;
    if (!PyArg_ParseTuple(args, "OO!OOiO|dO", &sub, &PyTuple_Type, &arrays, &optimize, &plan, &code, &dtype_o,
                          &alpha, &codes_o)) return NULL;
    void *p = get_plan(plan);
    if (!p) return NULL;
    int32_t codes[FAST_MAX_OPS];
    int mixed = codes_o != Py_None;
    if (mixed) {
        if (!PyTuple_Check(codes_o) || PyTuple_GET_SIZE(codes_o) != PyTuple_GET_SIZE(arrays)
            || PyTuple_GET_SIZE(codes_o) > FAST_MAX_OPS) {
            return raise_sg(SG_ERR_VALUE, "fast_remember: codes must be a tuple of one code per array");
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(codes_o); k++) {
            long c = PyLong_AsLong(PyTuple_GET_ITEM(codes_o, k));
            if (c == -1 && PyErr_Occurred()) return NULL;
            codes[k] = (int32_t)c;
        }
    }
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
    e->mixed = mixed;
    if (mixed) memcpy(e->op_codes, codes, sizeof(int32_t) * key.nops);
    e->order_len = 0;
    e->out_nd = (int)out_nd;
    for (int d = 0; d < out_nd; d++) e->out_dims[d] = (npy_intp)shape[d];
    Py_XDECREF(old_sub); Py_XDECREF(old_opt); Py_XDECREF(old_plan); Py_XDECREF(old_descr);
    Py_RETURN_TRUE;
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
        int code = e->code, mixed = e->mixed;
        double alpha = e->alpha;
        int32_t codes[FAST_MAX_OPS];
        if (mixed) memcpy(codes, e->op_codes, sizeof(int32_t) * key.nops);
        char err[ERRLEN] = {0};
        Py_BEGIN_ALLOW_THREADS
        rc = sg_plan_execute_typed(NULL, PyCapsule_GetPointer(plan, PLAN_NAME), code, mixed ? codes : NULL, data, shapes,
                                   strides, PyArray_DATA(o), out_shape, out_strides, alpha, 0, err, ERRLEN);
        Py_END_ALLOW_THREADS
        Py_DECREF(plan);
        if (rc != SG_OK) { Py_DECREF(out); return raise_sg(rc, err); }
    }
    return PyArray_Return(o); /* a 0-d result becomes a scalar, as numpy.einsum's */
}

/* fast_einsum(args, optimize) -> the result, or None when the signature is not known. */
PyObject *py_fast_einsum(PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 2 || !PyTuple_CheckExact(argv[0])) return raise_sg(SG_ERR_VALUE, "fast_einsum(args, optimize)");
    PyObject *args = argv[0];
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (nargs < 2 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0))) Py_RETURN_NONE;
    return fast_call(PyTuple_GET_ITEM(args, 0), &PyTuple_GET_ITEM(args, 1), nargs - 1, argv[1]);
}

/* fast_gram(f1, f2, normalize) -> gram(f1, f2, normalize=normalize), or None when the
 * signature is not known (f2 None: f1 with itself). */
PyObject *py_fast_gram(PyObject *self, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 3) return raise_sg(SG_ERR_VALUE, "fast_gram(f1, f2, normalize)");
    int normalize = PyObject_IsTrue(argv[2]);
    if (normalize < 0) return NULL;
    PyObject *ops[2] = {argv[0], argv[1] == Py_None ? argv[0] : argv[1]};
    return fast_call(gram_keys[normalize], ops, 2, Py_False);
}
