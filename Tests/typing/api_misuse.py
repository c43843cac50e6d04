"""Misuses a type checker must reject (test_typing.py expects one error per line marked)."""
import numpy as np

import swiftgram

a = np.ones((3, 4))
swiftgram.gram(a, normalize=1, out=3)  # E: out= must be an ndarray
swiftgram.set_num_threads("2")  # E: a thread count is an int
n: str = swiftgram.get_num_threads()  # E: it returns an int
t: np.ndarray = swiftgram.tensordot(a, a, axes="ij")  # E: axes are ints
