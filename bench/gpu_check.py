"""The GPU check's driver (run it through ``bench/gpu_check.sh``): every figure of issue 18 in one table file.

Sections, each in its own process (a section that fails or runs out of time leaves a note and the rest go on):

1. **synth**: × real time at batch 1 … 65,536 with the device's peak memory (``bench/synth_speed.py``'s worker, one
   process per batch; on a GPU the whole batch in one program, and where that runs out of memory, steps of
   ``--step-fallback`` sounds);
2. **torchsynth** on the same device where it imports (``bench/peer/time_peers.py``; else a note);
3. **CLAP** candidates/s with random weights (the default HTSAT-tiny + RoBERTa architecture), fp32 and bf16:
   render + log-mel + audio tower + cosine (``bench/prompt_search.py``'s ``clap_throughput``);
4. **prompt search** candidates/s: render + profile + score with the descriptor scorer, as one call
   (``descriptor_throughput``), and whole quick searches;
5. **many users**: renders/s and latency of concurrent users through the studio's render path, batched into one
   synth call and not (``bench/multi_user.py --in-process``).

``--mode gpu`` uses the full sizes (about 6 minutes on an H100/H200-class GPU); ``--mode cpu`` the smallest ones (CI
time: under 2 minutes here). Targets (issue 18): synth ≥ 1,000,000× real time at large batch on an H100/H200-class
GPU; CLAP ≥ 1,500 candidates/s.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, cpu_name  # noqa: E402

SECONDS = 2.0  # every sound: 48 kHz × 2 s, control rate 480 Hz (CTAG's settings)
# Sizes per mode, and when each section must end, as a share of the whole budget counted from the start (time a
# section leaves unused goes to the next).
SIZES = {
    "gpu": dict(batches=[1, 16, 256, 1024, 4096, 16384, 65536], repeats=5, torchsynth=[1, 128, 1024, 4096],
                clap_batch=256, clap_repeats=5, clap_architecture="default", search_batches=[64, 1024, 8192],
                search_repeats=10, whole_searches=2, users=32, user_batch=32, user_seconds=20.0, budget_s=450.0,
                ends=dict(synth=0.35, torchsynth=0.45, clap=0.62, search=0.78, users=1.0)),
    "cpu": dict(batches=[1, 8], repeats=3, torchsynth=[1], clap_batch=2, clap_repeats=2, clap_architecture="tiny",
                search_batches=[16], search_repeats=2, whole_searches=0, users=4, user_batch=2, user_seconds=2.0,
                budget_s=110.0, ends=dict(synth=0.15, torchsynth=0.2, clap=0.4, search=0.72, users=1.0)),
}


def run_json(code_or_args: list[str], timeout: float, env: dict | None = None) -> tuple[dict | None, str]:
    """Run a Python worker; (its last JSON line, a note when it failed)."""
    environ = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    try:
        proc = subprocess.run([sys.executable, *code_or_args], cwd=REPO, env=environ, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"ran past {timeout:.0f} s"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, ("out of device memory" if "RESOURCE_EXHAUSTED" in proc.stderr or "out of memory" in
                      proc.stderr.lower() else tail[:200])
    return json.loads(lines[-1]), ""


def python_worker(body: str) -> list[str]:
    """``-c`` arguments running ``body`` with the bench folder and the repository importable."""
    return ["-c", f"import sys; sys.path[:0] = [{str(REPO / 'bench')!r}, {str(REPO)!r}]\n{body}"]


# ---------------------------------------------------------------------------------------------------------------


def section_header(mode: str) -> list[str]:
    info, note = run_json(python_worker("""
import json, jax
d = jax.devices()[0]
out = {"jax": jax.__version__, "backend": jax.default_backend(), "device": getattr(d, "device_kind", d.platform),
       "devices": len(jax.devices())}
