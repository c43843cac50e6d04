"""NumPy's own einsum tests, run against swiftgram.

The test file is taken from the installed NumPy at test time (nothing of it is copied
into this repository) and executed with ``numpy`` seen through a proxy whose ``einsum``
and ``einsum_path`` are swiftgram's. Only operands NumPy computes and swiftgram
deliberately does not (object and long double) are handed back to NumPy.
"""
import builtins
import importlib.util
import pathlib
import types

import numpy as np
import pytest

import swiftgram

_numpy_einsum = np.einsum


def _numpy_only(args, dtype) -> bool:
    """True for calls the README lists as deliberate differences: object and long double."""
    kinds = (np.dtype(object), np.dtype(np.longdouble), np.dtype(np.clongdouble))
    if dtype is not None and np.dtype(dtype) in kinds:
        return True
    if args and isinstance(args[0], (str, bytes)):
        operands = args[1:]
    else:  # sublist form: op0, sub0, op1, sub1, ..., [output sublist]
        operands = args[:len(args) - len(args) % 2][0::2]
    return any(np.asarray(o).dtype in kinds for o in operands)


def _einsum(*operands, **kwargs):
    if _numpy_only(operands, kwargs.get("dtype")):
        return _numpy_einsum(*operands, **kwargs)
    return swiftgram.einsum(*operands, **kwargs)


_einsum.__name__ = "einsum"


def _suite_source() -> pathlib.Path:
    spec = importlib.util.find_spec("numpy._core.tests.test_einsum")
    if spec is None or spec.origin is None:  # pragma: no cover - NumPy always ships its tests
        pytest.fail("the installed NumPy has no numpy/_core/tests/test_einsum.py")
    return pathlib.Path(spec.origin)


def _load_suite() -> types.ModuleType:
    """The NumPy test module, executed with ``import numpy as np`` bound to the proxy."""
    proxy = types.ModuleType("numpy")
    proxy.__getattr__ = lambda name: getattr(np, name)  # everything else is NumPy's
    proxy.einsum = _einsum
    proxy.einsum_path = swiftgram.einsum_path

    real_import = builtins.__import__

    def suite_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "numpy" and not fromlist and level == 0:
            return proxy
        return real_import(name, globals, locals, fromlist, level)

    path = _suite_source()
    module = types.ModuleType("numpy_test_einsum_on_swiftgram")
    module.__file__ = str(path)
    module.__dict__["__builtins__"] = {**builtins.__dict__, "__import__": suite_import}
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


_suite = _load_suite()
for _name, _value in vars(_suite).items():
    if _name.startswith("Test") and isinstance(_value, type) or _name.startswith("test_") and callable(_value):
        globals()[_name] = _value
del _name, _value
