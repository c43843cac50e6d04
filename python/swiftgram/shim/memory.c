#include "shim.h"  /* Python.h first: it sets the feature macros */
#include <sys/mman.h>

/* ---- Result memory ---------------------------------------------------------------------
 * Results live in 64-byte aligned blocks (frameworks such as TF then take them without
 * copying, and SIMD stores never split cache lines), each owned by a Block object that is
 * the array's base. A large block, when its array dies, is kept for the next result of a
 * similar size instead of going back to the kernel: a fresh block costs a page fault and
 * the kernel zeroing every page on first touch, and two threads faulting at once can take
 * several times as long as one (measured in docs/performance/engine.md, "Result memory"). At most CACHE_SLOTS blocks and cache_cap bytes are
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
size_t cache_cap = (size_t)256 << 20;
static size_t cache_total;

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

PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftgram._core.Block",
    .tp_basicsize = sizeof(Block),
    .tp_dealloc = block_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The memory of a swiftgram result (an array's base).",
};

/* An uninitialised array in a 64-byte aligned block, its axes laid out fastest first in
 * the order order[0..nd) (NULL: C order). */
PyObject *aligned_array(PyArray_Descr *descr, int nd, npy_intp *dims, const int64_t *order) {
    npy_intp count = 1, item = PyDataType_ELSIZE(descr), strides[NPY_MAXDIMS];
    for (int d = 0; d < nd; d++) {
        if (dims[d] < 0) return raise_sg(SG_ERR_VALUE, "negative dimensions are not allowed");
        if (dims[d] > 0 && count > (NPY_MAX_INTP - 64) / item / dims[d]) return PyErr_NoMemory();
        count *= dims[d];
    }
    /* C and Fortran order go to NumPy as an order, not strides, so it sets their strides
     * and flags itself, as it does for its own arrays; any other order with its strides. */
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
PyObject *py_aligned_empty(PyObject *self, PyObject *args) {
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
