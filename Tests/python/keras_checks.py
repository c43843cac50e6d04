"""Keras checks that run under any backend (KERAS_BACKEND is chosen before import).

test_keras.py runs them in-process for TensorFlow and in a subprocess per other backend:
    KERAS_BACKEND=jax python Tests/python/keras_checks.py
Each check compares swiftgram.keras against keras.ops.einsum (the backend's own einsum)
or against NumPy; the script exits non-zero on the first failure.
"""
import os
import sys
import tempfile

import numpy as np

import keras
from keras import ops

import keras_native_checks
import swiftgram.keras as sgk
from swiftgram.keras import _labels as labels

RNG = np.random.default_rng(7)

# (subscripts, operand shapes): summed-away labels, repeated labels, '...', size-1
# broadcasting, three operands, the motivating Gram.
GRAD_SPECS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij->i", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)]),
    ("...i,...i->...i", [(1, 3, 4), (2, 3, 4)]),
    ("ij,jk", [(3, 1), (1, 5)]),
    ("bij,bjk,bkl->bil", [(2, 3, 4), (2, 4, 5), (2, 5, 2)]),
    ("ahwm,ahwn->amn", [(2, 3, 4, 5), (2, 3, 4, 6)]),
    ("acbd,dcfe->abef", [(2, 3, 2, 4), (4, 3, 2, 3)]),
]


def backend():
    return keras.backend.backend()


def value_and_grads(fn, xs):
    """(value, gradients of sum(fn(*xs)**2) w.r.t. every x) on the current backend."""
    b = backend()
    if b == "tensorflow":
        import tensorflow as tf
        ts = [tf.Variable(x) for x in xs]
        with tf.GradientTape() as tape:
            y = fn(*ts)
            loss = tf.reduce_sum(y * y)
        return np.asarray(y), [np.asarray(g) for g in tape.gradient(loss, ts)]
    if b == "jax":
        import jax
        import jax.numpy as jnp
        y = fn(*xs)
        grads = jax.grad(lambda *t: jnp.sum(fn(*t) ** 2), argnums=tuple(range(len(xs))))(*xs)
        return np.asarray(y), [np.asarray(g) for g in grads]
    import torch
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    y = fn(*ts)
    grads = torch.autograd.grad((y * y).sum(), ts)
    return y.detach().numpy(), [g.numpy() for g in grads]


def check_forward_and_gradients():
    for spec, shapes in GRAD_SPECS:
        if backend() == "tensorflow" and "..." in spec and "->" not in spec:
            continue  # tf.einsum cannot place implicit broadcast dims
        xs = [RNG.standard_normal(s).astype("float32") for s in shapes]
        y, g = value_and_grads(lambda *t, spec=spec: sgk.einsum(spec, *t), xs)
        y_ref, g_ref = value_and_grads(lambda *t, spec=spec: ops.einsum(spec, *t), xs)
        np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-5, err_msg=spec)
        for k, (a, b) in enumerate(zip(g, g_ref)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=f"{spec} gradient of operand {k}")


def check_second_order():
    """d/dx of (d/dx sum(einsum(x, w)**2)) . v against the backend's own einsum."""
    x = RNG.standard_normal((3, 4)).astype("float32")
    w = RNG.standard_normal((4, 5)).astype("float32")
    b = backend()

    def hvp(einsum):
        if b == "tensorflow":
            import tensorflow as tf
            t = tf.Variable(x)
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    loss = tf.reduce_sum(einsum("ij,jk->ik", t, w) ** 2)
                g = inner.gradient(loss, t)
                s = tf.reduce_sum(g * g)
            return np.asarray(outer.gradient(s, t))
        if b == "jax":
            import jax
            import jax.numpy as jnp
            g = jax.grad(lambda t: jnp.sum(einsum("ij,jk->ik", t, w) ** 2))
            return np.asarray(jax.grad(lambda t: jnp.sum(g(t) ** 2))(x))
        import torch
        t = torch.tensor(x, requires_grad=True)
        loss = (einsum("ij,jk->ik", t, torch.tensor(w)) ** 2).sum()
        (g,) = torch.autograd.grad(loss, t, create_graph=True)
        (h,) = torch.autograd.grad((g * g).sum(), t)
        return h.numpy()

    np.testing.assert_allclose(hvp(sgk.einsum), hvp(ops.einsum), rtol=1e-3, atol=1e-3)


