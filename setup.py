"""Build of swiftgram: the Swift core is compiled by SwiftPM into a static library and
linked, with the static Swift runtime, into one self-contained CPython extension.

Measured facts behind the flags are in DESIGN.md (shared) section 3: the runtime's
swiftrt.o must be linked by hand (it registers Swift metadata), --exclude-libs keeps the
runtime's symbols private, and undefined symbols are checked after linking so a broken
link fails here rather than at import.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
SCRATCH = ROOT / ".build-python"


def swift_static_dir() -> Path:
    info = json.loads(subprocess.check_output(["swift", "-print-target-info"]))
    resource = Path(info["paths"]["runtimeResourcePath"])  # <toolchain>/usr/lib/swift
    return resource.parent / "swift_static" / "linux"


class SwiftBuildExt(build_ext):
    def build_extension(self, ext):
        subprocess.check_call(
            ["swift", "build", "-c", "release", "--product", "SwiftgramABI",
             "--scratch-path", str(SCRATCH)],
            cwd=ROOT,
        )
        static = swift_static_dir()
        arch = os.uname().machine
        ext.extra_objects = [str(SCRATCH / "release" / "libSwiftgramABI.a"),
                             str(static / arch / "swiftrt.o")]
        ext.library_dirs = [str(static)]
        import numpy  # the shim uses NumPy's C API for the call fast path
        ext.include_dirs.append(numpy.get_include())
        # Relink whenever the Swift library changed (setuptools only watches C sources).
        ext.depends = [*ext.extra_objects, "Sources/SwiftgramABI/swiftgram.h",
                       "Sources/CSupport/include/sg_codes.h", "python/swiftgram/shim/shim.h"]
        super().build_extension(ext)
        out = self.get_ext_fullpath(ext.name)
        undefined = subprocess.check_output(["nm", "-D", "-u", out], text=True).split()
        missing = [s for s in undefined if s.startswith(("$s", "swift_", "sg_"))]
        if missing:
            sys.exit(f"swiftgram: unresolved Swift symbols after linking: {missing[:10]}")


setup(
    ext_modules=[
        Extension(
            "swiftgram._core",
            sources=[f"python/swiftgram/shim/{f}.c" for f in ("module", "plans", "fastpath", "memory")],
            include_dirs=["Sources/SwiftgramABI", "Sources/CSupport/include", "python/swiftgram/shim"],
            # The shim's files share functions; hidden, only PyInit__core is exported.
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-fvisibility=hidden"],
            libraries=["swiftCore", "swift_Concurrency", "swiftDispatch", "dispatch",
                       "BlocksRuntime", "swiftGlibc", "stdc++", "m", "dl", "pthread"],
            extra_link_args=["-Wl,--exclude-libs,ALL", "-Wl,--gc-sections"],
        )
    ],
    cmdclass={"build_ext": SwiftBuildExt},
)
