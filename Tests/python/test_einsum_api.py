"""The public API, case by case: the motivating Gram, NumPy's call forms and options,
views, out=, dtypes, errors, einsum_path, threads."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import naive_gram

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


# --- threads and ISAs ---------------------------------------------------------------

def test_num_threads_round_trip():
    before = swiftgram.get_num_threads()
    try:
        swiftgram.set_num_threads(1)
        assert swiftgram.get_num_threads() == 1
        swiftgram.set_num_threads(0)
        assert swiftgram.get_num_threads() == os.cpu_count()
    finally:
        swiftgram.set_num_threads(before)


def test_concurrent_calls_from_python_threads(rng):
    a = rng.standard_normal((4, 20, 20, 64)).astype(np.float32)
    expected = np.einsum("ahwm,ahwn->amn", a, a) / 400
    errors = []

    def work():
        for _ in range(20):
            if not np.allclose(swiftgram.gram(a), expected, rtol=1e-4, atol=1e-5):
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_each_isa_when_forced(isa):
    code = ("import numpy as np, swiftgram as s; r=np.random.default_rng(0);"
            "a=r.standard_normal((3,37,129)); b=r.standard_normal((3,129,45));"
            "f=a.astype(np.float32); g=b.astype(np.float32);"
            "assert np.allclose(s.einsum('bij,bjk->bik',a,b), a@b);"
            "assert np.allclose(s.einsum('bij,bjk->bik',f,g), f@g, rtol=1e-4, atol=1e-4);"
            # B's panels gathered across its contiguous e: the ISA's block transposition.
            "x=r.standard_normal((3,4,8,20)); y=r.standard_normal((20,4,32,40)); e='acbd,dcfe->abef';"
            "assert np.allclose(s.einsum(e,x,y), np.einsum(e,x,y));"
            "x=x.astype(np.float32); y=y.astype(np.float32);"
            "assert np.allclose(s.einsum(e,x,y), np.einsum(e,x,y), rtol=1e-4, atol=1e-4);"
            # The vectorised reduction at and around its block and level boundaries.
            "import math\n"
            "for n in (1, 7, 8, 9, 63, 64, 65, 8191, 8192, 8193, 16385, 524289, (1 << 20) + 3):\n"
            "    x = r.random(n); y = r.random(n)\n"
            "    assert abs(s.einsum('i->', x) - math.fsum(x)) <= 1e-15 * n, n\n"
            "    assert abs(s.einsum('i,i->', x, y) - math.fsum(x * y)) <= 1e-15 * n, n\n"
            "    f = x.astype(np.float32)\n"
            "    assert abs(s.einsum('i->', f) - math.fsum(f)) <= 1e-6 * n, n\n"
            "print(s.isa())")
    env = dict(os.environ, SWIFTGRAM_ISA=isa)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    used = out.stdout.strip()
    # The forced ISA is used when the CPU has it; otherwise the best supported one.
    assert used == isa or (isa != "portable" and used in ("portable", "avx2"))


# --- engine paths: symmetric (same operand), K split, cooperative threads -------------

@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", [(1, 64, 64, 20, 20), (1, 40, 50, 70, 70), (2, 30, 30, 45, 45),
                                   (3, 7, 9, 130, 130), (1, 3, 5, 200, 200),
                                   (2, 6, 10, 128, 128),  # symmetric: A read from packed B
                                   (1, 4, 8, 2100, 2100)])  # wider than one B block: A packed left of it
def test_gram_engine_paths_match_float64_reference(rng, threads, shape, num_threads):
    a, h, w, m, n = shape
    F = rng.standard_normal((a, h, w, m)).astype(np.float32)
    G2 = rng.standard_normal((a, h, w, n)).astype(np.float32)
    F64, G64 = F.astype(np.float64), G2.astype(np.float64)
    num_threads(threads)
    same = swiftgram.gram(F)                      # symmetric: one triangle, mirrored
    einsum_same = swiftgram.einsum("ahwm,ahwn->amn", F, F)
    distinct = swiftgram.gram(F, G2)
    strided = swiftgram.gram(F[:, ::-1], G2[:, ::-1])  # reversed rows: packed, not read in place
    ref_same = np.einsum("ahwm,ahwn->amn", F64, F64) / (h * w)
    ref = np.einsum("ahwm,ahwn->amn", F64, G64) / (h * w)
    np.testing.assert_allclose(same, ref_same, rtol=2e-4, atol=2e-4)
    assert np.array_equal(same, np.swapaxes(same, 1, 2))
    np.testing.assert_allclose(einsum_same, ref_same * h * w, rtol=2e-4, atol=2e-3)
    np.testing.assert_allclose(distinct, ref, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(strided, ref, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("threads", [1, 2])
def test_symmetric_product_of_a_converted_type(rng, threads, num_threads):
    # float16 is packed as float32: A's panels read out of B's packed ones are converted too.
    F = rng.standard_normal((2, 5, 6, 70)).astype(np.float16)
    num_threads(threads)
    got = swiftgram.einsum("ahwm,ahwn->amn", F, F)
    assert got.dtype == np.float16
    F32 = F.astype(np.float32)
    want = np.einsum("ahwm,ahwn->amn", F32, F32).astype(np.float16)
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=2e-3, atol=2e-2)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_larger_than_one_cache_block(rng, threads, dtype, num_threads):
    # More rows than one A block (at most 512 rows) and more K than one K block (at most
    # 512), batched and not, so row blocks, K blocks and ragged edge panels all take part.
    a = rng.standard_normal((2, 1100, 700)).astype(dtype)
    b = rng.standard_normal((2, 700, 75)).astype(dtype)
    num_threads(threads)
    batched = swiftgram.einsum("bij,bjk->bik", a, b)
    single = swiftgram.einsum("ij,jk->ik", a[0], b[0])
    transposed = swiftgram.einsum("ji,jk->ik", a[1].T.copy(), b[1])
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-10)
    want = np.einsum("bij,bjk->bik", a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(batched, want, **tol)
    np.testing.assert_allclose(single, want[0], **tol)
    np.testing.assert_allclose(transposed, want[1], **tol)


@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize("m,n", [(40, 900), (900, 40), (300, 260)])
def test_single_products_cut_into_a_block_per_thread(rng, threads, m, n, num_threads):
    # One product, more threads than batch entries: C is cut into one block per thread by
    # columns (wide), rows (tall) or both (4 threads, square), each block packing its own
    # panels; sizes that leave ragged panels at every block edge, and an output with
    # padded rows (out=, NaN-filled) so every element must be written once, in place.
    a = rng.standard_normal((m, 700)).astype(np.float32)
    b = rng.standard_normal((700, n)).astype(np.float32)
    out = np.full((m, n + 3), np.nan, np.float32)[:, 1:-2]
    num_threads(threads)
    got = swiftgram.einsum("ij,jk->ik", a, b, out=out)
    transposed = swiftgram.einsum("nk,mk->nm", b.T.copy(), a)  # k contiguous in both
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got is out
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(transposed, want.T, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64])
def test_b_panels_packed_by_the_tiles_that_first_read_them(rng, threads, dtype, num_threads):
    # B's k rows at most 512 B apart: each panel of B is packed by the first tile that reads
    # it, straight from the operand. The same operand (the first rows of A are read in place
    # from the panel being packed), distinct operands over several row blocks (1100 rows)
    # and K blocks (K = 1200 and 700), a ragged last panel (n = 100 / 60), and B's columns
    # in runs that some panels straddle (those are packed on their own). complex64 and int64
    # take the scalar kernel, which packs the same way.
    n, run, pad = (100, 40, 48) if dtype == np.float32 else (60, 20, 24)
    F = rng.integers(-3, 4, (2, 30, 40, n)).astype(dtype)
    a = rng.integers(-3, 4, (1100, 700)).astype(dtype)
    b = rng.integers(-3, 4, (700, n)).astype(dtype)
    y = rng.integers(-3, 4, (700, 2, pad)).astype(dtype)[:, :, :run]
    if dtype == np.complex64:
        F, a, b = F + 1j * F[..., ::-1], a - 2j, b + 1j
    num_threads(threads)
    F64 = F.astype(np.complex128 if dtype == np.complex64 else np.float64)
    tol = dict(rtol=0, atol=0) if dtype == np.int64 else dict(rtol=1e-12, atol=0)
    np.testing.assert_allclose(swiftgram.einsum("ahwm,ahwn->amn", F, F),
                               np.einsum("ahwm,ahwn->amn", F64, F64), **tol)
    np.testing.assert_allclose(swiftgram.einsum("ij,jk->ik", a, b), a.astype(F64.dtype) @ b, **tol)
    np.testing.assert_allclose(swiftgram.einsum("ij,jgn->ign", a, y),
                               np.einsum("ij,jgn->ign", a.astype(F64.dtype), y.astype(F64.dtype)), **tol)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b", [16, 12, 5])
@pytest.mark.parametrize("f,e", [(13, 11), (32, 40)])
def test_permuted_operands_packed_where_they_lie(rng, threads, dtype, b, f, e, num_threads):
    # 'acbd,dcfe->abef' packs A's panels from runs of d across rows b..b+7 (one
    # progression when the panel lies within one run of b: b = 16; straddling runs:
    # b = 12; narrower than a panel: b = 5) and B's by gathering f across e: element by
    # element (13 x 11), or as vector-width block transpositions of 16 or 8 neighbouring
    # e, the e left over element by element (32 x 40). K = c*d spans several K blocks.
    x = rng.standard_normal((6, 9, b, 70)).astype(dtype)
    y = rng.standard_normal((70, 9, f, e)).astype(dtype)
    num_threads(threads)
    got = swiftgram.einsum("acbd,dcfe->abef", x, y)
    want = np.einsum("acbd,dcfe->abef", x.astype(np.float64), y.astype(np.float64))
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_elementwise_products_with_fewer_rows_than_threads(rng, threads, num_threads):
    # Long elementwise rows (more work than one thread takes) but fewer rows than threads:
    # each row is split into pieces, which must meet exactly (sizes not divisible by the
    # piece count, strided inputs and output, a broadcast scalar).
    x = rng.standard_normal(480007)
    y = rng.standard_normal((2, 2 * 300001 + 2))[:, :-2:2]  # rows that do not coalesce
    z = rng.standard_normal((2, 300001))
    out = np.full((2, 2 * 300001 + 2), np.nan)[:, 1:-1:2]
    num_threads(threads)
    scaled = swiftgram.einsum("i,->i", x, 3.0, out=np.full_like(x, np.nan))
    product = swiftgram.einsum("ij,ij->ij", y, z, out=out)
    np.testing.assert_array_equal(scaled, x * 3.0)  # out= starts as NaN: every element written
    assert product is out
    np.testing.assert_array_equal(out, y * z)
    # Two rows split into pieces, reading a strided side copied contiguous first.
    v = rng.standard_normal(2 * 65536)[::-2]
    w = rng.standard_normal((2, 65536))
    np.testing.assert_array_equal(swiftgram.einsum("j,ij->ij", v, w), v * w)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex64, np.bool_, np.float16])
def test_outer_products_of_strided_views(rng, threads, dtype, num_threads):
    # An elementwise side that every row reads again but strided along its row is copied
    # contiguous first (stepped and reversed views, as in NumPy's 'noncon outer'); small
    # and large enough to run on several threads, into any out=.
    num_threads(threads)
    base = (rng.standard_normal(12000) * 10).astype(dtype)
    for a, b in [(base[:5:2], base[::-3][:7]), (base[::4][:2000], base[::-3][:1500])]:
        np.testing.assert_array_equal(swiftgram.einsum("i,j", a, b), np.einsum("i,j", a, b))
        np.testing.assert_array_equal(swiftgram.einsum("i,j->ji", a, b), np.einsum("i,j->ji", a, b))
        out = np.zeros((len(a), 2 * len(b)), dtype)[:, ::2]
        swiftgram.einsum("i,j", a, b, out=out)
        np.testing.assert_array_equal(out, np.einsum("i,j", a, b))
        m = base[:3 * len(b) * 2].reshape(3, 2 * len(b))[:, ::2]  # rows strided by 2
        np.testing.assert_array_equal(swiftgram.einsum("ij,j->ij", m, b), np.einsum("ij,j->ij", m, b))
    # A strided 2-D side broadcast over more rows (NumPy's 'noncon multiply'), either side.
    x = base[:4800].reshape(60, 80)[::2, ::-2]
    y = (rng.standard_normal((20, 30, 40)) * 10).astype(dtype)
    for args in [(x, y), (y, x), (x, y[:, :, ::-1])]:
        np.testing.assert_array_equal(swiftgram.einsum("...,...", *args), np.einsum("...,...", *args))
    np.testing.assert_array_equal(swiftgram.einsum("ij,kij->kji", x, y), np.einsum("ij,kij->kji", x, y))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padded_axis", [1, 3])
def test_symmetric_product_into_irregular_output(rng, threads, padded_axis, num_threads):
    # Same operand on both sides with two M labels and an output whose rows (axis 1
    # padded) or columns (axis 3 padded: tiles go through a buffer and a scatter) are not
    # one stride apart: the triangle, its half-computed diagonal tiles and the mirror are
    # written through offset tables.
    x = rng.standard_normal((5, 7, 40))
    shape = [5, 7, 5, 7]
    shape[padded_axis] += 1
    padded = np.full(shape, np.nan)
    inside = tuple(slice(0, 7) if axis == padded_axis else slice(None) for axis in range(4))
    out = padded[inside]
    num_threads(threads)
    got = swiftgram.einsum("ijk,lmk->ijlm", x, x, out=out)
    assert got is out
    np.testing.assert_allclose(out, np.einsum("ijk,lmk->ijlm", x, x), rtol=1e-12, atol=1e-12)
    assert np.isnan(np.take(padded, 7, axis=padded_axis)).all()  # the padding is never written


def test_repeated_signature_fast_path_stays_correct(rng):
    a = rng.random((5, 6))
    b = rng.random((6, 7))
    expected = a @ b
    for _ in range(3):  # first call validates and plans; later ones take the cached path
        np.testing.assert_allclose(swiftgram.einsum("ij,jk->ik", a, b), expected)
    # Same shapes and dtypes, other layouts and kinds of input: still right.
    np.testing.assert_allclose(swiftgram.einsum("ij,jk->ik", np.asfortranarray(a), b), expected)
    np.testing.assert_allclose(swiftgram.einsum("ij,jk->ik", a[::-1][::-1], b.tolist()), expected)
    t = swiftgram.einsum("ij->ji", a)
    assert np.shares_memory(swiftgram.einsum("ij->ji", a), a) and np.shares_memory(t, a)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_fast_path_matches_the_general_path_on_every_layout(rng):
    # The first call of a signature validates it; later ones go straight to the core from
    # the shim. Strided, reversed, Fortran-ordered and 0-d results must come out exactly as
    # NumPy's, with the same memory order (order='K').
    a = rng.random((6, 5))
    b = rng.random((5, 7))
    swiftgram.einsum("ij,jk->ik", a, b)
    for x, y in ((a, b), (a[::-1], b[:, ::-1]), (np.asfortranarray(a), np.asfortranarray(b)),
                 (a.T.copy().T, b), (a[:, :5], b[::1])):
        for _ in range(2):
            got = swiftgram.einsum("ij,jk->ik", x, y)
            want = np.einsum("ij,jk->ik", x, y)
            np.testing.assert_allclose(got, want, rtol=1e-12)
            assert got.flags.c_contiguous == want.flags.c_contiguous
            assert got.flags.f_contiguous == want.flags.f_contiguous
            assert got.ctypes.data % 64 == 0
    v = rng.random(9)
    for _ in range(3):
        dot = swiftgram.einsum("i,i", v, v)
        assert isinstance(dot, np.float64) and np.isclose(dot, v @ v)
        empty = swiftgram.einsum("ij,jk->ik", np.ones((0, 3)), np.ones((3, 2)))
        assert empty.shape == (0, 2)
    # Same signature, other kinds of operand: the general path, still right.
    np.testing.assert_allclose(swiftgram.einsum("ij,jk->ik", np.matrix(a), b), a @ b)
    big_endian = b.astype(">f8")
    np.testing.assert_allclose(swiftgram.einsum("ij,jk->ik", a, big_endian), a @ b)


def test_gram_fast_path_keeps_scale_order_and_keys_apart(rng):
    # gram() calls after the first of a signature go straight to the core, with the scale
    # of that signature (normalised or not) and a C-ordered result; einsum calls of the
    # same subscripts and shapes are never served from a gram entry, nor the reverse.
    F = rng.random((2, 3, 4, 5))
    G = rng.random((2, 3, 4, 5))
    raw = np.einsum("ahwm,ahwn->amn", F, G)
    raw_same = np.einsum("ahwm,ahwn->amn", F, F)
    for _ in range(3):
        np.testing.assert_allclose(swiftgram.gram(F, G), raw / 12, rtol=1e-12)
        np.testing.assert_allclose(swiftgram.gram(F, G, normalize=False), raw, rtol=1e-12)
        np.testing.assert_allclose(swiftgram.gram(F), raw_same / 12, rtol=1e-12)
        np.testing.assert_allclose(swiftgram.einsum("ahwm,ahwn->amn", F, G), raw, rtol=1e-12)
        Ff = np.asfortranarray(F)
        got = swiftgram.gram(Ff)
        assert got.flags.c_contiguous and got.ctypes.data % 64 == 0
        np.testing.assert_allclose(got, raw_same / 12, rtol=1e-12)
        np.testing.assert_allclose(swiftgram.gram(F[:, ::-1], G), np.einsum("ahwm,ahwn->amn", F[:, ::-1], G) / 12,
                                   rtol=1e-12)
    # Another spatial size, same ranks: its own scale.
    H = rng.random((2, 5, 4, 5))
    for _ in range(2):
        np.testing.assert_allclose(swiftgram.gram(H), np.einsum("ahwm,ahwn->amn", H, H) / 20, rtol=1e-12)


def test_result_memory_is_reused_only_after_its_array_dies(rng):
    # Large results come from kept blocks when earlier results of a similar size died: a
    # live result's memory is never handed out again, and every result keeps its values.
    v = rng.random(600)
    w = rng.random(600)
    live = []
    for k in range(8):
        r = swiftgram.einsum("i,j", v * (k + 1), w)  # 2.9 MB results
        assert r.ctypes.data % 64 == 0
        if k % 2 == 0:
            live.append((k, r))
    for k, r in live:
        np.testing.assert_array_equal(r, np.multiply.outer(v * (k + 1), w))
    for (_, r), (_, s) in zip(live, live[1:]):
        assert not np.shares_memory(r, s)
    first = swiftgram.einsum("i,j", v, w)
    address = first.ctypes.data
    del first
    again = swiftgram.einsum("i,j", w, v)  # the block just freed, reused
    assert again.ctypes.data == address
    np.testing.assert_array_equal(again, np.multiply.outer(w, v))


def test_result_memory_is_seen_by_tracemalloc():
    # Live results count as allocated memory (NumPy's own arrays do); a kept block does not.
    import tracemalloc
    v = np.ones(1000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        r = swiftgram.einsum("i,j", v, v)  # 8 MB
        held = tracemalloc.get_traced_memory()[0] - before
        del r
        after = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held >= 8_000_000 and after < 1_000_000


@pytest.mark.parametrize("value, ok", [("0", True), ("16", True), ("-1", False), ("lots", False)])
def test_result_cache_size_from_the_environment(value, ok):
    code = ("import numpy as np, swiftgram as s; v=np.arange(1000.0);"
            "[s.einsum('i,j', v, v) for _ in range(3)];"
            "assert np.array_equal(s.einsum('i,j', v, v), np.multiply.outer(v, v))")
    env = dict(os.environ, SWIFTGRAM_RESULT_CACHE_MB=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if ok:
        assert out.returncode == 0, out.stderr
    else:
        assert out.returncode != 0 and "SWIFTGRAM_RESULT_CACHE_MB must be a non-negative integer" in out.stderr


def test_fast_path_survives_evictions_from_other_threads(rng):
    # More signatures than the shim's table holds, called from several threads: entries
    # are replaced while other threads run them, and every result must stay right.
    shapes = [(n, 3) for n in range(1, 700)]
    mats = [rng.random(s) for s in shapes]
    w = rng.random((3, 2))
    errors = []

    def work(offset):
        for i in range(len(mats)):
            m = mats[(i * 7 + offset) % len(mats)]
            if not np.allclose(swiftgram.einsum("ij,jk->ik", m, w), m @ w):
                errors.append(m.shape)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_view_signature_never_takes_the_copying_fast_path():
    # A first call whose strides rule out a view computes a copy; a later C-contiguous
    # call with the same shapes and dtype must still return NumPy's view.
    odd = np.zeros(12, dtype=[("x", "f8"), ("pad", "u1")])["x"].reshape(4, 3)  # 9-byte strides
    swiftgram.einsum("ij->ji", odd)
    a = np.arange(12.0).reshape(4, 3)
    assert np.shares_memory(swiftgram.einsum("ij->ji", a), a)
