"""A perceptual embedding of sounds, the distance the explore tools use, and the match loss's features (pure JAX).

``perceptual_embedding(audio)`` maps each sound ``[T]`` to a vector; ``perceptual_distance(a, b)`` is the
Euclidean distance between two such vectors. The unit is calibrated: the median distance between two random
audible Voice sounds is 1.0 (``bench/embedding_ranking.py --calibrate``), so 0.1 is a small change and 1 is
"as different as two sounds picked at random". The map, the perceptually even interpolation strips, the
variation readouts and the match loss (:func:`loss_features`) all use it.

The embedding (``mel128+cdf+desc``) won the ranking test of ``bench/embedding_ranking.py`` (after Combes et al.
2025: Spearman's ρ of distances along monotonic sweeps of 13 Voice attributes; the candidates, the table of
results and the reasons for the choice are in that file's docstring). It joins three blocks of equal weight:

1. ``mel128``: the time-averaged 128-band log-mel spectrum (dBFS, floored at −80): what the sound is on average.
2. ``cdf``: its **cumulative mel spectrum**, the time-averaged mel power normalized to a distribution over the
   mel axis and summed up. The L2 distance between two cumulative distributions (the Cramér distance) keeps
   growing as energy moves further along the axis, where bin-wise differences stop growing once the peaks no
   longer overlap.
3. ``timbre``: level (dB RMS), brightness (spectral centroid, octaves) and noisiness (flatness, decades):
   interpretable numbers that also let a readout say *what* changed (:func:`timbre_summary`).

Each block's scale comes from ``bench/embedding_ranking.py --calibrate`` (see ``BLOCK_SCALES``), so the median
distance between two random audible Voice sounds is 1.0. Spectra come from :mod:`.frontend`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from studio.errors import SettingsError

from .frontend import (as_batch, bin_frequencies, energy_weighted_mean, envelope_hop, envelope_power, mel_filterbank,
                       power_spectrogram, power_to_db, spectral_centroid, spectral_flatness)

FLOOR_DB = -80.0  # levels below −80 dBFS count as silence: quieter detail would only add noise to distances
REFERENCE_RATE = 48_000  # the rate the block scales were calibrated at (the studio's default)


# ----------------------------------------------------------------------------------------------
# Analysis settings
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisConfig:
    """STFT and mel settings for the embedding at one sample rate.

    ``n_fft`` is the power of two closest to 42.7 ms (2048 points at 48 kHz), ``hop`` a quarter of it; 128
    mel bands from 0 Hz to Nyquist; levels floored at ``floor_db`` dBFS.
    """

    sample_rate: int
    n_fft: int
    hop: int
    n_mels: int = 128
    floor_db: float = FLOOR_DB


@lru_cache(maxsize=16)
def analysis_config(sample_rate: int) -> AnalysisConfig:
    """The embedding's analysis settings for audio at ``sample_rate`` Hz (8 kHz … 192 kHz)."""
    if not isinstance(sample_rate, (int, np.integer)) or not 8_000 <= sample_rate <= 192_000:
        raise SettingsError(f"sample_rate must be an integer from 8000 to 192000 Hz, got {sample_rate!r}",
                            "sample_rate")
    n_fft = 2 ** int(round(math.log2(2048 * sample_rate / REFERENCE_RATE)))
    return AnalysisConfig(int(sample_rate), n_fft, n_fft // 4)


def _db(power, floor_db: float):
    """Power → dB re full scale, floored at ``floor_db``."""
    return power_to_db(power, 10.0 ** (floor_db / 10.0))


# ----------------------------------------------------------------------------------------------
# Feature blocks: audio [B, T] → features. All pure and traceable; the public wrappers jit them.
# ----------------------------------------------------------------------------------------------
def mel_power_frames(audio, config: AnalysisConfig):
    """Audio ``[B, T]`` → mel-band power ``[B, F, n_mels]`` (linear, 1 = a full-scale sine), F = 1 + T // hop."""
    filters = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, 0.0, config.sample_rate / 2.0)
    return power_spectrogram(audio, config.n_fft, config.hop) @ filters


def log_mel_frames(audio, config: AnalysisConfig):
    """Time-resolved log-mel spectrogram: audio ``[B, T]`` → ``[B, F, n_mels]`` in dBFS (floored)."""
    return _db(mel_power_frames(audio, config), config.floor_db)


def time_averaged_log_mel(audio, config: AnalysisConfig):
    """The average log-mel spectrum over the whole buffer: audio ``[B, T]`` → ``[B, n_mels]`` in dBFS."""
    return jnp.mean(log_mel_frames(audio, config), axis=1)


