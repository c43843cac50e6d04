"""The public API, case by case: the motivating Gram, NumPy's call forms and options,
views, out=, dtypes, errors, einsum_path."""
import numpy as np
import pytest
from swiftgram.__main__ import naive_gram  # five nested loops, no einsum anywhere

import swiftgram


# --- the motivating example --------------------------------------------------------

def test_motivating_gram_matches_naive_loops(rng):
    a, h, w, m, n = 1, 2, 3, 4, 5
    F1 = rng.random((a, h, w, m))
    F2 = rng.random((a, h, w, n))
    G = swiftgram.einsum("ahwm,ahwn->amn", F1, F2) / (h * w)
    assert np.allclose(G, naive_gram(F1, F2))
    assert np.allclose(swiftgram.gram(F1, F2), naive_gram(F1, F2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 5, 7, 33, 20), (3, 4, 4, 64, 64), (1, 14, 14, 8, 70)])
def test_gram_larger_shapes(rng, dtype, shape):
    a, h, w, m, n = shape
    F1 = rng.standard_normal((a, h, w, m)).astype(dtype)
    F2 = rng.standard_normal((a, h, w, n)).astype(dtype)
    expected = np.einsum("ahwm,ahwn->amn", F1.astype(np.float64), F2.astype(np.float64)) / (h * w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    G = swiftgram.gram(F1, F2)
    assert G.dtype == dtype and G.shape == (a, m, n)
    np.testing.assert_allclose(G, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(swiftgram.gram(F1), np.einsum("ahwm,ahwn->amn", F1, F1) / (h * w), rtol=tol, atol=tol)
    np.testing.assert_allclose(swiftgram.gram(F1, F2, normalize=False), expected * h * w, rtol=tol, atol=tol * h * w)


def test_gram_other_ranks_and_errors(rng):
    x = rng.standard_normal((2, 9, 3))
    np.testing.assert_allclose(swiftgram.gram(x), np.einsum("asm,asn->amn", x, x) / 9)
    v = rng.standard_normal((2, 3, 4, 5, 6))
    np.testing.assert_allclose(swiftgram.gram(v), np.einsum("apqrm,apqrn->amn", v, v) / 60)
    ints = np.arange(24).reshape(1, 2, 3, 4)
    np.testing.assert_allclose(swiftgram.gram(ints), np.einsum("ahwm,ahwn->amn", ints, ints) / 6)
    with pytest.raises(ValueError, match="f1 .* and f2 .* must agree"):
        swiftgram.gram(np.ones((2, 3, 4, 5)), np.ones((2, 3, 3, 5)))
    with pytest.raises(ValueError, match="batch, \\*spatial, channels"):
        swiftgram.gram(np.ones(3))


# --- call forms and options ---------------------------------------------------------

def test_sublist_form(rng):
    a, b = rng.random((3, 4)), rng.random((4, 5))
    np.testing.assert_allclose(swiftgram.einsum(a, [0, 1], b, [1, 2], [0, 2]), a @ b)
    np.testing.assert_allclose(swiftgram.einsum(a, [0, 1], b, [1, 2]), np.einsum(a, [0, 1], b, [1, 2]))
    c = rng.random((2, 3, 4))
    np.testing.assert_allclose(swiftgram.einsum(c, [Ellipsis, 1], [1, Ellipsis]),
                               np.einsum(c, [Ellipsis, 1], [1, Ellipsis]))
    np.testing.assert_allclose(swiftgram.einsum(a, [26, 51], [51, 26]), a.T)
    with pytest.raises(ValueError, match="valid range"):
        swiftgram.einsum(a, [0, 52])
    with pytest.raises(TypeError, match="integer or Ellipsis"):
        swiftgram.einsum(a, [0, "a"])


def test_views_like_numpy(rng):
    a = rng.random((3, 4))
    t = swiftgram.einsum("ij->ji", a)
    assert np.shares_memory(t, a) and np.array_equal(t, a.T)
    sq = rng.random((4, 4))
    d = swiftgram.einsum("ii->i", sq)
    assert np.shares_memory(d, sq) and np.array_equal(d, np.diag(sq)) and d.flags.writeable
    ro = np.frombuffer(rng.random(12).tobytes()).reshape(3, 4)
    v = swiftgram.einsum("ij->ji", ro)
    assert not v.flags.writeable and np.array_equal(v, ro.T)
    # Anything that sums is a new array.
    s = swiftgram.einsum("ij->i", a)
    assert not np.shares_memory(s, a)


def test_scalar_results_and_zero_d(rng):
    a = rng.random(5)
    r = swiftgram.einsum("i,i", a, a)
    assert isinstance(r, np.float64) and np.isclose(r, a @ a)
    assert swiftgram.einsum("", 3.0) == 3.0
    assert swiftgram.einsum(",->", np.float32(2), np.float32(3)) == 6
    np.testing.assert_allclose(swiftgram.einsum("i,->i", a, 2.0), 2 * a)
    # numpy.einsum makes Python scalars 0-d arrays (no weak-scalar rule): float32 x float
    # is float64 there, and so here.
    f32 = a.astype(np.float32)
    assert swiftgram.einsum("i,->i", f32, 2.0).dtype == np.einsum("i,->i", f32, 2.0).dtype == np.float64


def test_output_without_ellipsis_sums_broadcast_dims(rng):
    # numpy.einsum's optimize path accepts this and sums the '...' dims away; so do we.
    a = rng.random((2, 3, 4))
    np.testing.assert_allclose(swiftgram.einsum("...i->i", a), np.einsum("...i->i", a, optimize=True))
    np.testing.assert_allclose(swiftgram.einsum(",i...->", 3.0, a), np.einsum(",i...->", 3.0, a, optimize=True))


def test_empty_dimensions():
    r = swiftgram.einsum("ij,jk->ik", np.ones((2, 0)), np.ones((0, 3)))
    assert r.shape == (2, 3) and np.array_equal(r, np.zeros((2, 3)))
    assert swiftgram.einsum("ij,jk->ik", np.ones((0, 4)), np.ones((4, 3))).shape == (0, 3)
    assert swiftgram.einsum("i->", np.ones(0)) == 0


def test_out_argument(rng):
    a, b = rng.random((6, 7)), rng.random((7, 5))
    out = np.zeros((5, 6))
    assert swiftgram.einsum("ij,jk->ki", a, b, out=out) is out
    np.testing.assert_allclose(out, (a @ b).T)
    # Non-contiguous out, and out of another dtype (cast on store, casting rules apply).
    big = np.zeros((12, 10))
    swiftgram.einsum("ij,jk->ik", a, b, out=big[::2, ::2])
    np.testing.assert_allclose(big[::2, ::2], a @ b)
    o32 = np.zeros((6, 5), dtype=np.float32)
    swiftgram.einsum("ij,jk->ik", a, b, out=o32, casting="same_kind")
    np.testing.assert_allclose(o32, a @ b, rtol=1e-6)
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        swiftgram.einsum("ij,jk->ik", a, b, out=o32)
    with pytest.raises(ValueError, match="shape"):
        swiftgram.einsum("ij,jk->ik", a, b, out=np.zeros((5, 6)))
    with pytest.raises(TypeError, match="ndarray"):
        swiftgram.einsum("ij,jk->ik", a, b, out=[[0] * 5] * 6)
    ro = np.zeros((6, 5))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        swiftgram.einsum("ij,jk->ik", a, b, out=ro)


@pytest.mark.parametrize("subscripts,dtype,out_dtype,casting", [
    ("i->", np.int8, np.int64, "safe"),          # summed in int64: no wrap-around
    ("i,i->i", np.int8, np.int64, "safe"),       # elementwise too
    ("i->", np.bool_, np.int8, "safe"),          # counted, not or-ed
    ("ij,jk->ik", np.bool_, np.float64, "safe"),
    ("i->", np.uint8, np.int8, "unsafe"),        # int16, then wrapped into int8
    ("i,i->", np.float32, np.float64, "safe"),   # summed in float64
    ("i->", np.float64, np.float32, "same_kind"),
    ("i,i->", np.int16, np.float16, "unsafe"),   # float32 (int16 with float16)
])
def test_out_dtype_takes_part_in_the_computation_type(subscripts, dtype, out_dtype, casting):
    # numpy.einsum computes in the common type of the operands and out= when no dtype= is
    # given (out= is one more operand of its iterator).
    # 1e8 + 15 is exact in float64, 1e8 in float32; 100 + 90 + 120 wraps in int8.
    a = np.array([1e8] + [1] * 15) if np.dtype(dtype).kind == "f" else np.array([100, 90, 120, 1] * 4)
    ops = [a.astype(dtype), np.ones(16, dtype)][:subscripts.count(",") + 1]
    if "j" in subscripts:
        ops = [np.ones((3, 4), dtype), np.ones((4, 2), dtype)]
    result_shape = np.einsum(subscripts, *ops).shape
    want, got = np.zeros(result_shape, out_dtype), np.zeros(result_shape, out_dtype)
    np.einsum(subscripts, *ops, out=want, casting=casting)
    assert swiftgram.einsum(subscripts, *ops, out=got, casting=casting) is got
    np.testing.assert_array_equal(got, want)


def test_out_overlapping_input_gives_numpy_result(rng):
    a = rng.random((5, 5))
    expected = np.einsum("ij,jk->ik", a, a)
    swiftgram.einsum("ij,jk->ik", a, a, out=a)
    np.testing.assert_allclose(a, expected)
    x = rng.random(10)
    expected = np.einsum("i->i", x[:-1] * 1)
    swiftgram.einsum("i,->i", x[:-1], 1.0, out=x[1:])
    np.testing.assert_allclose(x[1:], expected)


def test_dtype_and_casting(rng):
    a = rng.random((3, 4)).astype(np.float32)
    b = rng.random((4, 2))
    r = swiftgram.einsum("ij,jk", a, b)
    assert r.dtype == np.float64
    np.testing.assert_allclose(r, np.einsum("ij,jk", a, b))
    r = swiftgram.einsum("ij,jk", a, b, dtype=np.float32, casting="same_kind")
    assert r.dtype == np.float32
    with pytest.raises(TypeError, match="cannot cast operand 1"):
        swiftgram.einsum("ij,jk", a, b, dtype=np.float32)
    with pytest.raises(TypeError, match="object"):
        swiftgram.einsum("i", np.array([1], dtype=object))
    with pytest.raises(TypeError, match="longdouble|float128"):
        swiftgram.einsum("i", np.ones(2, dtype=np.longdouble))
    with pytest.raises(TypeError, match="<U1"):
        swiftgram.einsum("i", np.array(["a"]))
    big_endian = np.arange(6, dtype=">f8").reshape(2, 3)
    np.testing.assert_array_equal(swiftgram.einsum("ij->i", big_endian), big_endian.sum(1))


def test_integer_wraps_like_numpy():
    x = np.array([100, 100, 27], dtype=np.int8)
    assert swiftgram.einsum("i,i", x, x) == np.einsum("i,i", x, x)
    u = np.array([2**63, 2**63 + 5], dtype=np.uint64)
    assert swiftgram.einsum("i,i", u, u) == np.einsum("i,i", u, u)


def test_nan_and_inf_propagate():
    a = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    np.testing.assert_array_equal(swiftgram.einsum("ij,jk", a, a), np.einsum("ij,jk", a, a))


@pytest.mark.parametrize("order", ["C", "F", "A", "K"])
def test_order(rng, order):
    a = np.asfortranarray(rng.random((4, 5)))
    b = np.asfortranarray(rng.random((5, 6)))
    r = swiftgram.einsum("ij,jk->ik", a, b, order=order)
    e = np.einsum("ij,jk->ik", a, b, order=order)
    np.testing.assert_allclose(r, e)
    assert (r.flags.c_contiguous, r.flags.f_contiguous) == (e.flags.c_contiguous, e.flags.f_contiguous)
    assert r.ctypes.data % 64 == 0


def test_read_only_and_non_native_inputs_are_not_written(rng):
    a = rng.random((8, 8))
    copy = a.copy()
    a.flags.writeable = False
    swiftgram.einsum("ij,jk->ik", a, a)
    assert np.array_equal(a, copy)


# --- optimize and einsum_path -------------------------------------------------------

@pytest.mark.parametrize("optimize", [False, True, "greedy", "optimal", ("greedy", 100),
                                      ["einsum_path", (0, 1), (0, 1)], ["einsum_path", (0, 1, 2)]])
def test_optimize_values(rng, optimize):
    ops = [rng.random((3, 4)), rng.random((4, 5)), rng.random((5, 6))]
    np.testing.assert_allclose(swiftgram.einsum("ij,jk,kl->il", *ops, optimize=optimize),
                               ops[0] @ ops[1] @ ops[2])


def test_bad_optimize_values(rng):
    ops = [rng.random((3, 4)), rng.random((4, 5)), rng.random((5, 6))]
    with pytest.raises(TypeError):
        swiftgram.einsum("ij,jk,kl->il", *ops, optimize="fastest")
    with pytest.raises(TypeError):
        swiftgram.einsum("ij,jk,kl->il", *ops, optimize=[(0, 1), (0, 1)])
    # A path that leaves operands uncontracted: RuntimeError, as numpy.einsum raises.
    with pytest.raises(RuntimeError, match="more operand"):
        swiftgram.einsum("ij,jk,kl->il", *ops, optimize=["einsum_path", (0, 1)])
    with pytest.raises(RuntimeError):
        np.einsum("ij,jk,kl->il", *ops, optimize=["einsum_path", (0, 1)])
    with pytest.raises(ValueError, match="position 5"):
        swiftgram.einsum("ij,jk,kl->il", *ops, optimize=["einsum_path", (0, 5), (0, 1)])


def test_einsum_path_report(rng):
    ops = [np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))]
    path, report = swiftgram.einsum_path("ij,jk,kl->il", *ops, optimize="greedy")
    assert path[0] == "einsum_path" and len(path) == 3
    np_path, _ = np.einsum_path("ij,jk,kl->il", *ops, optimize="greedy")
    assert path == np_path
    for key in ("Complete contraction:  ij,jk,kl->il", "Naive scaling:  4", "Naive FLOP count:  3.600e+02",
                "Largest intermediate:", "scaling                  current"):
        assert key in report
    # The path swiftgram reports is one numpy accepts, with the same result.
    np.testing.assert_allclose(np.einsum("ij,jk,kl->il", *ops, optimize=path),
                               swiftgram.einsum("ij,jk,kl->il", *ops, optimize=path))
    assert swiftgram.einsum_path("ij,jk,kl->il", *ops, optimize=False)[0] == ["einsum_path", (0, 1, 2)]


