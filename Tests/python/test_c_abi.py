"""The C ABI and the one core per process: a C program through swiftgram.h, and an op
library linked to the same libswiftgram_core.so as the extension."""
import ctypes
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

import swiftgram
from swiftgram import _core

ROOT = Path(__file__).resolve().parents[2]
ABI = ROOT / "Tests" / "abi"
CORE = Path(_core.__file__).with_name("libswiftgram_core.so")
INCLUDES = [f"-I{ROOT / 'Sources' / 'SwiftgramABI'}", f"-I{ROOT / 'Sources' / 'CSupport' / 'include'}"]


def compiler() -> str:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    found = shutil.which(cc) or shutil.which("cc")
    assert found, "a C compiler is needed to build the extension, and these tests"
    return found


def link(source: Path, output: Path, *flags: str) -> Path:
    subprocess.run([compiler(), "-std=c11", "-O1", "-Wall", "-Werror", *INCLUDES, str(source), "-o", str(output),
                    *flags, f"-L{CORE.parent}", "-lswiftgram_core", f"-Wl,-rpath,{CORE.parent}", "-lm"],
                   check=True, capture_output=True, text=True)
    return output


def test_core_library_sits_beside_the_extension():
    assert CORE.is_file()


def test_c_program_through_the_header(tmp_path):
    program = link(ABI / "abi_check.c", tmp_path / "abi_check")
    run = subprocess.run([str(program)], capture_output=True, text=True, timeout=60, env={})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "ok"


def test_core_exports_exactly_the_header():
    header = (ROOT / "Sources" / "SwiftgramABI" / "swiftgram.h").read_text()
    declared = set(re.findall(r"\b(sg_\w+)\s*\(", header))
    out = subprocess.run(["nm", "-D", "--defined-only", str(CORE)], capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    assert {s for s in exported if s.startswith("sg_")} == declared
    # Nothing of the Swift runtime or the core's internals leaks out.
    assert not [s for s in exported if s.startswith(("$s", "swift_", "_swift"))]


def test_extension_holds_no_copy_of_the_core():
    out = subprocess.run(["nm", "-D", "--defined-only", _core.__file__], capture_output=True, text=True,
                         check=True).stdout
    assert [line.split()[-1] for line in out.splitlines() if line.strip()] == ["PyInit__core"]


def test_one_core_per_process(tmp_path):
    """An op library linked to the core sees the thread setting the extension makes, and
    the reverse: one core, one setting. (Two static copies would each keep their own.)"""
    lib = ctypes.CDLL(str(link(ABI / "op_library.c", tmp_path / "libop.so", "-shared", "-fPIC")))
    lib.op_get_num_threads.restype = ctypes.c_int64
    lib.op_set_num_threads.argtypes = [ctypes.c_int64]
    before = swiftgram.get_num_threads()
    try:
        swiftgram.set_num_threads(1)
        assert lib.op_get_num_threads() == 1
        lib.op_set_num_threads(2)
        assert swiftgram.get_num_threads() == 2
    finally:
        swiftgram.set_num_threads(before)
    maps = Path(f"/proc/{os.getpid()}/maps").read_text().splitlines()
    cores = {line.split()[-1] for line in maps if line.endswith("libswiftgram_core.so")}
    assert len(cores) == 1, cores
