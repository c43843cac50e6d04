"""Checks of each backend's native op (keras_checks.py runs them with the others): the
JAX custom call inside compiled programs, vmap and export; the TensorFlow op in graphs
and exported SavedModels; torch.compile over the torch op. References are the backend's
own einsum; a check for another backend returns at once."""
import os
import subprocess
import sys
import tempfile

import numpy as np

import keras

import swiftgram.keras as sgk

RNG = np.random.default_rng(11)


def _backend():
    return keras.backend.backend()


def _run_fresh(code: str, **env) -> str:
    """Runs code in a fresh Python process (nothing of this one's registrations)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout


def check_jax_program_holds_the_custom_call_and_no_callback():
    if _backend() != "jax":
        return
    import jax
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))

    def f(a, b):
        return sgk.einsum("ij,jk->ik", a, b, alpha=0.5)
    jaxpr = str(jax.make_jaxpr(f)(a, b))
    assert "swiftgram_einsum" in jaxpr and "callback" not in jaxpr, jaxpr
    grad_jaxpr = str(jax.make_jaxpr(jax.grad(lambda a, b: (f(a, b) ** 2).sum(), argnums=(0, 1)))(a, b))
    assert grad_jaxpr.count("swiftgram_einsum") >= 3 and "callback" not in grad_jaxpr, grad_jaxpr
    lowered = jax.jit(f).lower(a, b).as_text()
    assert "swiftgram_einsum" in lowered and "callback" not in lowered.lower(), lowered
    np.testing.assert_allclose(np.asarray(jax.jit(f)(a, b)), 0.5 * a @ b, rtol=1e-12)


def check_jax_vmap_batches_into_one_call():
    """vmap (nested, over either operand, of a gradient) against jnp.einsum; the batched
    program still holds one custom call per einsum (the batch axes become '...')."""
    if _backend() != "jax":
        return
    import jax
    import jax.numpy as jnp
    a, b = RNG.standard_normal((6, 3, 4)), RNG.standard_normal((4, 5))
    for spec in ("ij,jk->ik", "ij,jk", "ij,jk->"):
        for axes in ((0, None), (None, 0), (0, 0)):
            bb = np.stack([b] * 6) if axes[1] == 0 else b
            aa = a if axes[0] == 0 else a[0]
            ours = jax.vmap(lambda x, y: sgk.einsum(spec, x, y), in_axes=axes)(aa, bb)
            ref = jax.vmap(lambda x, y: jnp.einsum(spec, x, y), in_axes=axes)(aa, bb)
            np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), rtol=1e-12, atol=1e-12, err_msg=spec)
    batched = jax.make_jaxpr(jax.vmap(lambda x: sgk.einsum("ij,jk->ik", x, b)))(a)
    assert str(batched).count("swiftgram_einsum") == 1, batched
    x = RNG.standard_normal((2, 3, 4, 5))
    nested = jax.vmap(jax.vmap(lambda t: sgk.einsum("ij,ik->jk", t, t)))(x)
    np.testing.assert_allclose(np.asarray(nested), np.einsum("abij,abik->abjk", x, x), rtol=1e-12)
    grads = jax.vmap(jax.grad(lambda t: (sgk.gram(t[None]) ** 2).sum()))(x)
    want = jax.vmap(jax.grad(lambda t: ((jnp.einsum("ahwm,ahwn->amn", t[None], t[None]) / 12) ** 2).sum()))(x)
    np.testing.assert_allclose(np.asarray(grads), np.asarray(want), rtol=1e-10, atol=1e-12)


def check_jax_export_reloads_in_a_fresh_process():
    """jax.export with the custom-call opt-out, reloaded where swiftgram.keras is imported."""
    if _backend() != "jax":
        return
    import jax
    x = RNG.standard_normal((2, 3, 4, 5)).astype("float32")
    exported = jax.export.export(
        jax.jit(lambda t: sgk.gram(t)),
        disabled_checks=[jax.export.DisabledSafetyCheck.custom_call("swiftgram_einsum")])(x)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "gram.bin"), "wb") as fh:
            fh.write(exported.serialize())
        np.save(os.path.join(d, "x.npy"), x)
        out = _run_fresh(
            "import os, numpy as np, jax, swiftgram.keras; d = os.environ['D'];"
            "e = jax.export.deserialize(bytearray(open(os.path.join(d, 'gram.bin'), 'rb').read()));"
            "x = np.load(os.path.join(d, 'x.npy'));"
            "np.testing.assert_allclose(np.asarray(e.call(x)), np.einsum('ahwm,ahwn->amn', x, x) / 12,"
            " rtol=1e-5, atol=1e-6); print('reloaded')", D=d, KERAS_BACKEND="jax")
    assert "reloaded" in out


def check_tf_graph_holds_the_native_op():
    """In a tf.function graph, forward and gradient: SwiftgramEinsum nodes, no PyFunc."""
    if _backend() != "tensorflow":
        return
    import tensorflow as tf
    x = tf.constant(RNG.standard_normal((2, 3, 4, 5)).astype("float32"))
    w = tf.constant(RNG.standard_normal((5, 6)).astype("float32"))

    @tf.function
    def step(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(sgk.einsum("ahwm,mn->ahwn", x, w) ** 2) + tf.reduce_sum(sgk.gram(x))
        return loss, tape.gradient(loss, [x, w])
    graph = step.get_concrete_function(x, w).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "SwiftgramEinsum" in kinds and not kinds & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}, kinds

    with tf.GradientTape() as tape:
        tape.watch([x, w])
        ref = tf.reduce_sum(tf.einsum("ahwm,mn->ahwn", x, w) ** 2) + tf.reduce_sum(tf.einsum("ahwm,ahwn->amn", x, x) / 12)
    ref_grads = tape.gradient(ref, [x, w])
    loss, grads = step(x, w)
    np.testing.assert_allclose(loss.numpy(), ref.numpy(), rtol=1e-5)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-4, atol=1e-4)


def check_tf_model_export_serves_in_a_fresh_process():
    """model.export() of a Gram-layer model: reloaded with tf.saved_model.load in a fresh
    process that imports swiftgram.keras (which loads the op), same outputs."""
    if _backend() != "tensorflow":
        return
    x = keras.Input((4, 5, 3))
    f = keras.layers.Conv2D(6, 3, padding="same")(x)
    model = keras.Model(x, keras.layers.Dense(2)(sgk.Gram(flatten="upper")(f)))
    data = RNG.standard_normal((3, 4, 5, 3)).astype("float32")
    with tempfile.TemporaryDirectory() as d:
        model.export(os.path.join(d, "served"), verbose=False)
        np.save(os.path.join(d, "x.npy"), data)
        np.save(os.path.join(d, "y.npy"), np.asarray(model(data)))
        out = _run_fresh(
            "import os, numpy as np, tensorflow as tf, swiftgram.keras; d = os.environ['D'];"
            "m = tf.saved_model.load(os.path.join(d, 'served'));"
            "kinds = {n.op for f in m.serve.concrete_functions[0].graph.as_graph_def().library.function"
            " for n in f.node_def} | {n.op for n in m.serve.concrete_functions[0].graph.as_graph_def().node};"
            "assert 'SwiftgramEinsum' in kinds and not any('PyFunc' in k for k in kinds), kinds;"
            "np.testing.assert_allclose(m.serve(np.load(os.path.join(d, 'x.npy'))).numpy(),"
            " np.load(os.path.join(d, 'y.npy')), rtol=1e-5, atol=1e-6); print('served')",
            D=d, KERAS_BACKEND="tensorflow")
    assert "served" in out


def check_torch_compile_fullgraph():
    """torch.compile(fullgraph=True) over sgk.einsum and sgk.gram, values and gradients
    against torch.einsum (the op is registered when swiftgram.keras is imported)."""
    if _backend() != "torch":
        return
    import torch

    def f(x, w):
        return (sgk.einsum("ahwm,mn->ahwn", x, w) ** 2).sum() + sgk.gram(x).sum()

    def ref(x, w):
        return (torch.einsum("ahwm,mn->ahwn", x, w) ** 2).sum() + (torch.einsum("ahwm,ahwn->amn", x, x) / 12).sum()

    x0 = torch.tensor(RNG.standard_normal((2, 3, 4, 5)), requires_grad=True)
    w0 = torch.tensor(RNG.standard_normal((5, 6)), requires_grad=True)
    compiled = torch.compile(f, fullgraph=True)
    out = compiled(x0, w0)
    gx, gw = torch.autograd.grad(out, (x0, w0))
    want = ref(x0, w0)
    rx, rw = torch.autograd.grad(want, (x0, w0))
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(gx.numpy(), rx.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gw.numpy(), rw.numpy(), rtol=1e-9, atol=1e-9)


def check_torch_op_runs_on_torchs_threads():
    """The torch op's parallel loops run on torch's intra-op pool: in a fresh process, after
    torch's own threads exist, training steps through the op start no thread, while one
    plain swiftgram.einsum call starts the core's pool (so the count can tell)."""
    if _backend() != "torch":
        return
    out = _run_fresh(
        "import os, numpy as np, torch, swiftgram, swiftgram.keras as sgk;"
        "from swiftgram.keras import _torch;"
        "assert _torch._EXECUTOR, 'no executor over torch_parallel_for';"
        "count = lambda: len(os.listdir('/proc/self/task'));"
        "x = torch.randn(8, 28, 28, 64, requires_grad=True); (torch.randn(512, 512) @ torch.randn(512, 512)).sum();"
        "before = count();"
        "[sgk.gram(x).square().sum().backward() for _ in range(3)];"
        "assert count() == before, (before, count());"
        "ref = torch.autograd.grad((torch.einsum('ahwm,ahwn->amn', x, x) / 784).square().sum(), x)[0];"
        "x.grad = None; sgk.gram(x).square().sum().backward();"
        "np.testing.assert_allclose(x.grad.numpy(), ref.numpy(), rtol=1e-4, atol=1e-5);"
        "torch.set_num_threads(1); y = sgk.gram(x.detach()); torch.set_num_threads(2);"
        "np.testing.assert_allclose(y.numpy(), (torch.einsum('ahwm,ahwn->amn', x, x) / 784).detach().numpy(),"
        " rtol=1e-4, atol=1e-6);"
        "a = np.random.rand(512, 512).astype('float32'); swiftgram.einsum('ij,jk->ik', a, a);"
        "assert count() > before, 'the count cannot tell'; print('torch pool')",
        KERAS_BACKEND="torch")
    assert "torch pool" in out