def test_optimal_path_flops_not_worse_than_numpy(rng):
    shapes = [(10, 30), (30, 5), (5, 60), (60, 8), (8, 10)]
    ops = [np.ones(s) for s in shapes]
    spec = "ab,bc,cd,de,ea->"

    def flops(report):
        return float(next(l for l in report.splitlines() if "Optimized FLOP" in l).split()[-1])
    ours = flops(swiftgram.einsum_path(spec, *ops, optimize="optimal")[1])
    theirs = flops(np.einsum_path(spec, *ops, optimize="optimal")[1])
    assert ours <= theirs * 1.0001


def test_optimize_true_is_numpys_greedy_and_auto_searches_every_path():
    # NumPy's optimize=True (greedy) contracts P @ Q first here: 63 M multiply-adds
    # against 42 M for P @ (Q @ R). True gives NumPy's path; 'auto' finds the cheaper
    # order up to 8 operands and is greedy beyond.
    ops = [np.ones(s) for s in ((256, 512), (512, 384), (384, 128))]

    def flops(report):
        return float(next(l for l in report.splitlines() if "Optimized FLOP" in l).split()[-1])
    path, report = swiftgram.einsum_path("ij,jk,kl->il", *ops, optimize=True)
    assert path == np.einsum_path("ij,jk,kl->il", *ops, optimize=True)[0] == ["einsum_path", (0, 1), (0, 1)]
    path, report = swiftgram.einsum_path("ij,jk,kl->il", *ops, optimize="auto")
    assert path == ["einsum_path", (1, 2), (0, 1)]
    assert flops(report) == flops(np.einsum_path("ij,jk,kl->il", *ops, optimize="optimal")[1])
    assert flops(report) < 0.7 * flops(np.einsum_path("ij,jk,kl->il", *ops, optimize=True)[1])
    np.testing.assert_allclose(swiftgram.einsum("ij,jk,kl->il", *ops, optimize="auto"), ops[0] @ ops[1] @ ops[2])
    # A chain of 9 matrices whose optimal and greedy paths differ: greedy from 9 operands.
    dims = [60, 2, 3, 3, 3, 60, 300, 40, 2, 2]
    spec = "ab,bc,cd,de,ef,fg,gh,hi,ij->aj"
    for count in (8, 9):
        sub, ops = spec[:3 * count - 1] + "->a" + spec[3 * count - 2], [np.empty(dims[i:i + 2]) for i in range(count)]
        paths = {o: swiftgram.einsum_path(sub, *ops, optimize=o)[0] for o in ("auto", "greedy", "optimal")}
        if count <= 8:
            assert flops(swiftgram.einsum_path(sub, *ops, optimize="auto")[1]) == \
                flops(swiftgram.einsum_path(sub, *ops, optimize="optimal")[1])
        else:
            assert paths["auto"] == paths["greedy"]
    assert paths["greedy"] != paths["optimal"]


