"""The core's accumulate mode (out += alpha * result), which sums partial blocks in place
(swiftgram.dask): on every engine path, against NumPy."""
import numpy as np
import pytest

from swiftgram._einsum import _contract

CASES = [
    ("ahwm,ahwn->amn", [(4, 5, 6, 40), (4, 5, 6, 48)]),   # GEMM, batched
    ("ij,jk->ik", [(300, 400), (400, 500)]),              # GEMM, a grid of threads
    ("ki,kj->ij", [(60000, 6), (60000, 5)]),              # GEMM, K split across threads
    ("i,j->ij", [(7,), (9,)]),                            # loop kernel
    ("ij->j", [(50, 7)]),
    ("ii->i", [(6, 6)]),
    ("ij,jk,kl->il", [(5, 6), (6, 7), (7, 8)]),           # several steps
    ("ij,ij->", [(4, 5), (4, 5)]),
]


def check(subscripts, ops, out, alpha=1.0, **kw):
    before = out.copy()
    want = before + alpha * np.einsum(subscripts, *ops).astype(np.result_type(before, *ops))
    got = _contract(subscripts, ops, out, None, "K", "safe", kw.pop("optimize", True), alpha=alpha, accumulate=True)
    assert got is out
    tol = 1e-3 if out.dtype in (np.float16, np.float32, np.complex64) else 1e-9
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("subscripts, shapes", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_adds_into_out(subscripts, shapes, dtype, rng, num_threads):
    num_threads(2)
    ops = [rng.standard_normal(s).astype(dtype) for s in shapes]
    out = np.asarray(rng.standard_normal(np.einsum(subscripts, *ops).shape)).astype(dtype)
    check(subscripts, ops, out, alpha=0.25 if dtype != np.int32 else 1.0)


def test_same_operand_is_not_mirrored_over_out(rng):
    """A Gram of one operand computes a triangle and mirrors it; added into an out= that is
    not symmetric, both triangles must keep their own old values."""
    f = rng.standard_normal((2, 5, 5, 40))
    out = rng.standard_normal((2, 40, 40))
    check("ahwm,ahwn->amn", [f, f], out, alpha=1 / 25)


def test_strided_and_reversed_out(rng):
    a, b = rng.standard_normal((30, 40)), rng.standard_normal((40, 20))
    for out in (np.ones((60, 40))[::2, ::2], np.ones((30, 20))[::-1, ::-1], np.asfortranarray(np.ones((30, 20)))):
        check("ij,jk->ik", [a, b], out)
    check("ij,jk->ki", [a, b], np.ones((30, 20)).T)


def test_integers_float16_and_other_out_dtypes(rng):
    a = rng.integers(-5, 5, (20, 30)).astype(np.int32)
    out = rng.integers(-5, 5, (20, 20)).astype(np.int32)
    check("ij,kj->ik", [a, a], out)
    h = rng.standard_normal((3, 4, 4, 16)).astype(np.float16)
    check("ahwm,ahwn->amn", [h, h], rng.standard_normal((3, 16, 16)).astype(np.float16))
    # out= of another dtype: computed, then added by NumPy.
    check("ij,kj->ik", [a, a], rng.standard_normal((20, 20)))


def test_accumulating_twice_sums_twice(rng):
    a, b = rng.standard_normal((64, 128)).astype(np.float32), rng.standard_normal((128, 32)).astype(np.float32)
    out = np.zeros((64, 32), np.float32)
    for _ in range(3):
        _contract("ij,jk->ik", [a, b], out, None, "K", "safe", False, accumulate=True)
    np.testing.assert_allclose(out, 3 * (a @ b), rtol=1e-4, atol=1e-4)