def random_spec(rng):
    """A random two- or three-operand contraction: labels summed, kept, repeated within an
    operand, of size 1 or broadcast from size 1, '...' with broadcast dims, explicit or
    implicit output."""
    sizes = {l: int(rng.integers(1, 4)) for l in "abcde"}
    ell = [int(rng.integers(1, 3)) for _ in range(int(rng.integers(0, 3)))] if rng.random() < 0.25 else None
    terms, shapes = [], []
    for _ in range(int(rng.integers(2, 4))):
        labels = list(rng.choice(list("abcde"), size=int(rng.integers(0, 4))))
        if labels and rng.random() < 0.1:
            labels.append(labels[0])  # a repeated label: a diagonal
        shape = [1 if labels.count(l) == 1 and rng.random() < 0.15 else sizes[l] for l in labels]
        term = "".join(labels)
        if ell is not None and rng.random() < 0.7:
            k = int(rng.integers(0, len(ell) + 1))
            term = "..." + term
            shape = [1 if rng.random() < 0.2 else d for d in ell[len(ell) - k:]] + shape
        terms.append(term)
        shapes.append(tuple(shape))
    spec = ",".join(terms)
    if rng.random() < 0.8:
        present = sorted({c for t in terms for c in t if c.isalpha()})
        out = list(rng.permutation(present))[:int(rng.integers(0, len(present) + 1))]
        if any("..." in t for t in terms):
            out.insert(int(rng.integers(0, len(out) + 1)), "...")
        spec += "->" + "".join(out)
    return spec, shapes


def check_random_gradients(count=int(os.environ.get("SWIFTGRAM_GRADIENT_SPECS", "1000"))):
    """First-order gradients of `count` random specs, and second-order ones of every tenth,
    against the backend's own einsum (specs its einsum rejects, or reads otherwise than
    NumPy, are drawn again)."""
    rng = np.random.default_rng(11)
    checked = second = 0
    while checked < count:
        spec, shapes = random_spec(rng)
        xs = [rng.standard_normal(s) for s in shapes]
        try:
            y_ref, g_ref = value_and_grads(lambda *t: ops.einsum(spec, *t), xs)
        except Exception:  # noqa: BLE001 - the framework's einsum cannot express this spec
            continue
        want = np.einsum(spec, *xs)
        if np.shape(y_ref) != want.shape or not np.allclose(y_ref, want, rtol=1e-9, atol=1e-9):
            continue  # the framework reads this spec otherwise than NumPy (TF: implicit output order)
        y, g = value_and_grads(lambda *t: sgk.einsum(spec, *t), xs)
        np.testing.assert_allclose(y, y_ref, rtol=1e-9, atol=1e-9, err_msg=f"{spec} {shapes}")
        for k, (a, b) in enumerate(zip(g, g_ref)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=f"{spec} {shapes}: operand {k}")
        if checked % 10 == 0:
            h = second_order(lambda *t: sgk.einsum(spec, *t), xs)
            h_ref = second_order(lambda *t: ops.einsum(spec, *t), xs)
            np.testing.assert_allclose(h, h_ref, rtol=1e-8, atol=1e-8, err_msg=f"{spec} {shapes}: second order")
            second += 1
        checked += 1
    print(f"{backend()}: {checked} random specs, {second} of them to second order", flush=True)