def check_bfloat16_reaches_the_core_as_bfloat16():
    """bfloat16 tensors go to the core as bfloat16 on every backend: no cast to float32 in
    the program (JAX's jaxpr, TF's graph) or the arrays handed over (torch), a bfloat16
    result, values within bfloat16's rounding of a float64 reference."""
    a = RNG.standard_normal((6, 7)).astype("float32")
    b = RNG.standard_normal((7, 5)).astype("float32")
    ref = a.astype("float64") @ b.astype("float64")
    backend = _backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        x, y = jnp.asarray(a, jnp.bfloat16), jnp.asarray(b, jnp.bfloat16)
        jaxpr = str(jax.make_jaxpr(lambda s, t: sgk.einsum("ij,jk->ik", s, t))(x, y))
        assert "swiftgram_einsum" in jaxpr and "convert_element_type" not in jaxpr and "bf16[6,5]" in jaxpr, jaxpr
        out = sgk.einsum("ij,jk->ik", x, y)
    elif backend == "tensorflow":
        import tensorflow as tf
        x, y = tf.constant(a, tf.bfloat16), tf.constant(b, tf.bfloat16)
        graph = tf.function(lambda s, t: sgk.einsum("ij,jk->ik", s, t)).get_concrete_function(x, y).graph
        kinds = {op.type: op for op in graph.get_operations()}
        assert "Cast" not in kinds and kinds["SwiftgramEinsum"].get_attr("T") == tf.bfloat16, list(kinds)
        out = sgk.einsum("ij,jk->ik", x, y)
    else:
        import torch
        from swiftgram.keras import _torch
        seen = []
        real = _torch._forward_np
        _torch._forward_np = lambda *args, **kw: seen.extend(str(x.dtype) for x in args[2:]) or real(*args, **kw)
        try:
            out = sgk.einsum("ij,jk->ik", torch.tensor(a).to(torch.bfloat16), torch.tensor(b).to(torch.bfloat16))
        finally:
            _torch._forward_np = real
        assert seen == ["bfloat16", "bfloat16"], seen
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16", out.dtype
    got = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")), dtype="float64")
    # Operands rounded to bfloat16 (2^-9 relative each), the sum in float32, one rounding.
    bound = 3 * 2.0**-8 * (np.abs(a) @ np.abs(b)) + 1e-6
    assert np.all(np.abs(got - ref) <= bound), (got, ref)


