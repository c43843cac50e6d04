"""Fuzzing swiftgram.einsum against numpy.einsum: valid and invalid subscripts, operand
counts, ranks, sizes (0 and 1 included), strides, dtypes, optimize values and out=.

Every case must either match numpy.einsum or raise an exception of the kind NumPy
raises. It runs in a child process (test_hardening.py) so that an abort or a segfault
is caught and reported with the case that caused it, which is written to CASE_FILE
before each call. A longer run:

    python Tests/python/fuzz_einsum.py --examples 200000
"""
import argparse
import os
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import swiftgram
from oracle import LAYOUTS, make_operand, numpy_einsum, outcome

CASE_FILE = os.environ.get("SWIFTGRAM_FUZZ_CASE", "")
ALPHABET = "abcA.,->$ 1"
DTYPES = ["float32", "float64", "float16", "complex64", "int32", "int64", "int8", "uint8", "bool",
          "object", "longdouble", "U1", ">f8"]
OPTIMIZE = [False, True, "greedy", "optimal", "auto", "bogus", ["einsum_path", (0, 1)], ["einsum_path", (0, 5)],
            [(0, 1)], ("greedy", 64), ("greedy", -1), 3]


@st.composite
def cases(draw):
    nops = draw(st.integers(0, 3))
    sizes = {l: draw(st.integers(0, 3)) for l in "abcA"}
    if draw(st.booleans()):
        # Mostly well-formed subscripts with mutations.
        terms = []
        for _ in range(max(nops, 1)):
            t = "".join(draw(st.lists(st.sampled_from("abcA"), max_size=3)))
            if draw(st.integers(0, 4)) == 0:
                t = "..." + t
            terms.append(t)
        subscripts = ",".join(terms)
        if draw(st.booleans()):
            subscripts += "->" + "".join(draw(st.lists(st.sampled_from("abcA."), max_size=3)))
    else:
        subscripts = "".join(draw(st.lists(st.sampled_from(ALPHABET), max_size=10)))
    shapes = []
    for _ in range(nops):
        rank = draw(st.integers(0, 4))
        shape = [draw(st.sampled_from([sizes["a"], sizes["b"], 1, 2, 0])) for _ in range(rank)]
        shapes.append(shape)
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    optimize = draw(st.sampled_from(OPTIMIZE))
    out_kind = draw(st.sampled_from([None, None, "right", "wrong_shape", "wrong_dtype", "readonly", "strided"]))
    kw_dtype = draw(st.sampled_from([None, None, "float64", "int8", "float32"]))
    casting = draw(st.sampled_from(["safe", "safe", "unsafe", "same_kind", "bogus"]))
    return subscripts, shapes, dtype, layout, optimize, out_kind, kw_dtype, casting, draw(st.integers(0, 2**31))


# Where swiftgram is deliberately stricter than NumPy, it must raise this instead.
STRICTER = {"object": TypeError, "longdouble": TypeError, "U1": TypeError}


def make_out(kind, r):
    """An out= array of the given kind for a result like r (None: no out=)."""
    if kind == "right":
        return np.empty_like(r)
    if kind == "wrong_shape":
        return np.empty(r.shape + (2,), r.dtype)
    if kind == "wrong_dtype":
        return np.empty(r.shape, np.int8)
    if kind == "readonly":
        out = np.empty_like(r)
        out.flags.writeable = False
        return out
    if kind == "strided" and r.ndim:
        return np.empty(tuple(2 * d for d in r.shape), r.dtype)[(slice(None, None, 2),) * r.ndim]
    return None


def check(case):
    subscripts, shapes, dtype, layout, optimize, out_kind, kw_dtype, casting, seed = case
    if CASE_FILE:
        with open(CASE_FILE, "w") as f:
            f.write(repr(case))
    rng = np.random.default_rng(seed)
    ops = [make_operand(s, dtype, layout, rng) for s in shapes]
    kw = {"casting": casting}
    if kw_dtype:
        kw["dtype"] = kw_dtype
    ref, ref_err = numpy_einsum(subscripts, ops, **kw)
    if ref is not None and out_kind and make_out(out_kind, np.asarray(ref)) is not None:
        r = np.asarray(ref)
        ref, ref_err = numpy_einsum(subscripts, ops, out=make_out(out_kind, r), **kw)
        kw["out"] = make_out(out_kind, r)
    got, err = outcome(lambda: swiftgram.einsum(subscripts, *ops, optimize=optimize, **kw))
    if kw_dtype and len(ops) == 1 and ref is not None and np.asarray(ref).dtype != np.dtype(kw_dtype) \
            and "out" not in kw:
        return  # numpy returned a view that ignores dtype= (and casting); swiftgram honours dtype=

    stricter = STRICTER.get(dtype)
    bad_optimize = optimize in ("bogus", 3, [(0, 1)], ("greedy", -1)) or optimize == ["einsum_path", (0, 5)] \
        or (isinstance(optimize, list) and optimize[0] == "einsum_path" and len(ops) != 2)
    if err is not None:
        if stricter is not None and isinstance(err, stricter):
            return
        if bad_optimize and isinstance(err, (TypeError, ValueError, RuntimeError)):
            return  # NumPy ignores optimize on some calls; swiftgram always validates it
        if out_kind == "wrong_shape" and isinstance(err, ValueError):
            return  # NumPy may broadcast a result into a bigger out; swiftgram wants its shape
        if isinstance(err, ValueError) and "not part of an ellipsis" in str(err) and " " in subscripts:
            return  # '. ..': NumPy's plain path rejects it as swiftgram does; its optimize path drops spaces first
        if isinstance(err, ValueError) and "different sizes (0 != 1)" in str(err):
            return  # NumPy's 'aa->a' of a (0, 1) operand returns one element read past it
        if ref_err is None:
            raise AssertionError(f"swiftgram raised {err!r} where numpy returned a result: {case}")
        # The kind NumPy raises (on either of its paths): ValueError, TypeError, MemoryError
        # or RuntimeError (a path that leaves operands over); its accidental ones
        # (IndexError, KeyError from path handling) stand for a ValueError or TypeError.
        kinds = (ValueError, TypeError, MemoryError, RuntimeError)
        expected = tuple({next((k for k in kinds if isinstance(e, k)), None) for e in ref_err} - {None}) \
            if all(isinstance(e, kinds) for e in ref_err) else (ValueError, TypeError)
        if not isinstance(err, expected):
            raise AssertionError(f"swiftgram raised {err!r}, numpy {ref_err!r}: {case}")
        return
    if ref_err is not None and out_kind and optimize in (True, "greedy", "optimal"):
        # An error of NumPy's plain path (here, a casting one) that its optimize path, asked
        # the same, does not raise: a 0-d matmul result assigned to out= ignoring `casting`
        # (swiftgram follows that path where asked for it); the results must then agree.
        ref, path_err = outcome(lambda: np.einsum(subscripts, *ops, optimize=optimize, **kw))
        if path_err is None:
            ref_err = None
    if ref_err is not None:
        raise AssertionError(f"swiftgram returned a result where numpy raised {ref_err!r}: {case}")
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref), err_msg=repr(case))
    assert np.asarray(got).dtype == np.asarray(ref).dtype, case


def run(examples):
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def fuzz(case):
        check(case)
    fuzz()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=3000)
    args = ap.parse_args()
    run(args.examples)
    print(f"fuzz: {args.examples} cases, no failure")
    sys.exit(0)