try:
    import torch
    out["torch"] = torch.__version__
    out["torch_device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
except ImportError:
    out["torch"] = "not installed"
print(json.dumps(out))
"""), 180)
    if info is None:
        return [f"JAX did not start: {note}"]
    return [f"- mode: **{mode}**; {cpu_name()}; Python {platform.python_version()}",
            f"- JAX {info['jax']} on {info['backend']} ({info['device']} × {info['devices']}); torch "
            f"{info.get('torch')} ({info.get('torch_device', '–')})",
            f"- XLA_PYTHON_CLIENT_MEM_FRACTION={os.environ.get('XLA_PYTHON_CLIENT_MEM_FRACTION', 'unset')}, "
            f"XLA_PYTHON_CLIENT_PREALLOCATE={os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE', 'unset')}"]


def section_synth(sizes: dict, fallback_step: int, deadline: float) -> list[str]:
    lines = ["| batch | render loop | time per batch | × real time | device peak memory | host RSS growth |",
             "|---:|---|---:|---:|---:|---:|"]
    best = 0.0
    for batch in sizes["batches"]:
        left = deadline - time.monotonic()
        if left < 10:
            lines.append(f"| {batch:,} | – | skipped: the section's time ran out | | | |")
            continue
        args = [str(REPO / "bench" / "synth_speed.py"), "--worker", "--batches", str(batch), "--repeats",
                str(sizes["repeats"])]
        row, note = run_json(args, min(left, 240))
        step = "backend default"
        if row is None and note == "out of device memory" and batch > fallback_step:
            step = f"steps of {fallback_step:,}"
            row, note = run_json(args + ["--sounds-per-step", str(fallback_step)],
                                 min(deadline - time.monotonic(), 240))
        if row is None:
            lines.append(f"| {batch:,} | {step} | failed: {note} | | | |")
            continue
        if step == "backend default":
            step = "whole batch" if row["version"].split(" on ")[-1] != "cpu" else "sound by sound"
        realtime = batch * SECONDS / row["median_s"]
        best = max(best, realtime)
        peak = f"{row['device_peak_mb']:,.0f} MiB" if "device_peak_mb" in row else "–"
        lines.append(f"| {batch:,} | {step} | {row['median_s'] * 1e3:,.2f} ms | {realtime:,.0f}× | {peak} "
                     f"| {row['peak_mb']:,.0f} MiB |")
    lines.append("")
    lines.append(f"Best: **{best:,.0f}× real time** (target on an H100/H200-class GPU: ≥ 1,000,000×; torchsynth "
                 "reported 16,200× on a V100, SynthAX claims 90,000×).")
    return lines


def section_torchsynth(sizes: dict, deadline: float) -> list[str]:
    probe, note = run_json(python_worker(
        "import json, torch, torchsynth; print(json.dumps({'cuda': torch.cuda.is_available()}))"), 120)
    if probe is None:
        return [f"torchsynth not measured: it does not import here ({note}). Carry it in with the working tree "
                "(`bash bench/gpu_deps.sh --torchsynth`) to measure it."]
    device = "cuda" if probe["cuda"] else "cpu"
    lines = ["| batch | device | time per batch | × real time | device peak memory |", "|---:|---|---:|---:|---:|"]
    for batch in sizes["torchsynth"]:
        left = deadline - time.monotonic()
        if left < 10:
            lines.append(f"| {batch:,} | {device} | skipped: the section's time ran out | | |")
            continue
        row, note = run_json([str(REPO / "bench" / "peer" / "time_peers.py"), "--engine", "torchsynth", "--batch",
                              str(batch), "--repeats", "3", "--device", device, "--no-tune"], min(left, 180))
        if row is None:
            lines.append(f"| {batch:,} | {device} | failed: {note} | | |")
            continue
        peak = f"{row['device_peak_mb']:,.0f} MiB" if "device_peak_mb" in row else "–"
        lines.append(f"| {batch:,} | {row['version']} | {row['median_s'] * 1e3:,.2f} ms "
                     f"| {batch * SECONDS / row['median_s']:,.0f}× | {peak} |")
    return lines


def section_clap(sizes: dict, deadline: float) -> list[str]:
    lines = ["| audio tower | device | clips per call | render | render + log-mel | render + log-mel + tower + cosine "
             "| **candidates/s** | min cosine to fp32 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for precision in ("fp32", "bf16"):
        left = deadline - time.monotonic()
        if left < 10:
            lines.append(f"| {precision} | skipped: the section's time ran out | | | | | | |")
            continue
        row, note = run_json(python_worker(f"""
import json
from studio.synth.cpu import tune_cpu
tune_cpu()
from prompt_search import clap_throughput
from studio.scoring.clap import native_bf16, resolve_device
if {precision!r} == "bf16" and not native_bf16(resolve_device(None)):
    print(json.dumps({{"skipped": "no native bfloat16 on " + resolve_device(None)}}))
else:
    print(json.dumps(clap_throughput({sizes['clap_batch']}, {sizes['clap_repeats']}, {precision!r},
                                     {sizes['clap_architecture']!r})))
"""), min(left, 300))
        if row is None:
            lines.append(f"| {precision} | failed: {note} | | | | | | |")
        elif "skipped" in row:
            lines.append(f"| {precision} | {row['skipped']} | | | | | | |")
        else:
            lines.append(f"| {row['precision']} | torch {row['device']} | {row['batch']} | {row['render_ms']:.1f} ms "
                         f"| {row['features_ms']:.1f} ms | {row['full_ms']:.1f} ms | **{row['rate']:,.0f}** "
                         f"| {row['agreement']:.5f} |")
    what = ("the full default architecture (HTSAT-tiny + RoBERTa)" if sizes["clap_architecture"] == "default" else
            "a tiny architecture (CPU mode: the code path, not CLAP's speed)")
    lines += ["", f"Random weights, {what}; target ≥ 1,500 candidates/s (CTAG's V100: about 300/s)."]
    return lines


def section_search(sizes: dict, deadline: float) -> list[str]:
    row, note = run_json(python_worker(f"""
import json
from studio.synth.cpu import tune_cpu
tune_cpu()
from prompt_search import descriptor_throughput, search_generation_rate
from studio.search.parallel import evaluation_threads
threads = evaluation_threads(max({sizes['search_batches']}))
rows = descriptor_throughput({sizes['search_batches']}, {sizes['search_repeats']}, threads)
rate, per_generation_ms = search_generation_rate({sizes['whole_searches']}) if {sizes['whole_searches']} else (0, 0)
print(json.dumps({{"rows": rows, "threads": threads, "quick_rate": rate, "generation_ms": per_generation_ms}}))
"""), max(20, deadline - time.monotonic()))
    if row is None:
        return [f"Prompt search not measured: {note}"]
    lines = [f"| candidates per call | render alone | render + profile + score, one call | render + judge, "
             f"{row['threads']} thread(s) | **candidates/s** |", "|---:|---:|---:|---:|---:|"]
    for r in row["rows"]:
        lines.append(f"| {r['batch']:,} | {r['render_ms']:.2f} ms | {r['one call_ms']:.2f} ms | "
                     f"{r['threads_ms']:.2f} ms | **{max(r['one call_rate'], r['threads_rate']):,.0f}** |")
    if row["quick_rate"]:
        lines += ["", f"Whole quick searches (32 × 40, ask → render → judge → tell): {row['quick_rate']:,.0f} "
                      f"candidates/s, {row['generation_ms']:.1f} ms per generation."]
    return lines


def section_users(sizes: dict, deadline: float) -> list[str]:
    lines = ["| renders | users | renders done | **renders/s** | p50 latency | p95 latency | synth calls |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for batch in (0, sizes["user_batch"]):
        left = deadline - time.monotonic()
        if left < 10:
            lines.append(f"| {'batched' if batch else 'one per call'} | skipped: the section's time ran out "
                         "| | | | | |")
            continue
        row, note = run_json(python_worker(f"""
import json
from studio.synth.cpu import tune_cpu
tune_cpu()
from multi_user import in_process
print(json.dumps(in_process({sizes['users']}, {sizes['user_seconds']}, {batch})))
"""), min(left, 240))
        label = f"batched (≤ {batch} a call)" if batch else "one per call"
        if row is None:
            lines.append(f"| {label} | failed: {note} | | | | | |")
            continue
        lines.append(f"| {label} | {row['users']} | {row['renders']:,} | **{row['rate']:,.1f}** | {row['p50']:.1f} ms "
                     f"| {row['p95']:.1f} ms | {row['calls']:,} |")
    lines += ["", f"Each user renders a new knob position of its own sound back to back for {sizes['user_seconds']:g} "
                  "s through the studio's render path (`studio.ui.views.render_audio`), in this process; "
                  "`bench/multi_user.py` measures the same through a served studio with `gradio_client`."]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["gpu", "cpu"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="the table file (Markdown)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="seconds for everything (default 450 in GPU mode, 110 in CPU mode)")
    parser.add_argument("--step-fallback", type=int, default=8192,
                        help="sounds per step when a whole batch does not fit in the device's memory (8192)")
    parser.add_argument("--sections", default="synth,torchsynth,clap,search,users")
    args = parser.parse_args(argv)
    sizes = SIZES[args.mode]
    budget = args.budget_s or sizes["budget_s"]
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    titles = {"synth": "Synth: × real time by batch", "torchsynth": "torchsynth on the same device",
              "clap": "CLAP candidates/s (random weights)", "search": "Prompt search candidates/s (descriptor scorer)",
              "users": "Many users: batched renders"}
    runners = {"synth": lambda d: section_synth(sizes, args.step_fallback, d),
               "torchsynth": lambda d: section_torchsynth(sizes, d), "clap": lambda d: section_clap(sizes, d),
               "search": lambda d: section_search(sizes, d), "users": lambda d: section_users(sizes, d)}
    begun = time.monotonic()
    out = ["# GPU check (bench/gpu_check.sh)", "", *section_header(args.mode), ""]
    budget -= time.monotonic() - begun  # the header started JAX and torch once: the sections share the rest
    started = time.monotonic()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        left = budget - (time.monotonic() - started)
        section_started = time.monotonic()
        deadline = max(section_started + 15.0, started + budget * sizes["ends"][name])
        print(f"== {titles[name]} ({left:.0f} s left)", flush=True)
        try:
            body = runners[name](deadline)
        except Exception as error:  # noqa: BLE001 - a section's defect must not lose the others' figures
            body = [f"failed: {type(error).__name__}: {error}"]
        out += [f"## {titles[name]}", "", *body, "", f"_({time.monotonic() - section_started:.0f} s)_", ""]
        args.out.write_text("\n".join(out))  # what is measured so far survives a kill
        print("\n".join(body), flush=True)
    out.append(f"Total {time.monotonic() - begun:.0f} s.")
    args.out.write_text("\n".join(out) + "\n")
    print(f"\ntable written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
