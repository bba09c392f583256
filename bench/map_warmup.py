"""How soon a UMAP map appears: cold, after the background warm-up, and while the warm-up still runs.

    .venv/bin/python bench/map_warmup.py              # 36 sounds (factory presets + a variation of each), θ space

Each scenario runs in a fresh process (numba's compilation lives per process): the time from asking for a map to
having its coordinates, and which method answered. The warm-up is ``studio.explore.warm_up_umap`` (the app starts
it at launch); its own duration is measured too. Target: the first map ≤ 3 s once the app serves.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, cpu_name  # noqa: E402

SCENARIOS = ("cold", "after warm-up", "during warm-up")


def scenario(name: str) -> dict:
    """Run one scenario in this process; returns its timings (seconds)."""
    import numpy as np

    from studio.explore import doppelgangers, sound_map, warm_up_umap
    from studio.presets import factory_presets

    presets = factory_presets()  # and one close variation of each: twice as many sounds, in pairs
    thetas = np.concatenate([np.stack([p.theta for p in presets])]
                            + [doppelgangers(p.theta, 0.1, 1, seed=i) for i, p in enumerate(presets)])
    result = {"scenario": name, "sounds": int(len(thetas))}
    if name != "cold":
        start = time.perf_counter()
        thread = warm_up_umap()
        if name == "after warm-up":
            thread.join()
            result["warm_up_s"] = time.perf_counter() - start
    start = time.perf_counter()
    made = sound_map(thetas, space="theta", seed=0)
    result.update(first_map_s=time.perf_counter() - start, method=made.method, note=made.note)
    start = time.perf_counter()
    sound_map(thetas, space="theta", seed=1, method="umap")
    result["next_umap_map_s"] = time.perf_counter() - start
    return result


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--scenario":
        print(json.dumps(scenario(sys.argv[2])))
        return 0
    rows = []
    for name in SCENARIOS:
        done = subprocess.run([sys.executable, "-W", "ignore", __file__, "--scenario", name], capture_output=True,
                              text=True, cwd=REPO, timeout=600)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode != 0 or not lines:
            print(f"{name}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        rows.append(json.loads(lines[-1]))
    print(f"UMAP map of {rows[0]['sounds']} sounds (θ space), fresh process per row; {cpu_name()}")
    print("| scenario | warm-up | first map | method of the first map | next UMAP map (waits for any warm-up) |")
    print("|---|---:|---:|---|---:|")
    for r in rows:
        warm = f"{r['warm_up_s']:.1f} s" if "warm_up_s" in r else ""
        print(f"| {r['scenario']} | {warm} | {r['first_map_s']:.2f} s | {r['method']} | {r['next_umap_map_s']:.2f} s |")
    ok = all(r["first_map_s"] <= 3.0 for r in rows if r["scenario"] != "cold")
    print(f"\nfirst map ≤ 3 s once warm-up has started: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
