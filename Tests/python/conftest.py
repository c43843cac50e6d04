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
