"""swiftgram on Dask arrays: ``einsum`` and ``gram`` over chunked arrays (larger than one
machine's memory, or spread over a dask.distributed cluster), with swiftgram as the block
kernel.

    import dask.array as da, swiftgram.dask as sgd
    F = da.random.default_rng(0).standard_normal((64, 28, 28, 256), chunks=(16, 14, 14, 256))
    G = sgd.gram(F).compute()                       # (64, 256, 256), any chunking

One task per output block (Dask's ``blockwise``): it receives every block along the
contracted axes and sums their products into one result in place (the core's accumulate
mode, out += alpha * partial), so no partial products are stored, shipped or tree-summed.
On dask.distributed each worker task runs swiftgram on one thread (the worker's cores are
the cluster's parallelism), unless SWIFTGRAM_NUM_THREADS is set in the workers'
environment (``distributed.nanny.pre-spawn-environ``).
"""
from __future__ import annotations

import itertools
import os
from typing import Any

import dask.array as da
import numpy as np

from . import _core, set_num_threads
from ._arguments import LETTERS, split_arguments
from ._einsum import _contract

__all__ = ["einsum", "gram"]


def _on_worker_use_one_thread() -> None:
    """Inside a dask.distributed worker, one swiftgram thread per task (as Dask sets
    OpenBLAS, MKL and OpenMP to one), unless SWIFTGRAM_NUM_THREADS says otherwise."""
    if os.environ.get("SWIFTGRAM_NUM_THREADS", "").strip():
        return
    try:
        from distributed import get_worker
        get_worker()
    except (ImportError, ValueError):
        return
    set_num_threads(1)


def _block(*blocks: Any, subscripts: str, terms: list, contracted: list, counts: dict, compute_dtype: Any,
           alpha: float, optimize: Any) -> np.ndarray:
    """One output block: the sum over every combination of contracted blocks, added in
    place. `blocks[k]` is operand k's block, nested in lists over its contracted labels (in
    the order they first appear in its term), as blockwise hands them over."""
    _on_worker_use_one_thread()
    out = None
    for combo in itertools.product(*(range(counts[l]) for l in contracted)):
        at = dict(zip(contracted, combo))
        picked = []
        for x, term in zip(blocks, terms):
            for label in dict.fromkeys(l for l in term if l in at):
                x = x[min(at[label], len(x) - 1)]  # one block: a size-1 axis broadcasting
            picked.append(x)
        if out is None:
            out = np.asarray(_contract(subscripts, picked, None, compute_dtype, "C", "safe", optimize, alpha=alpha,
                                       allow_view=False))
        else:
            _contract(subscripts, picked, out, compute_dtype, "C", "safe", optimize, alpha=alpha, accumulate=True)
    assert out is not None  # blockwise hands every task at least one block of each operand
    return out


def _contract_dask(subscripts: str, arrays: list, dtype: Any, alpha: float, optimize: Any) -> da.Array:
    arrays = [da.asarray(a) for a in arrays]
    dims = [-1 if np.isnan(d) else int(d) for a in arrays for d in a.shape]
    # The core checks the subscripts and every known size (ValueError naming label and sizes).
    inputs, output, _ = _core.parse(subscripts, [a.ndim for a in arrays], dims)
    # A letter for every label ('...' dims get letters no term uses).
    used = {l for t in inputs for l in t}
    spare = iter(c for i, c in enumerate(LETTERS) if i not in used)
    names = {l: LETTERS[l] if l < len(LETTERS) else next(spare) for l in sorted(used)}
    terms = ["".join(names[l] for l in t) for t in inputs]
    out_term = "".join(names[l] for l in output)
    dt = np.result_type(*[a.dtype for a in arrays]) if dtype is None else np.dtype(dtype)
    pairs = list(itertools.chain(*zip(arrays, terms)))
    _, arrays = da.core.unify_chunks(*pairs)
    contracted = list(dict.fromkeys(c for t in terms for c in t if c not in out_term))
    counts: dict = {}
    for a, t in zip(arrays, terms):
        for axis, c in enumerate(t):
            counts[c] = max(counts.get(c, 1), a.numblocks[axis])
    return da.blockwise(_block, out_term, *itertools.chain(*zip(arrays, terms)), concatenate=False,
                        dtype=dt, meta=np.empty((0,) * len(out_term), dt),
                        subscripts=",".join(terms) + "->" + out_term, terms=terms, contracted=contracted,
                        counts=counts, compute_dtype=dtype, alpha=alpha, optimize=optimize)


def einsum(*operands: Any, dtype: Any = None, optimize: Any = "auto") -> da.Array:
    """``swiftgram.einsum`` over Dask arrays (NumPy arrays are wrapped): any subscripts
    NumPy accepts, any chunking, contracted axes chunked too. Returns a lazy Dask array
    whose blocks are computed by swiftgram; ``optimize`` is the path for each block's
    contraction (several operands: contracted together inside each task)."""
    subscripts, arrays = split_arguments(operands)
    return _contract_dask(subscripts, list(arrays), dtype, 1.0, optimize)


def gram(f1: Any, f2: Any = None, normalize: bool = True) -> da.Array:
    """``swiftgram.gram`` over Dask arrays: (batch, *spatial, m) and (batch, *spatial, n)
    feature maps to (batch, m, n), divided by the spatial size when ``normalize`` (applied
    in the kernel). Any chunking; spatial chunks are summed in place."""
    a = da.asarray(f1)
    b = a if f2 is None else da.asarray(f2)
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-1] != b.shape[:-1]:
        raise ValueError(f"gram: f1 {a.shape} and f2 {b.shape} must be (batch, *spatial, channels) "
                         "feature maps agreeing on batch and spatial dimensions")
    spatial = "".join("hwdefgpqrstuvxyz"[i] for i in range(a.ndim - 2))
    positions = int(np.prod(a.shape[1:-1]))
    dtype = np.float64 if normalize and np.result_type(a.dtype, b.dtype).kind in "biu" else None
    alpha = 1.0 / positions if normalize and positions > 0 else 1.0
    return _contract_dask(f"a{spatial}m,a{spatial}n->amn", [a, b], dtype, alpha, False)
