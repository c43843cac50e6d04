"""swiftgram.tensordot: numpy.tensordot's semantics as one contraction of the core (the
operands are read in place: no transposes, reshapes or copies). opt_einsum's
``backend='swiftgram'`` calls it for every pairwise step it would give to BLAS."""
from __future__ import annotations

import operator
from typing import Any, Sequence, Union

import numpy as np

from ._arguments import LETTERS
from ._einsum import _contract

_AxisError = getattr(np, "exceptions", np).AxisError  # a ValueError and an IndexError

Axes = Union[int, Sequence[int], Sequence[Sequence[int]]]


def _axis_list(axes: Any) -> list:
    try:
        return [operator.index(x) for x in axes]
    except TypeError:
        return [operator.index(axes)]


def tensordot(a: Any, b: Any, axes: Axes = 2) -> np.ndarray:
    """Sums products over the given axes, like ``numpy.tensordot``: ``axes=N`` pairs the
    last N axes of ``a`` with the first N of ``b``; ``axes=(axes_a, axes_b)`` pairs them
    one by one. The result has ``a``'s remaining axes, then ``b``'s, C-ordered, in the
    dtype NumPy gives. Errors name the axes and sizes that do not match."""
    given: Any = axes
    try:
        iter(given)
    except TypeError:
        n = operator.index(given)
        axes_a, axes_b = list(range(-n, 0)), list(range(n))
    else:
        if len(given) != 2:
            raise ValueError(f"tensordot: axes must be an int or a pair of axis sequences, got {axes!r}")
        axes_a, axes_b = _axis_list(given[0]), _axis_list(given[1])
    a, b = np.asarray(a), np.asarray(b)
    if len(axes_a) != len(axes_b):
        raise ValueError(f"shape-mismatch for sum: {len(axes_a)} axes of a against {len(axes_b)} of b")
    for name, x, ax in (("a", a, axes_a), ("b", b, axes_b)):
        for k, axis in enumerate(ax):
            if not -x.ndim <= axis < x.ndim:
                raise _AxisError(axis, x.ndim, f"tensordot: {name}")
            ax[k] = axis % x.ndim
        if len(set(ax)) != len(ax):
            raise ValueError(f"duplicate axes are not allowed in tensordot (axes of {name}: {ax})")
    for i, j in zip(axes_a, axes_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"shape-mismatch for sum: axis {i} of a has size {a.shape[i]}, "
                             f"axis {j} of b has size {b.shape[j]}")
    if a.ndim + b.ndim - len(axes_a) > len(LETTERS):
        raise ValueError(f"tensordot: at most {len(LETTERS)} distinct axes are supported")
    labels_a = LETTERS[:a.ndim]
    pair = dict(zip(axes_b, axes_a))
    free = iter(LETTERS[a.ndim:])
    labels_b = "".join(labels_a[pair[j]] if j in pair else next(free) for j in range(b.ndim))
    out = "".join(labels_a[i] for i in range(a.ndim) if i not in axes_a) \
        + "".join(labels_b[j] for j in range(b.ndim) if j not in pair)
    result = _contract(f"{labels_a},{labels_b}->{out}", [a, b], None, None, "C", "safe", False,
                       allow_view=False)
    return result if isinstance(result, np.ndarray) else np.asarray(result)
