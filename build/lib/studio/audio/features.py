"""Batched audio analysis in JAX: log-mel spectrograms and per-sound descriptors.

Conventions: audio is float32 ``[B, T]`` (a single ``[T]`` is accepted and answered without the batch axis)
at ``sample_rate`` Hz, nominally in [−1, 1]. Levels are in dB relative to full scale: a full-scale sine
reads 0 dB in the spectrum (its amplitude is 1) and −3 dB as RMS. Spectral analysis uses a Hann window,
frames centred on ``frame · hop`` samples (zero padding at both ends), so ``F = 1 + T // hop`` frames.
Every heavy function is jitted with its shapes and settings static, so repeated calls cost no tracing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

POWER_EPS = 1e-12  # power floor (−120 dB) so logs of exact zeros stay finite


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
def _as_batch(audio) -> tuple[jnp.ndarray, bool]:
    arr = jnp.asarray(audio, dtype=jnp.float32)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(f"audio must have shape [T] or [batch, T] with T > 0, got {list(arr.shape)}")
    return (arr[None], True) if arr.ndim == 1 else (arr, False)


def frame_signal(audio, frame: int, hop: int):
    """Audio ``[B, T]`` → centred, zero-padded frames ``[B, 1 + T // hop, frame]``."""
    t = audio.shape[-1]
    n_frames = 1 + t // hop
    padded = jnp.pad(audio, ((0, 0), (frame // 2, frame // 2 + hop)))
    starts = np.arange(n_frames)[:, None] * hop + np.arange(frame)[None, :]
    return padded[:, starts]


def power_spectrogram(audio, n_fft: int, hop: int):
    """Audio ``[B, T]`` → power spectrogram ``[B, F, n_fft // 2 + 1]``, Hann window.

    Scaled by ``(2 / Σw)²`` so that a sine of amplitude a puts a² in its peak bin: 0 dB means full scale.
    """
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann: exact overlap-add at hop n_fft/4
    spectrum = jnp.fft.rfft(frame_signal(audio, n_fft, hop) * window, axis=-1)
    scale = (2.0 / window.sum()) ** 2
    return (spectrum.real ** 2 + spectrum.imag ** 2) * scale


def hz_to_mel(hz):
    """Frequency in Hz → mel (HTK formula, 2595·log10(1 + f/700)); numpy or scalar."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel):
    """Mel (HTK) → frequency in Hz; the inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular mel filters ``[n_fft // 2 + 1, n_mels]`` float32, peak 1, HTK mel scale.

    Triangles are evaluated at each FFT bin's centre frequency; the lowest bands at 48 kHz / 2048 points are
    narrower than a bin, so a few of them may be empty (they then read ``floor_db``, the same for every sound).
    """
    bins_hz = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]  # [M, 1]
    rising = (bins_hz[None] - lower) / (centre - lower)
    falling = (upper - bins_hz[None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).T.astype(np.float32)


@partial(jax.jit, static_argnums=1)
def _log_mel(audio, config: SpectrogramConfig):
    power = power_spectrogram(audio, config.n_fft, config.hop)
    filters = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, float(config.f_min), config.top_hz)
    mel_power = power @ filters
    return 10.0 * jnp.log10(jnp.maximum(mel_power, 10.0 ** (config.floor_db / 10.0)))


def log_mel_spectrogram(audio, config: SpectrogramConfig = SpectrogramConfig()):
    """Audio ``[B, T]`` (or ``[T]``) → log-mel spectrogram ``[B, F, n_mels]`` (or ``[F, n_mels]``), in dB.

    ``F = 1 + T // hop``. Values are 10·log10 of mel-band power re full scale, clamped below at
    ``config.floor_db``. ``config.sample_rate`` must be the audio's rate. Returns a JAX array.
    """
    batch, single = _as_batch(audio)
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
def envelope_hop(sample_rate: int, hop_s: float = 0.005) -> int:
    """Samples per level-envelope step: 5 ms by default (240 samples at 48 kHz)."""
    return max(1, int(round(sample_rate * hop_s)))


def _level_envelope_power(audio, hop: int):
    """Mean-square power ``[B, N]``, ``N = ceil(T / hop)``, over 3-step windows centred on each step.

    Summing squares per step block then adding neighbours (instead of a running cumulative sum) keeps
    float32 precise in quiet passages of long sounds. Three steps (15 ms at 48 kHz) smooth the ripple of
    low notes.
    """
    b, t = audio.shape
    n = -(-t // hop)
    blocks = jnp.pad(audio, ((0, 0), (0, n * hop - t))).reshape(b, n, hop)
    energy = jnp.sum(blocks ** 2, axis=-1)
    padded = jnp.pad(energy, ((0, 0), (1, 1)))
    counts = jnp.pad(jnp.full((n,), float(hop)), (1, 1))  # edge windows hold fewer samples
    window_energy = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    window_count = counts[:-2] + counts[1:-1] + counts[2:]
    return window_energy / window_count


def level_envelope_db(audio, sample_rate: int, hop_s: float = 0.005):
    """Short-time RMS level in dBFS: audio ``[B, T]`` (or ``[T]``) → ``[B, N]`` (or ``[N]``).

    A simple loudness envelope (no frequency weighting): step ``hop_s`` seconds (``N = ceil(T / hop)``,
    step n centred at ``(n + 0.5)·hop`` samples), window three steps long, floored at −120 dB.
    """
    batch, single = _as_batch(audio)
    power = _level_envelope_power(batch, envelope_hop(sample_rate, hop_s))
    out = 10.0 * jnp.log10(jnp.maximum(power, POWER_EPS))
    return out[0] if single else out


# ----------------------------------------------------------------------------------------------
# Fundamental frequency (YIN)
# ----------------------------------------------------------------------------------------------
def yin_cmndf(frames, max_lag: int):
    """YIN's cumulative mean normalized difference ``d'(τ)`` for τ = 0 … max_lag: ``[B, F, L]`` → ``[B, F, max_lag + 1]``.

    frames: ``[B, F, L]`` with ``L = W + max_lag``; the integration window is the first ``W`` samples.
    ``d(τ) = Σ_{j<W} (x_j − x_{j+τ})²`` is computed through one FFT correlation; ``d'(0) = 1``.
    """
    length = frames.shape[-1]
    window = length - max_lag
    n_fft = 1 << (length - 1).bit_length()  # ≥ L, so positive lags ≤ max_lag do not wrap around
    head = frames[..., :window]
    cross = jnp.fft.irfft(jnp.fft.rfft(frames, n_fft) * jnp.conj(jnp.fft.rfft(head, n_fft)), n_fft)
    correlation = cross[..., :max_lag + 1]  # r(τ) = Σ_{j<W} x_j x_{j+τ}
    squares = jnp.cumsum(frames.astype(jnp.float32) ** 2, axis=-1)
    squares = jnp.pad(squares, [(0, 0)] * (frames.ndim - 1) + [(1, 0)])
    lags = np.arange(max_lag + 1)
    energy_head = squares[..., window:window + 1]  # Σ_{j<W} x_j²
    energy_shifted = squares[..., lags + window] - squares[..., lags]  # Σ_{j<W} x_{j+τ}²
    difference = jnp.maximum(energy_head + energy_shifted - 2.0 * correlation, 0.0)
    running_mean = jnp.cumsum(difference[..., 1:], axis=-1) / lags[1:]
    normalized = difference[..., 1:] / jnp.maximum(running_mean, POWER_EPS)
    return jnp.concatenate([jnp.ones_like(difference[..., :1]), normalized], axis=-1)


def yin_pick(cmndf, min_lag: int, threshold: float):
    """Pick the period in each frame: ``[..., L]`` → (lag in samples, float ``[...]``; cmndf value there ``[...]``).

    YIN's rule: the first lag ≥ ``min_lag`` whose d' dips below ``threshold``, followed down to its local
    minimum, refined by a parabola through its neighbours. Without such a dip, the global minimum (whose
    d' value then tells the caller the frame is not periodic).
    """
    n = cmndf.shape[-1]
    lags = jnp.arange(n)
    valid = (lags >= min_lag) & (lags < n - 1)
    below = valid & (cmndf < threshold)
    has_dip = jnp.any(below, axis=-1)
    first = jnp.argmax(below, axis=-1)
    rising_next = jnp.concatenate([cmndf[..., 1:] >= cmndf[..., :-1], jnp.ones_like(cmndf[..., :1], bool)], axis=-1)
    local_min = jnp.argmax(valid & rising_next & (lags >= first[..., None]), axis=-1)
    global_min = jnp.argmin(jnp.where(valid, cmndf, jnp.inf), axis=-1)
    lag = jnp.where(has_dip, local_min, global_min)
    take = lambda offset: jnp.take_along_axis(cmndf, jnp.clip(lag + offset, 0, n - 1)[..., None], -1)[..., 0]  # noqa: E731
    left, centre, right = take(-1), take(0), take(1)
    curvature = left - 2.0 * centre + right
    shift = jnp.where(curvature > 0, 0.5 * (left - right) / jnp.where(curvature > 0, curvature, 1.0), 0.0)
    return lag + jnp.clip(shift, -1.0, 1.0), centre


# ----------------------------------------------------------------------------------------------
# Descriptors
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Descriptors:
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
class _DescriptorSettings:
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


def _spectral_shape(power, sample_rate: int, n_fft: int):
    """Energy-weighted centroid (Hz) and flatness of power spectrogram frames ``[B, F, K]`` → two ``[B]``."""
    freqs = jnp.arange(power.shape[-1]) * (sample_rate / n_fft)
    magnitude = jnp.sqrt(power)
    frame_energy = jnp.sum(power, axis=-1)  # [B, F]
    centroid = jnp.sum(magnitude * freqs, axis=-1) / jnp.maximum(jnp.sum(magnitude, axis=-1), POWER_EPS)
    log_power = jnp.log(power + POWER_EPS)
    flatness = jnp.exp(jnp.mean(log_power, axis=-1)) / (jnp.mean(power, axis=-1) + POWER_EPS)
    weights = frame_energy / jnp.sum(frame_energy, axis=-1, keepdims=True)  # NaN for silence: undefined
    return jnp.sum(weights * centroid, axis=-1), jnp.sum(weights * flatness, axis=-1)


def _fundamental(audio, s: _DescriptorSettings, envelope_power):
    """Median YIN f0 over periodic, audible frames ``[B]`` (NaN where too few frames are periodic)."""
    max_lag = int(math.ceil(s.sample_rate / s.f0_min_hz))
    min_lag = max(2, int(math.floor(s.sample_rate / s.f0_max_hz)))
    t = audio.shape[-1]
    n_frames = max(1, 1 + (t - s.yin_window - max_lag) // s.yin_hop)
    padded = jnp.pad(audio, ((0, 0), (0, max(0, s.yin_window + max_lag - t))))
    starts = np.arange(n_frames)[:, None] * s.yin_hop + np.arange(s.yin_window + max_lag)[None, :]
    frames = padded[:, starts]  # [B, F, W + max_lag]
    lag, dip = yin_pick(yin_cmndf(frames, max_lag), min_lag, s.yin_threshold)
    # A frame counts when it is audible: its level is within audible_range_db of the loudest frame.
    frame_power = jnp.mean(frames[..., :s.yin_window] ** 2, axis=-1)
    loudest = jnp.max(envelope_power, axis=-1, keepdims=True)
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
def _descriptors(audio, s: _DescriptorSettings):
    peak = jnp.max(jnp.abs(audio), axis=-1)
    rms = jnp.sqrt(jnp.mean(audio ** 2, axis=-1))
    envelope_power = _level_envelope_power(audio, s.envelope_hop)
    hop_s = s.envelope_hop / s.sample_rate
    attack, audible_span = _envelope_times(envelope_power, hop_s, s.audible_range_db)
    centroid, flatness = _spectral_shape(power_spectrogram(audio, s.n_fft, s.hop), s.sample_rate, s.n_fft)
    return dict(peak=peak, rms=rms, envelope_db=10.0 * jnp.log10(jnp.maximum(envelope_power, POWER_EPS)),
                centroid_hz=centroid, flatness=flatness, f0_hz=_fundamental(audio, s, envelope_power),
                attack_s=attack, audible_s=audible_span)


def descriptors(audio, sample_rate: int) -> Descriptors:
    """Measure a batch of sounds: audio ``[B, T]`` (or ``[T]``, answered as B = 1) at ``sample_rate`` Hz.

    See :class:`Descriptors` for each field's shape, unit and definition. f0 is searched from 40 Hz to 4 kHz.
    """
    batch, _ = _as_batch(audio)
    settings = _DescriptorSettings(sample_rate=int(sample_rate), envelope_hop=envelope_hop(int(sample_rate)))
    values = {k: np.asarray(v) for k, v in _descriptors(batch, settings).items()}
    return Descriptors(envelope_hop_s=settings.envelope_hop / settings.sample_rate, **values)
