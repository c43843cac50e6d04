"""show_config and the cache sizes blocking derives from: detected as the OS reports them,
overridden by SWIFTGRAM_CACHES, and any blocking they lead to computes the same results."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path


import swiftgram

SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")


def config(env=None) -> str:
    code = "import swiftgram; swiftgram.show_config()"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, **(env or {})), check=True)
    return run.stdout


def kib(text: str) -> int:
    value, unit = text.split()
    return int(value) << {"B": 0, "KiB": 10, "MiB": 20}[unit] >> 10


def sysfs_caches() -> dict:
    sizes = {}
    for index in sorted(SYSFS.glob("index*")):
        if (index / "type").read_text().strip() == "Instruction":
            continue
        level = int((index / "level").read_text())
        size = (index / "size").read_text().strip()
        sizes[{1: "L1d", 2: "L2", 3: "L3"}[level]] = int(size[:-1]) << {"K": 0, "M": 10}[size[-1]]
    return sizes


def test_show_config_names_what_is_in_use(capsys):
    swiftgram.show_config()
    out = capsys.readouterr().out
    assert f"swiftgram {swiftgram.__version__}" in out
    assert f"ISA: {swiftgram.isa()}" in out
    assert f"threads: {swiftgram.get_num_threads()}" in out
    assert "libswiftgram_core.so" in out
    assert re.search(r"float32: micro-kernel \d+x\d+, kc \d+ mc \d+ nc \d+", out)
    # bfloat16's own kernel (over pairs of k) where the ISA in use has one.
    pairs = re.search(r"bfloat16 \(pairs of k\): micro-kernel \d+x\d+, kc \d+ mc \d+ nc \d+", out)
    assert bool(pairs) == (swiftgram.isa() == "avx512bf16"), out


def test_caches_are_the_ones_the_os_reports(capsys):
    swiftgram.show_config()
    out = capsys.readouterr().out
    found = dict(re.findall(r"(L1d|L2|L3) (\d+ (?:B|KiB|MiB))", out))
    assert set(found) == {"L1d", "L2", "L3"}
    if SYSFS.is_dir():
        assert "caches (sysfs" in out
        want = sysfs_caches()
        for level, size in want.items():
            assert kib(found[level]) == size, (level, found, want)


def test_override_reaches_the_blocking():
    base = config()
    small = config({"SWIFTGRAM_CACHES": "l1d=16K,l2=256K,l3=4M"})
    assert "+SWIFTGRAM_CACHES" in small and "L1d 16 KiB, L2 256 KiB, L3 4 MiB" in small
    blocking = lambda text: re.findall(r"kc (\d+) mc (\d+)", text)  # noqa: E731
    assert blocking(small) != blocking(base)
    # The loop kernel's sweeps: half the L1d of lanes (at least 256).
    sweeps = lambda text: [int(n) for n in re.findall(r"sweeps of (\d+) float32 / (\d+) float64", text)[0]]  # noqa: E731
    assert sweeps(small) == [16 * 1024 // 2 // 4, 16 * 1024 // 2 // 8]
    l1d = int(re.search(r"L1d (\d+) KiB", base).group(1)) * 1024
    assert sweeps(base) == [max(256, l1d // 2 // 4), max(256, l1d // 2 // 8)]


def test_any_blocking_gives_the_same_results():
    """Tiny and large caches make blocks of the minimum size and of many K steps; the engine
    must compute the same products either way (checked against NumPy in the child)."""
    code = textwrap.dedent("""
        import numpy as np, swiftgram
        rng = np.random.default_rng(0)
        for dt, tol in ((np.float32, 1e-4), (np.float64, 1e-12)):
            f = rng.standard_normal((3, 9, 11, 150)).astype(dt)
            g = rng.standard_normal((3, 9, 11, 70)).astype(dt)
            a = rng.standard_normal((300, 700)).astype(dt)
            b = rng.standard_normal((700, 530)).astype(dt)
            checks = [(swiftgram.gram(f, g), np.einsum("ahwm,ahwn->amn", f, g) / 99),
                      (swiftgram.gram(f), np.einsum("ahwm,ahwn->amn", f, f) / 99),
                      (swiftgram.einsum("ij,jk->ik", a, b), a.astype(np.float64) @ b),
                      (swiftgram.einsum("ji,jk->ik", a.T.copy(), b), a.astype(np.float64) @ b)]
            for got, want in checks:
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 30)
            # The loop kernel's sweeps are as wide as half the L1d: sums across a row of
            # outputs, and runs times one shared run.
            m = rng.standard_normal((301, 5000)).astype(dt)
            v, w = rng.standard_normal(301).astype(dt), rng.standard_normal(5000).astype(dt)
            np.testing.assert_allclose(swiftgram.einsum("ji,j->i", m, v), m.T.astype(np.float64) @ v, rtol=tol, atol=tol * 30)
            got, exact = swiftgram.einsum("ji,i->", m, w), (m.astype(np.float64) * w).sum()
            assert abs(float(got) - exact) <= 64 * np.finfo(dt).eps * (np.abs(m) * np.abs(w)).sum(), (got, exact)
        # bfloat16 (the pair kernel where the CPU has one): one K block or many, against
        # float64 over the same values, within float32 accumulation and one rounding.
        import ml_dtypes
        bf = ml_dtypes.bfloat16
        f, g = (rng.standard_normal((3, 9, 11, n)).astype(bf) for n in (150, 70))
        a, b = rng.standard_normal((300, 701)).astype(bf), rng.standard_normal((701, 530)).astype(bf)
        wide = lambda x: x.astype(np.float64)  # noqa: E731
        for got, want in [(swiftgram.gram(f, g), np.einsum("ahwm,ahwn->amn", wide(f), wide(g)) / 99),
                          (swiftgram.gram(f), np.einsum("ahwm,ahwn->amn", wide(f), wide(f)) / 99),
                          (swiftgram.einsum("ij,jk->ik", a, b), wide(a) @ wide(b))]:
            assert got.dtype == bf
            np.testing.assert_allclose(wide(got), want, rtol=2 ** -8, atol=1e-5 * abs(want).max())
        print("same")
    """)
    for caches in ("l1d=1K,l2=4K,l3=4K", "l1d=512K,l2=64M,l3=256M", "l1d=48K,l2=2M,l3=32M"):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, SWIFTGRAM_CACHES=caches))
        assert run.returncode == 0 and run.stdout.strip() == "same", caches + run.stdout + run.stderr
