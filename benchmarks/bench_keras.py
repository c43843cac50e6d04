"""Training-step benchmark: a Gram-pooling model (Input(8,28,28,64) -> Conv2D(256, 1) ->
Gram -> Flatten -> Dense(10)) trained with swiftgram.keras (in a Lambda and as the Gram
layer) against the same model with keras.ops.einsum, and with the Gram replaced by a
negligible op of the same output shape (what the rest of the step costs); on the current
Keras backend, default compile settings.

    KERAS_BACKEND=tensorflow python3 benchmarks/bench_keras.py [--shape 8 28 28 256]

All models start from the same weights; each step is one train_on_batch on the same
batch, the models interleaved, and the table shows the median step time. On JAX it also
times the jitted Gram forward alone (swiftgram's custom call against XLA's einsum).
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import ops  # noqa: E402

import swiftgram.keras as sgk  # noqa: E402


def negligible(t):
    """(a, c, c) from one pixel's outer product: the Gram's output shape at no cost."""
    p = t[:, 0, 0, :]
    return p[:, :, None] * p[:, None, :]


def build(h, w, cin, c, gram):
    keras.utils.set_random_seed(0)
    x = keras.Input((h, w, cin))
    # A trainable 1x1 convolution before the Gram, so the backward pass goes through it.
    f = keras.layers.Conv2D(c, 1)(x)
    g = gram(f)
    y = keras.layers.Dense(10)(keras.layers.Flatten()(g))
    model = keras.Model(x, y)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    return model


def timed_median(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def jax_forward(a, h, w, c, repeats):
    import jax
    import jax.numpy as jnp
    rng = np.random.default_rng(1)
    f1 = jnp.asarray(rng.standard_normal((a, h, w, c)).astype("float32"))
    f2 = jnp.asarray(rng.standard_normal((a, h, w, c)).astype("float32"))
    cases = {
        "same operand": (jax.jit(lambda t: sgk.gram(t)), jax.jit(lambda t: jnp.einsum("ahwm,ahwn->amn", t, t) / (h * w)),
                         (f1,)),
        "distinct": (jax.jit(lambda s, t: sgk.gram(s, t)),
                     jax.jit(lambda s, t: jnp.einsum("ahwm,ahwn->amn", s, t) / (h * w)), (f1, f2)),
    }
    print(f"jax.jit Gram forward {a}x{h}x{w}x{c} float32 (median of {repeats}):")
    for name, (ours, xla, xs) in cases.items():
        np.testing.assert_allclose(np.asarray(ours(*xs)), np.asarray(xla(*xs)), rtol=1e-4, atol=1e-4)
        t_ours = timed_median(lambda: ours(*xs).block_until_ready(), repeats)
        t_xla = timed_median(lambda: xla(*xs).block_until_ready(), repeats)
        print(f"  {name:14s} swiftgram {t_ours * 1e3:7.2f} ms   XLA einsum {t_xla * 1e3:7.2f} ms   "
              f"ratio {t_ours / t_xla:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", type=int, nargs=4, default=[8, 28, 28, 256], metavar=("A", "H", "W", "C"))
    ap.add_argument("--input-channels", type=int, default=64)
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    a, h, w, c = args.shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a, h, w, args.input_channels)).astype("float32")
    y = rng.standard_normal((a, 10)).astype("float32")
    grams = {
        "keras.ops.einsum Lambda": lambda f: keras.layers.Lambda(
            lambda t: ops.einsum("ahwm,ahwn->amn", t, t) / (h * w))(f),
        "swiftgram Lambda": lambda f: keras.layers.Lambda(lambda t: sgk.gram(t))(f),
        "swiftgram Gram layer": lambda f: sgk.Gram()(f),
        "negligible op": lambda f: keras.layers.Lambda(negligible)(f),
    }
    models = {k: build(h, w, args.input_channels, c, g) for k, g in grams.items()}
    times = {k: [] for k in models}
    for m in models.values():
        for _ in range(3):
            m.train_on_batch(x, y)
    for _ in range(args.steps):
        for name, m in models.items():
            time.sleep(0.005)
            t = time.perf_counter()
            m.train_on_batch(x, y)
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["keras.ops.einsum Lambda"]
    print(f"backend {keras.backend.backend()}, Input{(a, h, w, args.input_channels)} -> Conv2D({c}, 1) -> Gram -> "
          f"Flatten -> Dense(10), float32, train step (median of {args.steps}):")
    for k, v in med.items():
        print(f"  {k:24s} {v * 1e3:8.2f} ms   ratio to keras.ops.einsum {v / base:5.2f}")
    if keras.backend.backend() == "jax":
        jax_forward(a, h, w, c, 30)


if __name__ == "__main__":
    main()
