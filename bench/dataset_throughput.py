"""How fast the studio makes datasets: samples/s and bytes/sample per kind and format, local vs Ray in the same run,
the on-the-fly batch against torchsynth's synth1B1 iteration, and what that means for scaling out.

    .venv/bin/python bench/dataset_throughput.py                  # the default table (~2–3 minutes on 2 cores)
    .venv/bin/python bench/dataset_throughput.py --count 2048     # longer, steadier figures
    .venv/bin/python bench/dataset_throughput.py --no-ray         # local engine only
    bash bench/setup_peer_env.sh                                  # once, for the torchsynth synth1B1 row

Every row times ``make_dataset`` into a fresh folder after a warm-up run of the same fields and settings (so no
row pays for compilation), with the render settings CTAG and the studio use (48 kHz, 2 s; ``--sample-rate``,
``--duration``). The Ray rows use a local Ray with ``--workers`` CPUs (default: all cores), started once and
warmed up; their shards are checked byte for byte against the local engine's. ``samples/s`` counts finished
shards, written and hashed; ``bytes/sample`` is the shard files' size over their samples.

The on-the-fly rows time ``studio.data.batch(spec, i)`` at synth1B1's settings (batches of 128 sounds of 4 s at
44.1 kHz, θ and float32 audio: nothing stored) next to torchsynth's ``voice(i)`` in the peer environment
(``.peer-venv``); that row is missing, with how to make it, when the peer environment is absent.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import REPO, cpu_name  # noqa: E402

PEER_PYTHON = REPO / ".peer-venv" / "bin" / "python"
KINDS = ("random", "doppelgangers", "sweeps", "presets")
FORMATS = ("parquet", "webdataset")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=512, help="samples per timed row (default 512)")
    parser.add_argument("--shard-size", type=int, default=64, help="samples per shard (default 64)")
    parser.add_argument("--sample-rate", type=int, default=48_000)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=None, help="CPUs of the local Ray (default: all cores)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--no-ray", action="store_true", help="the local engine only")
    parser.add_argument("--fly-batches", type=int, default=3, help="timed on-the-fly batches (default 3)")
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args):
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="dataset-bench-"))
        self.presets = None
        self.rows: list[dict] = []

    def preset_folder(self, count: int) -> str:
        """A folder of ``count`` presets (uniform random θ, seeded) for the presets kind."""
        if self.presets is None:
            import numpy as np

            from studio.presets import Preset, save_preset
            from studio.synth import RenderSettings

            self.presets = self.scratch / "presets"
            self.presets.mkdir()
            rng = np.random.default_rng(0)
            for i in range(count):
                save_preset(Preset(f"random {i}", rng.random(78, dtype=np.float32), RenderSettings(noise_seed=i)),
                            self.presets / f"p{i:05d}.yaml")
        return str(self.presets)

    def spec(self, kind: str, fmt: str, fields=("theta", "settings", "audio"), audio_format: str = "flac",
             count: int | None = None):
        from studio.data import DatasetSpec

        count = count or self.args.count
        options = {}
        if kind == "presets":
            options = {"presets": self.preset_folder(self.args.count)}
        return DatasetSpec(kind=kind, count=count, shard_size=self.args.shard_size, seed=0, format=fmt,
                           fields=tuple(fields), audio_format=audio_format, sample_rate=self.args.sample_rate,
                           duration=self.args.duration, **options)

    def run(self, spec, engine: str, label: str) -> dict:
        from studio.data import make_dataset

        folder = self.scratch / f"{len(self.rows):03d}-{engine}"
        cpu = time.process_time()  # every thread of this process: the local engine's whole cost
        summary = make_dataset(spec, folder, engine=engine, progress=False)
        cpu = time.process_time() - cpu
        row = {"kind": spec.kind, "format": spec.format, "fields": label, "engine": engine,
               "samples": summary.samples_made, "seconds": summary.seconds, "rate": summary.samples_per_second,
               "bytes": summary.bytes_per_sample, "folder": folder,
               "cpu_ms": cpu * 1e3 / summary.samples_made if engine == "local" else None}
        self.rows.append(row)
        print(f"  {spec.kind:13s} {spec.format:10s} {label:28s} {engine:5s} {row['rate']:8.1f} samples/s "
              f"{row['bytes'] / 1000:8.1f} kB/sample", file=sys.stderr, flush=True)
        return row

    def warm_up(self, spec, engine: str) -> None:
        """A small run of the same fields and settings: compiles (in the workers too, for Ray) before timing."""
        from dataclasses import replace

        from studio.data import make_dataset

        count = spec.shard_size * (2 * (self.args.workers or os.cpu_count() or 1) if engine == "ray" else 1)
        make_dataset(replace(spec, count=min(count, spec.count) if spec.kind == "presets" else count),
                     self.scratch / f"warm-{time.monotonic_ns()}", engine=engine, progress=False)


def same_bytes(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("shard-*"))
    return names == sorted(p.name for p in b.glob("shard-*")) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def on_the_fly(batches: int) -> dict:
    """studio.data.batch at synth1B1's settings: batches of 128 sounds, 4 s at 44.1 kHz, θ + float32 audio."""
    from studio.data import DatasetSpec, batch

    spec = DatasetSpec(kind="random", count=10**9, shard_size=128, fields=("theta", "audio"), audio_format="float32",
                       sample_rate=44_100, duration=4.0)
    batch(spec, 312)  # warm-up (compilation)
    times = []
    for i in range(313, 313 + batches):
        start = time.perf_counter()
        out = batch(spec, i)
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    return {"engine": "studio.data.batch", "batch": len(out["index"]), "median_s": median,
            "sounds_per_s": len(out["index"]) / median}


