"""The torch op: a torch.library custom op with its autograd formula, registered when this
module is imported (swiftgram.keras imports it under the torch backend)."""
from __future__ import annotations

import ctypes
import os
from typing import Any

from ._labels import _forward_np, _gradients, _operand_shapes, _output_shape
from ._native import op_library

try:  # bfloat16 tensors reach the core as ml_dtypes.bfloat16 views of their bits
    from ml_dtypes import bfloat16 as _BFLOAT16
except ImportError:  # then they are computed in float32 (swiftgram.keras casts them)
    _BFLOAT16 = None

NATIVE_BFLOAT16 = _BFLOAT16 is not None


def _array(x: Any) -> Any:
    """The tensor's memory as a NumPy array, without a copy (strides kept); bfloat16 as
    ml_dtypes' bfloat16 over the same 16-bit words."""
    import torch
    x = x.detach().cpu()
    if x.dtype == torch.bfloat16:
        return x.view(torch.uint16).numpy().view(_BFLOAT16)
    return x.numpy()


def _tensor(a: Any, device: Any) -> Any:
    """A NumPy result as a tensor on `device`, adopted without a copy on the CPU."""
    import numpy as np
    import torch
    if _BFLOAT16 is not None and a.dtype == _BFLOAT16:
        return torch.from_numpy(a.view(np.uint16)).view(torch.bfloat16).to(device)
    return torch.from_numpy(a).to(device)


def _torch_executor() -> int:
    """The address of an sg_executor over torch's intra-op pool (at::parallel_for, found in
    libtorch_cpu as the stable ABI's torch_parallel_for), or 0 (the core's own pool) for a
    torch without it."""
    import torch
    try:
        torch_cpu = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        parallel_for = ctypes.cast(torch_cpu.torch_parallel_for, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return 0
    make = ctypes.CDLL(op_library("swiftgram_torch")).sg_torch_executor
    make.restype, make.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    return make(parallel_for) or 0


# The op's parallel loops run on torch's threads: no second pool beside torch's.
_EXECUTOR = _torch_executor()


def _define_torch_op():
    """Registers the torch op (swiftgram::einsum) and its autograd formula. Runs when this
    module is imported with the torch backend, so the op exists before any call, also
    before the first call of a function compiled with torch.compile(fullgraph=True)."""
    import torch

    @torch.library.custom_op("swiftgram::einsum", mutates_args=(),
                             schema="(str subscripts, float alpha, bool pair, Tensor[] xs) -> Tensor")
    def custom(subscripts, alpha, pair, xs):
        arrays = [_array(x) for x in xs] * (2 if pair else 1)
        return _tensor(_forward_np(subscripts, alpha, *arrays, executor=_EXECUTOR), xs[0].device)

    @custom.register_fake
    def _(subscripts, alpha, pair, xs):
        return xs[0].new_empty(_output_shape(subscripts, _operand_shapes(xs, pair)))

    def setup_context(ctx, inputs, output):
        ctx.subscripts, ctx.alpha, ctx.pair, xs = inputs
        ctx.save_for_backward(*xs)

    def backward(ctx, dy):
        return None, None, None, _gradients(ctx.subscripts, ctx.alpha, list(ctx.saved_tensors), dy, op, ctx.pair)
    custom.register_autograd(backward, setup_context=setup_context)
    return custom


_custom: Any = _define_torch_op()


def op(subscripts: str, xs: list, alpha: float, pair: bool = False):
    return _custom(subscripts, float(alpha), pair, list(xs))
