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
import keras

from ._layers import Einsum, Gram
from ._ops import BACKENDS, _backend_op, einsum, gram

if keras.backend.backend() in BACKENDS:
    _backend_op()  # imports the backend's module now: the torch op is registered at import

__all__ = ["einsum", "gram", "Gram", "Einsum"]
