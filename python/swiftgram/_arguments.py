"""einsum's arguments, normalised: subscripts (string or sublist form), optimize values,
dtypes and their codes, order and casting names. No arithmetic happens here: every number
is computed by the Swift core behind ``_core``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _core

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# dtype -> code, and optimize strategy -> code: swiftgram.h's values, exported by the shim.
# bfloat16 is ml_dtypes' (NumPy knows it once ml_dtypes is imported): recognised by name.
_CODES = {np.dtype(name): code for name, code in _core.DTYPE_CODES.items() if name != "bfloat16"}
_BFLOAT16 = _core.DTYPE_CODES["bfloat16"]
STRATEGY = _core.PATH_STRATEGIES
ORDERS = ("C", "F", "A", "K")
CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")


def is_bfloat16(dt: Any) -> bool:
    """ml_dtypes.bfloat16 (kind 'V', 2 bytes, its type number assigned at registration)."""
    dt = np.dtype(dt)
    return dt.name == "bfloat16" and dt.kind == "V" and dt.itemsize == 2


def _lookup(dt: Any) -> int | None:
    dt = np.dtype(dt)
    return _BFLOAT16 if is_bfloat16(dt) else _CODES.get(dt.newbyteorder("=") if dt.kind != "V" else dt)


def dtype_supported(dt: np.dtype) -> bool:
    return _lookup(dt) is not None


def dtype_code(dt: np.dtype) -> int:
    """The core's code for ``dt``; TypeError naming the dtype if the core cannot compute it."""
    code = _lookup(dt)
    if code is None:
        raise TypeError(
            f"swiftgram.einsum does not support dtype {np.dtype(dt)!s} "
            "(supported: bool, int8-64, uint8-64, float16/32/64, bfloat16, complex64/128)")
    return code


def core_buffers(code: int, arrays: list) -> list:
    """The buffers the shim reads for arrays of the dtype with this code: bfloat16 as its
    16 bits (the buffer protocol refuses ml_dtypes' type), everything else as it is."""
    return [a.view(np.uint16) for a in arrays] if code == _BFLOAT16 else arrays


def _sublist_term(sub: Any, which: str) -> str:
    if isinstance(sub, (str, bytes)) or not isinstance(sub, Sequence) and not hasattr(sub, "__iter__"):
        raise TypeError(f"einsum: the subscripts of {which} must be a list of integers or Ellipsis, got {sub!r}")
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
            continue
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"einsum: each subscript of {which} must be an integer or Ellipsis, got {s!r}")
        if not 0 <= s < len(LETTERS):
            raise ValueError(f"einsum: subscript {s} of {which} is not within the valid range [0, 52)")
        out.append(LETTERS[s])
    return "".join(out)


def split_arguments(args: tuple) -> tuple[str, list]:
    """(subscripts, operands) from either call form of einsum."""
    if not args:
        raise ValueError("einsum: no input operands (call einsum(subscripts, *operands))")
    if isinstance(args[0], str):
        return args[0], list(args[1:])
    if isinstance(args[0], bytes):
        return args[0].decode("ascii"), list(args[1:])
    # Sublist form: op0, sub0, op1, sub1, ..., [output sublist]
    items = list(args)
    output = items.pop() if len(items) % 2 == 1 else None
    operands = items[0::2]
    terms = [_sublist_term(s, f"operand {k}") for k, s in enumerate(items[1::2])]
    subscripts = ",".join(terms)
    if output is not None:
        subscripts += "->" + _sublist_term(output, "the output")
    return subscripts, operands


def parse_optimize(optimize: Any, operands: int) -> tuple[int, list, float]:
    """(strategy code, flattened explicit path, memory limit) from NumPy's optimize values."""
    limit = -1.0
    if isinstance(optimize, tuple) and len(optimize) == 2 and isinstance(optimize[0], str):
        optimize, limit = optimize
        if isinstance(limit, bool) or not isinstance(limit, (int, float, np.integer, np.floating)) or limit < 0:
            raise TypeError(f"einsum: memory limit must be a non-negative number, got {limit!r}")
        limit = float(limit)
    if optimize is False or optimize is None:
        return STRATEGY["left-to-right"], [], limit
    if optimize is True:  # NumPy's True is its greedy search
        return STRATEGY["greedy"], [], limit
    if isinstance(optimize, str):
        if optimize in ("greedy", "optimal", "auto"):
            return STRATEGY[optimize], [], limit
        raise TypeError(f"einsum: did not understand optimize={optimize!r} (use False, True, 'greedy', "
                        "'optimal', 'auto', or a path ['einsum_path', (i, j), ...])")
    if isinstance(optimize, (list, tuple)) and optimize and optimize[0] == "einsum_path":
        flat = []
        for step in optimize[1:]:
            if not isinstance(step, (tuple, list)) or not all(
                    isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in step):
                raise TypeError(f"einsum: did not understand the path step {step!r}")
            flat.append(len(step))
            flat.extend(int(p) for p in step)
        return STRATEGY["explicit"], flat, limit
    raise TypeError(f"einsum: did not understand the path: {optimize!r} "
                    "(an explicit path starts with 'einsum_path')")


def usable_in_place(a: np.ndarray, dt: np.dtype) -> bool:
    """True when the core can read/write ``a`` directly as ``dt`` (no conversion copy)."""
    return (a.dtype == dt and a.dtype.isnative and a.flags.aligned
            # Aligned strides are whole elements except for complex (aligned to its parts).
            and (dt.kind != "c" or all(s % a.itemsize == 0 for s in a.strides)))