def second_order(fn, xs):
    """d/dx0 of sum((d/dx0 sum(fn(x0, *rest)**2))**2), the other operands held fixed."""
    b = backend()
    if b == "tensorflow":
        import tensorflow as tf
        t = tf.Variable(xs[0])
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = tf.reduce_sum(fn(t, *xs[1:]) ** 2)
            g = inner.gradient(loss, t)
            s = tf.reduce_sum(g * g)
        return np.asarray(outer.gradient(s, t))
    if b == "jax":
        import jax
        import jax.numpy as jnp
        g = jax.grad(lambda t: jnp.sum(fn(t, *xs[1:]) ** 2))
        return np.asarray(jax.grad(lambda t: jnp.sum(g(t) ** 2))(xs[0]))
    import torch
    t = torch.tensor(xs[0], requires_grad=True)
    loss = (fn(t, *[torch.tensor(x) for x in xs[1:]]) ** 2).sum()
    (g,) = torch.autograd.grad(loss, t, create_graph=True)
    (h,) = torch.autograd.grad((g * g).sum(), t)
    return h.numpy()


def check_symbolic_tensors_outside_layers():
    """Keras tensors straight into sgk.einsum / sgk.gram (no Lambda), as keras.ops.einsum
    takes them: shapes and dtypes inferred, the model computes the same values."""
    x = keras.Input((4, 5, 6))
    y = sgk.einsum("bhwc,bhwd->bcd", x, x, alpha=0.5)
    g = sgk.gram(x)
    ref = ops.einsum("bhwc,bhwd->bcd", x, x)
    assert isinstance(y, keras.KerasTensor) and tuple(y.shape) == tuple(ref.shape) == (None, 6, 6), y.shape
    assert y.dtype == ref.dtype and tuple(g.shape) == (None, 6, 6)
    model = keras.Model(x, [y, g])
    f = RNG.standard_normal((3, 4, 5, 6)).astype("float32")
    got_y, got_g = model.predict(f, verbose=0)
    want = np.einsum("bhwc,bhwd->bcd", f, f)
    np.testing.assert_allclose(got_y, want / 2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_g, want / 20, rtol=1e-5, atol=1e-5)


def check_int8_dtype_as_keras():
    a = RNG.integers(-128, 128, (5, 40)).astype("int8")
    b = RNG.integers(-128, 128, (40, 3)).astype("int8")
    y, ref = sgk.einsum("ij,jk->ik", a, b), ops.einsum("ij,jk->ik", a, b)
    assert keras.backend.standardize_dtype(y.dtype) == keras.backend.standardize_dtype(ref.dtype) == "int32"
    np.testing.assert_array_equal(ops.convert_to_numpy(y), a.astype(np.int64) @ b.astype(np.int64))


def check_errors_are_value_errors():
    """Bad subscripts and sizes are a ValueError on every backend, under jax.jit too."""
    a, b = np.ones((2, 3), "float32"), np.ones((4, 5), "float32")
    calls = [lambda: sgk.einsum("ij,jk->iq", a, a.T), lambda: sgk.einsum("ij,jk->ik", a, b),
             lambda: sgk.einsum("ij,jk,->ik", a, b)]
    if backend() == "jax":
        import jax
        calls += [lambda: jax.jit(lambda x, y: sgk.einsum("ij,jk->ik", x, y))(a, b),
                  lambda: jax.jit(lambda x: sgk.einsum("ij->iq", x))(a)]
    for call in calls:
        try:
            call()
        except ValueError:
            continue
        except Exception as e:  # noqa: BLE001 - the kind is the point
            raise AssertionError(f"{backend()}: {type(e).__name__} instead of ValueError: {e}") from e
        raise AssertionError(f"{backend()}: no error")