def cumulative_mel_spectrum(audio, config: AnalysisConfig):
    """Where a sound's energy lies along the mel axis: ``[B, T]`` → ``[B, n_mels]``, rising from ~0 to 1.

    The time-averaged mel power plus the floor level in every band (so silence reads as a flat floor, not as
    0/0), normalized to sum to 1, then summed cumulatively. L2 distances between these are Cramér distances.
    """
    return _cumulative(jnp.mean(mel_power_frames(audio, config), axis=1) + 10.0 ** (config.floor_db / 10.0))


def _cumulative(power):
    """Band powers ``[B, M]`` → their cumulative distribution ``[B, M]``."""
    return jnp.cumsum(power / jnp.sum(power, axis=-1, keepdims=True), axis=-1)


def timbre_summary(audio, config: AnalysisConfig):
    """Three interpretable numbers per sound: audio ``[B, T]`` → ``[B, 3]``.

    0. level: RMS over the whole buffer in dBFS (floored at ``floor_db``);
    1. brightness: spectral centroid in octaves re 1 kHz (log2(c / 1000 Hz));
    2. noisiness: spectral flatness in decades (log10, from −8 for a pure tone to 0 for white noise).
    Centroid (magnitude-weighted) and flatness are per frame, averaged over frames weighted by their energy.
    For flatness, bins more than ``−floor_db`` dB below their frame's peak count as that far below (a fixed
    dynamic range, so it does not depend on the level). Silence reads as flat (centroid mid-band, flatness 0).
    """
    return _timbre_from_power(power_spectrogram(audio, config.n_fft, config.hop), audio, config)


def _timbre_from_power(power, audio, config: AnalysisConfig):
    """:func:`timbre_summary` from a power spectrogram ``[B, F, K]`` at ``config``'s FFT size and the audio
    ``[B, T]`` (for the level) → ``[B, 3]``."""
    power = power + 1e-30  # silence is flat
    centroid = spectral_centroid(power, bin_frequencies(power.shape[-1], config.sample_rate, config.n_fft), 0.0)
    floored = jnp.maximum(power, jnp.max(power, axis=-1, keepdims=True) * 10.0 ** (config.floor_db / 10.0))
    flatness = spectral_flatness(floored, 0.0)
    energy = jnp.sum(power, axis=-1)
    level = _db(jnp.mean(audio ** 2, axis=-1), config.floor_db)
    return jnp.stack([level, jnp.log2(energy_weighted_mean(centroid, energy) / 1000.0),
                      jnp.log10(energy_weighted_mean(flatness, energy))], axis=-1)


def timbre_block(audio, config: AnalysisConfig):
    """:func:`timbre_summary` in comparable units ``[B, 3]``: level / 10 dB, brightness in octaves, noisiness in
    decades (so 10 dB of level counts as much as an octave of brightness)."""
    return _timbre_units(timbre_summary(audio, config))


def _timbre_units(summary):
    return summary / jnp.array([10.0, 1.0, 1.0], summary.dtype)


def level_envelope_frames(audio, sample_rate: int, hop_s: float = 0.01):
    """Short-time level in dBFS every ``hop_s`` seconds (3-step windows): ``[B, T]`` → ``[B, N]`` (floored at
    ``FLOOR_DB``), ``N = ceil(T / hop)``."""
    return _db(envelope_power(audio, envelope_hop(sample_rate, hop_s)), FLOOR_DB)


def rms_block(x):
    """Flatten a block ``[B, ...]`` to ``[B, D]`` scaled by 1/√D, so its L2 distance is an RMS difference."""
    flat = x.reshape(x.shape[0], -1)
    return flat / math.sqrt(flat.shape[1])


# ----------------------------------------------------------------------------------------------
# The embedding
# ----------------------------------------------------------------------------------------------
# Each block is divided by its median pairwise RMS distance over random audible Voice sounds, then all by the
# median distance of the joined embedding, so the blocks weigh the same and the median random pair is exactly 1.0
# apart (calibrated at 48 kHz, 2 s with ``bench/embedding_ranking.py --calibrate``: 256 uniform-random θ that peak
# above −40 dBFS, seed 2025).
BLOCK_SCALES = {"mel128": 33.88, "cdf": 0.6828, "timbre": 2.256}
WINNER = "mel128+cdf+desc"  # the ranking test's name for this embedding (bench/embedding_ranking.py)
WINNER_BLOCKS = ("mel128", "cdf", "timbre")
EMBEDDING_DIM = 259  # 128 averaged mel levels + 128 cumulative mel values + 3 timbre numbers


def embedding_blocks(audio, sample_rate: int, names=WINNER_BLOCKS) -> dict:
    """The named blocks of a batch ``[B, T]`` (of ``WINNER_BLOCKS``): {name: [B, D_k]} (unscaled)."""
    config = analysis_config(sample_rate)
    makers = {"mel128": lambda: time_averaged_log_mel(audio, config),
              "cdf": lambda: cumulative_mel_spectrum(audio, config),
              "timbre": lambda: timbre_block(audio, config)}
    return {name: makers[name]() for name in names}


