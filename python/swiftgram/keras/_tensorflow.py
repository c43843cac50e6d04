"""The TensorFlow op: tf.numpy_function under tf.custom_gradient."""
from __future__ import annotations

from ._labels import _forward_np, _gradients, _output_shape


def op(subscripts: str, xs: list, alpha: float, pair: bool = False):
    import tensorflow as tf

    shapes = [tuple(x.shape) for x in xs]
    out_shape = _output_shape(subscripts, shapes * 2 if pair else shapes)

    @tf.custom_gradient
    def custom(*xs):
        y = tf.numpy_function(lambda *a: _forward_np(subscripts, alpha, *(a * 2 if pair else a)), list(xs),
                              Tout=xs[0].dtype, stateful=False, name="swiftgram_einsum")
        y.set_shape(out_shape)

        def grad(dy):
            return _gradients(subscripts, alpha, list(xs), dy, shapes, op, pair)
        return y, grad
    return custom(*xs)
