"""The learned models (studio/learn): how well the proxy stands in for render + embed, how well the inverse model
guesses, and what learned starts do for the matcher, against today's matcher and random search.

    .venv/bin/python bench/learn_quality.py                         # every table (10 random targets + recordings)
    .venv/bin/python bench/learn_quality.py --targets 50 --skip-real   # the issue's 50 random targets
    .venv/bin/python bench/learn_quality.py --only proxy inverse     # some tables only

Uses the models in ``assets/models`` (``python -m studio learn proxy|inverse``). Tables:

1. **Proxy** on held-out random sounds (``studio.learn.train.HELD_OUT``: seed 102, never trained on) and on the
   factory presets: the distance between the proxy's and the true embedding ÷ the median distance between two
   random sounds (target ≤ 0.10), Spearman's ρ between proxy and true distances over random pairs (target ≥ 0.9),
   the ranking test of ``bench/embedding_ranking.py`` (13 attributes × 10 sweeps × 20 steps, seed 0) through the
   proxy and through the true embedding it learns (target ≥ 0.95), and candidates/s through the proxy against
   render + embed (target ≥ 100,000/s).
2. **Inverse model** per schedule (param, mix, switch): the one-shot guess's match loss and spectral convergence
   on random-preset targets (``--seed``, default 2026: never used in training or tuning) and on
   ``assets/targets/``, against random search and today's matcher at the quick budget's renders; ms per guess.
3. **Matcher before/after** at equal renders (``--budget``): mean loss ratio against random search (target ≤ 0.35
   on 50 random targets; 0.48 today), the recordings, and the time to the first audible match (target ≤ 0.3 s).
4. **An independent distance** the matcher does not optimize: a plain log-mel distance over the whole buffer
   (RMS dB difference of every frame and band, both sounds at the same RMS, floored at −80 dBFS), for today's
   matcher, the learned matcher and random search, including a synthetic two-note chime (notes at 0 and 0.35 s,
   silent after 1.2 s).

Every time is wall clock around work that ends in host arrays (``block_until_ready`` / ``np.asarray``), after a
warm-up. Other processes share these cores: compare the columns of one run, not runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO  # noqa: E402

sys.path.insert(0, str(REPO))

from match_quality import header, random_preset_targets, random_search_losses, real_targets  # noqa: E402


# ----------------------------------------------------------------------------------------------
# 1. The proxy
# ----------------------------------------------------------------------------------------------
def proxy_table(models, settings) -> None:
    import jax

    from embedding_ranking import ranking_scores
    from studio.learn.data import measure_thetas
    from studio.learn.proxy import PROXY_BLOCK, proxy_embeddings
    from studio.learn.train import HELD_OUT, cached_dataset, proxy_measures, spearman
    from studio.presets import factory_presets
    from voice_sweeps import ATTRIBUTES, attribute_sweeps

    held = cached_dataset(HELD_OUT, log=lambda line: None)
    random_rows = proxy_measures(models.proxy, held.thetas, held.embeddings)
    scale = random_rows["median_random_distance"]
    presets = factory_presets()
    thetas = np.stack([p.theta for p in presets]).astype(np.float32)
    true = measure_thetas(thetas, settings)[0]
    predicted = np.asarray(models.proxy(thetas))
    preset_error = np.linalg.norm(predicted - true, axis=-1) / scale
    i, j = np.triu_indices(len(thetas), 1)
    preset_rho = spearman(np.linalg.norm(predicted[i] - predicted[j], axis=-1),
                          np.linalg.norm(true[i] - true[j], axis=-1))

    proxy_rank, true_rank = [], []
    for attribute in ATTRIBUTES:
        sweeps = attribute_sweeps(attribute, 10, 0)  # [10, 20, 78]
        flat = sweeps.reshape(-1, sweeps.shape[-1])
        p = np.asarray(models.proxy(flat)).reshape(10, 20, -1)
        t = np.concatenate([measure_thetas(flat[k:k + 64], settings)[0] for k in range(0, len(flat), 64)])
        proxy_rank.append(np.nanmean(ranking_scores(p)))
        true_rank.append(np.nanmean(ranking_scores(t.reshape(10, 20, -1))))

    batch = np.random.default_rng(0).uniform(0, 1, (8192, 78)).astype(np.float32)

    def rate(forward) -> float:  # candidates/s, median of 5 after a warm-up; both return host arrays (synchronized)
        jax.block_until_ready(forward(batch))
        times = []
        for _ in range(5):
            start = time.perf_counter()
            jax.block_until_ready(forward(batch))
            times.append(time.perf_counter() - start)
        return len(batch) / np.median(times)

    one_core_rate = rate(lambda x: np.asarray(models.proxy(x)))
    proxy_rate = rate(lambda x: proxy_embeddings(models.proxy, x))  # what the studio calls: one shard per core
    unblocked_rate = rate(lambda x: proxy_embeddings(models.proxy, x, block=len(x)))  # before PROXY_BLOCK
    measure_thetas(batch[:64], settings)
    start = time.perf_counter()
    for k in range(4):
        measure_thetas(batch[k * 64:(k + 1) * 64], settings)
    render_rate = 256 / (time.perf_counter() - start)

    print("\n## 1. The proxy (θ → perceptual embedding at −20 dBFS RMS)\n")
    print("| measure | held-out random sounds | factory presets | target |\n|---|---:|---:|---:|")
    print(f"| distance proxy ↔ true ÷ median random pair, mean | **{random_rows['normalized_distance_mean']:.3f}** "
          f"| {preset_error.mean():.3f} | ≤ 0.10 |")
    print(f"| same, median | {random_rows['normalized_distance_median']:.3f} | {np.median(preset_error):.3f} | |")
    print(f"| Spearman ρ, proxy vs true distances over pairs | **{random_rows['spearman_pairs']:.3f}** "
          f"({4000} pairs) | {preset_rho:.3f} ({len(i)} pairs) | ≥ 0.9 |")
    print(f"\nRanking test (13 attributes × 10 sweeps × 20 steps, seed 0): through the proxy "
          f"**{np.mean(proxy_rank):.3f}**, through the true embedding it learns {np.mean(true_rank):.3f} "
          "(target ≥ 0.95)\n")
    print("| attribute | proxy | true |\n|---|---:|---:|")
    for attribute, p, t in zip(ATTRIBUTES, proxy_rank, true_rank):
        print(f"| {attribute.name} | {p:.3f} | {t:.3f} |")
    print(f"\nSpeed: **{proxy_rate:,.0f} candidates/s** through the proxy (batches of 8192, {PROXY_BLOCK} rows per "
          f"call and core, median of 5; the batch split in one shard per core: {unblocked_rate:,.0f}/s; one program "
          f"on one core: {one_core_rate:,.0f}/s) against {render_rate:,.0f}/s for render + "
          f"embed (batches of 64): {proxy_rate / render_rate:,.0f}× (target ≥ 100,000/s)")


# ----------------------------------------------------------------------------------------------
# Shared: targets, the independent distance
# ----------------------------------------------------------------------------------------------
def chime_target(settings):
    """A synthetic two-note chime (E6 then C6, bell-like partials, exponential decays; the second note starts at
    0.35 s; silent after 1.2 s), prepared as an upload would be."""
    from studio.audio.target import prepare_audio

    rate, n = settings.sample_rate, settings.num_samples
    t = np.arange(n) / rate
    audio = np.zeros(n)
    for start, f0 in ((0.0, 1318.5), (0.35, 1046.5)):
        u = t - start
        on = (u >= 0) & (t < 1.2)
        for ratio, amp, decay in ((1.0, 1.0, 4.0), (2.76, 0.4, 7.0), (5.40, 0.2, 11.0)):
            audio += np.where(on, amp * np.sin(2 * np.pi * f0 * ratio * u) * np.exp(-decay * u), 0.0)
    audio *= 0.5 / np.max(np.abs(audio))
    return prepare_audio(audio.astype(np.float32), rate, rate, n, source="two-note-chime.wav")


def whole_buffer_log_mel_distance(target_audio, audio, sample_rate: int) -> float:
    """Plain log-mel distance over the whole buffer: both sounds at the same RMS, 128-band log-mel frames (dBFS,
    floored at −80), RMS dB difference over every frame and band. Nothing is ignored: energy after the target
    ends counts as much as energy during it."""
    import jax.numpy as jnp

    from studio.audio.embedding import analysis_config, log_mel_frames

    t = np.asarray(target_audio, np.float32)
    a = np.asarray(audio, np.float32)
    a = a * (np.sqrt(np.mean(t ** 2)) / max(float(np.sqrt(np.mean(a ** 2))), 1e-4))
    frames = np.asarray(log_mel_frames(jnp.asarray(np.stack([t, a])), analysis_config(sample_rate)))
    return float(np.sqrt(np.mean((frames[0] - frames[1]) ** 2)))


# ----------------------------------------------------------------------------------------------
# 2-4. The inverse model, the matcher before/after, the independent distance
# ----------------------------------------------------------------------------------------------
def run_target(target, settings, schedules: dict, models, budget: str, seed: int) -> dict:
    from studio.search import run_to_end
    from studio.search.match import MatchObjective, match_losses, match_sound, spectral_convergence
    from studio.synth import render

    objective = MatchObjective(target, settings)
    row = {"name": target.source}
    for name, inverse in schedules.items():
        start = time.perf_counter()
        guess = models.__class__(models.proxy, inverse, settings).guess(target.audio)
        row[f"ms_{name}"] = 1000 * (time.perf_counter() - start)
        audio = np.asarray(render(guess, settings))
        row[f"guess_{name}"] = float(match_losses(objective.params, audio, settings.sample_rate)[0])
        row[f"sc_{name}"] = spectral_convergence(target.audio, audio)
    for label, learned in (("today", "off"), ("learned", models)):
        start = time.perf_counter()
        reports = match_sound(target, settings=settings, budget=budget, seed=seed, keep=1, learned=learned)
        first = next(reports)
        row[f"first_s_{label}"] = first.elapsed_s
        row[f"first_loss_{label}"] = first.best_loss
        final = run_to_end(reports) or first
        row[f"s_{label}"] = time.perf_counter() - start
        row[label] = final.best_loss
        row[f"theta_{label}"] = final.best_theta
        row["renders"] = final.evaluations
    row["random"], row["theta_random"] = random_search_losses(objective, row["renders"], seed=seed + 1_000_003)
    audio = np.asarray(render(np.stack([row["theta_today"], row["theta_learned"], row["theta_random"]]), settings))
    for k, label in enumerate(("today", "learned", "random")):
        row[f"sc_{label}"] = spectral_convergence(target.audio, audio[k])
        row[f"mel_{label}"] = whole_buffer_log_mel_distance(target.audio, audio[k], settings.sample_rate)
    return row


def inverse_table(title: str, rows: list[dict], schedules) -> None:
    print(f"\n### {title}: {len(rows)} targets; the matchers and random search spend {rows[0]['renders']} renders\n")
    print("| | renders | match loss, mean | median | spectral convergence, median | ms per guess, median |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in schedules:
        losses = [r[f"guess_{name}"] for r in rows]
        sc, ms = np.median([r[f"sc_{name}"] for r in rows]), np.median([r[f"ms_{name}"] for r in rows])
        print(f"| inverse model, {name} schedule (one-shot guess) | 1 | {np.mean(losses):.3f} | "
              f"{np.median(losses):.3f} | {sc:.3f} | {ms:.1f} |")
    for label, name in (("random", "random search"), ("today", "today's matcher"), ("learned", "learned matcher")):
        losses = [r[label] for r in rows]
        print(f"| {name} | {rows[0]['renders']} | {np.mean(losses):.3f} | {np.median(losses):.3f} | "
              f"{np.median([r[f'sc_{label}'] for r in rows]):.3f} | |")


def matcher_table(title: str, rows: list[dict]) -> None:
    today, learned, rand = (np.array([r[k] for r in rows]) for k in ("today", "learned", "random"))
    print(f"\n### {title}: {len(rows)} targets, {rows[0]['renders']} renders each\n")
    print("| measure | today's matcher | learned starts | random search |\n|---|---:|---:|---:|")
    print(f"| loss, mean | {today.mean():.3f} | **{learned.mean():.3f}** | {rand.mean():.3f} |")
    print(f"| mean loss ÷ random search's mean | {today.mean() / rand.mean():.2f} | "
          f"**{learned.mean() / rand.mean():.2f}** | 1 |")
    print(f"| per-target ratio to random, median | {np.median(today / rand):.2f} | {np.median(learned / rand):.2f} | |")
    print(f"| learned better than today | | {int(np.sum(learned < today))} of {len(rows)} | |")
    print(f"| first report (first batch judged): s, median | {np.median([r['first_s_today'] for r in rows]):.2f} | "
          f"{np.median([r['first_s_learned'] for r in rows]):.2f} | |")
    print(f"| its best loss, mean | {np.mean([r['first_loss_today'] for r in rows]):.3f} | "
          f"{np.mean([r['first_loss_learned'] for r in rows]):.3f} | |")
    print(f"| seconds per match, median | {np.median([r['s_today'] for r in rows]):.1f} | "
          f"{np.median([r['s_learned'] for r in rows]):.1f} | |")
    mel = {k: np.array([r[f"mel_{k}"] for r in rows]) for k in ("today", "learned", "random")}
    print(f"| whole-buffer log-mel distance (dB), mean | {mel['today'].mean():.2f} | {mel['learned'].mean():.2f} | "
          f"{mel['random'].mean():.2f} |")
    print(f"| … better than random search's | {int(np.sum(mel['today'] < mel['random']))} of {len(rows)} | "
          f"{int(np.sum(mel['learned'] < mel['random']))} of {len(rows)} | |")


def per_target(rows: list[dict]) -> None:
    print("\n| target | loss: today | learned | random | log-mel dB: today | learned | random |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['today']:.3f} | {r['learned']:.3f} | {r['random']:.3f} | {r['mel_today']:.2f} | "
              f"{r['mel_learned']:.2f} | {r['mel_random']:.2f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10, help="random-preset targets (default 10; the issue: 50)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the random presets (default 2026)")
    parser.add_argument("--budget", default="quick", help="the matchers' budget (default quick)")
    parser.add_argument("--skip-real", action="store_true", help="skip assets/targets and the chime")
    parser.add_argument("--only", nargs="*", choices=("proxy", "match"), help="some tables only")
    args = parser.parse_args(argv)

    from studio.synth.cpu import tune_cpu

    tune_cpu()
    from studio.learn.checkpoint import load_network
    from studio.learn.inverse import SCHEDULES
    from studio.learn.models import inverse_file, learned_models, models_dir
    from studio.synth import RenderSettings

    settings = RenderSettings()
    models, why = learned_models(settings)
    print(header())
    if models is None:
        print(why)
        return 1
    print(f"models: {models_dir()} — proxy {models.proxy_header['training']}, data {models.proxy_header['data']}")
    only = set(args.only or ("proxy", "match"))
    if "proxy" in only:
        proxy_table(models, settings)
    if "match" in only:
        schedules = {}
        for name in SCHEDULES:
            path = models_dir() / inverse_file(name)
            if path.is_file():
                schedules[name] = load_network(path, "inverse", settings)[0]
        print(f"\n## 2–4. Inverse model, matcher before/after, independent distance ({args.budget} budget)")
        sets = [(f"random-preset targets (seed {args.seed})",
                 [t for _, _, t in random_preset_targets(args.targets, args.seed, settings)])]
        if not args.skip_real:
            sets.append(("recordings (assets/targets) + the two-note chime",
                         [t for _, _, t in real_targets(settings)] + [chime_target(settings)]))
        run_target(sets[0][1][0], settings, schedules, models, args.budget, 0)  # warm-up: compile everything
        for title, targets in sets:
            rows = []
            for target in targets:
                rows.append(run_target(target, settings, schedules, models, args.budget, 0))
                print(f"  {target.source}: today {rows[-1]['today']:.3f}, learned {rows[-1]['learned']:.3f}, "
                      f"random {rows[-1]['random']:.3f}", file=sys.stderr, flush=True)
            inverse_table(title, rows, schedules)
            matcher_table(title, rows)
            per_target(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
