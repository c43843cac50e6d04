"""Dask benchmark: the 64x28x28x256 float32 Gram (distinct operands) on a local
dask.distributed cluster of two worker processes with one thread each, chunked along the
batch and along batch and h/w; swiftgram.dask.einsum against dask.array.einsum(...,
optimize=True) on the same cluster, the inputs already in the workers' memory.

    python3 benchmarks/bench_dask.py [--rounds 9] [--threaded | --persist]

Each round times one compute of each (alternating which goes first); the table shows the
median over rounds and the ratio swiftgram / dask (below 1: swiftgram is faster).
"""
import argparse
import itertools
import statistics
import time

import dask
import dask.array as da
import numpy as np

import swiftgram.dask as sgd

SHAPE = (64, 28, 28, 256)
CHUNKINGS = {"batch": (16, 28, 28, 256), "batch+h/w": (16, 14, 14, 256)}
SUBSCRIPTS = "ahwm,ahwn->amn"


def timed(run) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threaded", action="store_true", help="Dask's threaded scheduler instead of a cluster")
    ap.add_argument("--persist", action="store_true",
                    help="keep the result on the cluster (client.persist) instead of gathering it to the client")
    args = ap.parse_args()
    client = cluster = None
    if not args.threaded:
        from distributed import Client, LocalCluster
        cluster = LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                               silence_logs=50)
        client = Client(cluster)
    if args.persist and args.threaded:
        ap.error("--persist times a cluster")
    where = "threaded scheduler" if args.threaded else "LocalCluster(processes=True, n_workers=2, threads_per_worker=1)"
    where += ", result kept on the cluster" if args.persist else ", result gathered to the client"
    print(f"Gram {SHAPE} float32, {where}, median of {args.rounds} rounds (ms)")
    print(f"{'chunks':28s} {'swiftgram.dask':>15s} {'da.einsum(opt)':>15s} {'ratio':>6s}")
    for name, chunks in CHUNKINGS.items():
        rng = da.random.default_rng(0)
        f1 = rng.standard_normal(SHAPE, chunks=chunks, dtype=np.float32)
        f2 = rng.standard_normal(SHAPE, chunks=chunks, dtype=np.float32)
        f1, f2 = (client.persist([f1, f2]) if client else dask.persist(f1, f2))
        ours = sgd.einsum(SUBSCRIPTS, f1, f2)
        theirs = da.einsum(SUBSCRIPTS, f1, f2, optimize=True)
        if args.persist:
            # The result stays in the workers' memory (as where it feeds more work).
            from distributed import wait
            rounds = itertools.count()

            def persisted(x):
                # A fresh name each round (an identity task per block, for both libraries):
                # the round computes the result again instead of finding the keys of the
                # last round still in memory. The previous round's result is released here.
                wait(client.persist(x.map_blocks(lambda block: block, token=f"round{next(rounds)}", dtype=x.dtype)))
            run = {"swiftgram": lambda: persisted(ours), "dask": lambda: persisted(theirs)}
            check = {"swiftgram": ours.compute, "dask": theirs.compute}
        else:
            run = check = {"swiftgram": ours.compute, "dask": theirs.compute}
        np.testing.assert_allclose(check["swiftgram"](), check["dask"](), rtol=1e-3, atol=1e-2)
        for k in run:
            run[k]()  # warm-up
        times = {k: [] for k in run}
        for r in range(args.rounds):
            for k in (list(run) if r % 2 == 0 else list(run)[::-1]):
                times[k].append(timed(run[k]))
        sg, dk = statistics.median(times["swiftgram"]), statistics.median(times["dask"])
        print(f"{name + ' ' + str(chunks):28s} {sg * 1e3:15.1f} {dk * 1e3:15.1f} {sg / dk:6.2f}", flush=True)
    if client:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
