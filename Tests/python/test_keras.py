"""swiftgram.keras on every Keras backend. TensorFlow runs in this process; JAX and torch
each run keras_checks.py in a subprocess (Keras fixes its backend at import). A backend
that is not installed is skipped with the reason; .ci/run installs all three."""
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def installed(module):
    return importlib.util.find_spec(module) is not None


needs_tf = pytest.mark.skipif(not (installed("tensorflow") and installed("keras")),
                              reason="tensorflow/keras not installed (pip install swiftgram[keras])")


def _tf_checks():
    if not (installed("tensorflow") and installed("keras")):
        return []
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, HERE)
    import keras
    if keras.backend.backend() != "tensorflow":
        return []
    import keras_checks
    return keras_checks.CHECKS


@needs_tf
@pytest.mark.parametrize("check", _tf_checks(), ids=lambda c: c.__name__)
def test_tensorflow_backend(check):
    check()


@needs_tf
def test_tf_function_graph_mode_and_gradient():
    import tensorflow as tf

    import swiftgram.keras as sgk
    f = np.random.default_rng(0).standard_normal((3, 4, 5, 6)).astype("float32")

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            g = sgk.gram(x)
            loss = tf.reduce_sum(g * g)
        return g, tape.gradient(loss, x)

    @tf.function
    def reference(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            g = tf.einsum("ahwm,ahwn->amn", x, x) / 20
            loss = tf.reduce_sum(g * g)
        return g, tape.gradient(loss, x)

    for a, b in zip(step(tf.constant(f)), reference(tf.constant(f))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


@needs_tf
def test_saved_model_reloads_in_a_fresh_process_after_import_swiftgram():
    import keras_checks
    model = keras_checks.gram_model(True)
    data = np.random.default_rng(1).standard_normal((4, 4, 5, 3)).astype("float32")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        model.save(path)
        np.save(os.path.join(d, "x.npy"), data)
        np.save(os.path.join(d, "y.npy"), model.predict(data, verbose=0))
        code = ("import numpy as np, keras, swiftgram, os; d = os.environ['D'];"
                "m = keras.models.load_model(os.path.join(d, 'm.keras'));"
                "np.testing.assert_allclose(m.predict(np.load(os.path.join(d, 'x.npy')), verbose=0),"
                " np.load(os.path.join(d, 'y.npy')), rtol=1e-5, atol=1e-6); print('reloaded')")
        env = dict(os.environ, D=d, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        assert "reloaded" in out.stdout


@pytest.mark.parametrize("backend, module", [("jax", "jax"), ("torch", "torch")])
def test_other_backends(backend, module):
    if not (installed(module) and installed("keras")):
        pytest.skip(f"{module} not installed: the {backend} backend cannot be tested here")
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_ENABLE_X64="1", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, os.path.join(HERE, "keras_checks.py")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert out.stdout.count(" ok") >= 9, out.stdout
