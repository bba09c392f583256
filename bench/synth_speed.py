"""How fast the studio's Voice renders, against torchsynth and SynthAX measured in the same run.

    .venv/bin/python bench/synth_speed.py                 # batches 1, 8, 32, 128, 512
    .venv/bin/python bench/synth_speed.py --batches 1 32  # a subset
    bash bench/setup_peer_env.sh                          # once, to include the peers

Prints a table: seconds per batch (median of synchronized runs after warm-up), × real time, peak memory
growth, and our speed-up over each peer. Every (engine, batch) runs in its own process so that memory
figures do not mix; every process applies the same allocator setting (``studio/synth/cpu.py``).
48 kHz, 2 s sounds, control rate 480 Hz (CTAG's settings). Peers are skipped, with a note, when
``.peer-venv`` does not exist.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, cpu_name, measure, tune_allocator  # noqa: E402

PEER_PYTHON = REPO / ".peer-venv" / "bin" / "python"
SAMPLE_RATE, DURATION, CONTROL_RATE = 48_000, 2.0, 480


def run_ours(batch: int, repeats: int, sounds_per_step: int | None = None) -> dict:
    """Time the studio's jitted renderer on random θ; runs inside a worker process. On an accelerator the result
    also has the device's peak memory (``device_peak_mb``, from ``memory_stats``). sounds_per_step: the renderer's
    (None: the backend's default, the whole batch on a GPU)."""
    tuned = tune_allocator()
    import jax
    import jax.numpy as jnp
    import numpy as np

    from studio.synth import RenderSettings, noise_seeds, renderer

    settings = RenderSettings(SAMPLE_RATE, DURATION, CONTROL_RATE)
    render = renderer(settings, sounds_per_step=sounds_per_step)
    theta = jnp.asarray(np.random.default_rng(0).random((batch, 78), dtype=np.float32))
    seeds = jnp.asarray(noise_seeds(settings, batch))
    result = measure(lambda: render(theta, seeds).block_until_ready(), repeats)
    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        result["device_peak_mb"] = stats["peak_bytes_in_use"] / 2**20
    return {"engine": "studio", "batch": batch, "version": f"jax {jax.__version__} on {device.platform}",
            "device": str(getattr(device, "device_kind", device.platform)), "allocator_tuned": tuned,
            "sounds_per_step": sounds_per_step, **result}


def _worker(cmd: list[str]) -> dict | None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  ! {' '.join(cmd[-4:])} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def measure_all(batches: list[int], repeats: int, peers: bool) -> list[dict]:
    """One worker process per (engine, batch); returns their JSON results."""
    rows = []
    for batch in batches:
        ours = _worker([sys.executable, __file__, "--worker", "--batches", str(batch), "--repeats", str(repeats)])
        if ours:
            rows.append(ours)
        for engine in ("torchsynth", "synthax") if peers else ():
            peer = _worker([str(PEER_PYTHON), str(REPO / "bench" / "peer" / "time_peers.py"), "--engine", engine,
                            "--batch", str(batch), "--repeats", str(repeats)])
            if peer:
                rows.append(peer)
        print(f"  measured batch {batch}", file=sys.stderr)
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown table: one row per batch, our figures then each peer's and our ratio to it."""
    def cell(r):
        realtime = r["batch"] * DURATION / r["median_s"]
        return f"{r['median_s'] * 1e3:9.2f} ms | {realtime:8,.0f}× | {r['peak_mb']:7.0f} MiB"

    by = {(r["engine"], r["batch"]): r for r in rows}
    peers = [e for e in ("torchsynth", "synthax") if any(k[0] == e for k in by)]
    head = "| batch | studio: time | × real time | peak mem |"
    rule = "|---:|---:|---:|---:|"
    for p in peers:
        head += f" {p}: time | × real time | peak mem | studio speed-up |"
        rule += "---:|---:|---:|---:|"
    lines = [head, rule]
    for batch in sorted({k[1] for k in by}):
        ours = by.get(("studio", batch))
        if not ours:
            continue
        line = f"| {batch} | {cell(ours)} |"
        for p in peers:
            peer = by.get((p, batch))
            line += f" {cell(peer)} | **{peer['median_s'] / ours['median_s']:.1f}×** |" if peer else " – | – | – | – |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 128, 512])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-peers", action="store_true", help="measure the studio only")
    parser.add_argument("--sounds-per-step", type=int, default=None,
                        help="sounds per step of the render loop (default: the backend's; 0: the whole batch)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_ours(args.batches[0], args.repeats, args.sounds_per_step)))
        return
    peers = not args.no_peers and PEER_PYTHON.exists()
    rows = measure_all(args.batches, args.repeats, peers)
    ours = next((r for r in rows if r["engine"] == "studio"), None)
    print(f"# Voice render speed — {cpu_name()}")
    print(f"# {SAMPLE_RATE} Hz, {DURATION} s sounds, control rate {CONTROL_RATE} Hz; median of {args.repeats} "
          f"synchronized runs after warm-up; peak mem = resident-set growth over the run (incl. compilation)")
    if ours:
        print(f"# studio: {ours['version']} ({ours['device']}); allocator tuned: {ours['allocator_tuned']}")
    for r in rows:
        if r["engine"] != "studio" and r["batch"] == rows[0]["batch"]:
            print(f"# {r['engine']}: {r['version']}")
    if not peers:
        print("# peers not measured: run `bash bench/setup_peer_env.sh` to create .peer-venv"
              if not args.no_peers else "# peers not measured (--no-peers)")
    print(format_table(rows))


if __name__ == "__main__":
    main()
