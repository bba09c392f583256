"""Linear vs perceptually even interpolation strips, by SPINVAE's measures on descriptor trajectories.

    .venv/bin/python bench/interpolation_smoothness.py                   # 64 random pairs of factory presets
    .venv/bin/python bench/interpolation_smoothness.py --sounds random   # 64 pairs of uniform-random θ
    .venv/bin/python bench/interpolation_smoothness.py --pairs 50 --steps 7 --seed 1

Pairs: random distinct pairs of the 18 factory presets (designed sounds, as SPINVAE's were Dexed presets), or of
uniform-random θ that peak above −40 dBFS; 48 kHz, 2 s; seed ``--seed``. For every pair, one strip per mode
(``studio.explore.interpolate``) and seven descriptors of every step (``studio.audio.descriptors``): level
(dB RMS), brightness (log2 spectral centroid), noisiness (log10 flatness), attack (s, 10 %→90 % of the peak),
temporal centroid (s), audible length (s) and pitch (log2 f0; left out of a pair's measures when any step of
either strip has no pitch). A second table replaces attack and audible length by the times at which 10 % and
90 % of the energy has arrived, which move continuously. Each descriptor is standardized over every step of
every strip (z-scores), then, per strip, after Le Vaillant & Dutoit (SPINVAE, 2023):

- smoothness = RMS over descriptors and inner steps of the second difference x[i−1] − 2·x[i] + x[i+1];
- non-linearity = RMS over descriptors and steps of the deviation from the straight line between the first and
  last step's descriptors.

Lower is better for both. Prints the means over pairs with 95 % intervals and the gain of even over linear
(SPINVAE gained 12.6 % smoothness over linear on Dexed: our target), and how equal each strip's neighbour
distances are as rendered (what the even mode is for).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import cpu_name  # noqa: E402
from voice_sweeps import random_audible_thetas  # noqa: E402

TARGET_GAIN = 0.126
QUALITIES = ("level", "brightness", "noisiness", "attack", "temporal centroid", "audible length", "pitch")


def energy_times(envelope_power: np.ndarray, hop_s: float, fractions=(0.1, 0.9)) -> np.ndarray:
    """When a share of a sound's energy has arrived: envelope power ``[S, N]`` → ``[S, len(fractions)]`` seconds.

    The cumulative energy rises continuously, so these times move continuously with the sound (unlike a
    10 %→90 % attack time, which jumps when another peak of a wobbling envelope becomes the maximum).
    """
    cumulative = np.cumsum(envelope_power, axis=-1)
    cumulative /= np.maximum(cumulative[:, -1:], 1e-30)
    times = (np.arange(envelope_power.shape[-1]) + 0.5) * hop_s
    return np.array([[np.interp(f, c, times) for f in fractions] for c in cumulative])


def strip_descriptors(audio: np.ndarray, sample_rate: int, kind: str = "threshold") -> np.ndarray:
    """Audio of a strip ``[S, T]`` → descriptor trajectories ``[S, 7]`` (raw units; pitch NaN where unpitched).

    threshold (as the Timbre Toolbox's attack and duration): level (dB RMS), brightness (log2 centroid),
    noisiness (log10 flatness), attack (s from 10 % to 90 % of the peak amplitude), temporal centroid (s),
    audible length (s within 40 dB of the loudest step), pitch (log2 f0).
    continuous: the same with onset (s until 10 % of the energy arrived) and end (90 %) for attack and audible
    length; those move continuously, while threshold times jump when a wobbling envelope's peak moves.
    """
    from studio.audio import sound_features

    d = sound_features(audio, sample_rate)
    power = 10.0 ** (np.asarray(d.envelope_db, np.float64) / 10.0)
    times = (np.arange(power.shape[-1]) + 0.5) * d.envelope_hop_s
    temporal_centroid = np.sum(power * times, -1) / np.maximum(np.sum(power, -1), 1e-30)
    onset, end = energy_times(power, d.envelope_hop_s).T
    if kind == "threshold":
        onset, end = np.nan_to_num(d.attack_s), d.audible_s
    return np.stack([20.0 * np.log10(np.maximum(d.rms, 1e-6)), np.log2(np.maximum(d.centroid_hz, 1.0)),
                     np.log10(np.maximum(d.flatness, 1e-6)), onset, temporal_centroid, end,
                     np.log2(d.f0_hz)], axis=-1)  # onset/end: attack/audible length for "threshold"


def smoothness(z: np.ndarray) -> float:
    """RMS of the second difference of standardized trajectories ``[S, K]`` (over steps 1 … S−2 and K)."""
    return float(np.sqrt(np.mean((z[:-2] - 2.0 * z[1:-1] + z[2:]) ** 2)))


def non_linearity(z: np.ndarray) -> float:
    """RMS deviation of trajectories ``[S, K]`` from the straight line between their first and last rows."""
    fraction = np.linspace(0.0, 1.0, z.shape[0])[:, None]
    line = (1.0 - fraction) * z[0] + fraction * z[-1]
    return float(np.sqrt(np.mean((z - line) ** 2)))


def factory_pairs(count: int, seed: int) -> np.ndarray:
    """``count`` distinct random pairs of factory presets (θ ``[count, 2, 78]``), drawn with ``seed``."""
    from itertools import combinations

    from studio.presets import factory_presets

    thetas = np.stack([p.theta for p in factory_presets()])
    pairs = np.array(list(combinations(range(len(thetas)), 2)))
    if count > len(pairs):
        raise SystemExit(f"only {len(pairs)} pairs of factory presets exist; ask for at most that many")
    chosen = pairs[np.random.default_rng(seed).choice(len(pairs), count, replace=False)]
    return thetas[chosen]


def measure_pairs(pairs: np.ndarray, steps: int, settings, kinds=("continuous", "threshold")) -> dict:
    """Strips for each pair ``[P, 2, 78]`` in both modes → {kind: {"linear"/"even": descriptors [P, S, 7]}}, plus
    "spread": {"linear"/"even": [P]}, how unequal each strip's rendered neighbour distances are (std / mean)."""
    from studio.explore import interpolate

    out = {kind: {"linear": [], "even": []} for kind in kinds}
    spread = {"linear": [], "even": []}  # coefficient of variation of the rendered neighbour distances
    for a, b in pairs:
        for mode in ("linear", "even"):
            strip = interpolate(a, b, steps, mode, settings=settings)
            spread[mode].append(strip.step_distances.std() / max(strip.step_distances.mean(), 1e-12))
            for kind in kinds:
                out[kind][mode].append(strip_descriptors(strip.audio, settings.sample_rate, kind))
    measured = {kind: {mode: np.stack(v) for mode, v in modes.items()} for kind, modes in out.items()}
    measured["spread"] = {mode: np.array(v) for mode, v in spread.items()}
    return measured


def spinvae_measures(trajectories: dict) -> dict:
    """Standardize descriptors over all strips, then smoothness and non-linearity per strip: {mode: [P, 2]}."""
    stacked = np.concatenate([trajectories["linear"], trajectories["even"]], axis=1)  # [P, 2S, K]
    flat = stacked.reshape(-1, stacked.shape[-1])
    mean, std = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
    results = {}
    for mode, x in trajectories.items():
        z = (x - mean) / np.where(std > 0, std, 1.0)
        rows = []
        for p in range(z.shape[0]):
            # a descriptor counts for a pair only where both strips define it at every step (pitch)
            usable = ~np.isnan(stacked[p]).any(axis=0)
            rows.append((smoothness(z[p][:, usable]), non_linearity(z[p][:, usable])))
        results[mode] = np.array(rows)
    return results


def print_measures(results: dict, title: str) -> float:
    """One table: both modes' means with 95 % intervals and the gain of even; returns the smoothness gain."""
    print(title)
    print("| mode | smoothness (RMS 2nd difference) | non-linearity (RMS from line) |")
    print("|---|---:|---:|")
    means = {}
    for mode, r in results.items():
        m, half = r.mean(axis=0), 1.96 * r.std(axis=0, ddof=1) / np.sqrt(len(r))
        means[mode] = m
        print(f"| {mode} | {m[0]:.3f} ± {half[0]:.3f} | {m[1]:.3f} ± {half[1]:.3f} |")
    gain = 1.0 - means["even"] / means["linear"]
    better = np.mean(results["even"][:, 0] < results["linear"][:, 0])
    print(f"| **gain of even over linear** | **{100 * gain[0]:.1f} %** | {100 * gain[1]:.1f} % |")
    print(f"(even is smoother on {100 * better:.0f} % of the pairs)\n")
    return float(gain[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=64, help="pairs (default 64; at least 50)")
    parser.add_argument("--steps", type=int, default=9, help="steps per strip (default 9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pairs (default 0)")
    parser.add_argument("--sounds", choices=("factory", "random"), default="factory",
                        help="pairs of factory presets (default) or of uniform-random θ")
    args = parser.parse_args(argv)
    from studio.synth import RenderSettings

    settings = RenderSettings()
    start = time.perf_counter()
    if args.sounds == "factory":
        pairs = factory_pairs(args.pairs, args.seed)
    else:
        pairs = random_audible_thetas(2 * args.pairs, args.seed, settings).reshape(args.pairs, 2, -1)
    measured = measure_pairs(pairs, args.steps, settings)
    head = (f"{args.pairs} random pairs of {'factory presets' if args.sounds == 'factory' else 'uniform-random θ'} "
            f"(seed {args.seed}), {args.steps} steps, 48 kHz / 2 s; {cpu_name()}")
    print(f"Interpolation smoothness: {head}\n")
    gain = print_measures(spinvae_measures(measured["threshold"]),
                          "Descriptors: level, brightness, noisiness, attack (10→90 % of the peak), temporal "
                          "centroid, audible length, pitch")
    continuous = print_measures(spinvae_measures(measured["continuous"]),
                                "The same with onset and end (10 % and 90 % of the energy arrived) for attack and "
                                "audible length")
    spread = measured["spread"]
    print("How equal the neighbours' perceptual distances are (rendered steps; std / mean per strip, lower is more "
          "even):")
    print("| mode | mean | median |\n|---|---:|---:|")
    for mode, cv in spread.items():
        print(f"| {mode} | {cv.mean():.3f} | {np.median(cv):.3f} |")
    print()
    verdict = "meets" if gain >= TARGET_GAIN else "misses"
    print(f"smoothness gain {100 * gain:.1f} % {verdict} the {100 * TARGET_GAIN:.1f} % target (SPINVAE on Dexed); "
          f"with onset/end times {100 * continuous:.1f} % ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
