"""The public functions: einsum and gram on any backend's tensors (symbolic Keras tensors
too), through the backend's op."""
from __future__ import annotations

import importlib
import math
from typing import Any, Sequence

import keras
from keras import ops

from ._labels import _output_shape, _pair_permutation

# One module per backend, each with op(subscripts, xs, alpha, pair) and NATIVE_BFLOAT16
# (whether its op takes bfloat16 itself): adding a backend is one module and one line here.
BACKENDS = {"tensorflow": "_tensorflow", "jax": "_jax", "torch": "_torch"}


_loaded: dict = {}


def _backend():
    """The current backend's module, imported once (swiftgram.keras does it at import, so
    torch.compile finds a plain lookup here)."""
    backend = keras.backend.backend()
    module = _loaded.get(backend)
    if module is None:
        if backend not in BACKENDS:
            raise NotImplementedError(f"swiftgram.keras supports the {', '.join(BACKENDS)} backends, not {backend!r}")
        module = _loaded[backend] = importlib.import_module(f".{BACKENDS[backend]}", __package__)
    return module


def _swaps_into_relabelling(subscripts: str, shape: tuple) -> bool:
    return _pair_permutation(subscripts, shape) is not None


if keras.backend.backend() == "torch":
    import torch
    # A constant of the subscripts and static shape: torch.compile evaluates it while
    # tracing instead of tracing into the core's parser.
    _swaps_into_relabelling = torch.compiler.assume_constant_result(_swaps_into_relabelling)


def einsum(subscripts: str, *tensors: Any, alpha: float = 1.0) -> Any:
    """``keras.ops.einsum`` computed by swiftgram, differentiable for every input.

    Works on Keras tensors in a ``Lambda`` or a custom layer, in eager mode, in
    ``tf.function`` graphs and in ``model.fit``; static shapes are kept (unknown dims such
    as a dynamic batch stay None). ``alpha`` scales the result inside the kernel.
    Inputs are brought to one dtype; bfloat16 is computed by the core (on torch where
    ml_dtypes is installed, else in float32 and cast back).
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
    backend = _backend()
    compute = "float32" if dtype == "bfloat16" and not backend.NATIVE_BFLOAT16 else dtype
    xs = [ops.cast(x, compute) if d != compute else x for x, d in zip(xs, dtypes)]
    y = backend.op(subscripts, xs, float(alpha), pair)
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
