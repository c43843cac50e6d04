"""Registered, serialisable layers: Einsum and Gram."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ._labels import _output_shape
from ._ops import einsum, gram


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
