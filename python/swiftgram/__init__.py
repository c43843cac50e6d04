"""swiftgram: NumPy-compatible einsum and Gram matrices, computed by a Swift core.

    import swiftgram
    G = swiftgram.einsum('ahwm,ahwn->amn', F1, F2) / (h * w)
    G = swiftgram.gram(F1, F2)        # same, the scale fused into the kernel
"""
import os as _os
import sys as _sys

from . import _core
from ._einsum import einsum, einsum_path, gram
from ._tensordot import tensordot

__version__ = "0.1.0"
__all__ = ["einsum", "einsum_path", "gram", "tensordot", "set_num_threads", "get_num_threads", "isa", "show_config",
           "__version__"]


def set_num_threads(n: int) -> None:
    """Threads the engine uses per call; ``n <= 0`` means all cores."""
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """Threads the engine uses per call."""
    return _core.get_num_threads()


def isa() -> str:
    """The micro-kernel instruction set in use: 'avx512bf16', 'avx512', 'avx2' or 'portable'
    (forced with the environment variable SWIFTGRAM_ISA)."""
    return _core.isa()


def show_config() -> None:
    """Prints the configuration in use, as ``numpy.show_config()`` does: version, the core
    library, ISA, threads, the detected caches (override: SWIFTGRAM_CACHES, e.g.
    ``l1d=48K,l2=2M,l3=32M``) and the cache blocking derived from them."""
    core = _os.path.join(_os.path.dirname(_core.__file__), "libswiftgram_core.so")
    print(f"swiftgram {__version__}\ncore: {core}\n{_core.config_report()}", end="")


def __getattr__(name):
    # swiftgram.keras imports Keras (and a backend): load it only when asked for.
    if name == "keras":
        import importlib
        return importlib.import_module(".keras", __name__)
    raise AttributeError(f"module 'swiftgram' has no attribute {name!r}")


def _register_with_threadpoolctl() -> None:
    """Makes threadpoolctl list and limit swiftgram's threads, where threadpoolctl (3.5 or
    later: its register()) is installed; nothing is imported when it is not."""
    import importlib.util
    if "threadpoolctl" not in _sys.modules and importlib.util.find_spec("threadpoolctl") is None:
        return
    import threadpoolctl
    if hasattr(threadpoolctl, "register"):
        from ._threadpoolctl import SwiftgramController
        threadpoolctl.register(SwiftgramController)


_register_with_threadpoolctl()

if "keras" in _sys.modules:
    # Keras is in use: register the layers now, so keras.models.load_model finds them.
    from . import keras  # noqa: E402,F401

if _os.environ.get("SWIFTGRAM_NUM_THREADS", "").strip():
    try:
        set_num_threads(int(_os.environ["SWIFTGRAM_NUM_THREADS"]))
    except ValueError:
        raise ValueError("SWIFTGRAM_NUM_THREADS must be an integer, got "
                         f"{_os.environ['SWIFTGRAM_NUM_THREADS']!r}") from None
