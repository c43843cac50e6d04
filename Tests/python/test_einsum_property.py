"""Property tests: swiftgram.einsum against numpy.einsum on generated contractions.

Values are small integers so that every dtype's result is exact and comparisons can be
exact; strides cover transposes, reversed and stepped slices and zero-stride broadcasts.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import swiftgram
from oracle import LAYOUTS, make_operand, numpy_einsum

DTYPES = [np.float32, np.float64, np.float16, np.complex64, np.complex128, np.int32, np.int64,
          np.int8, np.int16, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]
LABELS = "abcdeA"


@st.composite
def einsum_cases(draw, dtypes=DTYPES):
    nops = draw(st.integers(1, 3))
    sizes = {l: draw(st.integers(0, 4) if draw(st.integers(0, 9)) == 0 else st.integers(1, 4)) for l in LABELS}
    use_ellipsis = draw(st.booleans()) and draw(st.booleans())
    ell_shape = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)) if use_ellipsis else []
    terms, shapes = [], []
    for _ in range(nops):
        labels = draw(st.lists(st.sampled_from(LABELS), min_size=0, max_size=4))
        shape = [sizes[l] for l in labels]
        # Size-1 broadcasting of a label (not within repeated labels of one operand).
        for i, l in enumerate(labels):
            if labels.count(l) == 1 and draw(st.integers(0, 7)) == 0:
                shape[i] = 1
        term = "".join(labels)
        if use_ellipsis and draw(st.booleans()):
            k = draw(st.integers(0, len(ell_shape)))
            at = draw(st.integers(0, len(labels)))
            eshape = [1 if draw(st.integers(0, 4)) == 0 else d for d in ell_shape[len(ell_shape) - k:]]
            term = term[:at] + "..." + term[at:]
            shape = shape[:at] + eshape + shape[at:]
        terms.append(term)
        shapes.append(shape)
    subscripts = ",".join(terms)
    if draw(st.booleans()):
        seen = sorted({c for t in terms for c in t if c.isalpha()})
        out = draw(st.permutations(seen)).copy()
        out = out[:draw(st.integers(0, len(out)))]
        has_ell = any("..." in t for t in terms)
        if has_ell:
            at = draw(st.integers(0, len(out)))
            out = out[:at] + ["..."] + out[at:]
        subscripts += "->" + "".join(out)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    layouts = [draw(st.sampled_from(LAYOUTS)) for _ in shapes]
    seed = draw(st.integers(0, 2**31))
    return subscripts, shapes, dtype, layouts, seed


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einsum_cases(), st.sampled_from([False, True, "optimal"]))
def test_matches_numpy(case, optimize):
    subscripts, shapes, dtype, layouts, seed = case
    rng = np.random.default_rng(seed)
    ops = [make_operand(s, dtype, l, rng) for s, l in zip(shapes, layouts)]
    expected, errors = numpy_einsum(subscripts, ops)
    if errors is not None:
        with pytest.raises(tuple(type(e) for e in errors if e is not None)):
            swiftgram.einsum(subscripts, *ops, optimize=optimize)
        return
    got = swiftgram.einsum(subscripts, *ops, optimize=optimize)
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, (subscripts, shapes, dtype)
    assert got.shape == expected.shape, (subscripts, shapes)
    np.testing.assert_array_equal(got, expected, err_msg=f"{subscripts} {shapes} {dtype} {layouts}")


@settings(max_examples=300, deadline=None)
@given(einsum_cases(dtypes=[np.float32, np.float64, np.complex128]))
def test_out_argument_any_layout(case):
    subscripts, shapes, dtype, layouts, seed = case
    rng = np.random.default_rng(seed)
    ops = [make_operand(s, dtype, l, rng) for s, l in zip(shapes, layouts)]
    expected, errors = numpy_einsum(subscripts, ops)
    if errors is not None:
        return
    expected = np.asarray(expected)
    # A non-contiguous, reversed output view.
    big = np.full([2 * d + 1 for d in expected.shape], 7, dtype=dtype)
    out = big[tuple(slice(2 * d - 1 if d else 0, None, -2) if d else slice(0, 0) for d in expected.shape)]
    out = out[tuple(slice(0, d) for d in expected.shape)] if expected.ndim else big[...]
    assert out.shape == expected.shape
    res = swiftgram.einsum(subscripts, *ops, out=out)
    assert res is out
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=300, deadline=None)
@given(einsum_cases(dtypes=[np.float32, np.float64]))
def test_random_floats_close(case):
    subscripts, shapes, dtype, layouts, seed = case
    rng = np.random.default_rng(seed)
    ops = [make_operand(s, dtype, l, rng) for s, l in zip(shapes, layouts)]
    ops = [o * np.asarray(rng.standard_normal(o.shape), dtype=dtype) for o in ops]
    expected, errors = numpy_einsum(subscripts, ops)
    if errors is not None:
        return
    got = swiftgram.einsum(subscripts, *ops, optimize=True)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=tol, atol=tol)


@st.composite
def gemm_cases(draw):
    """Two-operand contractions big enough for the packed GEMM engine (edge tiles included)."""
    letters = "abcdef"
    sizes = {l: draw(st.integers(1, 40)) for l in letters}
    la = draw(st.lists(st.sampled_from(letters), min_size=1, max_size=4, unique=True))
    lb = draw(st.lists(st.sampled_from(letters), min_size=1, max_size=4, unique=True))
    keep = [l for l in dict.fromkeys(la + lb) if draw(st.booleans())]
    out = draw(st.permutations(keep))
    subscripts = f"{''.join(la)},{''.join(lb)}->{''.join(out)}"
    shapes = [[sizes[l] for l in la], [sizes[l] for l in lb]]
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64, np.int64, np.complex64, np.int8])))
    layouts = [draw(st.sampled_from(["c", "f", "rev", "step", "t"])) for _ in shapes]
    return subscripts, shapes, dtype, layouts, draw(st.integers(0, 2**31))


@settings(max_examples=400, deadline=None)
@given(gemm_cases(), st.integers(1, 3))
def test_gemm_sized_matches_numpy(case, threads):
    subscripts, shapes, dtype, layouts, seed = case
    rng = np.random.default_rng(seed)
    ops = [make_operand(s, dtype, l, rng) for s, l in zip(shapes, layouts)]
    expected = np.einsum(subscripts, *ops)
    before = swiftgram.get_num_threads()
    swiftgram.set_num_threads(threads)
    try:
        got = swiftgram.einsum(subscripts, *ops)
    finally:
        swiftgram.set_num_threads(before)
    np.testing.assert_array_equal(np.asarray(got), expected, err_msg=f"{subscripts} {shapes} {layouts}")


@st.composite
def path_cases(draw):
    """Multi-operand subscripts (letters only: NumPy names '...' dims by random letters) over
    sizes where the memory limit and the FLOP sieve of NumPy's searches come into play."""
    letters = "abcdefgAB"
    sizes = {l: draw(st.sampled_from([1, 2, 3, 5, 8, 20, 50])) for l in letters}
    terms = [draw(st.text(st.sampled_from(letters), max_size=3)) for _ in range(draw(st.integers(1, 6)))]
    subscripts = ",".join(terms)
    if draw(st.booleans()):
        used = sorted(set("".join(terms)))
        subscripts += "->" + "".join(draw(st.permutations(used))[:draw(st.integers(0, len(used)))])
    # A label of size 1 in one operand broadcasts against the others (not within a diagonal).
    shapes = [[1 if t.count(l) == 1 and draw(st.integers(0, 9)) == 0 else sizes[l] for l in t] for t in terms]
    optimize = draw(st.sampled_from([False, "greedy", "optimal", True, "auto", ("greedy", 0), ("optimal", 0),
                                     ("auto", 0)]))
    if isinstance(optimize, tuple):
        optimize = (optimize[0], draw(st.sampled_from([1, 10, 100, 1000])))
    return subscripts, shapes, optimize