def synth1b1(batches: int) -> dict | None:
    if not PEER_PYTHON.exists():
        return None
    proc = subprocess.run([str(PEER_PYTHON), str(REPO / "bench" / "peer" / "synth1b1.py"), "--batches", str(batches)],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  ! torchsynth synth1B1 failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def main(argv=None) -> int:
    args = parse_args(argv)
    from studio.synth.cpu import tune_cpu

    tune_cpu()
    from studio.data.engines import start_ray
    from studio.search.parallel import cpu_cores

    bench = Bench(args)
    workers = args.workers or cpu_cores()
    started = time.perf_counter()
    try:
        print("local engine", file=sys.stderr)
        bench.warm_up(bench.spec("random", "parquet"), "local")
        configs = [(kind, fmt, ("theta", "settings", "audio"), "flac") for kind in args.kinds for fmt in args.formats]
        configs += [("random", "parquet", ("theta", "settings", "audio"), "int16"),
                    ("random", "parquet", ("theta", "settings", "embedding"), "flac"),
                    ("random", "parquet", ("theta", "settings", "audio", "embedding", "logmel"), "flac")]
        warmed = {("parquet", ("theta", "settings", "audio"), "flac")}
        local = {}
        for kind, fmt, fields, audio_format in configs:
            spec = bench.spec(kind, fmt, fields, audio_format)
            if (fmt, fields, audio_format) not in warmed:  # compilation, and webdataset's import (torch: ~2 s)
                bench.warm_up(spec, "local")
                warmed.add((fmt, fields, audio_format))
            label = ",".join(fields) + (f" ({audio_format})" if "audio" in fields else "")
            local[(kind, fmt, fields, audio_format)] = bench.run(spec, "local", label)
        if not args.no_ray:
            print(f"ray engine (local Ray, {workers} CPUs)", file=sys.stderr)
            start_ray(num_cpus=workers)
            ray_configs = [(kind, fmt, ("theta", "settings", "audio"), "flac") for kind in ("random", "doppelgangers")
                           if kind in args.kinds for fmt in args.formats]
            ray_configs += [("random", "parquet", ("theta", "settings", "embedding"), "flac")]
            warmed_ray = set()
            for kind, fmt, fields, audio_format in ray_configs:
                spec = bench.spec(kind, fmt, fields, audio_format)
                if (fmt, fields, audio_format) not in warmed_ray:
                    bench.warm_up(spec, "ray")
                    warmed_ray.add((fmt, fields, audio_format))
                label = ",".join(fields) + (f" ({audio_format})" if "audio" in fields else "")
                row = bench.run(spec, "ray", label)
                twin = local.get((kind, fmt, fields, audio_format))
                row["same"] = same_bytes(twin["folder"], row["folder"]) if twin else None
        fly = on_the_fly(args.fly_batches)
        peer = synth1b1(args.fly_batches)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(bench.scratch, ignore_errors=True)
    report(bench.rows, fly, peer, args, workers, time.perf_counter() - started)
    return 0


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def report(rows, fly, peer, args, workers: int, seconds: float) -> None:
    import jax

    print(f"# Dataset throughput — {cpu_name()}; jax {jax.__version__} on {jax.default_backend()}")
    print(f"# {args.sample_rate} Hz, {args.duration:g} s sounds; {args.count} samples per row in shards of "
          f"{args.shard_size}; local engine: one process, {workers} render threads; Ray: a local Ray, {workers} "
          f"CPUs, one shard per task; after warm-up")
    print("| kind | format | fields | engine | samples/s | CPU ms/sample | bytes/sample | same bytes as local |")
    print("|---|---|---|---|---:|---:|---:|---|")
    for r in rows:
        same = {True: "yes", False: "**NO**", None: "–"}[r.get("same")] if r["engine"] == "ray" else ""
        cpu = f"{r['cpu_ms']:.1f}" if r["cpu_ms"] is not None else "–"
        print(f"| {r['kind']} | {r['format']} | {r['fields']} | {r['engine']} | {r['rate']:,.0f} | {cpu} | "
              f"{r['bytes'] / 1000:,.1f} kB | {same} |")
    print()
    print("| on the fly (synth1B1's settings: 128 × 4 s at 44.1 kHz, θ + audio) | batch | s per batch | sounds/s | "
          "× real time |")
    print("|---|---:|---:|---:|---:|")
    print(f"| studio `studio.data.batch(spec, i)` | {fly['batch']} | {fly['median_s']:.3f} | "
          f"{fly['sounds_per_s']:,.0f} | {fly['sounds_per_s'] * 4:,.0f}× |")
    if peer:
        print(f"| torchsynth `voice(i)` ({peer['version']}) | {peer['batch']} | {peer['median_s']:.3f} | "
              f"{peer['sounds_per_s']:,.0f} | {peer['sounds_per_s'] * 4:,.0f}× |")
        print(f"\nstudio / torchsynth synth1B1: **{fly['sounds_per_s'] / peer['sounds_per_s']:.1f}×**")
    else:
        print("| torchsynth `voice(i)` | – | – | – | – |")
        print("\n(torchsynth synth1B1 row missing: no peer environment; make it once with "
              "`bash bench/setup_peer_env.sh`, which builds .peer-venv with torchsynth 1.0.2, then rerun)")
    base = next((r for r in rows if r["engine"] == "local" and r["kind"] == "random" and "flac" in r["fields"]), None)
    ray_base = next((r for r in rows if r["engine"] == "ray" and r["kind"] == "random" and "flac" in r["fields"]
                     and r["format"] == (base or {}).get("format")), None)
    if base:
        per_worker = 1e3 / base["cpu_ms"]  # one worker with a CPU of its own
        per_hour = per_worker * 3600
        measured = (f"; Ray on this machine measured {ray_base['rate'] / workers:,.0f} samples/s per CPU"
                    if ray_base else "")
        print(f"\nScaling out ({base['kind']}, {base['format']}, {base['fields']}): one worker with a CPU of its own "
              f"makes {per_worker:,.0f} samples/s (1 / the CPU time per sample above{measured}) = "
              f"{per_hour / 1e6:,.2f} M samples an hour, so a million samples an hour takes "
              f"{plural(math.ceil(1e6 / per_hour), 'worker')} and ten million {math.ceil(1e7 / per_hour)} "
              f"(about {base['bytes'] * 1e7 / 1e9:,.0f} GB). Shards share nothing, so this scales with the workers "
              "until the driver's disk or network (it writes every shard) is the limit.")
    print(f"\n({seconds:.0f} s in all)")


if __name__ == "__main__":
    sys.exit(main())