def check_same_operand_gram_gradient_is_one_product():
    """gram(F) and einsum(s, F, F): the gradient of the shared F is one einsum (at dG and
    its transpose), and matches the backend's einsum to first and second order."""
    x = RNG.standard_normal((2, 3, 4, 5))
    calls = []
    real = labels._gradient
    labels._gradient = lambda *a, **k: calls.append(a[4]) or real(*a, **k)
    try:
        for spec in ("ahwm,ahwn->amn", "ij,kj->ik", "bij,bik->bjk"):
            xs = [x.reshape(2, 12, 5)] if spec.startswith("b") else [x.reshape(24, 5)] if spec[0] == "i" else [x]
            calls.clear()
            y, g = value_and_grads(lambda t: sgk.einsum(spec, t, t), xs)
            assert calls == [0], f"{spec}: gradients taken for operands {calls}"
            y_ref, g_ref = value_and_grads(lambda t: ops.einsum(spec, t, t), xs)
            np.testing.assert_allclose(y, y_ref, rtol=1e-10, err_msg=spec)
            np.testing.assert_allclose(g[0], g_ref[0], rtol=1e-9, atol=1e-9, err_msg=spec)
            np.testing.assert_allclose(second_order(lambda t: sgk.einsum(spec, t, t), xs),
                                       second_order(lambda t: ops.einsum(spec, t, t), xs), rtol=1e-8, atol=1e-8)
        _, g = value_and_grads(lambda t: sgk.gram(t), [x])
        _, g_ref = value_and_grads(lambda t: ops.einsum("ahwm,ahwn->amn", t, t) / 12, [x])
        np.testing.assert_allclose(g[0], g_ref[0], rtol=1e-9, atol=1e-9)
    finally:
        labels._gradient = real


def gram_model(use_layer, einsum=None, h=4, w=5, c=6):
    """A small style-transfer-like model: conv features -> Gram -> dense."""
    keras.utils.set_random_seed(3)
    x = keras.Input((h, w, 3))
    f = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(x)
    if use_layer:
        g = sgk.Gram(flatten="upper", signed_sqrt=True, l2_normalize=True)(f)
    else:
        einsum = einsum or sgk.einsum
        g = keras.layers.Lambda(lambda t: einsum("ahwm,ahwn->amn", t, t) / (h * w))(f)
        g = keras.layers.Flatten()(g)
    y = keras.layers.Dense(2)(g)
    model = keras.Model(x, y)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def check_lambda_training_matches_backend_einsum():
    data = RNG.standard_normal((16, 4, 5, 3)).astype("float32")
    target = RNG.standard_normal((16, 2)).astype("float32")
    ours = gram_model(False).fit(data, target, epochs=4, batch_size=8, verbose=0, shuffle=False)
    ref = gram_model(False, einsum=ops.einsum).fit(data, target, epochs=4, batch_size=8, verbose=0, shuffle=False)
    np.testing.assert_allclose(ours.history["loss"], ref.history["loss"], rtol=1e-4)
    assert ours.history["loss"][-1] < ours.history["loss"][0]


