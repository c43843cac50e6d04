"""Build of swiftgram: SwiftPM compiles the Swift core into a static library; this links
it, with the static Swift runtime, into one shared library (libswiftgram_core.so) that
exports only the C ABI of swiftgram.h, and links the CPython extension (the C shim) against
that library, found beside it through rpath $ORIGIN. Every native piece of a process (the
extension, framework op libraries) then shares one core: one thread pool, one thread
setting.

The Swift runtime's swiftrt.o is linked by hand (it registers Swift metadata, and swiftc is
not the linker here); a version script generated from swiftgram.h keeps every other symbol
local; undefined symbols are checked after linking, so a broken link fails here rather than
at import.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
SCRATCH = ROOT / ".build-python"
ABI_HEADER = ROOT / "Sources" / "SwiftgramABI" / "swiftgram.h"
CORE_LIBRARY = "swiftgram_core"  # libswiftgram_core.so: a name threadpoolctl can match
# Framework op libraries, each linked to the core (one core per process): their sources.
# They declare the framework's C ABI themselves, so no framework is needed to build them.
OP_LIBRARIES = {
    "swiftgram_xla": ["ops/xla/einsum_handler.c", "ops/common/op_plans.c"],
    "swiftgram_tf": ["ops/tensorflow/einsum_op.c", "ops/common/op_plans.c"],
    "swiftgram_torch": ["ops/torch/parallel_executor.c"],
}
SWIFT_RUNTIME = ["swiftCore", "swift_Concurrency", "swiftDispatch", "dispatch", "BlocksRuntime",
                 "swiftGlibc", "stdc++", "m", "dl", "pthread"]


def swift_static_dir() -> Path:
    info = json.loads(subprocess.check_output(["swift", "-print-target-info"]))
    resource = Path(info["paths"]["runtimeResourcePath"])  # <toolchain>/usr/lib/swift
    return resource.parent / "swift_static" / "linux"


def abi_functions() -> list:
    """The functions swiftgram.h declares: the core library's only exports."""
    return sorted(set(re.findall(r"\b(sg_\w+)\s*\(", ABI_HEADER.read_text())))


def defined_symbols(path: Path) -> set:
    out = subprocess.check_output(["nm", "-D", "--defined-only", str(path)], text=True)
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


def undefined_symbols(path: Path) -> set:
    out = subprocess.check_output(["nm", "-D", "-u", str(path)], text=True)
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


