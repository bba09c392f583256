"""The ranking test for perceptual embeddings (after Combes et al. 2025), on sweeps of the Voice.

    .venv/bin/python bench/embedding_ranking.py                  # every candidate, 10 base sounds, seed 0
    .venv/bin/python bench/embedding_ranking.py --bases 10 --seed 1 --candidates mel128 mel128+cdf
    .venv/bin/python bench/embedding_ranking.py --calibrate      # the scales in studio/audio/embedding.py
    .venv/bin/python bench/embedding_ranking.py --clap DIR       # add CLAP from a local checkpoint folder

13 attributes × ``--bases`` base sounds × 20 monotonic steps (``voice_sweeps.py``), 48 kHz, 2 s. For each sweep
the steps are ranked by distance to the first and to the last step; Spearman's ρ against the true order,
averaged over both ends and the sweeps (````ranking_scores`` below``). Prints one row per attribute,
one column per candidate, the means, and the winner against the 0.95 target. Published anchors on another synth
(Combes et al.): mel128 0.921, MFCC40 0.913, mSTFT 0.880, CLAP 0.953, EfficientAT mn20+mel 0.976.

The candidates and the scoring live here; the winner, ``studio.audio.embedding.perceptual_embedding``, is built
from the same blocks (its ``timbre`` block is the table's ``desc``).

Why this embedding (the ranking test, ``bench/embedding_ranking.py``)
---------------------------------------------------------------------
After Combes et al. (2025): 13 attributes of the Voice (attack, decay, sustain, release, square→saw shape,
oscillator balance, noise level, vibrato depth and rate, tremolo depth and rate, pitch-envelope amount, pitch)
× 10 base sounds × 20 monotonic steps (``voice_sweeps.py``). For each sweep the steps are ranked by their
distance to the first step and to the last step; Spearman's ρ against the true order, averaged over both ends,
the sweeps and the attributes. Candidates, all built here from one log-mel / STFT front end (48 kHz, 2 s):

==============================  ======  ======  ==================================================
candidate                       seed 0  seed 1  weakest attribute (seed 0)
==============================  ======  ======  ==================================================
``mel128`` averaged log-mel     0.989   0.987   pitch 0.872: bin-wise distances stop growing once
                                                the partials no longer overlap
``mfcc40`` averaged MFCC        0.991   0.986   pitch 0.921
``mstft`` multi-resolution      0.884           vibrato rate 0.468, tremolo rate 0.475: frame-by-
STFT, time-resolved                             frame distances compare LFO phases, not rates
``mel128-frames``               0.880           vibrato rate 0.148: the same
``descriptors`` (7 numbers)     0.917           decay 0.697, oscillator balance 0.722
``mel128+cdf``                  0.997   0.993   pitch 0.971
**mel128+cdf+desc** (chosen)    0.995   0.993   osc balance 0.973 (seed 1: pitch 0.961)
``mel128+cdf+desc+time``        0.949           tremolo rate 0.526, decay 0.872
``mel128+cdf+desc+envelope``    0.943           tremolo rate 0.393
==============================  ======  ======  ==================================================

Published anchors on another synth (Combes et al.): mel128 0.921, MFCC40 0.913, mSTFT 0.880, CLAP 0.953,
EfficientAT mn20+mel 0.976. Our sweeps are audible by construction, so absolute values run higher; the shared
candidates keep their order (mSTFT last). CLAP joins the table with ``--clap DIR`` when real weights are at hand.

The chosen embedding joins three blocks of equal weight:

1. ``mel128``: the time-averaged 128-band log-mel spectrum (dBFS, floored at −80): what the sound is on average.
2. ``cdf``: its **cumulative mel spectrum**, the time-averaged mel power normalized to a distribution over the
   mel axis and summed up. The L2 distance between two cumulative distributions (the Cramér distance) keeps
   growing as energy moves further along the axis, where bin-wise differences stop growing once the peaks no
   longer overlap: pitch rises from 0.872 to 0.97.
3. ``desc`` (the embedding's ``timbre`` block): level (dB RMS), brightness (spectral centroid, octaves) and
   noisiness (flatness, decades):
   interpretable numbers that also let a readout say *what* changed.

Means within 0.005 of each other are one result (the two seeds move them by that much), so among the best
(``mel128+cdf``, ``mel128+cdf+desc``) the rule picks the one whose weakest attribute is best, on both seeds:
the descriptor block. Every time-resolved block we tried (frames, multi-resolution STFT, a 10 ms level
envelope, energy-arrival times) lowered the LFO-rate scores, because distances between two modulations of
different rates saturate frame by frame; time still enters through the averages (a slow attack or a short note
lowers every band's average level). Each block's scale comes from ``--calibrate`` (see
``BLOCK_SCALES`` there), so the median distance between two random audible Voice sounds is 1.0.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import cpu_name  # noqa: E402
from voice_sweeps import ATTRIBUTES, STEPS, attribute_sweeps, random_audible_thetas, render_sweeps  # noqa: E402

from studio.audio.embedding import (  # noqa: E402
    BLOCK_SCALES,
    FLOOR_DB,
    REFERENCE_RATE,
    WINNER,
    WINNER_BLOCKS,
    AnalysisConfig,
    analysis_config,
    embedding_blocks,
    join_blocks,
    level_envelope_frames,
    log_mel_frames,
    perceptual_distance,
    rms_block,
    time_averaged_log_mel,
)
from studio.audio.frontend import envelope_hop, envelope_power, power_spectrogram, power_to_db  # noqa: E402

TARGET = 0.95
TIE = 0.005  # mean ρ differences below this are within the spread between seeds
ANCHORS = {"mel128": 0.921, "mfcc40": 0.913, "mstft": 0.880, "clap": 0.953}


def power_to_db_floored(power, floor_db: float):
    """Power → dB re full scale, floored at ``floor_db``."""
    return power_to_db(power, 10.0 ** (floor_db / 10.0))


# ----------------------------------------------------------------------------------------------
# Candidates
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix ``[n_in, n_out]`` float32 (x @ D gives the first n_out coefficients)."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    matrix = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    matrix[:, 0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


def time_averaged_mfcc(audio, config: AnalysisConfig, n_mfcc: int = 40):
    """Mel-frequency cepstral coefficients of each frame, averaged over time: ``[B, T]`` → ``[B, n_mfcc]`` (dB)."""
    return jnp.mean(log_mel_frames(audio, config) @ dct_matrix(config.n_mels, n_mfcc), axis=1)


def energy_arrival_times(audio, sample_rate: int, floor_db: float = FLOOR_DB, hop_s: float = 0.005):
    """When a sound's energy arrives: audio ``[B, T]`` → ``[B, 3]`` seconds: onset (10 % of the energy has
    arrived), temporal centroid (energy-weighted mean time), end (90 % has arrived).

    Read from the cumulative energy of the 5 ms level envelope, which rises continuously, so the times move
    continuously with the sound (a 10 %→90 %-of-peak attack time jumps when another bump becomes the peak).
    Every step also holds the floor level's energy, so silence reads as energy spread evenly over the buffer.
    """
    power = envelope_power(audio, envelope_hop(sample_rate, hop_s)) + 10.0 ** (floor_db / 10.0)  # [B, N]
    hop = envelope_hop(sample_rate, hop_s) / sample_rate
    ends = jnp.arange(1, power.shape[-1] + 1) * hop  # the cumulative sum after step n covers up to (n + 1)·hop
    cumulative = jnp.cumsum(power, axis=-1)
    cumulative = jnp.concatenate([jnp.zeros_like(cumulative[:, :1]), cumulative / cumulative[:, -1:]], axis=-1)
    grid = jnp.concatenate([jnp.zeros(1), ends])
    crossing = jax.vmap(lambda c: jnp.interp(jnp.array([0.1, 0.9]), c, grid))(cumulative)  # [B, 2]
    centroid = jnp.sum(power * (ends - hop / 2.0), axis=-1) / jnp.sum(power, axis=-1)
    return jnp.stack([crossing[:, 0], centroid, crossing[:, 1]], axis=-1)


def temporal_block(audio, sample_rate: int):
    """:func:`energy_arrival_times` in octaves of time, ``log2(t + 20 ms)`` ``[B, 3]``: 10 → 30 ms counts
    like 0.5 → 1 s, as a listener's sense of durations is roughly proportional."""
    return jnp.log2(energy_arrival_times(audio, sample_rate) + 0.02)