def check_layers_save_reload_and_keep_training():
    data = RNG.standard_normal((16, 4, 5, 3)).astype("float32")
    target = RNG.standard_normal((16, 2)).astype("float32")
    model = gram_model(True)
    model.fit(data, target, epochs=2, batch_size=8, verbose=0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "gram.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
    history = loaded.fit(data, target, epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    # Einsum layer: config round trip.
    layer = sgk.Einsum("bij,bjk->bik")
    clone = sgk.Einsum.from_config(layer.get_config())
    a = RNG.standard_normal((2, 3, 4)).astype("float32")
    b = RNG.standard_normal((2, 4, 5)).astype("float32")
    np.testing.assert_allclose(np.asarray(clone([a, b])), a @ b, rtol=1e-5, atol=1e-5)


def check_gram_layer_options():
    f = RNG.standard_normal((2, 3, 4, 5)).astype("float32")
    g = np.einsum("ahwm,ahwn->amn", f, f) / 12
    np.testing.assert_allclose(np.asarray(sgk.Gram()(f)), g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(sgk.Gram(normalize=False)(f)), g * 12, rtol=1e-5, atol=1e-5)
    rows, cols = np.triu_indices(5)
    np.testing.assert_allclose(np.asarray(sgk.Gram(flatten="upper")(f)), g[:, rows, cols], rtol=1e-5, atol=1e-6)
    s = np.sign(g) * np.sqrt(np.abs(g) + 1e-12)
    s = s.reshape(2, -1) / np.sqrt((s.reshape(2, -1) ** 2).sum(1, keepdims=True) + 1e-12)
    np.testing.assert_allclose(np.asarray(sgk.Gram(flatten="full", signed_sqrt=True, l2_normalize=True)(f)), s,
                               rtol=1e-4, atol=1e-5)
    f2 = RNG.standard_normal((2, 3, 4, 7)).astype("float32")
    np.testing.assert_allclose(np.asarray(sgk.Gram()([f, f2])), np.einsum("ahwm,ahwn->amn", f, f2) / 12,
                               rtol=1e-5, atol=1e-6)


def check_dynamic_batch_and_static_shapes():
    x = keras.Input((4, 5, 6))
    g = sgk.Gram()(x)
    assert tuple(g.shape) == (None, 6, 6), g.shape
    lam = keras.layers.Lambda(lambda t: sgk.gram(t))(x)
    assert tuple(lam.shape) == (None, 6, 6), lam.shape
    # Static shapes with unknown dims come from the core: a known size other than 1 wins,
    # then unknown, then 1; known sizes that disagree name the label and sizes.
    layer = sgk.Einsum("...ij,...jk->...ik")
    assert tuple(layer.compute_output_shape([(None, 1, 4, 5), (None, 7, 5, 3)])) == (None, 7, 4, 3)
    assert tuple(layer.compute_output_shape([(1, 4, None), (None, 3)])) == (1, 4, 3)
    try:
        layer.compute_output_shape([(None, 4, 5), (None, 6, 3)])
    except ValueError as e:
        assert "label 'j'" in str(e) and "6" in str(e) and "5" in str(e), e
    else:
        raise AssertionError("sizes 5 and 6 of one label were accepted")
    model = keras.Model(x, g)
    for batch in (1, 3):
        f = RNG.standard_normal((batch, 4, 5, 6)).astype("float32")
        np.testing.assert_allclose(model.predict(f, verbose=0), np.einsum("ahwm,ahwn->amn", f, f) / 20,
                                   rtol=1e-5, atol=1e-6)


def check_mixed_precision():
    f = RNG.standard_normal((2, 4, 5, 6)).astype("float32")
    ref = np.einsum("ahwm,ahwn->amn", f, f) / 20
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            layer = sgk.Gram()
            out = layer(f)
            assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1], (policy, out.dtype)
            np.testing.assert_allclose(np.asarray(ops.cast(out, "float32")), ref, rtol=2e-2, atol=2e-2)
            model = gram_model(True)
            history = model.fit(RNG.standard_normal((8, 4, 5, 3)).astype("float32"),
                                RNG.standard_normal((8, 2)).astype("float32"), epochs=2, verbose=0)
            assert np.all(np.isfinite(history.history["loss"])), policy
        finally:
            keras.mixed_precision.set_global_policy("float32")


def check_float64():
    if backend() == "jax":
        import jax
        if not jax.config.jax_enable_x64:
            raise RuntimeError("run the JAX checks with JAX_ENABLE_X64=1 so float64 exists")
    a = RNG.standard_normal((3, 4))
    b = RNG.standard_normal((4, 5))
    y = sgk.einsum("ij,jk->ik", ops.convert_to_tensor(a, "float64"), ops.convert_to_tensor(b, "float64"))
    assert keras.backend.standardize_dtype(y.dtype) == "float64", y.dtype
    np.testing.assert_allclose(np.asarray(y), a @ b, rtol=1e-12)


def check_layers_declare_jit_support():
    expected = backend() != "tensorflow"
    assert sgk.Gram().supports_jit is expected
    assert sgk.Einsum("ij->ji").supports_jit is expected


CHECKS = keras_native_checks.CHECKS + [check_forward_and_gradients, check_same_operand_gram_gradient_is_one_product, check_symbolic_tensors_outside_layers,
          check_int8_dtype_as_keras, check_errors_are_value_errors, check_second_order, check_random_gradients, check_lambda_training_matches_backend_einsum,
          check_layers_save_reload_and_keep_training, check_gram_layer_options,
          check_dynamic_batch_and_static_shapes, check_mixed_precision, check_float64,
          check_layers_declare_jit_support]


if __name__ == "__main__":
    for check in CHECKS:
        check()
        print(f"{backend()}: {check.__name__} ok", flush=True)
    sys.exit(0)
