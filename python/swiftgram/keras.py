"""swiftgram for Keras 3: differentiable einsum / Gram ops and serialisable layers.

    import keras, swiftgram.keras as sgk
    G = keras.layers.Lambda(lambda t: sgk.gram(t[0], t[1]))([F1, F2])     # in a Lambda
    G = sgk.Gram()([F1, F2])                                              # as a layer

The ops run the swiftgram core on the host (TensorFlow: ``tf.numpy_function`` under
``tf.custom_gradient``; JAX: ``jax.pure_callback`` under ``jax.custom_vjp``; torch:
``torch.library.custom_op`` with a registered autograd formula). Gradients are einsums
themselves, built by one rule for any subscripts (labels summed in one operand,
repeated labels, '...' and size-1 broadcasting), and use the same differentiable op, so
second-order gradients work too.

Inputs that are views of framework memory are only read; results are 64-byte aligned
NumPy arrays, which TensorFlow adopts without copying. On TensorFlow the ops cannot be
compiled by XLA: the layers say so (``supports_jit = False``) and Keras then trains
without XLA; ``jit_compile=True`` is downgraded with Keras' warning "Model doesn't support
jit_compile=True". A ``Lambda`` layer cannot declare this, so with a GPU present compile
such models with ``jit_compile=False``. On JAX the callback works under ``jax.jit``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from . import _core
from ._einsum import _contract
from ._arguments import LETTERS

__all__ = ["einsum", "gram", "Gram", "Einsum"]


# --- label algebra: shapes and gradients as einsums (framework independent) -----------

def _static(subscripts: str, shapes) -> tuple:
    """(labels of each operand's axes, output labels, label -> static size), from the core:
    a known size other than 1 wins, then unknown, then 1 (a size-1 axis broadcasts against
    anything); known sizes that disagree raise ValueError. An unknown size is None, or the
    framework's symbolic dimension where it has one (JAX's shape polymorphism)."""
    def known(d):
        return isinstance(d, (int, np.integer))
    dims = [int(d) if known(d) else -1 for s in shapes for d in s]
    inputs, output, sizes = _core.parse(subscripts, [len(s) for s in shapes], dims)
    symbolic = {l: d for term, s in zip(inputs, shapes) for l, d in zip(term, s) if d is not None and not known(d)}
    return inputs, output, {l: symbolic.get(l) if sizes[l] is None else sizes[l] for term in inputs for l in term}


def _spec(inputs: Sequence[Sequence[int]], output: Sequence[int]) -> str:
    """Subscripts text for label lists, renumbering labels densely onto letters."""
    names: dict = {}
    for lab in [l for term in inputs for l in term] + list(output):
        if lab not in names:
            if len(names) == len(LETTERS):
                raise ValueError("swiftgram.keras: the gradient needs more than 52 distinct labels")
            names[lab] = LETTERS[len(names)]
    return ",".join("".join(names[l] for l in t) for t in inputs) + "->" + "".join(names[l] for l in output)


def _output_shape(subscripts: str, shapes) -> tuple:
    _, output, sizes = _static(subscripts, shapes)
    return tuple(sizes[l] for l in output)


def _gradient(subscripts: str, alpha: float, xs: list, dy: Any, k: int, shapes, einsum_op) -> Any:
    """d(output)/d(operand k), contracted with dy, as one einsum of dy, the other operands
    and constants: a ones vector brings back a label summed only in operand k, an identity
    matrix puts a repeated label's gradient on the diagonal, and a size-1 axis of operand
    k that broadcast against a larger one sums that label away."""
    inputs, output, sizes = _static(subscripts, shapes)
    fresh = iter(range(1000, 2000))
    terms = [list(output)] + [list(inputs[j]) for j in range(len(xs)) if j != k]
    operands = [dy] + [xs[j] for j in range(len(xs)) if j != k]
    # Labels the other operands carry at full size (a size-1 axis there only broadcasts).
    other_shapes = [tuple(shapes[j]) for j in range(len(xs)) if j != k]
    available = {l for l in output if sizes[l] != 1}
    for t, shape in zip(terms[1:], other_shapes):
        available |= {l for l, d in zip(t, shape) if d != 1}
    out_labels, seen = [], set()
    for axis, lab in enumerate(inputs[k]):
        dim = shapes[k][axis]
        if dim == 1 and sizes.get(lab) != 1:
            # Broadcast axis: sum the label, emit a size-1 axis.
            f = next(fresh)
            terms.append([f])
            operands.append(ops.ones((1,), dtype=dy.dtype))
            out_labels.append(f)
        elif lab in seen:
            # Repeated label: the gradient lies on the diagonal.
            f = next(fresh)
            terms.append([lab, f])
            operands.append(ops.eye(_dim(xs[k], axis), dtype=dy.dtype))
            out_labels.append(f)
        else:
            seen.add(lab)
            if lab not in available:
                # Summed only in operand k (or of size 1 or only broadcast elsewhere): every
                # element gets the same gradient; a ones vector of the axis' length (1
                # too) brings the label back.
                terms.append([lab])
                operands.append(ops.ones((_dim(xs[k], axis),), dtype=dy.dtype))
                available.add(lab)
            out_labels.append(lab)
    return einsum_op(_spec(terms, out_labels), operands, alpha)


def _dim(x: Any, axis: int):
    d = x.shape[axis]
    return d if d is not None else ops.shape(x)[axis]


def _forward_np(subscripts: str, alpha: float, *arrays: np.ndarray) -> np.ndarray:
    # Framework memory is only read (allow_view=False: the result never aliases an input).
    return np.asarray(_contract(subscripts, list(arrays), None, None, "C", "safe", False,
                                alpha=alpha, allow_view=False))


def _pair_permutation(subscripts: str, shape) -> list | None:
    """For einsum(subscripts, x, x): the permutation of the output's axes that swapping the
    two operands' roles makes (the Gram's m and n), or None where swapping them is no
    relabelling of the output. Then d/dx = the first operand's gradient, taken at
    dy + dy transposed by it: one product instead of two."""
    inputs, output, _ = _static(subscripts, [shape, shape])
    if len(inputs) != 2 or len(inputs[0]) != len(inputs[1]):
        return None
    swap: dict = {}
    for p, q in zip(*inputs):
        for a, b in ((p, q), (q, p)):
            if swap.setdefault(a, b) != b:
                return None
    if sorted(swap.get(l, l) for l in output) != sorted(output) or any(l not in swap for l in output):
        return None
    return [list(output).index(swap[l]) for l in output]


def _swaps_into_relabelling(subscripts: str, shape: tuple) -> bool:
    return _pair_permutation(subscripts, shape) is not None


if keras.backend.backend() == "torch":
    import torch
    # A constant of the subscripts and static shape: torch.compile evaluates it while
    # tracing instead of tracing into the core's parser.
    _swaps_into_relabelling = torch.compiler.assume_constant_result(_swaps_into_relabelling)


def _gradients(subscripts: str, alpha: float, xs: list, dy: Any, shapes, einsum_op, pair: bool) -> list:
    """The gradient for each input of the op: for a pair op (one tensor used as both
    operands) the one gradient of the shared tensor."""
    if pair:
        perm = _pair_permutation(subscripts, shapes[0])
        both = [xs[0], xs[0]]
        return [_gradient(subscripts, alpha, both, dy + ops.transpose(dy, perm), 0, [shapes[0]] * 2, einsum_op)]
    return [_gradient(subscripts, alpha, list(xs), dy, k, shapes, einsum_op) for k in range(len(xs))]


# --- one differentiable op per backend ---------------------------------------------------
# Each takes (subscripts, xs, alpha, pair); a pair op gets one tensor and contracts it with
# itself (the same-operand Gram), so its gradient is one product (see _pair_permutation).

def _tf_op(subscripts: str, xs: list, alpha: float, pair: bool = False):
    import tensorflow as tf

    shapes = [tuple(x.shape) for x in xs]
    out_shape = _output_shape(subscripts, shapes * 2 if pair else shapes)

    @tf.custom_gradient
    def op(*xs):
        y = tf.numpy_function(lambda *a: _forward_np(subscripts, alpha, *(a * 2 if pair else a)), list(xs),
                              Tout=xs[0].dtype, stateful=False, name="swiftgram_einsum")
        y.set_shape(out_shape)

        def grad(dy):
            return _gradients(subscripts, alpha, list(xs), dy, shapes, _tf_op, pair)
        return y, grad
    return op(*xs)


_jax_ops: dict = {}


def _jax_op(subscripts: str, xs: list, alpha: float, pair: bool = False):
    import jax

    key = (subscripts, alpha, pair)
    if key not in _jax_ops:
        def forward(xs):
            shape = _output_shape(subscripts, [x.shape for x in xs] * (2 if pair else 1))
            result = jax.ShapeDtypeStruct(shape, xs[0].dtype)
            return jax.pure_callback(lambda *a: _forward_np(subscripts, alpha, *(a * 2 if pair else a)), result, *xs,
                                     vmap_method="sequential")

        op = jax.custom_vjp(forward)

        def fwd(xs):
            # Through the custom op itself, so differentiating the backward pass (second
            # order) never reaches the callback's missing JVP rule.
            return op(xs), xs

        def bwd(xs, dy):
            return (tuple(_gradients(subscripts, alpha, list(xs), dy, [x.shape for x in xs], _jax_op, pair)),)
        op.defvjp(fwd, bwd)
        _jax_ops[key] = op
    return _jax_ops[key](tuple(xs))


def _define_torch_op():
    """Registers the torch op (swiftgram::einsum) and its autograd formula. Runs when this
    module is imported with the torch backend, so the op exists before any call, also
    before the first call of a function compiled with torch.compile(fullgraph=True)."""
    import torch

    @torch.library.custom_op("swiftgram::einsum", mutates_args=(),
                             schema="(str subscripts, float alpha, bool pair, Tensor[] xs) -> Tensor")
    def op(subscripts, alpha, pair, xs):
        arrays = [x.detach().cpu().numpy() for x in xs] * (2 if pair else 1)
        return torch.from_numpy(_forward_np(subscripts, alpha, *arrays)).to(xs[0].device)

    @op.register_fake
    def _(subscripts, alpha, pair, xs):
        return xs[0].new_empty(_output_shape(subscripts, [tuple(x.shape) for x in xs] * (2 if pair else 1)))

    def setup_context(ctx, inputs, output):
        ctx.subscripts, ctx.alpha, ctx.pair, xs = inputs
        ctx.save_for_backward(*xs)

    def backward(ctx, dy):
        xs = list(ctx.saved_tensors)
        shapes = [tuple(x.shape) for x in xs]
        return None, None, None, _gradients(ctx.subscripts, ctx.alpha, xs, dy, shapes, _torch_einsum, ctx.pair)
    op.register_autograd(backward, setup_context=setup_context)
    return op


_torch_op: Any = _define_torch_op() if keras.backend.backend() == "torch" else None


def _torch_einsum(subscripts: str, xs: list, alpha: float, pair: bool = False):
    return _torch_op(subscripts, float(alpha), pair, list(xs))


def _backend_op():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tf_op
    if backend == "jax":
        return _jax_op
    if backend == "torch":
        return _torch_einsum
    raise NotImplementedError(f"swiftgram.keras supports the tensorflow, jax and torch backends, not {backend!r}")


# --- public functions --------------------------------------------------------------------

def einsum(subscripts: str, *tensors: Any, alpha: float = 1.0) -> Any:
    """``keras.ops.einsum`` computed by swiftgram, differentiable for every input.

    Works on Keras tensors in a ``Lambda`` or a custom layer, in eager mode, in
    ``tf.function`` graphs and in ``model.fit``; static shapes are kept (unknown dims such
    as a dynamic batch stay None). ``alpha`` scales the result inside the kernel.
    Inputs are brought to one dtype; bfloat16 is computed in float32 and cast back.
    """
    if any(isinstance(t, keras.KerasTensor) for t in tensors):
        # Symbolic Keras tensors (a functional model being built): a Keras operation that
        # infers the output's shape and dtype, as keras.ops.einsum does.
        return _SymbolicEinsum(subscripts, alpha)(*tensors)
    # One tensor as both operands of a two-operand einsum whose operands swap into a
    # relabelling (the same-operand Gram): a pair op, whose gradient is one product.
    pair = len(tensors) == 2 and tensors[0] is tensors[1] and hasattr(tensors[0], "shape") \
        and _swaps_into_relabelling(subscripts, tuple(tensors[0].shape))
    xs = [ops.convert_to_tensor(t) for t in (tensors[:1] if pair else tensors)]
    dtypes = [keras.backend.standardize_dtype(x.dtype) for x in xs]
    dtype = _result_dtype(dtypes)
    compute = "float32" if dtype == "bfloat16" else dtype
    xs = [ops.cast(x, compute) if d != compute else x for x, d in zip(xs, dtypes)]
    y = _backend_op()(subscripts, xs, float(alpha), pair)
    return ops.cast(y, dtype) if compute != dtype else y


def _result_dtype(dtypes: Sequence[str]) -> str:
    """keras.ops.einsum's result dtype: int8 operands give int32 (summed without wrapping);
    otherwise the operands' common type (keras.backend.result_type folds float64 into
    floatx on some backends, so one dtype stays itself)."""
    if set(dtypes) == {"int8"}:
        return "int32"
    return dtypes[0] if len(set(dtypes)) == 1 else keras.backend.result_type(*dtypes)


class _SymbolicEinsum(keras.Operation):
    def __init__(self, subscripts: str, alpha: float):
        super().__init__()
        self.subscripts, self.alpha = subscripts, alpha

    def call(self, *tensors):
        return einsum(self.subscripts, *tensors, alpha=self.alpha)

    def compute_output_spec(self, *tensors):
        shape = _output_shape(self.subscripts, [tuple(t.shape) for t in tensors])
        dtype = _result_dtype([keras.backend.standardize_dtype(t.dtype) for t in tensors])
        return keras.KerasTensor(shape, dtype=dtype)


def gram(f1: Any, f2: Any = None, normalize: bool = True) -> Any:
    """The Gram / bilinear-pooling matrix ``G[k,i,j] = sum_{s,t} f1[k,s,t,i] f2[k,s,t,j]``
    of feature maps (batch, *spatial, channels), divided by the number of spatial positions
    when ``normalize``. ``f2=None`` means ``f1``."""
    def tensor(t):
        return t if isinstance(t, keras.KerasTensor) else ops.convert_to_tensor(t)
    f1 = tensor(f1)
    f2 = f1 if f2 is None else tensor(f2)
    rank = len(f1.shape)
    if rank < 2 or len(f2.shape) != rank:
        raise ValueError(f"gram: f1 {tuple(f1.shape)} and f2 {tuple(f2.shape)} must both have shape "
                         "(batch, *spatial, channels)")
    spatial = "".join("hwdefgpqrstuvxyz"[i] for i in range(rank - 2))
    subscripts = f"a{spatial}m,a{spatial}n->amn"
    dims = list(f1.shape[1:-1])
    if not normalize:
        return einsum(subscripts, f1, f2)
    if all(d is not None for d in dims):
        positions = math.prod([int(d) for d in dims])  # plain ints: torch.compile traces NumPy calls
        return einsum(subscripts, f1, f2, alpha=1.0 / positions if positions else 1.0)
    g = einsum(subscripts, f1, f2)
    positions = ops.prod(ops.cast(ops.shape(f1)[1:-1], g.dtype))
    return g / positions


# --- layers ------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="swiftgram")
class Einsum(keras.layers.Layer):
    """``einsum(subscripts, *inputs)`` as a layer: call it on one tensor or a list."""

    def __init__(self, subscripts: str, **kwargs):
        super().__init__(**kwargs)
        self.subscripts = subscripts
        # The op is a host callback: TensorFlow's XLA cannot compile it, JAX's jit can.
        self.supports_jit = keras.backend.backend() != "tensorflow"

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return einsum(self.subscripts, *inputs)

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        return _output_shape(self.subscripts, [tuple(s) for s in shapes])

    def get_config(self):
        return {**super().get_config(), "subscripts": self.subscripts}


@keras.saving.register_keras_serializable(package="swiftgram")
class Gram(keras.layers.Layer):
    """Gram / bilinear pooling of feature maps: ``Gram()(F)`` or ``Gram()([F1, F2])``.

    Options used by bilinear CNNs: ``flatten`` ('upper': the upper triangle incl. the
    diagonal of a square Gram, 'full': all entries, None: keep (batch, m, n)),
    ``signed_sqrt`` (sign(x) * sqrt(|x|)) and ``l2_normalize`` (of each flattened sample).
    """

    def __init__(self, normalize: bool = True, flatten: str | None = None, signed_sqrt: bool = False,
                 l2_normalize: bool = False, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        if flatten not in (None, "upper", "full"):
            raise ValueError(f"Gram: flatten must be None, 'upper' or 'full', got {flatten!r}")
        self.normalize, self.flatten = normalize, flatten
        self.signed_sqrt, self.l2_normalize, self.epsilon = signed_sqrt, l2_normalize, epsilon
        self.supports_jit = keras.backend.backend() != "tensorflow"

    def _channels(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape, input_shape]
        return shapes[0][-1], shapes[-1][-1]

    def call(self, inputs):
        f1, f2 = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
        g = gram(f1, f2, normalize=self.normalize)
        m, n = g.shape[-2], g.shape[-1]
        if self.flatten == "upper":
            if m != n or m is None:
                raise ValueError(f"Gram: flatten='upper' needs a square Gram with known size, got ({m}, {n})")
            rows, cols = np.triu_indices(m)
            g = ops.take(ops.reshape(g, (-1, m * n)), rows * n + cols, axis=1)
        elif self.flatten == "full":
            g = ops.reshape(g, (-1, m * n))
        if self.signed_sqrt:
            g = ops.sign(g) * ops.sqrt(ops.abs(g) + self.epsilon)
        if self.l2_normalize:
            axes = tuple(range(1, len(g.shape)))
            g = g / ops.sqrt(ops.sum(g * g, axis=axes, keepdims=True) + self.epsilon)
        return g

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        batch = shapes[0][0]
        m, n = self._channels(input_shape)
        if self.flatten == "upper":
            return (batch, m * (m + 1) // 2)
        if self.flatten == "full":
            return (batch, m * n)
        return (batch, m, n)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize, "flatten": self.flatten,
                "signed_sqrt": self.signed_sqrt, "l2_normalize": self.l2_normalize, "epsilon": self.epsilon}
