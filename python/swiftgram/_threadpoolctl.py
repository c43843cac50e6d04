"""swiftgram's thread pool as threadpoolctl sees it: ``threadpool_info()`` lists it and
``threadpool_limits(n)`` (or ``user_api='swiftgram'``) limits and restores it, as for the
BLAS and OpenMP pools. threadpoolctl finds the library by the file name of the loaded core,
libswiftgram_core.so, and sets its threads through the core's C ABI."""
from __future__ import annotations

import ctypes

from threadpoolctl import LibController


class SwiftgramController(LibController):
    user_api = "swiftgram"
    internal_api = "swiftgram"
    filename_prefixes = ("libswiftgram_core",)

    def set_additional_attributes(self):
        self.dynlib.sg_get_num_threads.restype = ctypes.c_int64
        self.dynlib.sg_set_num_threads.argtypes = [ctypes.c_int64]
        self.dynlib.sg_isa_name.restype = ctypes.c_char_p
        self.architecture = self.dynlib.sg_isa_name().decode()

    def get_num_threads(self):
        return self.dynlib.sg_get_num_threads()

    def set_num_threads(self, num_threads):
        self.dynlib.sg_set_num_threads(num_threads)

    def get_version(self):
        from . import __version__
        return __version__
