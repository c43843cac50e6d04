"""The public API's type information, checked by mypy: the package itself, uses it must
accept, and misuses it must reject."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("mypy", reason="mypy not installed (pip install '.[test]')")


def mypy(*paths):
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--ignore-missing-imports",
                           *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, MYPYPATH=str(ROOT / "python")))


def test_package_and_uses_type_check():
    run = mypy(ROOT / "python" / "swiftgram", ROOT / "Tests" / "typing" / "api_usage.py")
    assert run.returncode == 0, run.stdout + run.stderr


def test_misuses_are_rejected():
    misuse = ROOT / "Tests" / "typing" / "api_misuse.py"
    run = mypy(misuse)
    marked = {i + 1 for i, line in enumerate(misuse.read_text().splitlines()) if "# E:" in line}
    reported = {int(m) for m in re.findall(r"api_misuse\.py:(\d+): error", run.stdout)}
    assert reported == marked, run.stdout
