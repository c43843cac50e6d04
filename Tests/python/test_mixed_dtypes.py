"""Operands of mixed dtypes: computed in NumPy's result dtype, each operand the core reads
converted (NumPy's safe casts) read in place by the core, with no NumPy copy; the other
casts (from uint64, unsafe ones, bfloat16) converted by the front end, as before."""
import itertools
import resource
import tracemalloc

import numpy as np
import pytest

import swiftgram
from swiftgram import _core
from swiftgram._arguments import dtype_code
from swiftgram._plans import get_plan

from oracle import assert_within_summation_error

TYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
         np.float16, np.float32, np.float64, np.complex64, np.complex128]


def _values(rng, dtype, shape):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 20, shape).astype(dtype)
    x = rng.standard_normal(shape)
    return (x + 1j * rng.standard_normal(shape)).astype(dtype) if np.issubdtype(dtype, np.complexfloating) else x.astype(dtype)


def test_the_core_reads_exactly_numpys_safe_casts():
    # The one rule (DType.reads) against NumPy's own: every safe cast between the core's
    # dtypes, except from uint64 (the core widens integers to int64).
    for s, t in itertools.product(TYPES, TYPES):
        want = bool(np.can_cast(s, t, "safe")) and (s != np.uint64 or t == np.uint64)
        assert _core.reads(dtype_code(np.dtype(t)), dtype_code(np.dtype(s))) == want, (s, t)


@pytest.mark.parametrize("first", TYPES, ids=lambda t: np.dtype(t).name)
def test_every_pair_of_dtypes_matches_numpy(rng, first):
    # Each path: a GEMM, a three-operand chain (matrix-vector product, then a dot), a
    # strided loop reduction; contiguous and reversed / Fortran-ordered operands; the
    # second call of a signature takes the shim's fast path.
    cases = [("ij,jk->ik", [(20, 30), (30, 10)]), ("i,ij,j", [(40,), (40, 60), (60,)]), ("ji,j->i", [(50, 7), (50,)])]
    for second, (subscripts, shapes) in itertools.product(TYPES, cases):
        ops = [_values(rng, first, shapes[0])] + [_values(rng, second, s) for s in shapes[1:]]
        for layout in (ops, [ops[0][::-1]] + [np.asfortranarray(o) for o in ops[1:]]):
            got = [swiftgram.einsum(subscripts, *layout, optimize=o) for o in (False, True, True)]
            np.testing.assert_array_equal(got[1], got[2])  # the fast path changes nothing
            for g in got:
                assert_within_summation_error(g, subscripts, layout)


def test_mixed_operands_make_no_numpy_copy(rng):
    # An int64 operand of 8 MB with a float64 one: NumPy's astype would allocate 8 MB that
    # tracemalloc sees; the core's converted copy is its own, freed before the call returns.
    x = np.arange(10**6)
    y = rng.standard_normal(10**6)
    want = float(np.dot(x.astype(np.float64), y))
    swiftgram.einsum("i,i->", x, y)  # plan and validate first
    tracemalloc.start()
    try:
        got = swiftgram.einsum("i,i->", x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_broadcast_operand_is_converted_without_materialising(rng):
    # A (20000, 20000) int64 view of one row: converting it whole would take 3.2 GB; the
    # core converts the row once and keeps the broadcast axis at stride 0.
    # (The core's memory is outside tracemalloc: the process's peak resident size shows it.)
    row = np.arange(20000)
    m = np.broadcast_to(row, (20000, 20000))
    v = rng.standard_normal(20000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = swiftgram.einsum("ij,j->i", m, v)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 1 << 20  # KiB: under 1 GiB
    np.testing.assert_allclose(got, np.full(20000, row.astype(np.float64) @ v), rtol=1e-10)


def test_mixed_operands_into_out_with_dtype_and_casting(rng):
    a = rng.integers(-5, 5, (6, 7)).astype(np.int16)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    out = np.full((6, 3), np.nan, np.float64)
    assert swiftgram.einsum("ij,jk->ik", a, b, out=out) is out  # computed in float64, as NumPy's
    np.testing.assert_allclose(out, np.einsum("ij,jk->ik", a, b, out=np.empty((6, 3))), rtol=1e-12)
    for dtype, casting in ((np.complex128, "safe"), (np.float32, "same_kind"), (np.int8, "unsafe")):
        got = swiftgram.einsum("ij,jk->ik", a, b, dtype=dtype, casting=casting)
        want = np.einsum("ij,jk->ik", a, b, dtype=dtype, casting=casting)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    big = np.array([2**63 + 2**11, 3], np.uint64)  # beyond int64: converted by the front end
    np.testing.assert_array_equal(swiftgram.einsum("i,i->i", big, np.ones(2)), big * np.ones(2))


def test_an_operand_the_core_does_not_read_is_a_type_error(rng):
    # Through the shim's general entry: a float64 operand for an int64 computation (not a
    # safe cast) is refused by the core, naming the operand and both dtypes.
    a = np.ones((2, 3), np.int64)
    b = np.ones((3, 4), np.float64)
    plan = get_plan("ij,jk->ik", [a.shape, b.shape], False)
    out = np.zeros((2, 4), np.int64)
    with pytest.raises(TypeError, match=r"operand 1 has dtype float64.*int64"):
        _core.execute(plan, dtype_code(np.dtype(np.int64)), [a, b], out, 1.0)
    assert not out.any()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_large_operands_converted_in_pieces_over_threads(rng, threads, num_threads):
    # Copies above the parallel threshold are converted in pieces that start and end
    # inside rows: a strided int32 view of 3 rows (3 x 100003 of every other column) and a
    # reversed float32 vector, into float64; exact (every product and sum is exact here).
    num_threads(threads)
    x = rng.integers(-1000, 1000, (3, 200006)).astype(np.int32)[:, ::2]
    v = rng.integers(-8, 8, 100003).astype(np.float32)[::-1]
    got = swiftgram.einsum("ij,j->ij", x, v)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, x.astype(np.float64) * v.astype(np.float64))
    np.testing.assert_array_equal(swiftgram.einsum("ij,j->i", x, v), x.astype(np.int64) @ v.astype(np.int64))
