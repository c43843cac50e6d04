"""The examples run and reach their checks (default Keras backend)."""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(importlib.util.find_spec("keras") is None or
                                importlib.util.find_spec("tensorflow") is None,
                                reason="keras/tensorflow not installed (pip install swiftgram[keras])")


def run(name):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_keras_lambda_gram_matches_naive_loops():
    assert "Lambda(swiftgram) == naive loops: True" in run("keras_lambda_gram.py")


def test_style_transfer_trains_saves_and_reloads():
    out = run("style_transfer_gram.py")
    assert "loss decreased: True" in out and "after save/load" in out
