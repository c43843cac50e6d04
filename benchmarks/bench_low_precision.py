"""float16 and bfloat16 against float32: the 8x28x28x256 Gram (distinct operands) and a
1024 matmul, swiftgram and torch (oneDNN), each library in its own process, steady state
(bench_isolated.steady), median over alternating rounds.

    python3 benchmarks/bench_low_precision.py [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASES = {"gram 8x28x28x256": ("ahwm,ahwn->amn", [(8, 28, 28, 256), (8, 28, 28, 256)]),
         "ij,jk->ik 1024": ("ij,jk->ik", [(1024, 1024), (1024, 1024)])}
DTYPES = ["float32", "float16", "bfloat16"]


def child(lib: str) -> None:
    import ml_dtypes
    import numpy as np

    from bench_isolated import steady
    rng = np.random.default_rng(0)
    out = {}
    for name, (sub, shapes) in CASES.items():
        for dt in DTYPES:
            ops = [rng.standard_normal(s).astype(np.float32) for s in shapes]
            if lib == "swiftgram":
                import swiftgram
                ops = [o.astype(ml_dtypes.bfloat16 if dt == "bfloat16" else dt) for o in ops]
                f = (lambda ops=ops: swiftgram.gram(*ops, normalize=False)) if "gram" in name \
                    else (lambda ops=ops: swiftgram.einsum(sub, *ops))
            else:
                import torch
                ts = [torch.from_numpy(o).to(getattr(torch, dt)) for o in ops]
                f = lambda ts=ts, sub=sub: torch.einsum(sub, *ts)  # noqa: E731
            out[f"{name}|{dt}"] = steady(f)
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    times: dict = {}
    for r in range(args.rounds):
        for lib in (["swiftgram", "torch"] if r % 2 == 0 else ["torch", "swiftgram"]):
            got = json.loads(subprocess.check_output([sys.executable, __file__, "--child", lib], text=True))
            for k, t in got.items():
                times.setdefault(k, {}).setdefault(lib, []).append(t)
    print(f"{'case':20s} {'dtype':9s} {'swiftgram':>10s} {'torch':>10s} {'ratio':>6s} {'/ own float32':>14s}")
    for name in CASES:
        sg32 = statistics.median(times[f"{name}|float32"]["swiftgram"])
        for dt in DTYPES:
            sg = statistics.median(times[f"{name}|{dt}"]["swiftgram"])
            th = statistics.median(times[f"{name}|{dt}"]["torch"])
            print(f"{name:20s} {dt:9s} {sg * 1e3:8.2f}ms {th * 1e3:8.2f}ms {sg / th:6.2f} {sg / sg32:14.2f}")


if __name__ == "__main__":
    main()
