"""The JAX op: an XLA FFI custom call ("swiftgram_einsum", ops/xla/einsum_handler.c) that
runs the core on XLA's buffers inside the compiled program, under jax.custom_vjp whose
backward pass is the same op. The target is registered when this module is imported, so
a process that imports swiftgram.keras can also run a reloaded jax.export of it."""
from __future__ import annotations

import ctypes

import jax
import numpy as np

from ._labels import _gradients, _operand_shapes, _spec, _static
from ._native import op_library

TARGET = "swiftgram_einsum"
# XLA's custom calls are refused by jax.export unless named in its safety-check opt-out.
EXPORT_DISABLED_CHECKS = [jax.export.DisabledSafetyCheck.custom_call(TARGET)]
# The core computes bfloat16 itself (no float32 copies).
NATIVE_BFLOAT16 = True

_handler = ctypes.CDLL(op_library("swiftgram_xla")).sg_xla_einsum
jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(_handler), platform="cpu")


def _call(subscripts: str, xs: tuple, alpha: float, pair: bool):
    inputs, output, sizes = _static(subscripts, _operand_shapes(xs, pair))
    result = jax.ShapeDtypeStruct(tuple(sizes[l] for l in output), xs[0].dtype)
    # Explicit subscripts: the handler turns vmap's leading batch axes into '...'.
    return jax.ffi.ffi_call(TARGET, result, vmap_method="expand_dims")(
        *xs, subscripts=_spec(inputs, output), alpha=np.float64(alpha), pair=np.int32(pair))


_jax_ops: dict = {}


def op(subscripts: str, xs: list, alpha: float, pair: bool = False):
    key = (subscripts, alpha, pair)
    if key not in _jax_ops:
        custom = jax.custom_vjp(lambda xs: _call(subscripts, xs, alpha, pair))

        def fwd(xs):
            return custom(xs), xs

        def bwd(xs, dy):
            # Einsums through this op again: second order differentiates them the same way.
            return (tuple(_gradients(subscripts, alpha, list(xs), dy, op, pair)),)
        custom.defvjp(fwd, bwd)
        _jax_ops[key] = custom
    return _jax_ops[key](tuple(xs))
