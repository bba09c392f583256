"""Process-level tuning for rendering on a CPU: the allocator and XLA:CPU's code generation.

Rendering allocates multi-megabyte audio buffers on every call. glibc hands allocations above its mmap
threshold straight back to the kernel when freed, so every render page-faults its buffers in afresh
(measured here: ~7 ms of a 20 ms batch of 32 sounds). Keeping them in the heap removes that cost.

XLA:CPU splits every matrix product across the cores (Eigen's thread pool) and emits 256-bit vector code even on
a CPU with 512-bit vectors. The synth's phase sums are thousands of tiny products per batch, for which the split
costs more than it saves, and its audio loops are arithmetic-bound, so one-thread products and AVX-512 code render
a batch of 32 in ~11 ms instead of ~15 (``bench/prompt_search.py``; the sounds are the same to the bit). The
cores are used by judging shards of a batch in parallel instead (``studio.search.parallel``).

Both are process-wide choices, so entry points (app, CLI, benchmarks, the test suite) call :func:`tune_cpu`
explicitly; importing the synth changes nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
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


def has_avx512() -> bool:
    """Whether this CPU has AVX-512 (Linux: ``/proc/cpuinfo``'s ``avx512f`` flag; False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any(line.startswith("flags") and " avx512f" in line for line in info)
    except OSError:
        return False


def xla_cpu_flags() -> list[str]:
    """The studio's XLA:CPU flags for this machine (see the module docstring)."""
    flags = ["--xla_cpu_multi_thread_eigen=false"]
    if has_avx512():
        flags.append("--xla_cpu_prefer_vector_width=512")
    return flags


def _jax_backends_started() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # another JAX: assume the worst, the flags may come too late
        return True


def tune_xla_cpu() -> bool:
    """Add :func:`xla_cpu_flags` to ``XLA_FLAGS`` before JAX starts its backends. Returns True when they will apply
    (False once a JAX computation has run in this process: XLA reads its flags once). A flag already present in
    ``XLA_FLAGS`` keeps the value given there, so a user can override any of them."""
    if _jax_backends_started():
        return False
    current = os.environ.get("XLA_FLAGS", "").split()
    present = {flag.split("=", 1)[0] for flag in current}
    os.environ["XLA_FLAGS"] = " ".join(current + [f for f in xla_cpu_flags() if f.split("=", 1)[0] not in present])
    return True


def tune_cpu() -> dict[str, bool]:
    """Both process-wide tunings; call before the first render. Returns which took effect."""
    return {"allocator": tune_cpu_allocator(), "xla_flags": tune_xla_cpu()}