def optimized_flops(report):
    return float(next(l for l in report.splitlines() if "Optimized FLOP" in l).split()[-1])


@settings(max_examples=1500, deadline=None)
@given(path_cases())
def test_einsum_path_matches_numpy(case):
    """False, True, 'greedy' and 'optimal' paths are NumPy's, report and all, ties and the
    default memory limit (the largest operand or output) included; 'auto' (swiftgram's
    subset search) never costs more than NumPy's optimal choice."""
    subscripts, shapes, optimize = case
    ops = [np.empty(s) for s in shapes]
    path, report = swiftgram.einsum_path(subscripts, *ops, optimize=optimize)
    # Any path's report is the one NumPy prints for it.
    assert (path, report) == np.einsum_path(subscripts, *ops, optimize=path), (subscripts, shapes, optimize)
    strategy = optimize[0] if isinstance(optimize, tuple) else optimize
    if strategy != "auto":
        assert path == np.einsum_path(subscripts, *ops, optimize=optimize)[0], (subscripts, shapes, optimize)
    else:
        limit = optimize[1] if isinstance(optimize, tuple) else None
        theirs = np.einsum_path(subscripts, *ops, optimize="optimal" if limit is None else ("optimal", limit))
        assert optimized_flops(report) <= optimized_flops(theirs[1]), (subscripts, shapes, optimize, path, theirs[0])
