"""Side-by-side einsum benchmark: swiftgram against its peers, in one process.

    python3 benchmarks/bench.py [--quick] [--csv benchmarks/results.csv] [--png benchmarks/results.png]

Every case runs each implementation in turn, in rounds (rotating the order) so drift of a
shared machine hits all of them alike; within a round each implementation gets a pause,
one untimed call and three samples of back-to-back calls (see measure()); the table shows medians, the
ratio of swiftgram's time to each peer's (below 1: swiftgram is faster) and GFLOP/s as a
fraction of the machine's peak, measured here as the best of a large float32/float64
numpy.matmul (OpenBLAS) in the same run. Peers: numpy.einsum(optimize=True), a
hand-written numpy.matmul formulation where one exists, tf.einsum (tf.function), torch.einsum
and jax.jit(jnp.einsum), each when installed.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time

# Peers' worker threads must not spin-wait into the next implementation's timing.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import swiftgram  # noqa: E402

RNG = np.random.default_rng(0)


def peers_available(wanted):
    peers = {}
    try:
        if "tf" not in wanted:
            raise ImportError
        import tensorflow as tf
        tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count())
        peers["tf"] = tf
    except Exception:  # noqa: BLE001 - optional peer
        pass
    try:
        if "torch" not in wanted:
            raise ImportError
        import torch
        peers["torch"] = torch
    except Exception:  # noqa: BLE001
        pass
    try:
        if "jax" not in wanted:
            raise ImportError
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        peers["jax"] = (jax, jnp)
    except Exception:  # noqa: BLE001
        pass
    return peers


def gram_matmul(F1, F2, scale):
    a, h, w, m = F1.shape
    A = F1.reshape(a, h * w, m)
    B = F2.reshape(a, h * w, F2.shape[-1])
    return np.matmul(A.transpose(0, 2, 1), B) * scale


class Case:
    def __init__(self, name, subscripts, operands, scale=1.0, matmul=None, group="other"):
        self.name, self.subscripts, self.operands = name, subscripts, operands
        self.scale, self.matmul, self.group = scale, matmul, group
        arrays = [np.asarray(o) for o in operands]
        report = np.einsum_path(subscripts, *arrays, optimize="greedy")[1]
        self.flops = float(next(l for l in report.splitlines() if "Optimized FLOP" in l).split()[-1])
        self.dtype = np.result_type(*arrays)


def gram_case(shape, dtype, same):
    a, h, w, m, n = shape
    F1 = RNG.standard_normal((a, h, w, m)).astype(dtype)
    F2 = F1 if same else RNG.standard_normal((a, h, w, n)).astype(dtype)
    kind = "same" if same else "distinct"
    name = f"gram {a}x{h}x{w}x{m} {kind}"
    return Case(name, "ahwm,ahwn->amn", [F1, F2], 1.0 / (h * w),
                matmul=lambda: gram_matmul(F1, F2, 1.0 / (h * w)), group=f"gram-{kind}")


def cases(quick):
    out = []
    grams = [(8, 28, 28, 256, 256), (4, 56, 56, 128, 128), (1, 224, 224, 64, 64), (16, 14, 14, 512, 512)]
    for dtype in (np.float32, np.float64):
        for shape in grams[:1] if quick and dtype == np.float64 else grams:
            for same in (False, True):
                out.append(gram_case(shape, dtype, same))
        A = RNG.standard_normal((1024, 1024)).astype(dtype)
        B = RNG.standard_normal((1024, 1024)).astype(dtype)
        out.append(Case("ij,jk->ik 1024", "ij,jk->ik", [A, B], matmul=lambda A=A, B=B: A @ B, group="matmul"))
        a4, b4 = A[:4, :4].copy(), B[:4, :4].copy()
        out.append(Case("ij,jk->ik 4x4", "ij,jk->ik", [a4, b4], matmul=lambda a4=a4, b4=b4: a4 @ b4, group="tiny"))
        X = RNG.standard_normal((32, 24, 32, 64)).astype(dtype)
        Y = RNG.standard_normal((64, 24, 48, 40)).astype(dtype)
        out.append(Case("acbd,dcfe->abef", "acbd,dcfe->abef", [X, Y], group="permuted"))
        # Three contracted labels, one of them outermost in both operands.
        X2 = RNG.standard_normal((32, 24, 64, 40)).astype(dtype)
        Y2 = RNG.standard_normal((40, 24, 48, 32)).astype(dtype)
        out.append(Case("abcd,dbea->ce", "abcd,dbea->ce", [X2, Y2], group="permuted"))
        P, Q, R = (RNG.standard_normal(s).astype(dtype) for s in ((256, 512), (512, 384), (384, 128)))
        out.append(Case("ij,jk,kl->il chain", "ij,jk,kl->il", [P, Q, R],
                        matmul=lambda P=P, Q=Q, R=R: P @ (Q @ R), group="chain"))
        # Five operands of 16^4 (a basis change of a 4-index tensor): path, intermediates
        # and small products.
        E4 = [RNG.standard_normal((16, 16)).astype(dtype) for _ in range(4)]
        T4 = RNG.standard_normal((16, 16, 16, 16)).astype(dtype)
        out.append(Case("ea,fb,abcd,gc,hd->efgh", "ea,fb,abcd,gc,hd->efgh", [E4[0], E4[1], T4, E4[2], E4[3]],
                        group="chain"))
        # Reductions whose outputs lie side by side while their terms are strided: a
        # transposed matrix times a vector, and per-channel sums of a feature map.
        Mt = RNG.standard_normal((600, 400)).astype(dtype)
        v = RNG.standard_normal(600).astype(dtype)
        out.append(Case("ji,j->i 600x400", "ji,j->i", [Mt, v], matmul=lambda Mt=Mt, v=v: Mt.T @ v, group="reduce"))
        C4 = RNG.standard_normal((8, 28, 28, 256)).astype(dtype)
        out.append(Case("nhwc->c 8x28x28x256", "nhwc->c", [C4], group="reduce"))
        # numpy's own einsum benchmark suite (benchmarks/bench_linalg.py, class Einsum).
        one = np.arange(3000, dtype=dtype)
        one_small = np.arange(600, dtype=dtype)
        one_big = np.arange(480000, dtype=dtype)
        two_small = np.arange(1200, dtype=dtype).reshape(30, 40)
        two = np.arange(240000, dtype=dtype).reshape(400, 600)
        three_small = np.arange(10000, dtype=dtype).reshape(10, 100, 10)
        three = np.arange(24000, dtype=dtype).reshape(20, 30, 40)
        nc1 = np.arange(8000, dtype=dtype)[::4]
        nc2 = np.arange(4800, dtype=dtype).reshape(60, 80)[::2, ::2]
        nc3 = np.arange(96000, dtype=dtype).reshape(40, 60, 40)[::2, ::2]
        out += [
            Case("np outer", "i,j", [one, one], group="numpy-suite"),
            Case("np multiply", "...,...", [two_small, three], group="numpy-suite"),
            Case("np sum_mul", ",i...->", [np.asarray(300, dtype), three_small], group="numpy-suite"),
            Case("np sum_mul2", "i...,->", [three_small, np.asarray(300, dtype)], group="numpy-suite"),
            Case("np mul", "i,->i", [one_big, np.asarray(300, dtype)], group="numpy-suite"),
            Case("np contig_contig", "ji,i->", [two, one_small], group="numpy-suite"),
            Case("np contig_outstride0", "i->", [one_big], group="numpy-suite"),
            Case("np noncon outer", "i,j", [nc1, nc1], group="numpy-suite"),
            Case("np noncon multiply", "...,...", [nc2, nc3], group="numpy-suite"),
            Case("np noncon sum_mul", ",i...->", [np.asarray(300, dtype), nc3], group="numpy-suite"),
            Case("np noncon contig_contig", "ji,i->", [nc2, nc1[:40]], group="numpy-suite"),
            Case("np noncon contig_outstride0", "i->", [nc1], group="numpy-suite"),
        ]
    # NumPy's Eindot benchmark (bench_linalg.py): int64 vectors around a float64 matrix.
    out.append(Case("i,ij,j int64/float64", "i,ij,j",
                    [np.arange(400), np.arange(240000.0).reshape(400, 600), np.arange(600)], group="mixed"))
    return out


def implementations(case, peers, optimize="auto"):
    ops, sub, s = case.operands, case.subscripts, case.scale
    impls = {}
    if case.group.startswith("gram"):
        same = ops[0] is ops[1]
        impls["swiftgram"] = (lambda: swiftgram.gram(ops[0])) if same else (lambda: swiftgram.gram(ops[0], ops[1]))
    else:
        # optimize='auto': swiftgram's cheapest path (for 3+ operands it beats NumPy's
        # greedy True, which numpy.einsum runs here); for one or two operands it is True.
        impls["swiftgram"] = lambda: swiftgram.einsum(sub, *ops, optimize=optimize)
    if s != 1.0:
        impls["numpy.einsum(opt)"] = lambda: np.einsum(sub, *ops, optimize=True) * s
    else:
        impls["numpy.einsum(opt)"] = lambda: np.einsum(sub, *ops, optimize=True)
    if case.group == "tiny":
        impls["numpy.einsum"] = lambda: np.einsum(sub, *ops)
    if case.matmul is not None:
        impls["numpy.matmul"] = case.matmul
    if "tf" in peers:
        tf = peers["tf"]
        tf_ops = [tf.constant(o) for o in ops]
        tf_f = tf.function(lambda *t: tf.einsum(sub, *t) * s if s != 1.0 else tf.einsum(sub, *t))
        impls["tf.einsum"] = lambda: tf_f(*tf_ops).numpy()
    if "torch" in peers:
        torch = peers["torch"]
        th_ops = [torch.from_numpy(np.ascontiguousarray(o)) for o in ops]
        impls["torch.einsum"] = lambda: (torch.einsum(sub, *th_ops) * s if s != 1.0 else torch.einsum(sub, *th_ops)).numpy()
    if "jax" in peers:
        jax, jnp = peers["jax"]
        jax_ops = [jnp.asarray(o) for o in ops]
        jax_f = jax.jit(lambda *t: jnp.einsum(sub, *t) * s if s != 1.0 else jnp.einsum(sub, *t))
        impls["jax.jit"] = lambda: np.asarray(jax_f(*jax_ops).block_until_ready())
    return impls


def measure(impls, min_time, rounds=3, per_round=3):
    """Median seconds per call of each implementation. Each round runs every implementation
    in turn (rotating the order, so drift hits all alike) as a block: a pause that lets the
    previous one's threads go idle (OpenBLAS spins ~0.1 s after a call and would steal a
    core), one untimed call, then `per_round` timed samples of back-to-back calls."""
    for name, f in list(impls.items()):  # warm-up: compile, plan, allocate
        try:
            f()
            f()
        except Exception as e:  # noqa: BLE001 - a peer that cannot run this case is left out
            if name == "swiftgram":
                raise
            print(f"  ({name} cannot run this case: {type(e).__name__})")
            del impls[name]
    names = list(impls)
    # Calibrate repetitions per sample so one sample takes ~min_time / 10, from the fastest
    # of three calls: one slow call (a page-fault storm, a helper thread the host was slow
    # to wake) must not leave an implementation timed by single calls while the others are
    # timed back to back.
    inner = {}
    for n, f in impls.items():
        dt = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            f()
            dt = min(dt, time.perf_counter() - t)
        inner[n] = max(1, int(min_time / 10 / max(dt, 1e-7)))
    samples = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            f, k = impls[n], inner[n]
            time.sleep(0.2)
            f()
            for _ in range(per_round):
                t = time.perf_counter()
                for _ in range(k):
                    f()
                samples[n].append((time.perf_counter() - t) / k)
    return {n: statistics.median(v) for n, v in samples.items()}


def peak(dtype):
    n = 2048
    A = RNG.standard_normal((n, n)).astype(dtype)
    B = RNG.standard_normal((n, n)).astype(dtype)
    A @ B
    best = min(_time(lambda: A @ B) for _ in range(5))
    return 2 * n ** 3 / best / 1e9


def _time(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def memory_probe():
    """Peak extra memory of the largest Gram, measured in a fresh process: max RSS after
    minus before, less the output; the packing buffers are all that should remain."""
    code = (
        "import resource, numpy as np, swiftgram\n"
        "F1 = np.ones((8, 28, 28, 256), np.float32); F2 = np.ones((8, 28, 28, 256), np.float32)\n"
        "out = np.zeros((8, 256, 256), np.float32); out += 1\n"
        "swiftgram.einsum('ij,jk->ik', np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "swiftgram.einsum('ahwm,ahwn->amn', F1, F2, out=out)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) / 1024, F1.nbytes / 2**20)\n")
    extra, operand = subprocess.check_output([sys.executable, "-c", code], text=True).split()
    return float(extra), float(operand)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer float64 Gram shapes, shorter samples")
    ap.add_argument("--csv", default=os.path.join(os.path.dirname(__file__), "results.csv"))
    ap.add_argument("--png", default=os.path.join(os.path.dirname(__file__), "results.png"))
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--peers", default="tf,torch,jax",
                    help="framework peers to load (comma list of tf, torch, jax; '' for NumPy only)")
    ap.add_argument("--optimize", default="auto", type=lambda v: {"True": True, "False": False}.get(v, v),
                    help="swiftgram's optimize value (default 'auto'; True to time a build before 'auto')")
    args = ap.parse_args()
    wanted = {p for p in args.peers.split(",") if p}
    peers = {k: v for k, v in peers_available(wanted).items() if k in wanted}
    peaks = {np.dtype(np.float32): peak(np.float32), np.dtype(np.float64): peak(np.float64)}
    print(f"swiftgram {swiftgram.__version__} ({swiftgram.isa()}, {swiftgram.get_num_threads()} threads); "
          f"peers: numpy {np.__version__}, {', '.join(peers) or 'no framework peers'}")
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}"
                for i in threadpool_info() if i["user_api"] == "blas"]
        print("numpy BLAS:", "; ".join(blas) or "unknown",
              "(OPENBLAS_CORETYPE set: pins an older kernel)" if os.environ.get("OPENBLAS_CORETYPE") else "")
    except ImportError:
        pass
    print(f"machine peak (numpy.matmul 2048^2): float32 {peaks[np.dtype(np.float32)]:.0f} GFLOP/s, "
          f"float64 {peaks[np.dtype(np.float64)]:.0f} GFLOP/s\n")
    rows = []
    for case in cases(args.quick):
        if args.filter not in case.name:
            continue
        times = measure(implementations(case, peers, args.optimize), 0.05 if args.quick else 0.2)
        sg = times["swiftgram"]
        best_peer = min(v for k, v in times.items() if k != "swiftgram")
        gflops = case.flops / 2 / sg / 1e9 * 2  # NumPy counts a multiply-add as 2 FLOPs
        row = {"case": case.name, "dtype": case.dtype.name, "group": case.group,
               "swiftgram_ms": sg * 1e3, "gflops": gflops,
               "peak_fraction": gflops / peaks[case.dtype] if case.dtype in peaks else float("nan"),
               "ratio_best_peer": sg / best_peer}
        for k, v in times.items():
            if k != "swiftgram":
                row[f"{k}_ms"] = v * 1e3
                row[f"ratio_{k}"] = sg / v
        rows.append(row)
        peers_txt = "  ".join(f"{k} {v * 1e3:.4g}ms ({sg / v:.2f})" for k, v in times.items() if k != "swiftgram")
        print(f"{case.name:32s} {case.dtype.name:8s} swiftgram {sg * 1e3:9.4g} ms {gflops:7.1f} GF/s "
              f"{row['peak_fraction']:5.0%} peak | best-peer ratio {row['ratio_best_peer']:.2f} | {peers_txt}",
              flush=True)
    extra, operand = memory_probe()
    print(f"\npeak extra memory of the 8x28x28x256 float32 Gram: {extra:.1f} MiB "
          f"(each operand is {operand:.1f} MiB; no copy of an input is made)")
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("case", "dtype", "group"), k))
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    chart(rows, args.png)
    print(f"wrote {args.csv} and {args.png}")


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no chart")
        return
    labels = [f"{r['case']} {r['dtype']}" for r in rows]
    ratios = [r["ratio_best_peer"] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.28 * len(rows) + 1.5))
    colors = ["tab:green" if x <= 1 else "tab:red" for x in ratios]
    ax.barh(range(len(rows)), ratios, color=colors)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("swiftgram time / best peer time (log; < 1 means swiftgram is faster)")
    ax.set_title("swiftgram vs best of numpy / tf / torch / jax, same run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
