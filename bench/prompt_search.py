"""Prompt search speed and quality: candidates per second, strategies at equal budget, time to the first sound.

    .venv/bin/python bench/prompt_search.py                    # everything (a few minutes on a 2-core CPU)
    .venv/bin/python bench/prompt_search.py --skip-clap        # without the CLAP model
    .venv/bin/python bench/prompt_search.py --seeds 5          # more seeds in the strategy comparison

Prints four tables (device, versions and core count in the header):

1. Candidates per second with the descriptor scorer: render + profile + score per batch (the judged work of a
   search) as one call and as the search runs it (the batch in one shard per core, a thread each:
   ``studio.search.parallel``), against rendering alone, interleaved in the same run (the ratios are the scorer's
   overhead and the threads' gain), and whole generations of the quick search (ask → render → judge → tell) as
   the user experiences them. The process runs with the studio's CPU tuning (``studio.synth.cpu.tune_cpu``).
2. Candidates per second with CLAP, random weights, the full default architecture (``ClapConfig()``: HTSAT-tiny
   audio tower, RoBERTa text tower) on torch's device: render + log-mel + audio tower + cosine, text cached.
3. Learned ES, CMA-ES, SNES and random search at equal budget (the quick budget) on descriptor prompts:
   mean fit, share of searches meeting every target, mean time.
4. Time to the first audible result (the first generation's best, louder than −40 dBFS): in a fresh
   process (including compilation), after ``studio.search.warm_up`` (what the app does at start-up), and warm.

Every time is taken after ``block_until_ready`` (JAX) or on host arrays (torch), median of repeated runs.
Targets from issue 5 on this project's 2-core CPU: descriptor ≥ 2,000 candidates/s, CLAP ≥ 8/s, first result ≤ 1 s.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, cpu_name, measure  # noqa: E402

sys.path.insert(0, str(REPO))

COMPARISON_PROMPTS = ("high bright hiss", "low dark hum", "short click", "siren", "vibrato", "percussive pluck",
                      "slow swell", "rough harsh buzz", "bees buzzing", "laser zap")


def header() -> str:
    import os

    import jax

    devices = ", ".join(f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu_name()}; jax {jax.__version__} on {devices}; load average at start {load} (other processes "
            "share these cores: compare rows of one run, not runs)")


def descriptor_throughput(batches: list[int], repeats: int, threads: int) -> list[dict]:
    """Per batch: render alone, and render + judge as one call and as the search runs it (``threads`` shards, one
    thread each: ``studio.search.parallel.map_shards``); milliseconds (medians of interleaved runs) and candidates/s."""
    import jax
    import jax.numpy as jnp

    from studio.scoring import DescriptorScorer
    from studio.search.parallel import map_shards
    from studio.search.prompt import PromptObjective, descriptor_evaluation
    from studio.synth import RenderSettings, renderer

    settings = RenderSettings()
    render = renderer(settings)
    objective = PromptObjective(DescriptorScorer(), "bees buzzing")
    judged = jax.jit(lambda theta, seeds, params: descriptor_evaluation(params, render(theta, seeds),
                                                                        settings.sample_rate)[0])
    rows = []
    for batch in batches:
        theta = jnp.asarray(np.random.default_rng(batch).random((batch, 78), dtype=np.float32))
        seeds = np.zeros((batch,), np.uint32)
        # default arguments bind this batch's arrays (the lambdas run inside this iteration only)
        runs = {"render": lambda theta=theta, seeds=seeds: render(theta, seeds).block_until_ready(),
                "one call": lambda theta=theta, seeds=seeds: judged(theta, seeds, objective.params).block_until_ready(),
                "threads": lambda theta=theta, seeds=seeds: map_shards(judged, (theta, seeds), (objective.params,),
                                                                       threads)}  # host arrays
        times = {name: [] for name in runs}
        for run in runs.values():  # warm-up: compile and settle the allocator
            run(), run()
        for _ in range(repeats):  # interleaved, so a busy moment on shared cores hits every variant alike
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
        medians = {name: float(np.median(t)) for name, t in times.items()}
        rows.append({"batch": batch, **{f"{name}_ms": m * 1e3 for name, m in medians.items()},
                     **{f"{name}_rate": batch / m for name, m in medians.items()}})
    return rows


def search_generation_rate(repeats: int) -> tuple[float, float]:
    """(candidates/s, ms per generation) of warm quick searches, whole loop included."""
    from studio.scoring import DescriptorScorer
    from studio.search import budget_for, prompt_search, run_to_end

    scorer = DescriptorScorer()
    run_to_end(prompt_search("bright", scorer, budget="quick"))  # compile
    budget = budget_for("quick", scorer)
    times = []
    for seed in range(repeats):
        final = run_to_end(prompt_search("bees buzzing", scorer, budget="quick", seed=seed, stop_when_perfect=False))
        times.append(final.elapsed_s)
    median = float(np.median(times))
    return budget.evaluations / median, median / budget.generations * 1e3


TINY_CLAP = dict(  # a small random CLAP (as tests/test_scoring.py builds): the code path in seconds, not the speed
    text_config=dict(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                     max_position_embeddings=80),
    audio_config=dict(hidden_size=64, depths=[1, 1], num_attention_heads=[2, 4], patch_embeds_hidden_size=32,
                      num_hidden_layers=2),
    projection_dim=16)


def clap_throughput(batch: int, repeats: int, precision: str = "fp32", architecture: str = "default") -> dict:
    """CLAP (random weights, full default architecture, or ``architecture="tiny"``: :data:`TINY_CLAP`) candidates/s
    on torch's device, with the parts' times, and the cosine between these embeddings and float32 ones of the same
    clips (1 for fp32)."""
    import jax.numpy as jnp
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    from studio.scoring.clap import ClapScorer
    from studio.synth import RenderSettings, renderer

    torch.manual_seed(0)
    model = ClapModel(ClapConfig(**TINY_CLAP) if architecture == "tiny" else ClapConfig())

    class _NoText:  # the text embedding is cached per prompt: a fixed random unit vector stands in for it
        pass

    scorer = ClapScorer(model, _NoText(), ClapFeatureExtractor(), source="random weights (ClapConfig())",
                        semantic=False, batch_size=batch, precision=precision)
    text = torch.nn.functional.normalize(torch.randn(model.config.projection_dim, device=scorer.device), dim=0)
    settings = RenderSettings()
    render = renderer(settings)
    theta = jnp.asarray(np.random.default_rng(0).random((batch, 78), dtype=np.float32))
    seeds = jnp.zeros((batch,), jnp.uint32)

    def sync():
        if scorer.device.startswith("cuda"):
            torch.cuda.synchronize()

    def features_only():
        scorer.input_features(render(theta, seeds), settings.sample_rate)
        sync()

    def judge():
        (scorer.audio_embeddings(render(theta, seeds), settings.sample_rate) @ text).cpu().numpy()

    repeats = max(2, repeats)
    render_s = measure(lambda: render(theta, seeds).block_until_ready(), repeats, warmup=1)["median_s"]
    features_s = measure(features_only, repeats, warmup=1)["median_s"]
    full_s = measure(judge, repeats, warmup=1)["median_s"]
    audio = render(theta, seeds)
    exact = ClapScorer(model, _NoText(), ClapFeatureExtractor(), source="float32 reference", semantic=False,
                       batch_size=batch, precision="fp32").audio_embeddings(audio, settings.sample_rate)
    agreement = float(torch.nn.functional.cosine_similarity(
        exact, scorer.audio_embeddings(audio, settings.sample_rate)).min())
    return {"device": scorer.device, "batch": batch, "render_ms": render_s * 1e3, "features_ms": features_s * 1e3,
            "full_ms": full_s * 1e3, "rate": batch / full_s, "threads": torch.get_num_threads(),
            "precision": scorer.precision, "agreement": agreement, "architecture": architecture}


def strategy_comparison(seeds: int) -> list[tuple]:
    """Rows (strategy, mean fit, share fully met, mean candidates used, mean seconds) at the quick budget over
    COMPARISON_PROMPTS; a search ends early once every target is met, so "candidates used" is the cost to get
    there (1,280 when it never does)."""
    from studio.scoring import DescriptorScorer
    from studio.search import STRATEGIES, STRATEGY_LABELS, prompt_search, run_to_end

    scorer = DescriptorScorer()
    rows = []
    for strategy in STRATEGIES:
        run_to_end(prompt_search("bright", scorer, budget="quick", strategy=strategy))  # compile
        fits, met, used, times = [], 0, [], []
        for prompt in COMPARISON_PROMPTS:
            for seed in range(seeds):
                final = run_to_end(prompt_search(prompt, scorer, budget="quick", strategy=strategy, seed=seed))
                fits.append(final.best_score)
                met += final.best_score >= 0.999
                used.append(final.evaluations)
                times.append(final.elapsed_s)
        rows.append((STRATEGY_LABELS[strategy], float(np.mean(fits)), met / len(fits), float(np.mean(used)),
                     float(np.mean(times))))
    return rows


def first_result_times(repeats: int) -> dict:
    """Seconds to the first audible result: fresh process (cold), after warm_up(), and warm."""
    import subprocess

    from studio.audio.sound_profile import QUALITY_INDEX, sound_profile
    from studio.scoring import DescriptorScorer
    from studio.search import prompt_search, warm_up
    from studio.synth import render

    code = ("import time; t = time.perf_counter(); from studio.synth.cpu import tune_cpu; "
            "tune_cpu(); from studio.scoring import DescriptorScorer; "
            "from studio.search import prompt_search; "
            "first = next(iter(prompt_search('short bright pluck', DescriptorScorer(), budget='quick'))); "
            "print(time.perf_counter() - t)")
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=600)
    cold_s = float(cold.stdout.strip().splitlines()[-1]) if cold.returncode == 0 else float("nan")

    scorer = DescriptorScorer()
    warm_up_s = warm_up(scorer)
    firsts, audible = [], []
    for seed in range(repeats):
        started = time.perf_counter()
        first = next(iter(prompt_search("short bright pluck", scorer, budget="quick", seed=seed)))
        firsts.append(time.perf_counter() - started)
        loudness = sound_profile(np.asarray(render(first.best_theta)), 48_000)[QUALITY_INDEX["loudness"]]
        audible.append(loudness > -40.0)
    return {"cold_s": cold_s, "warm_up_s": warm_up_s, "warm_s": float(np.median(firsts)), "audible": all(audible)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per prompt in the strategy comparison")
    parser.add_argument("--clap-batch", type=int, default=None, help="clips per CLAP batch (default 8 CPU, 64 GPU)")
    parser.add_argument("--skip-clap", action="store_true")
    args = parser.parse_args()

    from studio.synth.cpu import tune_cpu

    tune_cpu()
    print(f"# Prompt search benchmark\n\n{header()}\n")

    print("## First audible result, descriptor scorer, quick budget (target ≤ 1 s)\n")
    first = first_result_times(args.repeats)
    print("| fresh process (imports + compile) | warm_up() at start-up | after warm-up (median) | audible |")
    print("|---:|---:|---:|:---|")
    print(f"| {first['cold_s']:.2f} s | {first['warm_up_s']:.2f} s | {first['warm_s'] * 1e3:.0f} ms | "
          f"{'yes' if first['audible'] else 'NO'} |\n")

    from studio.search.parallel import evaluation_threads

    threads = evaluation_threads(32)
    print("## Descriptor scorer: render + profile + score (target ≥ 2,000 candidates/s)\n")
    print(f"Render + judge as one call, and as the search runs it: the batch in {threads} shards, one thread each "
          f"(`studio.search.parallel`). Candidates/s of each column in brackets.\n")
    print(f"| batch | render alone | render + judge, one call | render + judge, {threads} threads "
          "| **candidates/s (render + judge, as searched)** | judge overhead | threads' gain |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in descriptor_throughput([32, 64, 128], max(60, args.repeats * 3), threads):
        print(f"| {row['batch']} | {row['render_ms']:.1f} ms ({row['render_rate']:,.0f}) | {row['one call_ms']:.1f} ms "
              f"({row['one call_rate']:,.0f}) | {row['threads_ms']:.1f} ms | **{row['threads_rate']:,.0f}** | "
              f"×{row['one call_ms'] / row['render_ms']:.2f} | ×{row['one call_ms'] / row['threads_ms']:.2f} |")
    rate, per_generation_ms = search_generation_rate(max(3, args.repeats // 2))
    print(f"\nWhole quick searches (32 × 40, ask → render → judge in {threads} threads → tell, warm): {rate:,.0f} "
          "candidates/s, "
          f"{per_generation_ms:.1f} ms per generation.\n")

    if not args.skip_clap:
        import torch

        batch = args.clap_batch or (64 if torch.cuda.is_available() else 8)
        print("## CLAP, random weights, default HTSAT-tiny + RoBERTa architecture (target ≥ 8 candidates/s)\n")
        from studio.scoring.clap import native_bf16, resolve_device

        precisions = ("fp32", "bf16") if native_bf16(resolve_device(None)) else ("fp32",)
        print("| device | audio tower | batch | render | render + log-mel | render + log-mel + audio tower + cosine "
              "| candidates/s | min cosine to fp32 embeddings |")
        print("|:---|:---|---:|---:|---:|---:|---:|---:|")
        for precision in precisions:  # the studio's default ("auto") is the last row
            row = clap_throughput(batch, max(3, args.repeats // 2), precision)
            print(f"| torch {row['device']} ({row['threads']} threads) | {row['precision']} | {row['batch']} | "
                  f"{row['render_ms']:.0f} ms | {row['features_ms']:.0f} ms | {row['full_ms']:.0f} ms | "
                  f"{row['rate']:.1f} | {row['agreement']:.6f} |")
        print("\nThe studio uses bf16 where the hardware has it (`SYNTH_STUDIO_CLAP_PRECISION` overrides).\n")

    print(f"## Strategies at equal budget (quick: 32 × 40 = 1,280 candidates), {len(COMPARISON_PROMPTS)} descriptor "
          f"prompts × {args.seeds} seeds\n")
    print("| strategy | mean fit (1 = every target met) | searches meeting every target | mean candidates used | "
          "mean time |")
    print("|:---|---:|---:|---:|---:|")
    for label, fit, met, used, seconds in strategy_comparison(args.seeds):
        print(f"| {label} | {fit:.3f} | {met:.0%} | {used:,.0f} | {seconds:.2f} s |")
    print(f"\nPrompts: {', '.join(COMPARISON_PROMPTS)}.")


if __name__ == "__main__":
    main()