# --- errors -------------------------------------------------------------------------

@pytest.mark.parametrize("args, match", [
    (("ij,jk", np.ones((2, 2)), np.ones((3, 4))), "label 'j': operand 1 has size 3, operand 0 has 2"),
    (("ii", np.ones((2, 3))), "label 'i' repeats in operand 0 with different sizes \\(2 != 3\\)"),
    (("ij", np.ones((2, 3, 4))), "operand 0 has 3 dimensions"),
    (("ij,j", np.ones((2, 3))), "fewer operands"),
    (("i", np.ones(2), np.ones(2)), "more operands"),
    (("i$", np.ones((2, 3))), "invalid subscript '\\$'"),
    (("ij->k", np.ones((2, 3))), "'k' never appears"),
    (("ij->ii", np.ones((2, 3))), "more than once"),
    (("i..", np.ones(2)), "ellipsis"),
    (("i-i", np.ones(2)), "->"),
    (("...i,...i", np.ones((2, 3)), np.ones((3, 3))), "operand 1 has size 3, operand 0 has 2"),
])
def test_errors_name_operand_label_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        swiftgram.einsum(*args)
    with pytest.raises(ValueError):
        np.einsum(*args)


def test_bad_keywords():
    with pytest.raises(ValueError, match="order"):
        swiftgram.einsum("ij", np.ones((2, 3)), order="X")
    with pytest.raises(ValueError, match="casting"):
        swiftgram.einsum("ij", np.ones((2, 3)), casting="foo")
    with pytest.raises(TypeError):
        swiftgram.einsum("ij", np.ones((2, 3)), foo=1)
    with pytest.raises(ValueError, match="no input operands"):
        swiftgram.einsum()