class SwiftBuildExt(build_ext):
    def build_extension(self, ext):
        # SwiftPM updates an archive in place, keeping members of deleted sources; linked
        # whole, those would clash: have it write the archive anew.
        (SCRATCH / "release" / "libSwiftgramABI.a").unlink(missing_ok=True)
        subprocess.check_call(
            ["swift", "build", "-c", "release", "--product", "SwiftgramABI",
             "--scratch-path", str(SCRATCH)],
            cwd=ROOT,
        )
        core = self.link_core(Path(self.build_temp))
        import numpy  # the shim uses NumPy's C API for the call fast path
        ext.include_dirs.append(numpy.get_include())
        ext.library_dirs = [str(core.parent)]
        # Relink whenever the core changed (setuptools only watches C sources).
        ext.depends = [str(core), str(ABI_HEADER), "Sources/CSupport/include/sg_codes.h",
                       "python/swiftgram/shim/shim.h", *{s for srcs in OP_LIBRARIES.values() for s in srcs}]
        super().build_extension(ext)
        out = Path(self.get_ext_fullpath(ext.name))
        shutil.copy2(core, out.parent / core.name)
        for name, sources in OP_LIBRARIES.items():
            op = self.link_op_library(name, sources, core, Path(self.build_temp))
            shutil.copy2(op, out.parent / op.name)
        missing = {s for s in undefined_symbols(out) if s.startswith("sg_")} - defined_symbols(core)
        if missing:
            sys.exit(f"swiftgram: the extension needs core symbols the core does not export: {sorted(missing)}")

    def core_outputs(self) -> list:
        """(built, in-place) paths of the core and op libraries: beside the extension in both."""
        build_py = self.get_finalized_command("build_py")
        names = [f"lib{lib}.so" for lib in [CORE_LIBRARY, *OP_LIBRARIES]]
        return [(str(Path(self.build_lib, "swiftgram", name)),
                 str(Path(build_py.get_package_dir("swiftgram"), name))) for name in names]

    def link_op_library(self, name: str, sources: list, core: Path, temp: Path) -> Path:
        """A framework op library: its C sources linked to the core. Framework symbols stay
        undefined; the framework that loads the library has them in the process."""
        objects = self.compiler.compile(
            sources, output_dir=str(temp / name),
            include_dirs=["Sources/SwiftgramABI", "Sources/CSupport/include", "ops/common"],
            extra_postargs=["-O2", "-std=c11", "-Wall", "-fPIC", "-fvisibility=hidden"])
        lib = temp / f"lib{name}.so"
        lib.unlink(missing_ok=True)
        self.compiler.link_shared_object(
            objects, str(lib), libraries=[CORE_LIBRARY], library_dirs=[str(core.parent)],
            extra_postargs=["-Wl,-rpath,$ORIGIN", f"-Wl,-soname,lib{name}.so", "-lpthread"])
        return lib

    # The core library is one more output of the extension's build: installed and, for an
    # editable install, copied into the source tree beside the extension.
    def copy_extensions_to_source(self):
        super().copy_extensions_to_source()
        for built, inplace in self.core_outputs():
            self.copy_file(built, inplace, level=self.verbose)

    def get_outputs(self):
        return [*super().get_outputs(), *(built for built, _ in self.core_outputs())]

    def get_output_mapping(self):
        mapping = super().get_output_mapping()
        if self.inplace:
            mapping.update(self.core_outputs())
        return mapping

    def link_core(self, temp: Path) -> Path:
        """Links libswiftgram_core.so from SwiftPM's static library and the static Swift
        runtime; exports exactly the functions of swiftgram.h."""
        temp.mkdir(parents=True, exist_ok=True)
        exports = abi_functions()
        script = temp / "swiftgram_core.map"
        script.write_text("{\n  global:\n" + "".join(f"    {f};\n" for f in exports) + "  local: *;\n};\n")
        static = swift_static_dir()
        core = temp / f"lib{CORE_LIBRARY}.so"
        core.unlink(missing_ok=True)  # the compiler skips a link whose objects look older than it
        archive = SCRATCH / "release" / "libSwiftgramABI.a"
        self.compiler.link_shared_object(
            [], str(core),
            libraries=SWIFT_RUNTIME, library_dirs=[str(static)],
            extra_preargs=["-Wl,--whole-archive", str(archive), "-Wl,--no-whole-archive",
                           str(static / os.uname().machine / "swiftrt.o")],
            extra_postargs=[f"-Wl,--version-script={script}", f"-Wl,-soname,lib{CORE_LIBRARY}.so",
                            "-Wl,--gc-sections", "-Wl,--no-undefined"],
        )
        exported = {s for s in defined_symbols(core) if s.startswith("sg_")}
        if exported != set(exports):
            sys.exit(f"swiftgram: core exports {sorted(exported ^ set(exports))} against swiftgram.h")
        return core


setup(
    ext_modules=[
        Extension(
            "swiftgram._core",
            sources=[f"python/swiftgram/shim/{f}.c" for f in ("module", "plans", "fastpath", "memory")],
            include_dirs=["Sources/SwiftgramABI", "Sources/CSupport/include", "python/swiftgram/shim"],
            # The shim's files share functions; hidden, only PyInit__core is exported.
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-fvisibility=hidden"],
            libraries=[CORE_LIBRARY],
            extra_link_args=["-Wl,-rpath,$ORIGIN"],
        )
    ],
    cmdclass={"build_ext": SwiftBuildExt},
)
