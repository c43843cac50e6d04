"""Where numpy.einsum's behaviour is subtle, swiftgram's is the same: Python scalars'
promotion, the memory order of a new result (order='K'), views' base, out= casting."""
import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import swiftgram

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64, np.complex64, np.complex128]

SCALARS = st.one_of(
    st.booleans(),
    st.integers(-2**63, 2**64 - 1),  # out of range for the array's dtype included
    st.sampled_from([0, 1, -1, 127, 128, 255, 256, 300, -129, 65536, 2**31, 2**32, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e6),
)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(DTYPES), SCALARS, st.sampled_from(["i,->i", ",i->i", "i,->", ",i->"]))
# An infinite complex product: the result's scale (1) must not turn inf * 0 into NaN.
@example(np.complex64, 5.992310449541053e+307, "i,->i")
def test_python_scalars_promote_as_numpy_einsum(dtype, scalar, subscripts):
    """numpy.einsum makes a Python scalar a 0-d array (int64, float64, complex128, bool, or
    uint64 past int64) before promoting: int8 x 300 is int64 and 300, not int8's 44."""
    a = np.array([1, 0, 3], dtype=dtype)
    args = (a, scalar) if subscripts.startswith("i") else (scalar, a)
    try:
        want = np.einsum(subscripts, *args)
    except (TypeError, ValueError, OverflowError) as e:
        with pytest.raises(type(e)):
            swiftgram.einsum(subscripts, *args)
        return
    with np.errstate(all="ignore"):
        got = swiftgram.einsum(subscripts, *args)
    assert got.dtype == want.dtype, (dtype, scalar, subscripts)
    np.testing.assert_array_equal(got, want)


def _layouts(shape, rng):
    """The same values as C, Fortran, permuted, reversed and stepped arrays."""
    base = rng.random(shape)
    yield base
    yield np.asfortranarray(base)
    if base.ndim >= 2:
        perm = rng.permutation(base.ndim)
        yield np.ascontiguousarray(base.transpose(perm)).transpose(np.argsort(perm))
        yield base[::-1]
    yield np.repeat(base, 2, axis=-1)[..., ::2]


@pytest.mark.parametrize("subscripts, shapes", [
    ("...ft,mf->...mt", [(2, 3, 5), (4, 3)]),
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ijk,kl->lji", [(2, 3, 4), (4, 5)]),
    ("abc,cd,bd->adb", [(2, 3, 4), (4, 5), (3, 5)]),
    ("ij,ij->ji", [(3, 4), (3, 4)]),
    ("iij->ji", [(3, 3, 4)]),
    ("i,j,k->kji", [(2,), (3,), (4,)]),
])
def test_order_k_lays_out_the_result_as_numpy(subscripts, shapes, rng):
    """order='K' (the default): the new result's strides are the ones numpy.einsum's
    iterator gives it, for every mix of operand layouts; 'A', 'C', 'F' and lower case too."""
    for ops in itertools.product(*[list(_layouts(s, rng)) for s in shapes]):
        want = np.einsum(subscripts, *ops)
        for opt in (False, True):
            got = swiftgram.einsum(subscripts, *ops, optimize=opt)
            assert got.strides == want.strides, (subscripts, [o.strides for o in ops])
            np.testing.assert_allclose(got, want)
            got = swiftgram.einsum(subscripts, *ops, optimize=opt)  # the call fast path
            assert got.strides == want.strides
        for order in "ACFkacf":
            got = swiftgram.einsum(subscripts, *ops, order=order)
            want = np.einsum(subscripts, *ops, order=order)
            assert (got.flags.c_contiguous, got.flags.f_contiguous) == (want.flags.c_contiguous,
                                                                        want.flags.f_contiguous)


def test_views_share_numpys_base():
    for a in (np.arange(24).reshape(2, 3, 4), np.arange(24.0)[::-1].reshape(4, 6), np.arange(9).reshape(3, 3)):
        for subscripts in ("...", "ij...->...ji", "i...->...i"):
            got, want = swiftgram.einsum(subscripts, a), np.einsum(subscripts, a)
            assert got.base is want.base and got.strides == want.strides
            np.testing.assert_array_equal(got, want)
    # Writeable as the operand is; a write shows through to it.
    a = np.zeros((3, 3))
    swiftgram.einsum("ii->i", a)[:] = 1
    np.testing.assert_array_equal(a, np.eye(3))
    a.flags.writeable = False
    assert not swiftgram.einsum("ii->i", a).flags.writeable
    # Memory that is not an ndarray's (bytes): the view's base is that object, as NumPy's.
    b = np.frombuffer(bytes(range(16)), np.uint8).reshape(4, 4)
    assert swiftgram.einsum("ij->ji", b).base is np.einsum("ij->ji", b).base


def test_zero_d_out_takes_numpys_path_casting():
    a = np.ones(7)
    for opt in (True, "greedy", "optimal"):
        out = np.array(0)
        assert swiftgram.einsum("i,i->", a, a, out=out, optimize=opt) is out and out == 7
    with pytest.raises(TypeError):  # numpy.einsum's plain path keeps the casting rule
        np.einsum("i,i->", a, a, out=np.array(0), optimize=False)
    for opt in (False, "auto"):  # and so do swiftgram's plain path and its own 'auto'
        with pytest.raises(TypeError):
            swiftgram.einsum("i,i->", a, a, out=np.array(0), optimize=opt)


@pytest.mark.parametrize("subscripts, shapes", [
    ("i,i->", [(7,), (7,)]), ("i,i->", [(1,), (1,)]), ("i,i->", [(0,), (0,)]), ("...a,...a", [(0,), (1,)]),
    ("ij,ij->", [(2, 3), (2, 3)]), ("i,j->", [(3,), (4,)]), ("ij,jk,ki->", [(2, 3), (3, 4), (4, 2)]),
])
def test_zero_d_out_casting_follows_numpys_optimize_path(subscripts, shapes):
    """Under a path, a float result into an int 0-d out= is accepted exactly where
    numpy.einsum's optimize path accepts it (a last matmul: shared labels not of size 1)."""
    ops = [np.ones(s) for s in shapes]
    want_out, got_out = np.zeros((), np.int64), np.zeros((), np.int64)
    try:
        np.einsum(subscripts, *ops, out=want_out, optimize=True)
    except TypeError:
        with pytest.raises(TypeError):
            swiftgram.einsum(subscripts, *ops, out=got_out, optimize=True)
        return
    swiftgram.einsum(subscripts, *ops, out=got_out, optimize=True)
    assert got_out == want_out
