"""swiftgram for Keras 3: differentiable einsum / Gram ops and serialisable layers.

    import keras, swiftgram.keras as sgk
    G = keras.layers.Lambda(lambda t: sgk.gram(t[0], t[1]))([F1, F2])     # in a Lambda
    G = sgk.Gram()([F1, F2])                                              # as a layer

The ops run the swiftgram core on the framework's own buffers, without copies:
TensorFlow: the op SwiftgramEinsum from libswiftgram_tf.so (TensorFlow's C kernel API),
its gradient registered with ``tf.RegisterGradient``; JAX: the XLA FFI custom call
"swiftgram_einsum" (libswiftgram_xla.so) under ``jax.custom_vjp``, inside ``jax.jit``
programs, batched in one call under ``vmap``; torch: the custom op ``swiftgram::einsum``
with its autograd formula, defined at import. Gradients are einsums themselves, built by
one rule for any subscripts (labels summed in one operand, repeated labels, '...' and
size-1 broadcasting), through the same op, so second-order gradients work too.

Exports: a TensorFlow SavedModel (``model.export()``) holds SwiftgramEinsum nodes and no
Python; the serving process must load the op (import swiftgram.keras, or
``tf.load_op_library`` on libswiftgram_tf.so). ``jax.export`` needs
``disabled_checks=[jax.export.DisabledSafetyCheck.custom_call("swiftgram_einsum")]``, and
the reloading process imports swiftgram.keras first (it registers the target).
XLA cannot compile the TensorFlow op: the layers say so (``supports_jit = False``) and
Keras then trains without XLA on TensorFlow; a ``Lambda`` layer cannot declare this, so
with a GPU present compile such models with ``jit_compile=False``.
"""
import keras

from ._layers import Einsum, Gram
from ._ops import BACKENDS, _backend, einsum, gram

if keras.backend.backend() in BACKENDS:
    _backend()  # imports the backend's module now: the torch op is registered at import

__all__ = ["einsum", "gram", "Gram", "Einsum"]