def check_empty_scalar_and_view_shapes_through_the_ops():
    """Empty operands, 0-d operands and results, a diagonal (a view plan in NumPy's API)
    and broadcasting, eager and inside the backend's compiled functions, against NumPy."""
    cases = [("ij,jk->ik", [(0, 3), (3, 4)]), ("ij,jk->ik", [(2, 0), (0, 4)]), ("i,i->", [(5,), (5,)]),
             (",->", [(), ()]), ("ij->", [(0, 3)]), ("ii->i", [(3, 3)]), ("...i,i->...", [(2, 3, 4), (4,)])]
    backend = _backend()
    if backend == "jax":
        import jax
        compiled = jax.jit
    elif backend == "tensorflow":
        import tensorflow as tf
        compiled = tf.function
    else:
        import torch
        compiled = torch.compile
    for spec, shapes in cases:
        xs = [np.asarray(RNG.standard_normal(s), dtype="float32") for s in shapes]
        want = np.einsum(spec, *xs)
        for how, f in (("eager", lambda *t: sgk.einsum(spec, *t)), ("compiled", compiled(lambda *t: sgk.einsum(spec, *t)))):
            got = np.asarray(keras.ops.convert_to_numpy(f(*[keras.ops.convert_to_tensor(x) for x in xs])))
            assert got.shape == want.shape, (spec, how, got.shape, want.shape)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{spec} {how}")


CHECKS = [check_torch_compile_fullgraph, check_bfloat16_reaches_the_core_as_bfloat16,
          check_empty_scalar_and_view_shapes_through_the_ops, check_torch_op_runs_on_torchs_threads, check_jax_program_holds_the_custom_call_and_no_callback,
          check_jax_vmap_batches_into_one_call, check_jax_export_reloads_in_a_fresh_process,
          check_tf_graph_holds_the_native_op, check_tf_model_export_serves_in_a_fresh_process]
