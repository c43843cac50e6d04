"""swiftgram.dask against NumPy: any chunking (contracted axes too), on Dask's threaded
scheduler and on a dask.distributed cluster of two worker processes."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask not installed (pip install 'dask[array,distributed]')")

import swiftgram  # noqa: E402
import swiftgram.dask as sgd  # noqa: E402

CASES = [
    ("ahwm,ahwn->amn", [(6, 5, 4, 7), (6, 5, 4, 3)], [(2, 5, 4, 7), (3, 2, 4, 3)]),   # batch and h chunks
    ("ij,jk->ik", [(9, 10), (10, 11)], [(4, 3), (5, 4)]),                             # chunked K
    ("ij,jk,kl->il", [(5, 6), (6, 7), (7, 8)], [(2, 3), (3, 7), (7, 3)]),
    ("...i,...i->...", [(4, 3, 5), (3, 5)], [(2, 3, 2), (3, 5)]),
    ("ii->i", [(6, 6)], [(3, 3)]),
    ("ij->", [(8, 9)], [(3, 4)]),
    ("bij,bjk->bik", [(1, 4, 5), (3, 5, 6)], [(1, 2, 5), (1, 5, 6)]),                 # size-1 broadcast
    ("i,j->ij", [(5,), (6,)], [(2,), (4,)]),
]


@pytest.mark.parametrize("subscripts, shapes, chunks", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_einsum_matches_numpy(subscripts, shapes, chunks, dtype, rng):
    ops = [(rng.standard_normal(s) * 3).astype(dtype) for s in shapes]
    lazy = sgd.einsum(subscripts, *[da.from_array(o, chunks=c) for o, c in zip(ops, chunks)])
    want = np.einsum(subscripts, *ops)
    got = lazy.compute(scheduler="threads")
    assert lazy.dtype == want.dtype == got.dtype and lazy.shape == want.shape
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("chunks", [(8, 28, 28, 16), (3, 7, 14, 16), (8, 5, 28, 8)])
def test_gram_matches_swiftgram(chunks, rng):
    f1 = rng.standard_normal((8, 28, 28, 16)).astype(np.float32)
    f2 = rng.standard_normal((8, 28, 28, 12)).astype(np.float32)
    d1, d2 = da.from_array(f1, chunks=chunks), da.from_array(f2, chunks=chunks[:3] + (12,))
    np.testing.assert_allclose(sgd.gram(d1, d2).compute(), swiftgram.gram(f1, f2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sgd.gram(d1).compute(), swiftgram.gram(f1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sgd.gram(d1, d2, normalize=False).compute(),
                               np.einsum("ahwm,ahwn->amn", f1, f2), rtol=1e-4, atol=1e-3)
    ints = rng.integers(-3, 4, (4, 6, 6, 5))
    got = sgd.gram(da.from_array(ints, chunks=(2, 3, 6, 5))).compute()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.einsum("ahwm,ahwn->amn", ints, ints) / 36)


def test_errors_name_label_and_sizes():
    with pytest.raises(ValueError, match="label 'j'"):
        sgd.einsum("ij,jk->ik", da.ones((3, 4), chunks=2), da.ones((5, 6), chunks=2))
    with pytest.raises(ValueError, match="gram"):
        sgd.gram(da.ones((2, 3, 4)), da.ones((2, 4, 4)))


def test_distributed_cluster_with_one_thread_per_worker(rng):
    distributed = pytest.importorskip("distributed")
    f = rng.standard_normal((8, 14, 14, 16)).astype(np.float32)
    a, b = rng.standard_normal((40, 50)), rng.standard_normal((50, 30))
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        df = da.from_array(f, chunks=(2, 7, 14, 16))
        got = client.compute(sgd.gram(df)).result()
        np.testing.assert_allclose(got, swiftgram.gram(f), rtol=1e-5, atol=1e-6)
        lazy = sgd.einsum("ij,jk->ik", da.from_array(a, chunks=(20, 10)), da.from_array(b, chunks=(10, 15)))
        np.testing.assert_allclose(client.compute(lazy).result(), a @ b, rtol=1e-10)
        # Each worker ran swiftgram on one thread.
        assert set(client.run(swiftgram.get_num_threads).values()) == {1}
