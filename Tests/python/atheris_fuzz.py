"""Coverage-guided fuzzing of swiftgram.einsum with atheris (libFuzzer for Python).

    pip install atheris
    python Tests/python/atheris_fuzz.py -atheris_runs=200000        # or -max_total_time=600

Each input is decoded into subscripts, operand shapes, dtypes, layouts and keywords;
any exception other than ValueError/TypeError/MemoryError, and any crash, is a finding
(libFuzzer then writes the input to crash-*). The Swift core is not instrumented, so
coverage guides the Python front end and the shapes of what reaches the core.
"""
import sys

import atheris

with atheris.instrument_imports():
    import numpy as np
    import swiftgram
from oracle import LAYOUTS, make_operand, outcome

DTYPES = ["float32", "float64", "float16", "complex64", "complex128", "int8", "int32", "int64", "uint16",
          "bool", "object", ">f4"]
OPTIMIZE = [False, True, "greedy", "optimal", ["einsum_path", (0, 1)], ("greedy", 8), "x"]


def one_input(data: bytes):
    fdp = atheris.FuzzedDataProvider(data)
    subscripts = fdp.ConsumeString(fdp.ConsumeIntInRange(0, 16))
    ops = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        shape = [fdp.ConsumeIntInRange(0, 4) for _ in range(fdp.ConsumeIntInRange(0, 4))]
        dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
        layout = LAYOUTS[fdp.ConsumeIntInRange(0, len(LAYOUTS) - 1)]
        ops.append(make_operand(shape, dtype, layout, np.random.default_rng(len(ops))))
    kw = {"optimize": OPTIMIZE[fdp.ConsumeIntInRange(0, len(OPTIMIZE) - 1)]}
    if fdp.ConsumeBool():
        kw["dtype"] = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    if fdp.ConsumeBool():
        kw["casting"] = ["safe", "unsafe", "no", "bogus"][fdp.ConsumeIntInRange(0, 3)]
    _, err = outcome(lambda: swiftgram.einsum(subscripts, *ops, **kw))
    if err is not None and not isinstance(err, (ValueError, TypeError, MemoryError)):
        raise err


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
