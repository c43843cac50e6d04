"""threadpoolctl sees and limits swiftgram's pool, by the file name of the loaded core."""
from pathlib import Path

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl", minversion="3.5",
                                    reason="threadpoolctl >= 3.5 not installed (pip install threadpoolctl)")

import swiftgram  # noqa: E402


def ours(info):
    return [i for i in info if i["user_api"] == "swiftgram"]


def test_threadpool_info_lists_swiftgram():
    (entry,) = ours(threadpoolctl.threadpool_info())
    assert Path(entry["filepath"]).name == "libswiftgram_core.so"
    assert entry["internal_api"] == "swiftgram" and entry["prefix"] == "libswiftgram_core"
    assert entry["num_threads"] == swiftgram.get_num_threads()
    assert entry["version"] == swiftgram.__version__
    assert entry["architecture"] == swiftgram.isa()


@pytest.mark.parametrize("user_api", [None, "swiftgram"])
def test_limits_apply_and_restore(user_api, num_threads):
    num_threads(2)
    with threadpoolctl.threadpool_limits(1, user_api=user_api):
        assert swiftgram.get_num_threads() == 1
        (entry,) = ours(threadpoolctl.threadpool_info())
        assert entry["num_threads"] == 1
        a = np.arange(24.0).reshape(4, 6)
        np.testing.assert_array_equal(swiftgram.einsum("ij,kj->ik", a, a), a @ a.T)
    assert swiftgram.get_num_threads() == 2


def test_other_apis_leave_swiftgram_alone(num_threads):
    num_threads(2)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert swiftgram.get_num_threads() == 2


def test_controller_api_by_name(num_threads):
    num_threads(2)
    controller = threadpoolctl.ThreadpoolController().select(user_api="swiftgram")
    with controller.limit(limits=1):
        assert swiftgram.get_num_threads() == 1
    assert swiftgram.get_num_threads() == 2