def join_blocks(blocks: dict, scales: dict = BLOCK_SCALES):
    """Concatenate blocks ``{name: [B, D_k]}``, each RMS-normalized (:func:`rms_block`) and divided by its
    calibrated scale → ``[B, ΣD_k]``."""
    return jnp.concatenate([rms_block(x) / scales[name] for name, x in blocks.items()], axis=-1)


@partial(jax.jit, static_argnums=1)
def _embedding(audio, sample_rate: int):
    return join_blocks(embedding_blocks(audio, sample_rate))


def perceptual_embedding(audio, sample_rate: int = 48_000):
    """The studio's perceptual embedding (``mel128+cdf+desc``, see the module docstring).

    audio: float32 ``[B, T]`` (or ``[T]``) at ``sample_rate`` Hz. Returns a JAX array ``[B, 259]`` (or ``[259]``):
    128 averaged mel levels, 128 cumulative mel values, level/brightness/noisiness (timbre), each block scaled.
    Distances between embeddings are meaningful for sounds analysed at the same sample rate; the sound length
    may differ (everything is averaged over time).
    """
    batch, single = as_batch(audio)
    out = _embedding(batch, int(analysis_config(sample_rate).sample_rate))
    return out[0] if single else out


def perceptual_distance(a, b):
    """Distance between embeddings ``[..., D]`` (broadcasting) → ``[...]``; 1.0 = the median random pair.

    Pairwise distances of a set: ``perceptual_distance(e[:, None], e[None, :])`` → ``[N, N]``.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"embeddings differ in size: {a.shape[-1]} and {b.shape[-1]}")
    return jnp.sqrt(jnp.sum((a - b) ** 2, axis=-1))


def perceptual_similarity(distance):
    """Similarity in (0, 1] from a perceptual distance: ``exp(−d)``.

    1 for identical sounds, 0.37 for the median pair of random sounds (d = 1), falling smoothly and
    monotonically, so a larger distance always reads as less similar.
    """
    return jnp.exp(-jnp.asarray(distance))


# ----------------------------------------------------------------------------------------------
# The match loss's features
# ----------------------------------------------------------------------------------------------
def loss_features(audio, sample_rate: int, segments: int):
    """What the match loss compares, all from one half-overlapping spectrogram of audio ``[B, T]`` → (embedding
    ``[B, 259]``, segment log-mel ``[B, segments, 128]`` dBFS, level envelope ``[B, N]`` dBFS). Traceable.

    embedding: :func:`perceptual_embedding`'s blocks measured on frames of the embedding's ``n_fft`` at hop
    ``n_fft / 2`` (every block is a time average, which half the frames measure as well, at half the cost), the
    timbre block on every other frame of those. segment log-mel: the log-mel frames averaged over ``segments``
    equal stretches of time (frames past the last whole stretch are dropped). level envelope:
    :func:`level_envelope_frames` (10 ms steps, floored at ``FLOOR_DB``).
    """
    config = analysis_config(sample_rate)
    power = power_spectrogram(audio, config.n_fft, config.n_fft // 2)
    mel_power = power @ mel_filterbank(sample_rate, config.n_fft, config.n_mels, 0.0, sample_rate / 2.0)
    mel_db = _db(mel_power, config.floor_db)  # [B, F, 128]
    blocks = {"mel128": jnp.mean(mel_db, axis=1),
              "cdf": _cumulative(jnp.mean(mel_power, axis=1) + 10.0 ** (config.floor_db / 10.0)),
              # every other frame: energy-weighted averages over time, and the logs cost most
              "timbre": _timbre_units(_timbre_from_power(power[:, ::2], audio, config))}
    per = mel_db.shape[1] // segments
    segment_db = jnp.mean(mel_db[:, :per * segments].reshape(mel_db.shape[0], segments, per, -1), axis=2)
    return join_blocks(blocks), segment_db, level_envelope_frames(audio, sample_rate)


__all__ = ["AnalysisConfig", "BLOCK_SCALES", "EMBEDDING_DIM", "FLOOR_DB", "WINNER", "WINNER_BLOCKS",
           "analysis_config", "cumulative_mel_spectrum", "embedding_blocks", "join_blocks", "level_envelope_frames",
           "log_mel_frames", "loss_features", "mel_filterbank", "mel_power_frames", "perceptual_distance",
           "perceptual_embedding", "perceptual_similarity", "power_spectrogram", "rms_block", "time_averaged_log_mel",
           "timbre_block", "timbre_summary"]
