"""Batched audio analysis in JAX: log-mel spectrograms and per-sound features (:func:`sound_features`).

The framing, spectra, level envelope, YIN and spectral shape come from :mod:`.frontend`.

Conventions: audio is float32 ``[B, T]`` (a single ``[T]`` is accepted and answered without the batch axis)
at ``sample_rate`` Hz, nominally in [−1, 1]. Levels are in dB relative to full scale: a full-scale sine
reads 0 dB in the spectrum (its amplitude is 1) and −3 dB as RMS. Spectral analysis uses a Hann window,
frames centred on ``frame · hop`` samples (zero padding at both ends), so ``F = 1 + T // hop`` frames.
Every heavy function is jitted with its shapes and settings static, so repeated calls cost no tracing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .frontend import (POWER_EPS, as_batch, envelope_hop, envelope_power, frame_signal, hz_to_mel, mel_filterbank,
                       mel_to_hz, power_spectrogram, power_to_db, spectral_shape, yin_cmndf, yin_pick)


@dataclass(frozen=True)
class SpectrogramConfig:
    """STFT and mel settings. Defaults suit the studio's 48 kHz sounds: 43 ms frames, 10.7 ms hop, 128 mels.

    ``f_max`` None means the Nyquist frequency. ``floor_db`` clamps the log-mel spectrogram from below, so
    near-silence counts as "quiet" rather than as an arbitrarily large number of dB.
    """

    sample_rate: int = 48_000
    n_fft: int = 2048
    hop: int = 512
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float | None = None
    floor_db: float = -100.0

    @property
    def top_hz(self) -> float:
        return float(self.f_max) if self.f_max is not None else self.sample_rate / 2.0


# ----------------------------------------------------------------------------------------------
# Framing and spectra
# ----------------------------------------------------------------------------------------------
@partial(jax.jit, static_argnums=1)
def _log_mel(audio, config: SpectrogramConfig):
    power = power_spectrogram(audio, config.n_fft, config.hop)
    filters = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, float(config.f_min), config.top_hz)
    return power_to_db(power @ filters, 10.0 ** (config.floor_db / 10.0))


def log_mel_spectrogram(audio, config: SpectrogramConfig = SpectrogramConfig()):
    """Audio ``[B, T]`` (or ``[T]``) → log-mel spectrogram ``[B, F, n_mels]`` (or ``[F, n_mels]``), in dB.

    ``F = 1 + T // hop``. Values are 10·log10 of mel-band power re full scale, clamped below at
    ``config.floor_db``. ``config.sample_rate`` must be the audio's rate. Returns a JAX array.
    """
    batch, single = as_batch(audio)
    out = _log_mel(batch, config)
    return out[0] if single else out


def log_mel_distance(a_db, b_db, floor_db: float | None = None):
    """Mean absolute difference of two log-mel spectrograms ``[..., F, M]`` (broadcasting), in dB → ``[...]``.

    With ``floor_db``, both are clamped at that level and the mean runs only over the cells where at least
    one of them rises above it: the difference between what is audible in either sound. Without it, two
    short sounds would look alike just because both are silent for most of the buffer. Two sounds that
    are both below the floor everywhere are at distance 0.
    Pairwise distances of a batch: ``log_mel_distance(s[:, None], s[None, :])`` → ``[B, B]``.
    """
    a, b = jnp.asarray(a_db), jnp.asarray(b_db)
    if floor_db is None:
        return jnp.mean(jnp.abs(a - b), axis=(-2, -1))
    a, b = jnp.maximum(a, floor_db), jnp.maximum(b, floor_db)
    active = (a > floor_db) | (b > floor_db)
    total = jnp.sum(jnp.where(active, jnp.abs(a - b), 0.0), axis=(-2, -1))
    return total / jnp.maximum(jnp.sum(active, axis=(-2, -1)), 1)


# ----------------------------------------------------------------------------------------------
# Level envelope
# ----------------------------------------------------------------------------------------------
def level_envelope_db(audio, sample_rate: int, hop_s: float = 0.005):
    """Short-time RMS level in dBFS: audio ``[B, T]`` (or ``[T]``) → ``[B, N]`` (or ``[N]``).

    A simple loudness envelope (no frequency weighting): step ``hop_s`` seconds (``N = ceil(T / hop)``,
    step n centred at ``(n + 0.5)·hop`` samples), window three steps long, floored at −120 dB.
    """
    batch, single = as_batch(audio)
    out = power_to_db(envelope_power(batch, envelope_hop(sample_rate, hop_s)))
    return out[0] if single else out


# ----------------------------------------------------------------------------------------------
# Sound features
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SoundFeatures:
    """What a batch of B sounds measures, as numpy arrays. NaN marks a value that is undefined for a sound.

    peak ``[B]``: largest absolute sample (linear, 1 = full scale).
    rms ``[B]``: root mean square over the whole buffer (linear).
    envelope_db ``[B, N]``: short-time RMS level in dBFS, one value per ``envelope_hop_s`` seconds.
    centroid_hz ``[B]``: spectral centroid, magnitude-weighted mean frequency averaged over frames by their
        energy (Hz); NaN for silence.
    flatness ``[B]``: spectral flatness (geometric / arithmetic mean of the power spectrum) averaged over
        frames by their energy, in [0, 1]: near 0 for a pure tone, about 0.56 for white noise; NaN for silence.
    f0_hz ``[B]``: median YIN fundamental over periodic, audible frames (Hz); NaN when under a quarter of
        the audible frames are periodic (noise, clicks, chaos).
    attack_s ``[B]``: time for the level envelope to rise from 10 % to 90 % of its maximum amplitude (s).
    audible_s ``[B]``: time from the first to the last envelope step within 40 dB of the loudest step (s).
    """

    peak: np.ndarray
    rms: np.ndarray
    envelope_db: np.ndarray
    envelope_hop_s: float
    centroid_hz: np.ndarray
    flatness: np.ndarray
    f0_hz: np.ndarray
    attack_s: np.ndarray
    audible_s: np.ndarray


@dataclass(frozen=True)
class _FeatureSettings:
    sample_rate: int
    n_fft: int = 2048
    hop: int = 512
    envelope_hop: int = 240
    f0_min_hz: float = 40.0
    f0_max_hz: float = 4000.0
    yin_window: int = 1024
    yin_hop: int = 1024
    yin_threshold: float = 0.15
    audible_range_db: float = 40.0
    periodic_share: float = 0.25


def _fundamental(audio, s: _FeatureSettings, level_power):
    """Median YIN f0 over periodic, audible frames ``[B]`` (NaN where too few frames are periodic)."""
    max_lag = int(math.ceil(s.sample_rate / s.f0_min_hz))
    min_lag = max(2, int(math.floor(s.sample_rate / s.f0_max_hz)))
    frames = frame_signal(audio, s.yin_window + max_lag, s.yin_hop, centred=False)  # [B, F, W + max_lag]
    lag, dip = yin_pick(yin_cmndf(frames, max_lag), min_lag, s.yin_threshold)
    # A frame counts when it is audible: its level is within audible_range_db of the loudest frame.
    frame_power = jnp.mean(frames[..., :s.yin_window] ** 2, axis=-1)
    loudest = jnp.max(level_power, axis=-1, keepdims=True)
    audible = frame_power > loudest * 10.0 ** (-s.audible_range_db / 10.0)
    periodic = audible & (dip < s.yin_threshold)
    f0 = jnp.where(periodic, s.sample_rate / jnp.maximum(lag, 1.0), jnp.nan)
    enough = jnp.sum(periodic, axis=-1) >= s.periodic_share * jnp.maximum(jnp.sum(audible, axis=-1), 1)
    return jnp.where(enough & jnp.any(periodic, axis=-1), jnp.nanmedian(f0, axis=-1), jnp.nan)


def _envelope_times(envelope_power, hop_s: float, audible_range_db: float):
    """Attack (10 % → 90 % of the maximum amplitude) and audible span, in seconds, from envelope power ``[B, N]``."""
    amplitude = jnp.sqrt(envelope_power)
    top = jnp.max(amplitude, axis=-1, keepdims=True)
    t10 = jnp.argmax(amplitude >= 0.1 * top, axis=-1)
    t90 = jnp.argmax(amplitude >= 0.9 * top, axis=-1)
    audible = envelope_power >= top ** 2 * 10.0 ** (-audible_range_db / 10.0)
    n = envelope_power.shape[-1]
    first = jnp.argmax(audible, axis=-1)
    last = n - 1 - jnp.argmax(audible[:, ::-1], axis=-1)
    silent = top[:, 0] <= 0.0
    attack = jnp.where(silent, jnp.nan, (t90 - t10) * hop_s)
    span = jnp.where(silent, 0.0, (last - first + 1) * hop_s)
    return attack, span


@partial(jax.jit, static_argnums=1)
def _sound_features(audio, s: _FeatureSettings):
    peak = jnp.max(jnp.abs(audio), axis=-1)
    rms = jnp.sqrt(jnp.mean(audio ** 2, axis=-1))
    level_power = envelope_power(audio, s.envelope_hop)
    hop_s = s.envelope_hop / s.sample_rate
    attack, audible_span = _envelope_times(level_power, hop_s, s.audible_range_db)
    centroid, flatness = spectral_shape(power_spectrogram(audio, s.n_fft, s.hop), s.sample_rate, s.n_fft)
    return dict(peak=peak, rms=rms, envelope_db=power_to_db(level_power),
                centroid_hz=centroid, flatness=flatness, f0_hz=_fundamental(audio, s, level_power),
                attack_s=attack, audible_s=audible_span)


def sound_features(audio, sample_rate: int) -> SoundFeatures:
    """Measure a batch of sounds: audio ``[B, T]`` (or ``[T]``, answered as B = 1) at ``sample_rate`` Hz.

    See :class:`SoundFeatures` for each field's shape, unit and definition. f0 is searched from 40 Hz to 4 kHz.
    """
    batch, _ = as_batch(audio)
    settings = _FeatureSettings(sample_rate=int(sample_rate), envelope_hop=envelope_hop(int(sample_rate)))
    values = {k: np.asarray(v) for k, v in _sound_features(batch, settings).items()}
    return SoundFeatures(envelope_hop_s=settings.envelope_hop / settings.sample_rate, **values)


__all__ = ["POWER_EPS", "SoundFeatures", "SpectrogramConfig", "envelope_hop", "frame_signal", "hz_to_mel",
           "level_envelope_db", "log_mel_distance", "log_mel_spectrogram", "mel_filterbank", "mel_to_hz",
           "power_spectrogram", "sound_features"]
