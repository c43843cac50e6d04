"""The TensorFlow op: SwiftgramEinsum (ops/tensorflow/einsum_op.c), loaded from
libswiftgram_tf.so with tf.load_op_library when this module is imported, and its gradient
registered with tf.RegisterGradient. The gradient's einsums are SwiftgramEinsum ops too,
so graphs (and their second-order gradients) hold no Python: they save, export and serve
wherever the library is loaded (a process that imports swiftgram.keras)."""
from __future__ import annotations

import tensorflow as tf

from ._labels import _gradients, _operand_shapes, _output_shape
from ._native import op_library

# The core computes bfloat16 itself (no float32 copies).
NATIVE_BFLOAT16 = True

_library = tf.load_op_library(op_library("swiftgram_tf"))


def op(subscripts: str, xs: list, alpha: float, pair: bool = False):
    # The static shape from the core, before the op runs: bad subscripts or sizes raise
    # ValueError here (the op's C shape function cannot read the subscripts).
    shape = _output_shape(subscripts, _operand_shapes(xs, pair))
    # alpha as text: TensorFlow's float attributes hold float32, the scale may need float64.
    y = _library.swiftgram_einsum(xs=list(xs), subscripts=subscripts, alpha=repr(float(alpha)), pair=bool(pair))
    y.set_shape(shape)
    return y


@tf.RegisterGradient("SwiftgramEinsum")
def _gradient(operation, dy):
    subscripts = operation.get_attr("subscripts").decode()
    alpha = float(operation.get_attr("alpha").decode())
    xs = list(operation.inputs)
    return _gradients(subscripts, alpha, xs, dy, op, operation.get_attr("pair"))
