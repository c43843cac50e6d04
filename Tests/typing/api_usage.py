"""Uses of the public API as a type checker must accept them (test_typing.py runs mypy on
this file and on python/swiftgram)."""
import dask.array as da
import numpy as np
import numpy.typing as npt

import swiftgram
import swiftgram.dask as sgd

a = np.ones((3, 4), np.float32)
out: npt.NDArray[np.float32] = np.empty((3, 3), np.float32)

same: npt.NDArray[np.float32] = swiftgram.einsum("ij,kj->ik", a, a, out=out)  # out= comes back
new = swiftgram.einsum("ij,kj->ik", a, a, optimize="greedy", dtype=np.float64)
scalar = swiftgram.einsum("ij,ij->", a, a)
sub = swiftgram.einsum(a, [0, 1], a, [2, 1], [0, 2])
sub_out: npt.NDArray[np.float32] = swiftgram.einsum(a, [0, 1], a, [2, 1], [0, 2], out=out)
path, report = swiftgram.einsum_path("ij,jk->ik", a, a.T, optimize="optimal")
text: str = report
steps: list = path
g: np.ndarray = swiftgram.gram(np.ones((2, 3, 3, 4)), normalize=False)
t: np.ndarray = swiftgram.tensordot(a, a, axes=([1], [1]))
t2: np.ndarray = swiftgram.tensordot(a, a.T, 1)
swiftgram.set_num_threads(2)
n: int = swiftgram.get_num_threads()
isa: str = swiftgram.isa()
lazy: da.Array = sgd.gram(da.ones((4, 3, 3, 5), chunks=2))
lazy2: da.Array = sgd.einsum("ij,jk->ik", da.ones((4, 4)), da.ones((4, 4)))
