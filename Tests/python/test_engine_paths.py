"""The engine's paths, each against a reference: symmetric (same operand) products, K split,
the grid of blocks per thread, packing from permuted layouts, the loop kernel's splits and its sums across a row of outputs."""
import numpy as np
import pytest

import swiftgram
from oracle import assert_within_summation_error


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


# --- loop kernel: sums across a row of outputs, rows split over threads ---------------

ACROSS = [
    # (subscripts, operand shapes): outputs side by side in memory, each one's terms strided
    ("ji,j->i", [(600, 400), (600,)]),        # a transposed matrix times a vector
    ("nhwc->c", [(3, 17, 19, 70)]),           # per-channel sums, many terms (split over threads)
    ("ij->j", [(5000, 9)]),                   # a short row of outputs
    ("ij,ij->j", [(300, 50), (300, 50)]),     # both sides walk the row
    ("i,ij->j", [(129,), (129, 300)]),        # the constant side first
    ("bji,bj->bi", [(3, 200, 64), (3, 200)]), # a few rows, each split into pieces
    ("ji,j->i", [(259, 5000), (259,)]),       # wider than one sweep; terms not a multiple of 4
    ("ji,j->i", [(0, 40), (0,)]),             # no terms: zeros
]


def _values(rng, shape, dtype):
    if np.dtype(dtype).kind in "iub":
        return rng.integers(0, 5, shape).astype(dtype)
    x = rng.standard_normal(shape)
    return (x + 1j * rng.standard_normal(shape)).astype(dtype) if np.dtype(dtype).kind == "c" else x.astype(dtype)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.complex128, np.int64, np.int8, np.bool_])
@pytest.mark.parametrize("case", ACROSS, ids=lambda c: c[0])
def test_sums_across_a_row_of_outputs(rng, threads, dtype, case, num_threads):
    subscripts, shapes = case
    num_threads(threads)
    ops = [_values(rng, s, dtype) for s in shapes]
    assert_within_summation_error(swiftgram.einsum(subscripts, *ops), subscripts, ops)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sums_across_rows_of_views_into_out(rng, threads, num_threads):
    # Reversed, stepped and offset views, and a strided out=: a row stride of -1 is not
    # summed across (it takes the per-output path); every element of out= is written.
    num_threads(threads)
    m = rng.standard_normal((600, 400))
    for v in (m[::-1], m[:, ::-1], m[::2, ::3], m[:, 5:300], m[1::3, 1:]):
        b = rng.standard_normal(v.shape[0])
        out = np.full((2 * v.shape[1],), np.nan)[::2]
        assert swiftgram.einsum("ji,j->i", v, b, out=out) is out
        np.testing.assert_allclose(out, np.einsum("ji,j->i", v, b), rtol=1e-12, atol=1e-11)
    x = rng.standard_normal((40, 30, 20, 64))[:, ::2, :, 1:]
    np.testing.assert_allclose(swiftgram.einsum("nhwc->c", x), x.sum(axis=(0, 1, 2)), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_vector_product_split_into_pieces(rng, threads, dtype, num_threads):
    # One row of 401 dot products (more work than one thread takes): split into pieces
    # that must meet exactly, each output the same dot as the one-thread run.
    m = rng.standard_normal((401, 600)).astype(dtype)
    v = rng.standard_normal(600).astype(dtype)
    num_threads(1)
    alone = swiftgram.einsum("ij,j->i", m, v)
    num_threads(threads)
    np.testing.assert_array_equal(swiftgram.einsum("ij,j->i", m, v), alone)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(alone, m.astype(np.float64) @ v.astype(np.float64), **tol)


FEW_OUTPUTS = [
    ("ji,i->", [(400, 600), (600,)]),     # NumPy's contig_contig: one output of runs
    ("i->", [(480007,)]),                 # one run, split into its terms
    ("ij->i", [(3, 100003)]),             # three outputs, each one long run
    ("ijk->j", [(5000, 3, 40)]),          # short unit-stride runs, summed lane by lane
    ("i,i->", [(300001,), (300001,)]),
    ("ji,i->", [(403, 700), (700,)]),     # long runs times one shared run, 4 per sweep
    ("i,ji->", [(701,), (45, 701)]),      # the shared run on the other side
    ("bji,bi->b", [(2, 37, 300), (2, 300)]),  # a shared run per output
    ("ijk,ij->j", [(501, 3, 40), (501, 3)]),  # short runs times a value constant along each
    ("ij,ijk->j", [(501, 3), (501, 3, 40)]),  # the same, the constant side first
]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64])
@pytest.mark.parametrize("case", FEW_OUTPUTS, ids=lambda c: c[0])
def test_few_outputs_of_many_terms_split_over_threads(rng, threads, dtype, case, num_threads):
    # Fewer outputs than threads can share: every output's terms are split over the
    # threads and the partial sums added in order.
    subscripts, shapes = case
    num_threads(threads)
    ops = [_values(rng, s, dtype) for s in shapes]
    assert_within_summation_error(swiftgram.einsum(subscripts, *ops), subscripts, ops)
