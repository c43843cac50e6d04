"""Label algebra, independent of any framework: static shapes from the core, gradients of
an einsum as einsums, and the host computation every backend's op runs."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from keras import ops

from .. import _core
from .._arguments import LETTERS
from .._einsum import _contract


def _static(subscripts: str, shapes) -> tuple:
    """(labels of each operand's axes, output labels, label -> static size), from the core:
    a known size other than 1 wins, then unknown, then 1 (a size-1 axis broadcasts against
    anything); known sizes that disagree raise ValueError. An unknown size is None, or the
    framework's symbolic dimension where it has one (JAX's shape polymorphism)."""
    def known(d):
        return isinstance(d, (int, np.integer))
    dims = [int(d) if known(d) else -1 for s in shapes for d in s]
    inputs, output, sizes = _core.parse(subscripts, [len(s) for s in shapes], dims)
    symbolic = {l: d for term, s in zip(inputs, shapes) for l, d in zip(term, s) if d is not None and not known(d)}
    return inputs, output, {l: symbolic.get(l) if sizes[l] is None else sizes[l] for term in inputs for l in term}


def _spec(inputs: Sequence[Sequence[int]], output: Sequence[int]) -> str:
    """Subscripts text for label lists, renumbering labels densely onto letters."""
    names: dict = {}
    for lab in [l for term in inputs for l in term] + list(output):
        if lab not in names:
            if len(names) == len(LETTERS):
                raise ValueError("swiftgram.keras: the gradient needs more than 52 distinct labels")
            names[lab] = LETTERS[len(names)]
    return ",".join("".join(names[l] for l in t) for t in inputs) + "->" + "".join(names[l] for l in output)


def _operand_shapes(xs: Sequence[Any], pair: bool) -> list:
    """The einsum's operand shapes for an op's tensors: a pair op's one tensor is both."""
    return [tuple(x.shape) for x in xs] * (2 if pair else 1)


def _output_shape(subscripts: str, shapes) -> tuple:
    _, output, sizes = _static(subscripts, shapes)
    return tuple(sizes[l] for l in output)


def _gradient(subscripts: str, alpha: float, xs: list, dy: Any, k: int, shapes, einsum_op) -> Any:
    """d(output)/d(operand k), contracted with dy, as one einsum of dy, the other operands
    and constants: a ones vector brings back a label summed only in operand k, an identity
    matrix puts a repeated label's gradient on the diagonal, and a size-1 axis of operand
    k that broadcast against a larger one sums that label away."""
    inputs, output, sizes = _static(subscripts, shapes)
    fresh = iter(range(1000, 2000))
    terms = [list(output)] + [list(inputs[j]) for j in range(len(xs)) if j != k]
    operands = [dy] + [xs[j] for j in range(len(xs)) if j != k]
    # Labels the other operands carry at full size (a size-1 axis there only broadcasts).
    other_shapes = [tuple(shapes[j]) for j in range(len(xs)) if j != k]
    available = {l for l in output if sizes[l] != 1}
    for t, shape in zip(terms[1:], other_shapes):
        available |= {l for l, d in zip(t, shape) if d != 1}
    out_labels, seen = [], set()
    for axis, lab in enumerate(inputs[k]):
        dim = shapes[k][axis]
        if dim == 1 and sizes.get(lab) != 1:
            # Broadcast axis: sum the label, emit a size-1 axis.
            f = next(fresh)
            terms.append([f])
            operands.append(ops.ones((1,), dtype=dy.dtype))
            out_labels.append(f)
        elif lab in seen:
            # Repeated label: the gradient lies on the diagonal.
            f = next(fresh)
            terms.append([lab, f])
            operands.append(ops.eye(_dim(xs[k], axis), dtype=dy.dtype))
            out_labels.append(f)
        else:
            seen.add(lab)
            if lab not in available:
                # Summed only in operand k (or of size 1 or only broadcast elsewhere): every
                # element gets the same gradient; a ones vector of the axis' length (1
                # too) brings the label back.
                terms.append([lab])
                operands.append(ops.ones((_dim(xs[k], axis),), dtype=dy.dtype))
                available.add(lab)
            out_labels.append(lab)
    return einsum_op(_spec(terms, out_labels), operands, alpha)


def _dim(x: Any, axis: int):
    d = x.shape[axis]
    return d if d is not None else ops.shape(x)[axis]


def _forward_np(subscripts: str, alpha: float, *arrays: np.ndarray, executor: int = 0) -> np.ndarray:
    # Framework memory is only read (allow_view=False: the result never aliases an input).
    return np.asarray(_contract(subscripts, list(arrays), None, None, "C", "safe", False,
                                alpha=alpha, allow_view=False, executor=executor))


def _pair_permutation(subscripts: str, shape) -> list | None:
    """For einsum(subscripts, x, x): the permutation of the output's axes that swapping the
    two operands' roles makes (the Gram's m and n), or None where swapping them is no
    relabelling of the output. Then d/dx = the first operand's gradient, taken at
    dy + dy transposed by it: one product instead of two."""
    inputs, output, _ = _static(subscripts, [shape, shape])
    if len(inputs) != 2 or len(inputs[0]) != len(inputs[1]):
        return None
    swap: dict = {}
    for p, q in zip(*inputs):
        for a, b in ((p, q), (q, p)):
            if swap.setdefault(a, b) != b:
                return None
    # Every label of either term is in swap (the terms pair up position by position), so
    # every output label is.
    if sorted(swap[l] for l in output) != sorted(output):
        return None
    return [list(output).index(swap[l]) for l in output]


def _gradients(subscripts: str, alpha: float, xs: list, dy: Any, einsum_op, pair: bool) -> list:
    """The gradient for each input of the op: for a pair op (one tensor used as both
    operands) the one gradient of the shared tensor."""
    shapes = _operand_shapes(xs, pair)
    if pair:
        perm = _pair_permutation(subscripts, shapes[0])
        both = [xs[0], xs[0]]
        return [_gradient(subscripts, alpha, both, dy + ops.transpose(dy, perm), 0, shapes, einsum_op)]
    return [_gradient(subscripts, alpha, list(xs), dy, k, shapes, einsum_op) for k in range(len(xs))]
