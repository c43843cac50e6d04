"""The NumPy oracle shared by the property tests and the fuzzer: operands of any dtype and
memory layout, and numpy.einsum's outcome (result or exceptions) for a call."""
import warnings

import numpy as np

# Memory layouts of an operand with the same values: C order, Fortran order, reversed,
# stepped, a zero-stride broadcast along axis 0, and transposed storage.
LAYOUTS = ["c", "f", "rev", "step", "bcast", "t"]


def make_operand(shape, dtype, layout, rng):
    """Small integers (exact in every dtype, so results compare exactly) in the given
    dtype and layout; dtypes NumPy has but swiftgram refuses (object, str, long double)
    included."""
    dtype = np.dtype(dtype)
    big = [2 * d for d in shape]
    if dtype == np.bool_:
        base = rng.integers(0, 2, size=big).astype(bool)
    elif dtype.kind == "u":
        base = rng.integers(0, 4, size=big).astype(dtype)
    elif dtype.kind == "U":
        base = rng.integers(-2, 3, size=big).astype(dtype)
    else:
        base = rng.integers(-3, 4, size=big).astype(dtype)
        if dtype.kind == "c":
            base = base + 1j * rng.integers(-2, 3, size=big).astype(dtype)
    view = base[tuple(slice(0, d) for d in shape)] if shape else base[...]  # 0-d stays an array
    if layout == "f" and view.ndim:
        view = np.asfortranarray(view)
    elif layout == "rev" and view.ndim:
        view = base[tuple(slice(2 * d - 1, d - 1, -1) if d else slice(0, 0) for d in shape)]
    elif layout == "step" and view.ndim:
        view = base[tuple(slice(0, 2 * d, 2) for d in shape)]
    elif layout == "bcast" and view.ndim and all(d > 0 for d in shape):
        view = np.broadcast_to(view[:1], shape)
    elif layout == "t" and view.ndim > 1:
        view = np.ascontiguousarray(view.T).T
    assert view.shape == tuple(shape)
    return view


def outcome(fn):
    """(result, None) or (None, the exception fn raised)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(), None
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return None, e


def numpy_einsum(subscripts, ops, **kw):
    """numpy.einsum's outcome: (result, None) or (None, [exceptions its paths raised]).
    Where its plain path rejects a call that its optimize path accepts (an explicit output
    without '...' sums the broadcast dims), the latter. Not for a casting error: the
    optimize path's BLAS steps write into out= ignoring `casting` ('...a,...a' of float32
    into an int8 out= under 'safe')."""
    ref, err = outcome(lambda: np.einsum(subscripts, *ops, **kw))
    if err is not None and not isinstance(err, TypeError):
        alt, alt_err = outcome(lambda: np.einsum(subscripts, *ops, optimize="greedy", **kw))
        out, casting, dtype = kw.get("out"), kw.get("casting"), kw.get("dtype")
        rule = casting in ("no", "equiv", "safe", "same_kind", "unsafe")
        if alt is not None and out is not None and ops and rule \
                and not np.can_cast(dtype or np.result_type(*ops), out.dtype, casting):
            # The same blind spot without BLAS: '...,...->' of empty float32 operands into an
            # int8 out= under 'safe' (the plain path rejects the subscripts instead).
            return None, [err, TypeError("the result cannot be cast to out= under this rule")]
        if alt is not None and dtype is not None and rule:
            # NumPy 2's optimize path multiplies in the operands' type and casts after, so
            # uint8 '...,...->' with dtype=float64 wraps (2 * [1, 0, 255] sums to 0, not
            # 512); dtype= means computing in that type, as its plain path does.
            if not all(np.can_cast(o.dtype, dtype, casting) for o in ops):
                return None, [err, TypeError("an operand cannot be cast to dtype= under this rule")]
            rest = {k: v for k, v in kw.items() if k != "dtype"}
            alt, alt_err = outcome(lambda: np.einsum(subscripts, *[o.astype(dtype) for o in ops],
                                                     optimize="greedy", **rest))
        if alt is not None:
            return alt, None
        return None, [err, alt_err]
    return ref, err and [err]


def assert_within_summation_error(got, subscripts, ops):
    """swiftgram's result of a reduction against NumPy's dtype and shape and against the
    exact sums: integers and bool exactly; floats within swiftgram's summation (blocks of
    128 terms in sequence, the blocks pairwise: about 128 + log2(blocks) roundings of the
    terms' magnitude, float16 accumulating in float32) plus the result's own rounding."""
    want = np.einsum(subscripts, *ops)
    assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
        return
    wide = np.einsum(subscripts, *[o.astype(np.complex128) for o in ops])
    magnitude = np.einsum(subscripts, *[np.abs(o).astype(np.float64) for o in ops])
    real = np.finfo(want.dtype).dtype
    acc = np.finfo(np.float32 if want.dtype == np.float16 else real).eps
    bound = 160 * acc * magnitude + np.finfo(real).eps * np.abs(wide)
    assert np.all(np.abs(got - (wide if want.dtype.kind == "c" else wide.real)) <= bound)
