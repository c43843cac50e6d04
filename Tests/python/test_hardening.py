"""Hardening: no input crashes the interpreter, sizes never overflow, concurrent and
forked use is safe, and repeated calls do not leak."""
import gc
import os
import resource
import subprocess
import sys
import tempfile
import threading
import tracemalloc

import numpy as np
import pytest

import swiftgram

HERE = os.path.dirname(os.path.abspath(__file__))


def test_fuzz_in_a_child_process():
    """Thousands of random (valid and invalid) calls; an abort would kill only the child."""
    with tempfile.NamedTemporaryFile("r", suffix=".case") as case:
        env = dict(os.environ, SWIFTGRAM_FUZZ_CASE=case.name)
        out = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_einsum.py"), "--examples", "4000"],
                             env=env, capture_output=True, text=True, timeout=1200)
        last = open(case.name).read()
    assert out.returncode >= 0, f"the child died from signal {-out.returncode} on case {last}"
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "fuzz: 4000 cases, no failure" in out.stdout


def test_output_that_cannot_be_addressed_fails_before_work():
    big = np.broadcast_to(np.float64(1), (2**40,))
    with pytest.raises((MemoryError, ValueError)):
        swiftgram.einsum("i,j->ij", big, big)


def test_intermediate_that_cannot_be_allocated_is_a_memory_error():
    v = np.broadcast_to(np.float64(1), (2**22,))
    m = np.broadcast_to(np.float64(1), (2**22, 2**22))
    with pytest.raises(MemoryError):
        swiftgram.einsum("i,j,ij->", v, v, m, optimize=["einsum_path", (0, 1), (0, 1)])


def test_huge_zero_stride_sum_has_no_index_overflow():
    n = 2**25
    a = np.broadcast_to(np.float64(1), (4, n))
    b = np.broadcast_to(np.float64(1), (n, 4))
    np.testing.assert_array_equal(swiftgram.einsum("ij,jk->ik", a, b), np.full((4, 4), float(n)))
    np.testing.assert_array_equal(swiftgram.einsum("ij->i", a), np.full(4, float(n)))


def test_thread_count_changes_during_calls():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 30, 30, 64)).astype(np.float32)
    expected = np.einsum("ahwm,ahwn->amn", a, a) / 900
    stop = threading.Event()
    errors = []

    def toggle():
        n = 0
        while not stop.is_set():
            swiftgram.set_num_threads(1 + n % 3)
            n += 1

    def work():
        for _ in range(30):
            if not np.allclose(swiftgram.gram(a), expected, rtol=1e-4, atol=1e-5):
                errors.append("mismatch")

    before = swiftgram.get_num_threads()
    t = threading.Thread(target=toggle)
    t.start()
    workers = [threading.Thread(target=work) for _ in range(4)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        stop.set()
        t.join()
        swiftgram.set_num_threads(before)
    assert not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_after_use():
    code = ("import os, numpy as np, swiftgram as sg\n"
            "a = np.random.default_rng(0).standard_normal((300, 300))\n"
            "r = sg.einsum('ij,jk->ik', a, a)\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os._exit(0 if np.allclose(sg.einsum('ij,jk->ik', a, a), r) else 3)\n"
            "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stdout + out.stderr


def test_repeated_calls_and_errors_do_not_leak():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 30))
    b = rng.standard_normal((30, 40))
    f = rng.standard_normal((2, 5, 5, 16)).astype(np.float32)

    def calls():
        swiftgram.einsum("ij,jk->ik", a, b)
        swiftgram.einsum("ij,jk,kl->il", a, b, b.T, optimize="optimal")
        swiftgram.gram(f)
        swiftgram.einsum("ii->i", a[:20, :20])
        for bad in (("ij,jk", a, a), ("i$", a), ("ij", np.ones(3, dtype=object))):
            try:
                swiftgram.einsum(*bad)
            except (ValueError, TypeError):
                pass

    refs = (sys.getrefcount(a), sys.getrefcount(b), sys.getrefcount(f))
    for _ in range(300):  # warm caches and allocator pools
        calls()
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    snap = tracemalloc.take_snapshot()
    for _ in range(3000):
        calls()
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap, "filename"))
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert (sys.getrefcount(a), sys.getrefcount(b), sys.getrefcount(f)) == refs
    assert grown < 256 * 1024, f"Python allocations grew by {grown} bytes over 3000 rounds"
    assert rss_after - rss_before < 20 * 1024, f"max RSS grew by {rss_after - rss_before} KiB"
