import numpy as np
import pytest

import swiftgram


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def num_threads():
    """swiftgram.set_num_threads for the test; the count it had is restored after it."""
    before = swiftgram.get_num_threads()
    yield swiftgram.set_num_threads
    swiftgram.set_num_threads(before)


def naive_gram(F1, F2):
    """The motivating example's reference: five nested loops, no einsum anywhere."""
    a, h, w, m = F1.shape
    n = F2.shape[3]
    G = np.zeros((a, m, n))
    for k in range(a):
        for i in range(m):
            for j in range(n):
                for s in range(h):
                    for t in range(w):
                        G[k, i, j] += F1[k, s, t, i] * F2[k, s, t, j] / (h * w)
    return G
