"""Heap settings for one-shot command-line runs over large volumes (glibc only).

glibc's ``malloc`` gives every block above 32 MiB its own ``mmap`` and unmaps it when
freed, so each of the many volume-sized temporaries of a run (float64 resampling
buffers, sampling grids, probabilities) starts on fresh pages the kernel must fault in
and zero. Keeping large blocks on the heap, and keeping freed heap memory instead of
returning it to the system, lets later buffers reuse pages already mapped (``medseg segment``
of a large CT is faster; ``benchmarks/bench_unet.py`` measures it).

Only the ``medseg`` commands that process volumes call :func:`keep_freed_memory`: the
process exits when done. The napari plugin never does, so a long napari session gives
memory back to the system as usual.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LARGEST = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory for reuse; True when applied.

    A no-op (False) where the C library is not glibc (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _LARGEST)) and bool(mallopt(_M_TRIM_THRESHOLD, _LARGEST))
