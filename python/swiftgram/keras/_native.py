"""The framework op libraries built beside the core (libswiftgram_xla.so,
libswiftgram_tf.so): where they are."""
from __future__ import annotations

from pathlib import Path

from .. import _core


def op_library(name: str) -> str:
    """Path of lib<name>.so, installed beside the extension and the core it links."""
    path = Path(_core.__file__).with_name(f"lib{name}.so")
    if not path.is_file():
        raise ImportError(f"swiftgram: the op library {path.name} is missing beside {Path(_core.__file__).name}; "
                          "reinstall swiftgram")
    return str(path)
