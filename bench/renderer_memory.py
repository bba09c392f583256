"""Memory a server keeps for compiled renderers: render one sound at each of several new shapes (sample rate ×
buffer length) in turn and print the process's resident set after each, with the renderer cache's own estimate.

    python bench/renderer_memory.py                       # 192 kHz × 18…28 s (issue 13 item 2's attack)
    python bench/renderer_memory.py --rate 96000 --durations 6,7,8,9,10,11
    SYNTH_RENDERER_CACHE_MB=300 python bench/renderer_memory.py   # a smaller budget

Before the cache was bounded by memory, RSS grew with every shape (about 300 MB per 192 kHz shape); now it levels
off near the budget (``SYNTH_RENDERER_CACHE_MB``, 768 by default).
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.benchlib import current_rss_mb  # noqa: E402
from studio.synth import RenderSettings, default_theta, render  # noqa: E402
from studio.synth import voice  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=192_000)
    parser.add_argument("--durations", default="18,20,22,24,26,28", help="seconds, comma-separated")
    args = parser.parse_args()
    render(default_theta(), RenderSettings())  # the default renderer, as a served studio has it
    gc.collect()
    start = current_rss_mb()
    print(f"cache budget {voice.RENDERER_CACHE_BYTES / 2**20:.0f} MB; RSS at start {start:.0f} MB")
    print(f"{'shape':>16} {'render s':>9} {'RSS MB':>8} {'growth MB':>10} {'kept (est.) MB':>15}")
    for seconds in (float(d) for d in args.durations.split(",")):
        began = time.perf_counter()
        np.asarray(render(default_theta(), RenderSettings(sample_rate=args.rate, duration=seconds)))
        took = time.perf_counter() - began
        gc.collect()
        rss = current_rss_mb()
        print(f"{args.rate / 1000:g} kHz × {seconds:g} s {took:9.1f} {rss:8.0f} {rss - start:10.0f} "
              f"{voice.cached_renderer_bytes() / 2**20:15.0f}")


if __name__ == "__main__":
    main()
