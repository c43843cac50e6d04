"""Long reductions are as accurate as numpy.einsum's or better: the error against an exact
sum (math.fsum of the float64 products, exact for these inputs up to one rounding) is at
most NumPy's error on the same input, on every reduction path of the core."""
import math

import numpy as np
import pytest

import swiftgram

N = 1 << 20


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple:
    """a * b as p + e exactly (Dekker's product: float64 has no exact wider type here)."""
    def split(x):
        c = 134217729.0 * x  # 2**27 + 1
        hi = c - (c - x)
        return hi, x - hi
    p = a * b
    (ah, al), (bh, bl) = split(a), split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def fsum(x: np.ndarray, y: np.ndarray = None) -> complex:
    """The exact sum of x (or of x * y), rounded once."""
    x = _wide(np.ravel(x))
    if y is None:
        return complex(math.fsum(x.real), math.fsum(x.imag)) if x.dtype.kind == "c" else math.fsum(x)
    y = _wide(np.ravel(y))
    if x.dtype.kind != "c":
        return math.fsum(np.concatenate(_two_product(x, y)))
    re = _two_product(x.real, y.real) + tuple(-t for t in _two_product(x.imag, y.imag))
    im = _two_product(x.real, y.imag) + _two_product(x.imag, y.real)
    return complex(math.fsum(np.concatenate(re)), math.fsum(np.concatenate(im)))


def operand(rng, n, dtype):
    """Values in [1, 1.001): a long sum of them loses digits in every running sum."""
    x = 1 + 0.001 * rng.random(n)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * (1 + 0.001 * rng.random(n))
    return x.astype(dtype)


def _square(x):
    side = math.isqrt(x.size)
    return x[:side * side].reshape(side, side)


# subscripts -> (the operands, laid out from a flat vector x; the exact result)
CASES = {
    "i->": lambda x: ([x], [fsum(x)]),
    "i,i->": lambda x: ([x, x[::-1]], [fsum(x, x[::-1])]),
    "i-> (strided)": lambda x: ([x[::2]], [fsum(x[::2])]),
    "i,i-> (strided)": lambda x: ([x[::2], x[1::2]], [fsum(x[::2], x[1::2])]),
    "ii->": lambda x: ([_square(x)], [fsum(np.diagonal(_square(x)))]),
    "ij->": lambda x: ([x.reshape(-1, 128)], [fsum(x)]),
    "ij->i": lambda x: ([x.reshape(16, -1)], [fsum(r) for r in x.reshape(16, -1)]),
    "ij->j": lambda x: ([x.reshape(-1, 16)], [fsum(c) for c in x.reshape(-1, 16).T]),
    "ijk->j (short runs)": lambda x: ([x.reshape(-1, 4, 64)], [fsum(x.reshape(-1, 4, 64)[:, j]) for j in range(4)]),
    # Outputs side by side, terms strided: summed across the row of outputs.
    "ijk->k (across)": lambda x: ([x.reshape(-1, 8, 32)], [fsum(c) for c in x.reshape(-1, 32).T]),
    "ji,j->i (across)": lambda x: ([x.reshape(-1, 16), x[::-1][:x.size // 16]],
                                   [fsum(c, x[::-1][:x.size // 16]) for c in x.reshape(-1, 16).T]),
    "ij,ij->i": lambda x: ([x.reshape(8, -1), x[::-1].reshape(8, -1)],
                           [fsum(a, b) for a, b in zip(x.reshape(8, -1), x[::-1].reshape(8, -1))]),
}

DTYPES = [np.float16, np.float32, np.float64, np.complex64, np.complex128]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
def test_reduction_no_less_accurate_than_numpy(case, dtype, rng):
    subscripts = case.split(" ")[0]
    n = 1 << 15 if dtype == np.float16 else 1 << 21  # float16 sums overflow beyond 65504
    x = operand(rng, n, dtype)
    ops, want = CASES[case](x)
    got = swiftgram.einsum(subscripts, *ops)
    theirs = np.einsum(subscripts, *ops)
    assert got.dtype == theirs.dtype
    ours = max(abs(complex(g) - w) for g, w in zip(np.ravel(got), want))
    numpy = max(abs(complex(t) - w) for t, w in zip(np.ravel(theirs), want))
    # Both within one unit in the last place of the result are equally accurate (the
    # rounding of the result itself; short sums such as the trace's end there).
    big = np.abs(np.concatenate([np.ravel(theirs).real, np.ravel(theirs).imag])).max()
    ulp = float(np.spacing(big.astype(np.ravel(theirs).real.dtype)))
    assert ours <= max(numpy, ulp), (case, np.dtype(dtype).name, ours, numpy)


def test_broadcast_operand_sum_is_exact():
    # NumPy's own chunking test: a million copies of 1 + 8196 eps, summed then divided.
    value = 1.0 + np.finfo(np.float64).eps * 8196
    x = np.broadcast_to(np.array(value), 10**6)
    assert swiftgram.einsum("i->", x) / 10**6 == value
    for dtype in (np.float32, np.complex64, np.int64, np.bool_):
        y = np.broadcast_to(np.array(3, dtype), 1000)
        got, theirs = swiftgram.einsum("i->", y), np.einsum("i->", y)
        assert got == theirs and got.dtype == theirs.dtype
    # Zero copies sum to zero; -0.0 copies to +0.0, as NumPy's running sum from 0 gives.
    assert swiftgram.einsum("i->", np.broadcast_to(np.array(np.inf), 0)) == 0
    z = swiftgram.einsum("i->", np.broadcast_to(np.array(-0.0), 5))
    assert z == 0 and not np.signbit(z) and not np.signbit(np.einsum("i->", np.broadcast_to(np.array(-0.0), 5)))
    assert np.isnan(swiftgram.einsum("i->", np.broadcast_to(np.array(np.nan), 7)))


if __name__ == "__main__":
    # The table in docs/numerics.md: each case's worst error against the exact sum.
    rng = np.random.default_rng(1234)
    print(f"| case (n = 2^22; float16 2^15) | {' | '.join(np.dtype(d).name for d in DTYPES)} |")
    print("|---|" + "---|" * len(DTYPES))
    for case in CASES:
        subscripts, cells = case.split(" ")[0], []
        for dtype in DTYPES:
            x = operand(rng, 1 << 15 if dtype == np.float16 else 1 << 22, dtype)
            ops, want = CASES[case](x)
            errors = [max(abs(complex(g) - w) for g, w in zip(np.ravel(f(subscripts, *ops)), want))
                      for f in (swiftgram.einsum, np.einsum)]
            cells.append(f"{errors[0]:.2g} / {errors[1]:.2g}")
        print(f"| `{case}` | {' | '.join(cells)} |")
