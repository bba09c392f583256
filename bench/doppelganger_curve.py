"""How similar a doppelgänger sounds to its original as δ grows (thesis figure 12A, with our perceptual distance).

    .venv/bin/python bench/doppelganger_curve.py                  # 256 random sounds, δ ∈ {0.01, …, 0.5}
    .venv/bin/python bench/doppelganger_curve.py --sounds 64 --seed 1

Sounds: uniform-random θ whose renders peak above −40 dBFS (seed ``--seed``), 48 kHz, 2 s. Sound i gets one
doppelgänger per δ from seed i (``studio.explore.doppelgangers``), the same z for every δ, so the curve compares
like with like. Similarity = exp(−d) with d the perceptual distance (``studio.audio.embedding``: 1.0 = the median
distance between two random sounds, so similarity 0.37 = as different as two random sounds). Prints mean
distance, mean similarity with a 95 % interval, and whether the mean similarity falls monotonically in δ.
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

DELTAS = (0.01, 0.05, 0.1, 0.25, 0.5)


def doppelganger_distances(thetas: np.ndarray, deltas, settings) -> np.ndarray:
    """Perceptual distance of each sound's doppelgänger to it: θ ``[N, 78]`` → ``[len(deltas), N]``."""
    from studio.explore import doppelgangers, embed_sounds

    originals = embed_sounds(thetas, settings)
    out = np.empty((len(deltas), len(thetas)))
    for k, delta in enumerate(deltas):
        variants = np.concatenate([doppelgangers(theta, delta, count=1, seed=i) for i, theta in enumerate(thetas)])
        out[k] = np.linalg.norm(embed_sounds(variants, settings) - originals, axis=-1)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sounds", type=int, default=256, help="random sounds (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sounds (default 0)")
    args = parser.parse_args(argv)
    from studio.audio.embedding import perceptual_similarity
    from studio.synth import RenderSettings

    settings = RenderSettings()
    start = time.perf_counter()
    thetas = random_audible_thetas(args.sounds, args.seed, settings)
    distances = doppelganger_distances(thetas, DELTAS, settings)
    similarity = np.asarray(perceptual_similarity(distances))
    print(f"Doppelgänger similarity: {args.sounds} random audible sounds (seed {args.seed}), one doppelgänger each "
          f"per δ, similarity = exp(−d); 48 kHz / 2 s; {cpu_name()}")
    print("| δ | mean distance | median distance | mean similarity (95 % interval) |")
    print("|---:|---:|---:|---:|")
    means = similarity.mean(axis=1)
    for k, delta in enumerate(DELTAS):
        half = 1.96 * similarity[k].std(ddof=1) / np.sqrt(similarity.shape[1])
        print(f"| {delta} | {distances[k].mean():.3f} | {np.median(distances[k]):.3f} | "
              f"{means[k]:.3f} ({means[k] - half:.3f}–{means[k] + half:.3f}) |")
    falling = bool(np.all(np.diff(means) < 0))
    print(f"\nmean similarity falls monotonically as δ grows: {'yes' if falling else 'NO'} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0 if falling else 1


if __name__ == "__main__":
    sys.exit(main())
