"""einsum, einsum_path and gram: NumPy's semantics, computed by the Swift core."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence, TypeVar, overload

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _core
from ._arguments import (CASTINGS, ORDERS, core_buffers, dtype_code, dtype_supported, is_bfloat16, split_arguments,
                         usable_in_place)
from ._plans import LRUCache, aligned_empty, get_plan


def _result_dtype(arrays: list, dtype: Any) -> np.dtype:
    # numpy.einsum turns Python scalars into 0-d arrays before promoting (it does not apply
    # NEP 50's weak-scalar rule): int8 with 300 gives int64, float32 with 0.5 float64.
    dt = np.dtype(dtype) if dtype is not None else np.result_type(*arrays)
    return dt.newbyteorder("=")


def _output_order(order: str, plan: Any, ndim: int, arrays: list) -> Any:
    """The new result's layout: 'C', 'F', or (order='K') its axes fastest first, as the
    core says numpy.einsum lays it out for these operands."""
    if order in ("C", "F"):
        return order
    if order == "A":  # NumPy's iterator: Fortran when every operand is Fortran-contiguous
        return "F" if all(a.flags.f_contiguous for a in arrays) else "C"
    if ndim <= 1:
        return "C"  # one layout only
    return _core.output_order(plan, [s for a in arrays for s in a.strides])


def _view(a: np.ndarray, shape: tuple, strides: tuple) -> np.ndarray:
    """A view of a's memory whose ``.base`` is the owner of that memory, as numpy.einsum's
    views are (NumPy's contract: ``einsum('ij', a).base is a.base``)."""
    # NumPy's rule for a view's base: the nearest ndarray that owns its data or whose own
    # base is something else (bytes, a memmap, another subclass).
    owner = a
    while not owner.flags.owndata and type(owner.base) is np.ndarray:
        owner = owner.base
    try:
        view = np.ndarray(shape, a.dtype, buffer=owner, offset=a.ctypes.data - owner.ctypes.data, strides=strides)
    except (TypeError, ValueError, BufferError):
        # An owner the buffer protocol cannot hand out whole (not contiguous).
        return as_strided(a, shape, strides, writeable=a.flags.writeable)
    if not a.flags.writeable:
        view.flags.writeable = False
    return view


class _Prepared(NamedTuple):
    """Everything about a call that depends only on its signature (subscripts, operand
    shapes and dtypes, keywords): validated once, then reused by every call like it."""
    plan: Any
    shape: tuple
    dtype: np.dtype
    code: int
    is_view: bool
    ends_in_shared_contraction: bool  # see Plan.endsInSharedContraction
    cast_error: str | None  # raised after out= is checked, numpy's order
    # Per operand: read converted by the core (NumPy's safe casts, with the exceptions
    # DType.reads names), not copied here; every operand's code when some are, else None.
    converted: tuple
    codes: tuple | None


_prepared = LRUCache(512)


def _optimize_key(optimize: Any) -> Any:
    return optimize if isinstance(optimize, (bool, str, type(None))) else repr(optimize)


def _prepare(subscripts: str, arrays: list, dtype: Any, casting: str, optimize: Any) -> _Prepared:
    # Subscript errors first, then dtype errors: the order numpy.einsum reports them in.
    plan = get_plan(subscripts, [a.shape for a in arrays], optimize)
    for k, a in enumerate(arrays):
        if a.dtype.kind not in "biufc" and not is_bfloat16(a.dtype):
            raise TypeError(f"swiftgram.einsum: operand {k} has dtype {a.dtype}, which is not supported "
                            "(supported: bool, int8-64, uint8-64, float16/32/64, bfloat16, complex64/128)")
        dtype_code(a.dtype)
    dt = _result_dtype(arrays, dtype)
    rule: Any = casting  # validated against CASTINGS by the caller
    cast_error = next((f"einsum: cannot cast operand {k} from dtype('{a.dtype}') to dtype('{dt}') "
                       f"according to the rule '{casting}'"
                       for k, a in enumerate(arrays) if not np.can_cast(a.dtype, dt, rule)), None)
    shape, is_view, shared = _core.plan_info(plan)
    code = dtype_code(dt)
    converted = tuple(a.dtype != dt and _core.reads(code, dtype_code(a.dtype)) for a in arrays)
    codes = tuple(dtype_code(a.dtype) for a in arrays) if any(converted) else None
    return _Prepared(plan, tuple(shape), dt, code, is_view, shared, cast_error, converted, codes)


def _contract(subscripts: str, operands: list, out: Any, dtype: Any, order: str, casting: str,
              optimize: Any, alpha: float = 1.0, allow_view: bool = True, fast_key: Any = None,
              accumulate: bool = False, executor: int = 0):
    """einsum's work after argument parsing; with ``accumulate`` the result is added to
    ``out`` (out += alpha * result: the core adds in its kernels where out is usable in
    place, else NumPy adds a computed result); ``executor``: the address of a framework
    thread pool's sg_executor for the core's parallel loops (0: the core's own pool)."""
    if not isinstance(order, str) or order.upper() not in ORDERS:
        raise ValueError(f"einsum: order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    order = order.upper()  # NumPy takes any case
    if casting not in CASTINGS:
        raise ValueError(f"einsum: casting must be one of {', '.join(map(repr, CASTINGS))} (got {casting!r})")
    arrays = [np.asarray(o) for o in operands]
    if dtype is None and isinstance(out, np.ndarray) and all(a.dtype.kind in "biufc" for a in (*arrays, out)):
        # numpy.einsum computes in the common type of the operands and out= (its iterator
        # takes out= as one more operand): int8 summed into an int64 out= does not wrap,
        # float32 summed into a float64 one is summed in float64.
        common = np.result_type(_result_dtype(arrays, None), out.dtype)
        if dtype_supported(common):
            dtype = common
    try:
        key = (subscripts, dtype, casting, _optimize_key(optimize),
               *[(a.shape, a.dtype) for a in arrays])
        hash(key)
    except TypeError:  # an unhashable dtype= or optimize=: no caching, same checks
        key = None
    make = lambda: _prepare(subscripts, arrays, dtype, casting, optimize)  # noqa: E731
    p = _prepared.get(key, make) if key is not None else make()
    shape, dt = p.shape, p.dtype

    if out is None and p.is_view and allow_view and alpha == 1.0 and dtype in (None, arrays[0].dtype):
        # NumPy returns a view for pure relabellings (transposes) and diagonals.
        a = arrays[0]
        if all(s % a.itemsize == 0 for s in a.strides):
            strides = _core.view_strides(p.plan, [s // a.itemsize for s in a.strides])
            view = _view(a, shape, tuple(s * a.itemsize for s in strides))
            return view[()] if view.ndim == 0 else view

    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"einsum: out must be a numpy.ndarray, got {type(out).__name__}")
        if out.shape != shape:
            raise ValueError(f"einsum: out has shape {out.shape} but the result has shape {shape}")
        if not out.flags.writeable:
            raise ValueError("einsum: out is read-only")
    if p.cast_error:
        raise TypeError(p.cast_error)
    # Operands of the result dtype, or of one the core reads converted, are read in place.
    inputs = [a if usable_in_place(a, dt) or (c and usable_in_place(a, a.dtype)) else a.astype(dt, order="C")
              for a, c in zip(arrays, p.converted)]
    if (out is None and dtype is None and casting == "safe" and type(optimize) in (bool, str) and not p.is_view
            and not is_bfloat16(dt) and all(i is a is o for i, a, o in zip(inputs, arrays, operands))):
        # Validated: later calls with this signature take the shim's fast path (gram()'s
        # under its own key, with its scale; the shim gives those a C-ordered result).
        if fast_key is not None:
            _core.fast_remember(fast_key, tuple(arrays), optimize, p.plan, p.code, dt, alpha, p.codes)
        elif alpha == 1.0 and allow_view:
            _core.fast_remember(subscripts, tuple(arrays), optimize, p.plan, p.code, dt, 1.0, p.codes)
    if out is not None:
        # NumPy's optimize path assigns a 0-d matmul result to out= ignoring `casting`;
        # swiftgram's own 'auto' has no NumPy route to follow and keeps the rule.
        numpy_ignores_casting = (optimize not in (False, None, "auto") and out.ndim == 0
                                 and p.ends_in_shared_contraction)
        rule: Any = casting
        if not np.can_cast(dt, out.dtype, rule) and not numpy_ignores_casting:
            raise TypeError(f"einsum: cannot cast the result from dtype('{dt}') to the out dtype "
                            f"dtype('{out.dtype}') according to the rule '{casting}'")
        direct = usable_in_place(out, dt) and not any(np.may_share_memory(out, a) for a in inputs)
        target = out if direct else aligned_empty(shape, dt)
    else:
        target = aligned_empty(shape, dt, _output_order(order, p.plan, len(shape), arrays))
    if target.size:
        # Inputs are of the result dtype or read converted (never bfloat16 then): one code
        # check, not one per operand.
        operands, (result,) = core_buffers(p.code, inputs), core_buffers(p.code, [target])
        _core.execute(p.plan, p.code, operands, result, float(alpha), accumulate and target is out, executor)
    if out is not None:
        if target is not out and accumulate:
            np.add(out, target, out=out, casting="unsafe")
        elif target is not out:
            np.copyto(out, target, casting="unsafe")
        return out
    return target[()] if target.ndim == 0 else target


_Out = TypeVar("_Out", bound=np.ndarray)


# The two call forms, each without out= (a new array, or a NumPy scalar for a 0-d result)
# and with it (out= itself is returned).
@overload
def einsum(subscripts: str, /, *operands: Any, out: None = None, dtype: Any = None, order: str = "K",
           casting: str = "safe", optimize: Any = False) -> Any: ...
@overload
def einsum(subscripts: str, /, *operands: Any, out: _Out, dtype: Any = None, order: str = "K",
           casting: str = "safe", optimize: Any = False) -> _Out: ...
@overload
def einsum(operand: Any, sublist: Sequence[Any], /, *operands_and_sublists: Any, out: None = None,
           dtype: Any = None, order: str = "K", casting: str = "safe", optimize: Any = False) -> Any: ...
@overload
def einsum(operand: Any, sublist: Sequence[Any], /, *operands_and_sublists: Any, out: _Out,
           dtype: Any = None, order: str = "K", casting: str = "safe", optimize: Any = False) -> _Out: ...
def einsum(*operands: Any, out: np.ndarray | None = None, dtype: Any = None, order: str = "K",
           casting: str = "safe", optimize: Any = False) -> Any:
    """Evaluates the Einstein summation convention on the operands, like ``numpy.einsum``.

    Both call forms work: ``einsum('ij,jk->ik', a, b)`` and the sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. Inputs of any strides are read in place and
    never written. ``optimize`` takes NumPy's values (False, True, 'greedy', 'optimal',
    an ``['einsum_path', ...]`` list, or ``(strategy, memory_limit)``); the path only
    changes the order of work, never the result. Pure relabellings of one operand
    (``'ij->ji'``, ``'ii->i'``) return a view, as NumPy does; everything else is a new
    64-byte aligned array, or ``out``.

    Mixed input dtypes compute in the result dtype, as NumPy's do: the core reads an
    operand of another dtype converted, once per call, where the cast is safe (from
    uint64 and from or into bfloat16 the operand is converted here first).

    Differences from NumPy: object and longdouble dtypes raise TypeError.
    """
    if out is None and dtype is None and order == "K" and casting == "safe":
        result = _core.fast_einsum(operands, optimize)  # None unless the signature was seen
        if result is not None:
            return result
    subscripts, ops = split_arguments(operands)
    return _contract(subscripts, ops, out, dtype, order, casting, optimize)


def einsum_path(*operands: Any, optimize: Any = "greedy", einsum_call: bool = False) -> tuple[list[Any], str]:
    """Returns ``(path, report)`` like ``numpy.einsum_path``: the contraction order
    swiftgram uses for these operands (NumPy's list format, starting with 'einsum_path')
    and a printable report of its scaling and FLOP counts."""
    if einsum_call:
        raise NotImplementedError("einsum_path(einsum_call=True) is NumPy-internal and not supported")
    subscripts, ops = split_arguments(operands)
    arrays = [np.asarray(o) for o in ops]
    plan = get_plan(subscripts, [a.shape for a in arrays], optimize)
    return ["einsum_path", *_core.plan_path(plan)], _core.plan_report(plan)


def gram(f1: Any, f2: Any = None, *, normalize: bool = True, out: np.ndarray | None = None) -> np.ndarray:
    """The Gram / bilinear-pooling matrix of feature maps.

    ``f1`` has shape (batch, *spatial, m) and ``f2`` (batch, *spatial, n) (``f2=None``
    means ``f1``). Returns ``G[k, i, j] = sum_spatial f1[k, ..., i] * f2[k, ..., j]``, of
    shape (batch, m, n), divided by the number of spatial positions when ``normalize``
    (for 4-D inputs: ``einsum('ahwm,ahwn->amn', f1, f2) / (h * w)``). The scale is applied
    inside the kernel, not as a second pass.
    """
    if out is None:
        result = _core.fast_gram(f1, f2, normalize)  # None unless the signature was seen
        if result is not None:
            return result
    a = np.asarray(f1)
    b = a if f2 is None else np.asarray(f2)
    for name, x in (("f1", a), ("f2", b)):
        if x.ndim < 2:
            raise ValueError(f"gram: {name} must have shape (batch, *spatial, channels), got shape {x.shape}")
    if a.ndim != b.ndim or a.shape[:-1] != b.shape[:-1]:
        raise ValueError(f"gram: f1 {a.shape} and f2 {b.shape} must agree on batch and spatial dimensions")
    spatial = "".join("hwdefgpqrstuvxyz"[i] for i in range(a.ndim - 2))
    subscripts = f"a{spatial}m,a{spatial}n->amn"
    positions = int(np.prod(a.shape[1:-1], dtype=np.int64))
    dtype = None
    if normalize and np.result_type(a, b).kind in "biu":
        dtype = np.float64  # integer features: the normalised Gram is real, as a / (h*w) is
    alpha = 1.0 / positions if normalize and positions > 0 else 1.0
    return _contract(subscripts, [a, b], out, dtype, "C", "safe", False, alpha=alpha, allow_view=False,
                     fast_key=_core.GRAM_KEYS[bool(normalize)])
