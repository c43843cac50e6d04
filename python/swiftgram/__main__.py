"""python -m swiftgram: the motivating example.

Builds random feature maps F1 (a,h,w,m) and F2 (a,h,w,n), computes the Gram matrix
G = einsum('ahwm,ahwn->amn', F1, F2) / (h*w) with swiftgram, checks it against five nested
Python loops, and times it against numpy.einsum.
"""
import time

import numpy as np

import swiftgram


def naive_entry(F1, F2, k, i, j):
    _, h, w, _ = F1.shape
    total = 0.0
    for s in range(h):
        for t in range(w):
            total += F1[k, s, t, i] * F2[k, s, t, j] / (h * w)
    return total


def naive_gram(F1, F2):
    a, _, _, m = F1.shape
    n = F2.shape[3]
    G = np.zeros((a, m, n))
    for k in range(a):
        for i in range(m):
            for j in range(n):
                G[k, i, j] = naive_entry(F1, F2, k, i, j)
    return G


def best_of(f, repeat=7):
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    print(f"swiftgram {swiftgram.__version__}: kernels {swiftgram.isa()}, {swiftgram.get_num_threads()} threads")

    a, h, w, m, n = 1, 2, 3, 4, 5
    F1 = rng.random((a, h, w, m))
    F2 = rng.random((a, h, w, n))
    G = swiftgram.einsum("ahwm,ahwn->amn", F1, F2) / (h * w)
    ok_small = np.allclose(G, naive_gram(F1, F2)) and np.allclose(swiftgram.gram(F1, F2), naive_gram(F1, F2))
    print(f"(a,h,w,m,n) = {(a, h, w, m, n)}: G == naive five-loop reference: {ok_small}")

    a, h, w, m, n = 8, 28, 28, 256, 256
    F1 = rng.standard_normal((a, h, w, m)).astype(np.float32)
    F2 = rng.standard_normal((a, h, w, n)).astype(np.float32)
    G = swiftgram.gram(F1, F2)
    # Five Python loops over every entry would take minutes here: check a sample of entries.
    picks = [(k, int(rng.integers(m)), int(rng.integers(n))) for k in range(a) for _ in range(4)]
    ok_large = all(np.isclose(G[k, i, j], naive_entry(F1.astype(np.float64), F2.astype(np.float64), k, i, j),
                              rtol=1e-4, atol=1e-5) for k, i, j in picks)
    print(f"(a,h,w,m,n) = {(a, h, w, m, n)} float32: {len(picks)} entries == naive loops: {ok_large}")

    t_sg = best_of(lambda: swiftgram.gram(F1, F2))
    t_sg_same = best_of(lambda: swiftgram.gram(F1))
    t_np = best_of(lambda: np.einsum("ahwm,ahwn->amn", F1, F2, optimize=True) / (h * w))
    t_np_plain = best_of(lambda: np.einsum("ahwm,ahwn->amn", F1, F2) / (h * w), repeat=1)
    gflop = 2 * a * h * w * m * n / 1e9
    print(f"  swiftgram.gram(F1, F2)                     {t_sg * 1e3:8.2f} ms  {gflop / t_sg:6.1f} GFLOP/s")
    print(f"  swiftgram.gram(F1)      (same operand)     {t_sg_same * 1e3:8.2f} ms")
    print(f"  numpy.einsum(optimize=True) / (h*w)        {t_np * 1e3:8.2f} ms  ({t_np / t_sg:.2f}x swiftgram's time)")
    print(f"  numpy.einsum() / (h*w)                     {t_np_plain * 1e3:8.2f} ms  ({t_np_plain / t_sg:.1f}x)")
    if not (ok_small and ok_large):
        raise SystemExit("swiftgram: demo check FAILED")


if __name__ == "__main__":
    main()
