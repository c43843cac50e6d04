"""Threads and ISAs: thread counts, concurrent calls from Python threads, each ISA forced."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import swiftgram


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_single_products_shared_by_late_threads_are_exact(rng, dtype):
    """One product cut into the grid's blocks, more threads than CPUs: threads start late
    and take row blocks of each other's blocks (GEMM/Stealing.swift). Small integers sum
    exactly, so every result must equal NumPy's, whoever computed which part."""
    a = rng.integers(-3, 4, (700, 900)).astype(dtype)
    b = rng.integers(-3, 4, (900, 650)).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    before = swiftgram.get_num_threads()
    try:
        for threads in (2, 3, 4, 8):
            swiftgram.set_num_threads(threads)
            for _ in range(3):
                assert np.array_equal(swiftgram.einsum("ik,kj->ij", a, b), want), threads
                assert np.array_equal(swiftgram.einsum("ik,jk->ji", a, b.T), want.T), threads
    finally:
        swiftgram.set_num_threads(before)


ISAS = ["avx512bf16", "avx512", "avx2", "portable"]  # the core's registry, best first


@pytest.mark.parametrize("isa", ISAS)
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
            # bfloat16 (the pair kernel on avx512bf16, widened to float32 elsewhere) against
            # float64 over the same values: float32 accumulation, one rounding to bfloat16.
            "import ml_dtypes; bf=ml_dtypes.bfloat16\n"
            "for e, x, y in (('bij,bjk->bik', a, b), ('ahwm,ahwn->amn', r.standard_normal((2,9,7,40)), None),"
            " ('ij,kj->ik', r.standard_normal((37,33)), r.standard_normal((45,33)))):\n"
            "    x = x.astype(bf); y = x if y is None else y.astype(bf)\n"
            "    want = np.einsum(e, x.astype(np.float64), y.astype(np.float64))\n"
            "    got = s.einsum(e, x, y)\n"
            "    assert got.dtype == bf, got.dtype\n"
            "    assert np.allclose(got.astype(np.float64), want, rtol=2**-8, atol=1e-5 * abs(want).max()), e\n"
            "print(s.isa())")
    env = dict(os.environ, SWIFTGRAM_ISA=isa)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    used = out.stdout.strip()
    # The forced ISA is used when the CPU has it; otherwise the best supported one (one
    # the CPU runs: further down the registry).
    assert used == isa or (isa != "portable" and ISAS.index(used) > ISAS.index(isa))


AFFINITY_CHILD = r"""
import os, numpy as np, swiftgram as s
r = np.random.default_rng(0)
f = r.standard_normal((8, 14, 14, 64)).astype(np.float32)
want = np.einsum("ahwm,ahwn->amn", f, f)
s.einsum("ahwm,ahwn->amn", f, f)  # starts the pool's helper
tids = [int(t) for t in os.listdir("/proc/self/task")]
me = os.getpid()
os.sched_setaffinity(0, {0})  # the caller: CPU 0 only; helpers may wake on it
before = {t: os.sched_getaffinity(t) for t in tids}
m = r.standard_normal((256, 256)).astype(np.float32)
for _ in range(200):
    m @ m  # OpenBLAS's workers spin after it, as between the calls of a real program
    got = s.einsum("ahwm,ahwn->amn", f, f)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-3)
    after = {t: os.sched_getaffinity(t) for t in tids if os.path.exists(f"/proc/self/task/{t}")}
    assert all(after[t] == before[t] for t in after), (before, after)
print("kept")
"""


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and at least two CPUs")
def test_helpers_leave_their_cpu_sets_as_they_found_them():
    """A helper woken on its caller's CPU moves off it for that job only (pool.c,
    step_aside): after every job each thread has the CPU set it had before."""
    out = subprocess.run([sys.executable, "-c", AFFINITY_CHILD], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, SWIFTGRAM_NUM_THREADS="2"))
    assert out.returncode == 0 and out.stdout.strip() == "kept", out.stdout + out.stderr
