"""opt_einsum with backend='swiftgram': contract and contract_expression through
opt_einsum's public API, against numpy.einsum. opt_einsum hands BLAS-able pairs to
swiftgram.tensordot and the rest to swiftgram.einsum."""
import numpy as np
import pytest

opt_einsum = pytest.importorskip("opt_einsum", reason="opt_einsum not installed (pip install opt_einsum)")

import swiftgram  # noqa: E402

EQUATIONS = [
    ("ahwm,ahwn->amn", [(4, 5, 6, 7), (4, 5, 6, 8)]),     # the Gram
    ("ij,jk,kl->il", [(5, 6), (6, 7), (7, 8)]),
    ("ea,fb,abcd,gc,hd->efgh", [(3, 4), (3, 5), (4, 5, 6, 7), (3, 6), (3, 7)]),
    ("abc,cd,bd->a", [(3, 4, 5), (5, 6), (4, 6)]),
    ("ij,ij->", [(4, 5), (4, 5)]),
    ("ii->i", [(5, 5)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(3, 4, 5), (3, 5, 6)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    ("abcd,dcba->", [(2, 3, 4, 5), (5, 4, 3, 2)]),
    ("ab,cd,ef,fe,dc,ba->", [(2, 3), (4, 5), (6, 7), (7, 6), (5, 4), (3, 2)]),
]


def operands(shapes, dtype, rng):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("equation, shapes", EQUATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_contract_matches_numpy(equation, shapes, dtype, rng):
    ops = operands(shapes, dtype, rng)
    want = np.einsum(equation, *ops)
    got = opt_einsum.contract(equation, *ops, backend="swiftgram")
    assert np.asarray(got).dtype == np.asarray(want).dtype
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("equation, shapes", EQUATIONS)
def test_expression_and_out(equation, shapes, rng):
    ops = operands(shapes, np.float64, rng)
    expr = opt_einsum.contract_expression(equation, *shapes)
    want = np.einsum(equation, *ops)
    np.testing.assert_allclose(expr(*ops, backend="swiftgram"), want, rtol=1e-10, atol=1e-10)
    out = np.empty_like(np.asarray(want))
    if out.ndim:
        assert opt_einsum.contract(equation, *ops, out=out, backend="swiftgram") is out
        np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)


def test_pairs_go_to_swiftgram_tensordot(monkeypatch, rng):
    """The BLAS-able pair reaches swiftgram.tensordot (not NumPy's), once per pair."""
    calls = []
    real = swiftgram.tensordot
    # opt_einsum caches the functions it looked up: start this test from an empty cache.
    monkeypatch.setattr(opt_einsum.backends.dispatch, "_cached_funcs", {})
    monkeypatch.setattr(swiftgram, "tensordot", lambda *a, **k: calls.append(k.get("axes")) or real(*a, **k))
    ops = operands([(5, 6), (6, 7), (7, 8)], np.float64, rng)
    np.testing.assert_allclose(opt_einsum.contract("ij,jk,kl->il", *ops, backend="swiftgram"),
                               ops[0] @ ops[1] @ ops[2], rtol=1e-10)
    assert len(calls) == 2
