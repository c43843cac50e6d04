"""The benchmark measured fairly: each library in its own process, in steady state, and
separately, calls interleaved with another library's (co-tenancy).

    python3 benchmarks/bench_isolated.py [--rounds 3] [--filter gram] [--peers tf,torch,jax]
    python3 benchmarks/bench_isolated.py --interleaved [--filter gram]

Steady state (default): for every round, each implementation runs all cases in a fresh
process of its own (the order of implementations rotates between rounds): per case two
warm-up calls, then 5 samples of back-to-back calls (each ~0.05 s); the process reports
the median. The table shows the median over rounds and swiftgram's time over the best
peer's. No library runs beside another's spinning threads here.

Interleaved (--interleaved): one process with NumPy (OpenBLAS) and torch; per case the
back-to-back time of each, then each call timed right after the other library's call (its
worker threads still spinning), as programs that mix libraries run them. Ratios are the
interleaved time over the back-to-back one.

The cases, operands and peers are bench.py's.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Alone in its process, each library keeps its own thread policy: bench.py asks OpenMP to
# sleep between calls (for the in-process run), which would slow torch here.
_policy = os.environ.get("OMP_WAIT_POLICY")
# This machine pins OpenBLAS to an older kernel through OPENBLAS_CORETYPE: not for peers
# (read when NumPy loads OpenBLAS, so before bench imports NumPy).
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import bench  # noqa: E402

if _policy is None:
    os.environ.pop("OMP_WAIT_POLICY", None)

# Which framework each implementation needs loaded in its process.
NEEDS = {"tf.einsum": "tf", "torch.einsum": "torch", "jax.jit": "jax"}


def steady(f, samples=5, sample_time=0.05) -> float:
    f()
    f()
    t = time.perf_counter()
    f()
    k = max(1, int(sample_time / max(time.perf_counter() - t, 1e-7)))
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        for _ in range(k):
            f()
        times.append((time.perf_counter() - t) / k)
    return statistics.median(times)


def child(name: str, flt: str, quick: bool) -> None:
    """Times one implementation on every case; prints {case: seconds} as JSON."""
    peers = bench.peers_available({NEEDS[name]} if name in NEEDS else set())
    out = {}
    for case in bench.cases(quick):
        if flt not in case.name:
            continue
        impls = bench.implementations(case, peers)
        if name in impls:
            try:
                out[f"{case.name}|{case.dtype.name}"] = steady(impls[name])
            except Exception:  # noqa: BLE001 - a peer that cannot run this case is left out
                pass
    print(json.dumps(out))


def isolated(args) -> None:
    wanted = {p for p in args.peers.split(",") if p}
    names = ["swiftgram", "numpy.einsum(opt)", "numpy.einsum", "numpy.matmul"]
    names += [n for n, p in NEEDS.items() if p in wanted]
    results: dict = {}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            cmd = [sys.executable, __file__, "--child", name, "--filter", args.filter] + (["--quick"] if args.quick else [])
            got = json.loads(subprocess.check_output(cmd, text=True))
            for key, t in got.items():
                results.setdefault(key, {}).setdefault(name, []).append(t)
            print(f"  round {r + 1}: {name} done", file=sys.stderr, flush=True)
    rows = []
    for key, per in results.items():
        case, dtype = key.split("|")
        times = {n: statistics.median(v) for n, v in per.items()}
        sg = times.pop("swiftgram", None)
        if sg is None or not times:
            continue
        best = min(times, key=times.get)
        rows.append({"case": case, "dtype": dtype, "swiftgram_ms": sg * 1e3, "best_peer": best,
                     "best_peer_ms": times[best] * 1e3, "ratio_best_peer": sg / times[best],
                     **{f"{n}_ms": t * 1e3 for n, t in times.items()}})
        peers_txt = "  ".join(f"{n} {t * 1e3:.4g}ms ({sg / t:.2f})" for n, t in times.items())
        print(f"{case:32s} {dtype:8s} swiftgram {sg * 1e3:9.4g} ms | best peer {best} {sg / times[best]:.2f} | "
              f"{peers_txt}", flush=True)
    write_csv(rows, args.csv)


def runs(f) -> bool:
    """Whether a peer can run a case at all (torch.einsum refuses some of NumPy's forms)."""
    try:
        f()
        return True
    except Exception:  # noqa: BLE001 - left out, as in the per-process mode
        return False


def interleaved(args) -> None:
    peers = bench.peers_available({"torch"})
    rows = []
    for case in bench.cases(args.quick):
        if args.filter not in case.name:
            continue
        impls = bench.implementations(case, peers)
        others = {n: impls[n] for n in ("numpy.matmul", "torch.einsum") if n in impls and runs(impls[n])}
        sg = impls["swiftgram"]
        alone = {n: steady(f) for n, f in [("swiftgram", sg), *others.items()]}
        row = {"case": case.name, "dtype": case.dtype.name, "swiftgram_ms": alone["swiftgram"] * 1e3}
        for n, f in others.items():
            after_other, after_sg = [], []
            for _ in range(15):
                f()
                t = time.perf_counter()
                sg()
                after_other.append(time.perf_counter() - t)
                sg()
                t = time.perf_counter()
                f()
                after_sg.append(time.perf_counter() - t)
            row[f"swiftgram_after_{n}"] = statistics.median(after_other) / alone["swiftgram"]
            row[f"{n}_after_swiftgram"] = statistics.median(after_sg) / alone[n]
        rows.append(row)
        txt = "  ".join(f"{k} {v:.2f}" for k, v in row.items() if "_after_" in k)
        print(f"{case.name:32s} {case.dtype.name:8s} swiftgram {alone['swiftgram'] * 1e3:8.4g} ms | {txt}", flush=True)
    write_csv(rows, args.csv)


def write_csv(rows, path) -> None:
    if not rows or not path:
        return
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("case", "dtype"), k))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--filter", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--peers", default="tf,torch,jax")
    ap.add_argument("--interleaved", action="store_true")
    ap.add_argument("--csv", default="")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.filter, args.quick)
    elif args.interleaved:
        interleaved(args)
    else:
        isolated(args)


if __name__ == "__main__":
    main()