MSTFT_SIZES_48K = (512, 1024, 2048)  # 10.7, 21.3, 42.7 ms windows


def multi_resolution_log_spectra(audio, sample_rate: int) -> list:
    """Log power spectrograms at three resolutions (10.7, 21.3, 42.7 ms windows, hop a quarter):
    audio ``[B, T]`` → list of ``[B, F_k, n_k // 2 + 1]`` in dBFS (floored)."""
    scale = sample_rate / REFERENCE_RATE
    sizes = [2 ** int(round(math.log2(n * scale))) for n in MSTFT_SIZES_48K]
    return [power_to_db_floored(power_spectrogram(audio, n, n // 4), FLOOR_DB) for n in sizes]


@dataclass(frozen=True)
class Candidate:
    """An embedding under test: ``embed(audio [B, T], sample_rate) → [B, D]``; its distance is Euclidean."""

    name: str
    description: str
    embed: Callable


@partial(jax.jit, static_argnums=1)
def _mel128(audio, sample_rate: int):
    return time_averaged_log_mel(audio, analysis_config(sample_rate))


@partial(jax.jit, static_argnums=1)
def _mfcc40(audio, sample_rate: int):
    return time_averaged_mfcc(audio, analysis_config(sample_rate))


@partial(jax.jit, static_argnums=1)
def _mel128_frames(audio, sample_rate: int):
    return rms_block(log_mel_frames(audio, analysis_config(sample_rate)))


@partial(jax.jit, static_argnums=1)
def _mstft(audio, sample_rate: int):
    return jnp.concatenate([rms_block(s) for s in multi_resolution_log_spectra(audio, sample_rate)], axis=-1)


def _descriptor_vector(audio, sample_rate: int):
    """Interpretable descriptors per sound ``[B, 7]``, each divided by a typical spread so units are comparable:
    level (dB / 10), brightness (centroid, octaves), noisiness (flatness / 0.1), pitch (f0 in octaves; a pitchless
    sound sits 2 octaves below 20 Hz), attack (s / 0.1), audible length (s / 0.5), temporal centroid (s / 0.25)."""
    from studio.audio.features import sound_features  # numpy results (YIN has data-dependent NaNs)

    d = sound_features(audio, sample_rate)
    level_db = 20.0 * np.log10(np.maximum(d.rms, 1e-4))
    octaves = lambda hz: np.log2(np.maximum(np.nan_to_num(hz, nan=5.0), 5.0) / 440.0)  # noqa: E731
    power = 10.0 ** (np.asarray(d.envelope_db) / 10.0)
    times = (np.arange(power.shape[-1]) + 0.5) * d.envelope_hop_s
    temporal_centroid = np.sum(power * times, -1) / np.maximum(np.sum(power, -1), 1e-12)
    columns = [level_db / 10.0, octaves(d.centroid_hz), np.nan_to_num(d.flatness) / 0.1, octaves(d.f0_hz),
               np.nan_to_num(d.attack_s) / 0.1, d.audible_s / 0.5, temporal_centroid / 0.25]
    return jnp.asarray(np.stack(columns, axis=-1).astype(np.float32))


# Scales of the blocks outside the winner, calibrated like the winner's (``--calibrate``).
EXTRA_SCALES = {"temporal": 1.963, "envelope": 30.4}


def candidate_blocks(audio, sample_rate: int, names) -> dict:
    """The named feature blocks of a batch ``[B, T]``: the winner's and the candidates' ``temporal`` and
    ``envelope`` → {name: [B, D_k]} (unscaled)."""
    extra = {"temporal": lambda: temporal_block(audio, sample_rate),
             "envelope": lambda: level_envelope_frames(audio, sample_rate)}
    winners = embedding_blocks(audio, sample_rate, [n for n in names if n not in extra])
    return {n: winners[n] if n in winners else extra[n]() for n in names}


@partial(jax.jit, static_argnums=(1, 2))
def _joined(audio, sample_rate: int, names: tuple):
    return join_blocks(candidate_blocks(audio, sample_rate, names), {**BLOCK_SCALES, **EXTRA_SCALES})


def _joined_candidate(*names: str) -> Callable:
    return lambda audio, sample_rate: _joined(audio, int(sample_rate), names)


CANDIDATES: dict[str, Candidate] = {c.name: c for c in (
    Candidate("mel128", "time-averaged 128-band log-mel (dB)", _mel128),
    Candidate("mfcc40", "time-averaged 40 MFCCs of the 128-band log-mel", _mfcc40),
    Candidate("mstft", "multi-resolution log STFT (10.7/21.3/42.7 ms), time-resolved", _mstft),
    Candidate("mel128-frames", "time-resolved 128-band log-mel (10.7 ms hop)", _mel128_frames),
    Candidate("descriptors", "level, centroid, flatness, f0, attack, audible length, temporal centroid",
              _descriptor_vector),
    Candidate("mel128+cdf", "time-averaged log-mel + cumulative mel spectrum (Cramér)",
              _joined_candidate("mel128", "cdf")),
    Candidate("mel128+cdf+desc", "time-averaged log-mel + cumulative mel spectrum + level, brightness, noisiness",
              _joined_candidate("mel128", "cdf", "timbre")),
    Candidate("mel128+cdf+desc+time", "mel128+cdf+desc + onset, temporal centroid and end (energy-arrival times)",
              _joined_candidate("mel128", "cdf", "timbre", "temporal")),
    Candidate("mel128+cdf+desc+envelope", "mel128+cdf+desc + a time-resolved 10 ms level envelope",
              _joined_candidate("mel128", "cdf", "timbre", "envelope")),
)}
def average_ranks(values) -> np.ndarray:
    """Ranks 0 … n−1 of ``values [n]``, ties sharing the mean of their ranks (float64)."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, np.float64)
    ranks[order] = np.arange(values.size)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman_rho(x, y) -> float:
    """Spearman's rank correlation of two ``[n]`` sequences (ties averaged); NaN when either is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt(float(np.sum(rx ** 2) * np.sum(ry ** 2)))
    return float(np.sum(rx * ry) / denominator) if denominator > 0 else float("nan")


def sweep_ranking_rho(embeddings, distance: Callable = perceptual_distance) -> float:
    """How well distances order one monotonic sweep: embeddings ``[N, D]`` of steps 0 … N−1 → ρ in [−1, 1].

    The mean of Spearman's ρ between (distance of each step to step 0) and the step index, and between
    (distance to step N−1) and the reversed index. 1 means distances grow strictly with the number of steps
    apart, from both ends. A sweep whose distances are all equal scores NaN (no information).
    """
    e = jnp.asarray(embeddings)
    if e.ndim != 2 or e.shape[0] < 3:
        raise ValueError(f"a sweep needs embeddings [N ≥ 3, D], got {list(e.shape)}")
    steps = np.arange(e.shape[0])
    from_first = np.asarray(distance(e, e[0]))
    from_last = np.asarray(distance(e, e[-1]))
    return 0.5 * (spearman_rho(from_first, steps) + spearman_rho(from_last, -steps))


def ranking_scores(embeddings, distance: Callable = perceptual_distance) -> np.ndarray:
    """ρ of each sweep: embeddings ``[S, N, D]`` (S sweeps of N steps) → ``[S]`` (see :func:`sweep_ranking_rho`)."""
    e = jnp.asarray(embeddings)
    if e.ndim != 3:
        raise ValueError(f"expected embeddings [sweeps, steps, dim], got {list(e.shape)}")
    return np.array([sweep_ranking_rho(e[s], distance) for s in range(e.shape[0])])



# ----------------------------------------------------------------------------------------------
# The test
# ----------------------------------------------------------------------------------------------
def clap_candidate(folder: Path):
    """A CLAP audio-embedding candidate from a local ``transformers`` checkpoint (cosine distance), or None.

    Real weights only: without a checkpoint folder there is no CLAP column (random weights say nothing).
    """
    if not folder.is_dir():
        print(f"CLAP skipped: {folder} is not a checkpoint folder", file=sys.stderr)
        return None
    import torch
    from transformers import ClapFeatureExtractor, ClapModel

    model = ClapModel.from_pretrained(str(folder)).eval()
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")

    def embed(audio, sample_rate):
        inputs = extractor(list(np.asarray(audio)), sampling_rate=sample_rate, return_tensors="pt")
        with torch.no_grad():
            e = model.get_audio_features(**inputs)
        e = torch.nn.functional.normalize(e, dim=-1).numpy()
        return jnp.asarray(e)  # unit vectors: Euclidean distance is monotonic in cosine distance

    return Candidate("clap", f"LAION-CLAP audio embedding ({folder.name})", embed)


def rank_candidates(candidates, bases: int, seed: int, sample_rate: int = 48_000) -> dict[str, np.ndarray]:
    """ρ per attribute for each candidate: {name: [len(ATTRIBUTES)]} (mean over the sweeps)."""
    from studio.synth import RenderSettings

    settings = RenderSettings(sample_rate=sample_rate)
    scores = {c.name: np.zeros(len(ATTRIBUTES)) for c in candidates}
    for a, attribute in enumerate(ATTRIBUTES):
        audio = render_sweeps(attribute_sweeps(attribute, bases, seed), settings)  # [S, STEPS, T]
        for c in candidates:
            # one sweep at a time: the time-resolved candidates are ~0.6 M numbers per sound
            embeddings = np.stack([np.asarray(c.embed(audio[s], sample_rate)) for s in range(bases)])
            scores[c.name][a] = np.nanmean(ranking_scores(embeddings))
        print(f"  {attribute.name} done", file=sys.stderr, flush=True)
    return scores


def print_table(scores: dict[str, np.ndarray], bases: int, seed: int) -> str:
    """Print the per-attribute table and the verdict; return the winner's name."""
    names = list(scores)
    print(f"\nRanking test: {len(ATTRIBUTES)} attributes × {bases} base sounds × {STEPS} steps, seed {seed}, "
          f"48 kHz / 2 s; {cpu_name()}")
    print(f"| attribute | {' | '.join(names)} |")
    print(f"|---|{'---:|' * len(names)}")
    for a, attribute in enumerate(ATTRIBUTES):
        print(f"| {attribute.name} | " + " | ".join(f"{scores[n][a]:.3f}" for n in names) + " |")
    means = {n: float(np.mean(scores[n])) for n in names}
    print("| **mean** | " + " | ".join(f"**{means[n]:.3f}**" for n in names) + " |")
    print("| lowest | " + " | ".join(f"{np.min(scores[n]):.3f}" for n in names) + " |")
    print("| published anchor | " + " | ".join(f"{ANCHORS[n]:.3f}" if n in ANCHORS else "" for n in names) + " |")
    # Means within TIE of the best are one result (seed 0 and seed 1 move them by ~0.004): among those, the
    # candidate whose worst attribute is best, since the studio's distance must not fail any attribute.
    best = max(means.values())
    contenders = [n for n in names if means[n] >= best - TIE]
    winner = max(contenders, key=lambda n: (np.min(scores[n]), means[n]))
    verdict = "meets" if means[winner] >= TARGET else "misses"
    print(f"\nwinner: {winner} (mean ρ {means[winner]:.3f}, lowest attribute {np.min(scores[winner]):.3f}; "
          f"the most robust of the means within {TIE} of the best: {', '.join(contenders)}); "
          f"{verdict} the {TARGET} target")
    if WINNER in names and WINNER != winner:
        print(f"note: studio.audio.embedding uses {WINNER}, not this run's winner")
    return winner


def calibrate(count: int = 256, seed: int = 2025) -> None:
    """Print ``BLOCK_SCALES`` for ``studio/audio/embedding.py`` (and ``EXTRA_SCALES`` here) from random sounds.

    Each block (RMS-normalized) is first divided by its own median pairwise distance; then every scale is
    multiplied by the median distance of the joined winner (mel128 + cdf + timbre), so that the median
    random pair ends up exactly 1.0 apart. The envelope block (not in the winner) gets the same treatment.
    """
    from studio.synth import RenderSettings, render

    settings = RenderSettings()
    thetas = random_audible_thetas(count, seed, settings)
    audio = jnp.asarray(np.asarray(render(thetas, settings)))
    names = ("mel128", "cdf", "timbre", "temporal", "envelope")
    blocks = {k: np.asarray(v, np.float64).reshape(count, -1)
              for k, v in candidate_blocks(audio, settings.sample_rate, names).items()}
    upper = np.triu_indices(count, 1)
    rms = {k: np.sqrt(np.mean((x[:, None] - x[None]) ** 2, axis=-1))[upper] for k, x in blocks.items()}
    medians = {k: float(np.median(d)) for k, d in rms.items()}
    joined = np.sqrt(sum(rms[k] ** 2 / medians[k] ** 2 for k in WINNER_BLOCKS))
    overall = float(np.median(joined))
    print(f"{count} random audible sounds (seed {seed}); median pairwise RMS distance per block: "
          + ", ".join(f"{k} {v:.4g}" for k, v in medians.items()) + f"; joined winner {overall:.4g}")
    print("BLOCK_SCALES + EXTRA_SCALES = {" + ", ".join(f'"{k}": {medians[k] * overall:.4g}' for k in names) + "}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bases", type=int, default=10, help="base sounds per attribute (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the base sounds (default 0)")
    parser.add_argument("--candidates", nargs="+", help="candidate names (default: all)")
    parser.add_argument("--clap", type=Path, metavar="DIR", help="a local CLAP checkpoint folder (transformers)")
    parser.add_argument("--calibrate", action="store_true", help="print the embedding's block scales and exit")
    args = parser.parse_args(argv)
    if args.calibrate:
        calibrate()
        return 0
    unknown = set(args.candidates or ()) - set(CANDIDATES)
    if unknown:
        parser.error(f"unknown candidates {sorted(unknown)}; known: {', '.join(CANDIDATES)}")
    candidates = [CANDIDATES[n] for n in (args.candidates or CANDIDATES)]
    if args.clap is not None:
        clap = clap_candidate(args.clap)
        candidates += [clap] if clap else []
    else:
        print("CLAP: no checkpoint given (--clap DIR); weights cannot be downloaded here, so no CLAP column",
              file=sys.stderr)
    start = time.perf_counter()
    scores = rank_candidates(candidates, args.bases, args.seed)
    print_table(scores, args.bases, args.seed)
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
