"""Training-step benchmark: a Gram-pooling model trained with swiftgram.keras against the
same model with keras.ops.einsum, forward + backward, on the current Keras backend.

    KERAS_BACKEND=tensorflow python3 benchmarks/bench_keras.py [--shape 8 28 28 256]

Both models are built identically (same weights); each step is one train_on_batch on
the same batch, interleaved, and the table shows the median step time.
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import ops  # noqa: E402

import swiftgram.keras as sgk  # noqa: E402


def build(a, h, w, c, use_swiftgram):
    keras.utils.set_random_seed(0)
    x = keras.Input((h, w, 32))
    # A trainable 1x1 convolution before the Gram, so the backward pass goes through it.
    f = keras.layers.Conv2D(c, 1)(x)
    if use_swiftgram:
        g = keras.layers.Lambda(lambda t: sgk.gram(t))(f)
    else:
        g = keras.layers.Lambda(lambda t: ops.einsum("ahwm,ahwn->amn", t, t) / (h * w))(f)
    y = keras.layers.Dense(1)(keras.layers.Flatten()(g))
    model = keras.Model(x, y)
    # On TensorFlow the swiftgram op is a host callback XLA cannot compile: both models
    # run without XLA there. JAX jit-compiles both (the callback works under jit).
    jit = False if keras.backend.backend() == "tensorflow" else "auto"
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse", jit_compile=jit)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=4, default=[8, 28, 28, 256], metavar=("A", "H", "W", "C"))
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    a, h, w, c = args.shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a, h, w, 32)).astype("float32")
    y = rng.standard_normal((a, 1)).astype("float32")
    models = {"swiftgram.keras.gram": build(a, h, w, c, True), "keras.ops.einsum": build(a, h, w, c, False)}
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
    print(f"backend {keras.backend.backend()}, conv1x1 -> Gram {a}x{h}x{w}x{c} -> dense, float32, "
          "train step (forward + backward):")
    for k, v in med.items():
        print(f"  {k:24s} {v * 1e3:8.2f} ms")
    print(f"  ratio swiftgram / keras.ops.einsum: {med['swiftgram.keras.gram'] / med['keras.ops.einsum']:.2f}")


if __name__ == "__main__":
    main()
