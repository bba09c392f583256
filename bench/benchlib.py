"""Timing and memory helpers shared by the benchmarks and the peer scripts (numpy and the stdlib only).

Every measurement: warm-up calls first (compilation, allocator), then ``repeats`` timed calls, each of
which must return only once its result exists (callers ``block_until_ready``). Memory is the growth of
the process's resident set from just before the first call to its high-water mark at the end, so it
includes whatever compilation and buffers the engine needs for that batch.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc; falls back to the high-water mark)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """High-water mark of the resident set of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(run, repeats: int = 7, warmup: int = 2) -> dict:
    """Time ``run()`` (synchronous); returns median/min seconds and peak memory growth (MiB)."""
    before = current_rss_mb()
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"median_s": float(np.median(times)), "min_s": float(np.min(times)),
            "peak_mb": max(peak_rss_mb() - before, 0.0)}


def tune_allocator() -> bool:
    """Apply the studio's CPU tuning (``studio/synth/cpu.py``: allocator and XLA:CPU flags), loaded by path, so peers
    get it too (SynthAX is JAX: it runs with the same XLA flags). Returns whether the allocator setting took."""
    spec = importlib.util.spec_from_file_location("studio_synth_cpu", REPO / "studio" / "synth" / "cpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tune_cpu()["allocator"]


def cpu_name() -> str:
    """The processor's model name and core count, for table headers."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} × {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} × {os.cpu_count()} cores"


def median_p90(values) -> tuple[float, float]:
    """(median, 90th percentile) of ``values``, in their own unit."""
    values = np.asarray(values, float)
    return float(np.median(values)), float(np.percentile(values, 90))


# ---------------------------------------------------------------------------------------------------------------
# Browser benchmarks (Chromium driven by Playwright against the studio served here)

CHROMIUM = os.environ.get("SYNTH_STUDIO_CHROMIUM", "/usr/bin/chromium")


def missing_browser() -> str | None:
    """Why the browser benchmarks cannot run here (no Chromium, no Playwright), or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    return None


def serve_warm_studio(library_prefix: str):
    """The studio served on 127.0.0.1 (local mode, a fresh library folder) once the synth has compiled, so the first
    measured event is warm; ``demo.local_url`` is its address, ``demo.close()`` stops it."""
    import tempfile

    from studio.ui.app import make_config, serve_in_background
    from studio.ui.views import start_warm_up, wait_for_warm_up

    start_warm_up()
    wait_for_warm_up()
    return serve_in_background(make_config(tempfile.mkdtemp(prefix=library_prefix), public=False))
