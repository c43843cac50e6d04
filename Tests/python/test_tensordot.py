"""swiftgram.tensordot against numpy.tensordot: every form of axes, dtypes, layouts, and
the errors NumPy raises."""
import numpy as np
import pytest

import swiftgram
from oracle import LAYOUTS, make_operand

CASES = [
    ((3, 4, 5), (4, 5, 6), 2),
    ((3, 4, 5), (5, 6), 1),
    ((3, 4), (5, 6), 0),                       # outer product
    ((4,), (4,), 1),                           # 0-d result
    ((3, 4, 5), (5, 4, 2), ([1, 2], [1, 0])),
    ((3, 4, 5), (5, 4, 2), ((-1, -2), (0, 1))),
    ((2, 3), (3, 2), (1, 0)),                  # a pair of ints
    ((2, 1, 3), (3, 1, 2), ([0, 2], [2, 0])),
    ((0, 3), (3, 4), 1),                       # empty
    ((2, 3), (3, 4), -1),                      # NumPy: axes < 0 pairs nothing (an outer product)
]


@pytest.mark.parametrize("shape_a, shape_b, axes", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64, np.int8, np.bool_])
def test_matches_numpy(shape_a, shape_b, axes, dtype, rng):
    for la, lb in zip(LAYOUTS, LAYOUTS[::-1]):
        a, b = make_operand(shape_a, dtype, la, rng), make_operand(shape_b, dtype, lb, rng)
        want = np.tensordot(a, b, axes)
        got = swiftgram.tensordot(a, b, axes)
        assert isinstance(got, np.ndarray) and got.flags.c_contiguous
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_default_axes_and_mixed_dtypes(rng):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    b = rng.integers(-3, 4, (4, 5, 2)).astype(np.int16)
    want = np.tensordot(a, b)
    got = swiftgram.tensordot(a, b)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("axes, error", [
    (([0, 1], [0]), ValueError),               # lengths differ
    (([1], [1]), ValueError),                  # sizes differ
    (([0, 0], [0, 1]), ValueError),            # duplicate axes
    (([0, -2], [0, 1]), ValueError),           # duplicate once normalised
    (([3], [0]), IndexError),                  # out of range
    (([0, 2], [0, 1]), IndexError),
])
def test_errors_of_numpys_kind(axes, error):
    a, b = np.ones((3, 4)), np.ones((3, 5))
    with pytest.raises(error):
        np.tensordot(a, b, axes)
    with pytest.raises(error):
        swiftgram.tensordot(a, b, axes)


def test_mismatch_names_axes_and_sizes():
    with pytest.raises(ValueError, match=r"axis 1 of a has size 4, axis 0 of b has size 3"):
        swiftgram.tensordot(np.ones((3, 4)), np.ones((3, 5)), ([1], [0]))
