"""The call fast path (signatures seen before skip the Python front end): it never changes a
result, on every layout, for gram()'s keys too, and under evictions from other threads."""
import threading

import numpy as np
import pytest

import swiftgram


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
