"""Process-level tuning for rendering on a CPU.

Rendering allocates multi-megabyte audio buffers on every call. glibc hands allocations above its mmap
threshold straight back to the kernel when freed, so every render page-faults its buffers in afresh
(measured here: ~7 ms of a 20 ms batch of 32 sounds). Keeping them in the heap removes that cost.
This is a process-wide choice, so entry points (app, CLI, benchmarks) call it explicitly; importing the
synth never changes the allocator.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit systems


def tune_cpu_allocator(top_pad_bytes: int = 64 * 1024 * 1024, trim_threshold_bytes: int = 1 << 30) -> bool:
    """Keep freed audio buffers (up to 32 MB each) in the heap. Returns True when glibc accepted the settings.

    Costs at most ``trim_threshold_bytes`` of memory kept mapped after a large render; a no-op returning
    False on non-glibc platforms (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, trim_threshold_bytes),
        (_M_TOP_PAD, top_pad_bytes)))
