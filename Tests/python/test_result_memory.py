"""Result memory: freed blocks kept for the next result of a similar size, never a live one;
seen by tracemalloc; sized from SWIFTGRAM_RESULT_CACHE_MB."""
import os
import subprocess
import sys

import numpy as np
import pytest

import swiftgram


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
