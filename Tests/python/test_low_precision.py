"""float16 and bfloat16 (ml_dtypes): computed in float32, results rounded once to the
input dtype (as NumPy does for float16), against a float64 reference."""
import numpy as np
import pytest

import swiftgram

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes not installed (pip install ml_dtypes)")
BF16 = np.dtype(ml_dtypes.bfloat16)
CASES = [
    ("ahwm,ahwn->amn", [(2, 9, 9, 40), (2, 9, 9, 24)]),     # GEMM
    ("ij,jk->ik", [(70, 300), (300, 50)]),
    ("ij,kj->ik", [(64, 100), (64, 100)]),
    ("i,i->", [(5000,)]),                                  # loop kernel, a long sum
    ("ij->j", [(300, 7)]),
    ("i,j->ij", [(30,), (20,)]),
    ("bij,bjk,bkl->bil", [(2, 5, 6), (2, 6, 7), (2, 7, 3)]),
]


def bound(dtype, absolute, steps, terms):
    """A rounding to `dtype` per step (an intermediate of a path is stored in the operands'
    dtype, as NumPy stores it), plus float32 accumulation over `terms`, each relative to
    the sum of the products' magnitudes."""
    eps = {np.dtype(np.float16): 2.0 ** -11, BF16: 2.0 ** -8}[np.dtype(dtype)]
    return (steps * eps + terms * 2.0 ** -24) * absolute + 1e-30


@pytest.mark.parametrize("subscripts, shapes", CASES)
@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
def test_matches_a_float64_reference(subscripts, shapes, dtype, rng):
    shapes = shapes if len(shapes) > 1 or "," not in subscripts else shapes * 2
    ops = [rng.standard_normal(s).astype(dtype) for s in shapes]
    got = swiftgram.einsum(subscripts, *ops)
    want = np.einsum(subscripts, *[o.astype(np.float64) for o in ops])
    absolute = np.einsum(subscripts, *[np.abs(o.astype(np.float64)) for o in ops])
    assert got.dtype == np.dtype(dtype)
    terms = max(np.prod(s) for s in shapes)
    assert np.all(np.abs(got.astype(np.float64) - want) <= bound(dtype, absolute, len(ops) - 1 or 1, terms))


def test_bfloat16_gram_layouts_out_and_promotion(rng):
    f = rng.standard_normal((3, 7, 7, 16)).astype(BF16)
    want = np.einsum("ahwm,ahwn->amn", f.astype(np.float64), f.astype(np.float64)) / 49
    for x in (f, f[:, ::-1], np.asfortranarray(f)):
        got = swiftgram.gram(x)
        assert got.dtype == BF16
        np.testing.assert_allclose(got.astype(np.float64), want if x is f else
                                   np.einsum("ahwm,ahwn->amn", x.astype(np.float64), x.astype(np.float64)) / 49,
                                   rtol=2 ** -7, atol=1e-6)
    out = np.zeros((3, 16, 16), BF16)
    assert swiftgram.gram(f, out=out) is out
    # Promotion as ml_dtypes promotes: with float32 or float16, float32.
    assert swiftgram.einsum("i,i->", np.ones(4, BF16), np.ones(4, np.float32)).dtype == np.float32
    assert swiftgram.einsum("i,i->", np.ones(4, BF16), np.ones(4, np.float16)).dtype == \
        np.result_type(BF16, np.float16)


def test_bfloat16_rounds_to_nearest_even_and_keeps_nan_inf():
    x = np.array([1.0, 1.00390625, 1.01171875, np.inf, -np.inf, np.nan, 3.0e38, -0.0], np.float32)
    got = swiftgram.einsum("i->i", x.astype(BF16), dtype=BF16, optimize=False)
    np.testing.assert_array_equal(got.view(np.uint16), x.astype(BF16).view(np.uint16))
    scaled = swiftgram.einsum("i,->i", x, np.float32(1), dtype=BF16, casting="unsafe")
    np.testing.assert_array_equal(scaled.view(np.uint16), x.astype(BF16).view(np.uint16))


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
def test_every_value_widens_and_rounds_back_exactly(dtype):
    """All 65,536 bit patterns through the core's widening to float32 and back (a product
    with one 1.0): every value comes back bit for bit, NaNs as NaNs."""
    x = np.arange(65536, dtype=np.uint16).view(dtype).reshape(-1, 1)
    got = swiftgram.einsum("ij,j->i", x, np.ones(1, dtype))
    want = x[:, 0]
    nan = np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan])


@pytest.mark.parametrize("dtype", [np.float16, BF16], ids=["float16", "bfloat16"])
def test_products_round_to_nearest_even_as_numpy_casts(dtype, rng):
    """Elementwise products over every magnitude (subnormal and overflowing results
    included) rounded from float32 as NumPy / ml_dtypes cast float32 to the type."""
    exponents = rng.integers(-30 if dtype == np.float16 else -130, 17 if dtype == np.float16 else 120, 200000)
    a = (rng.standard_normal(200000) * 2.0 ** exponents).astype(dtype)
    b = rng.standard_normal(200000).astype(dtype)
    a[:4] = [np.inf, -np.inf, np.nan, 0.0]
    want = (a.astype(np.float32) * b.astype(np.float32)).astype(dtype)
    got = swiftgram.einsum("i,i->i", a, b)
    nan = np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan])
