"""A sound's profile: fourteen measured qualities per sound, cheap enough to judge every search candidate.

``studio.audio.features.sound_features`` measures carefully (YIN on every frame at full rate, ~6 ms per 2 s sound
on a CPU); a prompt search judges thousands of candidates per second, so this module measures the same
qualities, plus the modulations a prompt can ask for, from a few well-placed frames:

- the level envelope (short-time RMS in 2.5 ms steps) gives length, attack, decay, loudness, tremolo, roughness;
- ``N_SPECTRUM_FRAMES`` FFT frames spread evenly over the audible span give brightness and noisiness;
- ``N_PITCH_FRAMES`` pitch frames on audio decimated to ~8 kHz, spread over the audible span, give pitch,
  glide, pitch range and vibrato, and how far the sound is from repeating at its period (inharmonicity);
- ``N_RICHNESS_FRAMES`` long FFT frames (~85 ms, fine enough to resolve the partials of a 50 Hz note) give
  richness: how many partials carry the sound;
- the spectrum frames' own centroids give how far the brightness moves, and the last 10 ms of the level envelope
  whether the sound has ended inside the buffer.

Frames follow the audible span rather than fixed positions, so a 20 ms click is measured as well as a 2 s
drone. Everything is batched JAX: audio ``[B, T]`` → profile ``[B, D]`` float32, columns in :data:`QUALITIES`
order; NaN marks what a sound does not have (the pitch of noise, the tremolo of a 50 ms click, anything of
silence but its loudness).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from studio.errors import SettingsError

from .frontend import (POWER_EPS, as_batch, bin_frequencies, difference_function, energy_weighted_mean,
                       envelope_hop, envelope_power, hann_window, parabolic_minimum, power_to_db, rising_after,
                       spectral_centroid, spectral_shape)


@dataclass(frozen=True)
class QualityInfo:
    """One column of a profile: its name, unit and meaning (for explanations and tables)."""

    name: str
    unit: str  # "MIDI", "st" (semitones), "Hz", "s", "dB" or "" (a ratio)
    meaning: str


QUALITIES: tuple[QualityInfo, ...] = (
    QualityInfo("pitch", "MIDI", "median fundamental of the pitched frames, as a MIDI note number"),
    QualityInfo("pitch_range", "st", "spread of the pitch over the sound (10th to 90th percentile)"),
    QualityInfo("glide", "st", "pitch of the last third minus pitch of the first third"),
    QualityInfo("vibrato_rate", "Hz", "rate of the strongest periodic pitch wobble"),
    QualityInfo("vibrato_depth", "st", "peak-to-peak size of the periodic pitch wobble"),
    QualityInfo("brightness", "Hz", "spectral centroid, energy-weighted over the sound"),
    QualityInfo("noisiness", "", "spectral flatness: 0 for a pure tone, about 0.55 for white noise"),
    QualityInfo("roughness", "dB", "size of fast level fluctuations (20–120 Hz): beating, buzz, grit"),
    QualityInfo("attack", "s", "time for the level to rise from 10 % to 90 % of its maximum"),
    QualityInfo("decay", "s", "time from the loudest moment until the level stays 20 dB below it"),
    QualityInfo("length", "s", "time from the first to the last moment within 40 dB of the loudest"),
    QualityInfo("tremolo_rate", "Hz", "rate of the strongest periodic level wobble (1.5–20 Hz)"),
    QualityInfo("tremolo_depth", "dB", "peak-to-peak size of the periodic level wobble"),
    QualityInfo("loudness", "dB", "loudest short-time RMS level, dB re full scale"),
    QualityInfo("richness", "partials", "effective number of partials (spectral perplexity over that of one "
                                        "sinusoid): 1 for a pure tone, about 2 for a square wave, 5 for a saw"),
    QualityInfo("inharmonicity", "", "how far the sound is from repeating at its period (the pitch tracker's "
                                     "normalized difference there): 0 harmonic, ~0.1 a bell's partials, ~1 noise"),
    QualityInfo("brightness_motion", "oct", "how far the brightness moves over the sound: 10th to 90th percentile "
                                            "of the frames' spectral centroids, in octaves"),
    QualityInfo("end_level", "dB", "level of the buffer's last 10 ms below the loudest moment: about -100 when the "
                                   "sound has ended inside the buffer, near 0 when the buffer cuts it"),
)
QUALITY_INDEX = {q.name: i for i, q in enumerate(QUALITIES)}
N_QUALITIES = len(QUALITIES)

N_SPECTRUM_FRAMES = 16
N_RICHNESS_FRAMES = 8
RICHNESS_FRAME_S = 0.0853  # 4096 samples at 48 kHz: 11.7 Hz bins, a 50 Hz note's partials resolved
MOTION_RANGE_DB = 30.0  # spectrum frames within this of the loudest frame count for brightness motion
END_STEPS = 4  # envelope steps (10 ms) that make the buffer's end level
END_FLOOR_DB = -100.0
N_PITCH_FRAMES = 40  # over a 2 s sound: a frame every 50 ms, enough to see vibrato up to 10 Hz
ENVELOPE_STEP_S = 0.0025  # 400 Hz envelope rate: level fluctuations up to ~120 Hz survive the 3-step smoothing
AUDIBLE_RANGE_DB = 40.0
DECAY_DROP_DB = 20.0
TREMOLO_BAND_HZ = (1.5, 20.0)
TREMOLO_DETREND_S = 0.5  # the level minus its 0.5 s moving average: envelope shapes are slower than a wobble
ROUGHNESS_BAND_HZ = (20.0, 120.0)
ROUGHNESS_DETREND_S = 0.025
PITCH_MIN_HZ = 50.0
PITCH_RATE_HZ = 8000.0
PITCH_WINDOW_S = 0.012  # integration window of the pitch tracker: short, so 40 frames stay cheap
PERIODIC_THRESHOLD = 0.2  # a frame is periodic when its normalized difference dips below this
VIBRATO_CLIP_ST = 7.0
VIBRATO_MIN_SPAN_S = 0.4
PERIODIC_SHARE = 0.4  # a sound is pitched when this share of its audible pitch frames is periodic


@dataclass(frozen=True)
class ProfileGeometry:
    """Static sizes of the profile computation for one sample rate and buffer length (hashable: a jit key)."""

    sample_rate: int
    num_samples: int

    @property
    def envelope_hop(self) -> int:
        return envelope_hop(self.sample_rate, ENVELOPE_STEP_S)

    @property
    def envelope_step_s(self) -> float:
        return self.envelope_hop / self.sample_rate

    @property
    def spectrum_frame(self) -> int:
        """FFT length for brightness and noisiness: ~21 ms (1024 samples at 48 kHz), a power of two."""
        return 1 << max(6, int(round(math.log2(self.sample_rate * 0.0213))))

    @property
    def richness_frame(self) -> int:
        """FFT length for richness: ~85 ms (4096 samples at 48 kHz), a power of two."""
        return 1 << max(7, int(round(math.log2(self.sample_rate * RICHNESS_FRAME_S))))

    @property
    def decimation(self) -> int:
        return max(1, int(round(self.sample_rate / PITCH_RATE_HZ)))

    @property
    def pitch_rate(self) -> float:
        return self.sample_rate / self.decimation

    @property
    def max_lag(self) -> int:
        return int(math.ceil(self.pitch_rate / PITCH_MIN_HZ))

    @property
    def pitch_frame(self) -> int:
        """Decimated samples per pitch frame: the integration window plus the longest lag."""
        return int(round(self.pitch_rate * PITCH_WINDOW_S)) + self.max_lag

    @property
    def min_samples(self) -> int:
        return max(self.pitch_frame * self.decimation, self.spectrum_frame, 8 * self.envelope_hop)


# ----------------------------------------------------------------------------------------------
# Level envelope: times, loudness, tremolo, roughness
# ----------------------------------------------------------------------------------------------
def audible_span(level_db):
    """First and last audible step ``[B]`` (int): within ``AUDIBLE_RANGE_DB`` of the loudest of ``level_db [B, N]``."""
    n = level_db.shape[-1]
    audible = level_db >= jnp.max(level_db, axis=-1, keepdims=True) - AUDIBLE_RANGE_DB
    return jnp.argmax(audible, axis=-1), n - 1 - jnp.argmax(audible[:, ::-1], axis=-1)


def envelope_times(power, step_s: float):
    """Attack, decay and length in seconds, each ``[B]``, from envelope power ``[B, N]`` in steps of ``step_s``.

    attack: 10 % → 90 % of the maximum amplitude. decay: from the loudest step to the last step within
    ``DECAY_DROP_DB`` of it, at least one step. length: the audible span (within ``AUDIBLE_RANGE_DB``).
    """
    amplitude = jnp.sqrt(power)
    top = jnp.max(amplitude, axis=-1, keepdims=True)
    attack = (jnp.argmax(amplitude >= 0.9 * top, axis=-1) - jnp.argmax(amplitude >= 0.1 * top, axis=-1)) * step_s
    level_db = power_to_db(power)
    first, last = audible_span(level_db)
    strong = level_db >= jnp.max(level_db, axis=-1, keepdims=True) - DECAY_DROP_DB
    last_strong = power.shape[-1] - 1 - jnp.argmax(strong[:, ::-1], axis=-1)
    decay = (jnp.maximum(last_strong - jnp.argmax(power, axis=-1), 0) + 1) * step_s
    return attack, decay, (last - first + 1) * step_s


def moving_average(values, mask, width: int):
    """Centred moving average of ``values [B, N]`` over ``width`` steps (made odd), counting only ``mask`` steps.

    Returns (average ``[B, N]``, inner ``[B, N]`` bool: steps whose whole window lies inside the mask).
    """
    weight = mask.astype(values.dtype)
    half = width // 2
    width = 2 * half + 1  # odd, so the window is centred
    box = lambda x: jnp.cumsum(jnp.pad(x, ((0, 0), (half + 1, half))), axis=-1)  # noqa: E731
    summed, counted = box(values * weight), box(weight)
    window_sum = summed[:, width:] - summed[:, :-width]
    window_count = counted[:, width:] - counted[:, :-width]
    return window_sum / jnp.maximum(window_count, 1.0), window_count >= width - 0.5


def band_wobble(residual, mask, step_s: float, band_hz: tuple[float, float]):
    """Strongest periodic wobble of a detrended track: (rate Hz, peak-to-peak size) ``[B]`` each.

    residual ``[B, N]`` sampled every ``step_s`` s, counted where ``mask`` holds. The size is that of the sinusoid
    carrying the band's energy (2√2 × band RMS, by Parseval); the rate is the band's strongest FFT bin.
    """
    n = residual.shape[-1]
    count = jnp.maximum(jnp.sum(mask, axis=-1), 1)
    n_fft = 1 << (n - 1).bit_length()
    spectrum = jnp.abs(jnp.fft.rfft(jnp.where(mask, residual, 0.0), n_fft, axis=-1)) ** 2
    freqs = np.arange(n_fft // 2 + 1) / (n_fft * step_s)
    band = jnp.where(jnp.asarray((freqs >= band_hz[0]) & (freqs <= band_hz[1])), spectrum, 0.0)
    band_rms = jnp.sqrt(2.0 * jnp.sum(band, axis=-1) / n_fft / count)  # one-sided bins count twice
    return jnp.asarray(freqs, residual.dtype)[jnp.argmax(band, axis=-1)], 2.0 * math.sqrt(2.0) * band_rms


def level_modulations(level_db, step_s: float):
    """Tremolo rate (Hz) and depth (dB), and roughness (dB), each ``[B]``, from a level track ``[B, N]`` in dB.

    Levels are floored 40 dB below the peak (a gate's silences then read as a large, finite depth) and only
    the audible span counts. Tremolo needs a full 0.5 s detrending window inside the sound plus 1.5 cycles of
    the slowest rate; shorter sounds get rate NaN and depth 0.
    """
    top = jnp.max(level_db, axis=-1, keepdims=True)
    clamped = jnp.maximum(level_db, top - AUDIBLE_RANGE_DB)
    first, last = audible_span(level_db)
    steps = jnp.arange(level_db.shape[-1])
    inside = (steps >= first[:, None]) & (steps <= last[:, None])

    slow, slow_inner = moving_average(clamped, inside, max(3, int(round(TREMOLO_DETREND_S / step_s))))
    tremolo_rate, tremolo_depth = band_wobble(clamped - slow, slow_inner, step_s, TREMOLO_BAND_HZ)
    measurable = jnp.sum(slow_inner, axis=-1) * step_s >= 1.5 / TREMOLO_BAND_HZ[0] - TREMOLO_DETREND_S
    fast, fast_inner = moving_average(clamped, inside, max(3, int(round(ROUGHNESS_DETREND_S / step_s))))
    _, roughness = band_wobble(clamped - fast, fast_inner, step_s, ROUGHNESS_BAND_HZ)
    return (jnp.where(measurable, tremolo_rate, jnp.nan), jnp.where(measurable, tremolo_depth, 0.0),
            jnp.where(jnp.any(fast_inner, axis=-1), roughness, 0.0))


# ----------------------------------------------------------------------------------------------
# Frames over the audible span: brightness, noisiness, pitch
# ----------------------------------------------------------------------------------------------
def span_frame_starts(first_s, last_s, n_frames: int, frame_s: float, duration_s: float):
    """Start times ``[B, n_frames]`` (s) of frames whose centres spread evenly over [first_s, last_s] ``[B]``.

    Frames are clamped inside the buffer; a span shorter than a frame gives overlapping frames on its centre.
    """
    centres = first_s[:, None] + (last_s - first_s)[:, None] * jnp.linspace(0.0, 1.0, n_frames)[None, :]
    return jnp.clip(centres - frame_s / 2.0, 0.0, max(duration_s - frame_s, 0.0))


def slice_frames(signal, starts, length: int):
    """Frames ``[B, F, length]`` of ``signal [B, T]`` beginning at sample indices ``starts [B, F]`` (int, clamped)."""
    one_frame = lambda row, start: jax.lax.dynamic_slice(row, (start,), (length,))  # noqa: E731
    return jax.vmap(lambda row, row_starts: jax.vmap(lambda s: one_frame(row, s))(row_starts))(signal, starts)


def frame_power(frames):
    """Unscaled Hann-windowed power spectra ``[B, F, L // 2 + 1]`` of frames ``[B, F, L]``."""
    window = jnp.asarray(hann_window(frames.shape[-1]), frames.dtype)
    return jnp.abs(jnp.fft.rfft(frames * window, axis=-1)) ** 2


def frame_brightness_noisiness(frames, sample_rate: int):
    """Brightness (magnitude-weighted centroid, Hz) and noisiness (flatness) ``[B]`` from frames ``[B, F, L]``.

    Hann window, unscaled power spectra; frames are averaged by their energy (NaN for silence). The flatness floor
    is ``POWER_EPS · L``, the floor's size in these unscaled spectra.
    """
    length = frames.shape[-1]
    return spectral_shape(frame_power(frames), sample_rate, length, flatness_floor=POWER_EPS * length)


def brightness_motion(power, sample_rate: int, length: int):
    """How far the brightness moves ``[B]`` (octaves): the 10th to 90th percentile of the centroids of frames'
    power spectra ``[B, F, length // 2 + 1]`` within ``MOTION_RANGE_DB`` of the loudest frame (a fading tail's
    few bins do not count)."""
    centroid = spectral_centroid(power, bin_frequencies(power.shape[-1], sample_rate, length))
    energy = jnp.sum(power, axis=-1)
    loud = energy >= jnp.max(energy, axis=-1, keepdims=True) * 10.0 ** (-MOTION_RANGE_DB / 10.0)
    low, high = masked_quantiles(jnp.log2(jnp.maximum(centroid, 1.0)), loud & (energy > 0), (0.1, 0.9))
    return high - low


@lru_cache(maxsize=8)
def single_partial_perplexity(length: int) -> float:
    """Perplexity of the Hann-windowed power spectrum of one sinusoid in a frame of ``length`` samples, averaged
    over where the sinusoid falls between two bins (2.3–2.4 bins): richness counts partials in these units."""
    t = np.arange(length)
    window = hann_window(length)
    values = []
    for offset in np.linspace(0.0, 0.5, 6):
        power = np.abs(np.fft.rfft(np.cos(2 * np.pi * (length / 8 + offset) * t / length) * window)) ** 2
        p = power / power.sum()
        values.append(np.exp(-np.sum(p * np.log(np.maximum(p, 1e-30)))))
    return float(np.mean(values))


def richness(power, length: int):
    """Effective number of partials ``[B]`` from long frames' power spectra ``[B, F, length // 2 + 1]``: exp(entropy)
    of each spectrum over that of one sinusoid, averaged by frame energy (at least 1; NaN for silence)."""
    total = jnp.sum(power, axis=-1, keepdims=True)
    p = power / jnp.maximum(total, POWER_EPS)
    entropy = -jnp.sum(p * jnp.log(jnp.maximum(p, 1e-30)), axis=-1)
    count = jnp.maximum(jnp.exp(entropy) / single_partial_perplexity(length), 1.0)
    return energy_weighted_mean(count, total[..., 0])


def decimate(audio, factor: int):
    """Audio ``[B, T]`` → ``[B, T // factor]``: a triangular low-pass (box ∗ box), then every factor-th sample.

    The box is a sum of strided slices (XLA fuses those into one pass; a reshape-mean does not vectorize).
    Two boxes attenuate what would fold below the new Nyquist far better than one (sinc² instead of sinc),
    which keeps bright saws periodic after decimation.
    """
    if factor == 1:
        return audio
    usable = audio[:, :(audio.shape[-1] // factor) * factor]
    boxed = sum(usable[:, k::factor] for k in range(factor)) / factor
    return 0.5 * (boxed + jnp.concatenate([boxed[:, :1], boxed[:, :-1]], axis=-1))


def normalized_difference(frames, max_lag: int):
    """Pitch-tracker kernel: ``frames [B, F, W + max_lag]`` → ``[B, F, max_lag + 1]`` in [0, 2].

    YIN's difference ``d(τ)`` (:func:`~studio.audio.frontend.difference_function`) divided by the energy of both
    windows ``Σ_{j<W} (x_j² + x_{j+τ}²)``: 0 where the frame repeats after τ samples, about 1 for unrelated
    samples (a cheaper normalization than YIN's cumulative mean, which needs every lag before τ).
    """
    difference, energy = difference_function(frames, max_lag)
    return difference / jnp.maximum(energy, POWER_EPS)


def first_index(mask):
    """Index of the first True along the last axis of ``mask [..., L]``; L where there is none.

    A minimum over indices: one plain reduction, which XLA:CPU vectorizes (``argmax`` reduces index–value pairs
    and does not).
    """
    n = mask.shape[-1]
    return jnp.min(jnp.where(mask, jnp.arange(n, dtype=jnp.int32), n), axis=-1)


def pick_period(norm, min_lag: int, threshold: float):
    """Period (lag in samples, float), periodic flag and the function's value there, per frame, from
    ``normalized_difference`` ``[..., L]``.

    The rule of YIN with a different guard against tiny lags: only lags after the function first rises above
    0.5 count (the signal has decorrelated once), then the first dip below ``threshold``, followed down to its
    local minimum and refined by a parabola through its neighbours. The lag of a frame that is not periodic is
    meaningless (callers mask it out).
    """
    n = norm.shape[-1]
    lags = jnp.arange(n, dtype=jnp.int32)
    rise = first_index(norm > 0.5)  # n when it never rises: then no lag is valid and the frame is not periodic
    valid = (lags >= min_lag) & (lags > rise[..., None]) & (lags < n - 1)
    below = valid & (norm < threshold)
    first = first_index(below)
    periodic = first < n
    after_dip = valid & (lags >= first[..., None])
    local_min = first_index(after_dip & rising_after(norm))
    # A period just past the longest lag dips until the end: then the lowest point of the dip is the best guess.
    lag = jnp.where(local_min < n, local_min, jnp.argmin(jnp.where(after_dip, norm, jnp.inf), axis=-1))
    refined, value = parabolic_minimum(norm, lag)
    return refined, periodic, value


def inharmonicity(dip, periodic, level):
    """How far the sound is from repeating at its period ``[B]``: the normalized difference at each frame's period
    (``dip [B, F]``; 1 for a frame that is not periodic), averaged over frames by their level ``[B, F]``. A periodic
    sound reads ~0, partials at non-integer ratios leave a residue (a bell: 0.05–0.3), noise reads ~1."""
    value = jnp.where(periodic, jnp.clip(dip, 0.0, 1.0), 1.0)
    return energy_weighted_mean(value, level)


def masked_quantiles(values, mask, qs: tuple[float, ...]):
    """Quantiles ``qs`` of ``values [B, N]`` over ``mask`` per row → ``[len(qs), B]`` (NaN where the mask is empty).

    Linear interpolation between order statistics (numpy's default). One sort serves every quantile.
    """
    ordered = jnp.sort(jnp.where(mask, values, jnp.inf), axis=-1)
    count = jnp.sum(mask, axis=-1)
    out = []
    for q in qs:
        position = q * jnp.maximum(count - 1, 0).astype(values.dtype)
        below = jnp.floor(position).astype(jnp.int32)
        above = jnp.minimum(below + 1, jnp.maximum(count - 1, 0))
        low = jnp.take_along_axis(ordered, below[:, None], axis=-1)[:, 0]
        high = jnp.take_along_axis(ordered, above[:, None], axis=-1)[:, 0]
        value = low + (high - low) * (position - below)
        out.append(jnp.where(count > 0, value, jnp.nan))
    return jnp.stack(out)


def detrend_quadratic(values, mask):
    """``values [B, N]`` minus their masked least-squares parabola (a glide's curve is not a vibrato).

    The 3×3 normal equations are solved by Cramer's rule: a few elementwise operations instead of a batched
    LU factorization, which costs far more to compile than to run here.
    """
    n = values.shape[-1]
    t = jnp.linspace(-1.0, 1.0, n)
    w = mask.astype(values.dtype)
    safe = jnp.where(mask, values, 0.0)
    moment = lambda k: jnp.sum(w * t ** k, axis=-1) + (1e-6 if k in (0, 2, 4) else 0.0)  # noqa: E731
    m0, m1, m2, m3, m4 = (moment(k) for k in range(5))
    r0, r1, r2 = (jnp.sum(w * safe * t ** k, axis=-1) for k in range(3))

    def det3(a, b, c, d, e, f, g, h, i):
        return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)

    det = det3(m0, m1, m2, m1, m2, m3, m2, m3, m4)
    det = jnp.where(jnp.abs(det) > 1e-12, det, 1e-12)
    c0 = det3(r0, m1, m2, r1, m2, m3, r2, m3, m4) / det
    c1 = det3(m0, r0, m2, m1, r1, m3, m2, r2, m4) / det
    c2 = det3(m0, m1, r0, m1, m2, r1, m2, m3, r2) / det
    return safe - (c0[:, None] + c1[:, None] * t + c2[:, None] * t * t)


def pitch_qualities(midi, periodic, level, span_s):
    """Pitch, pitch range, glide, vibrato rate and depth ``[B]`` from a pitch track ``[B, F]`` over ``span_s [B]``.

    Frames quieter than 30 dB below the loudest frame do not count. All five are NaN unless at least
    ``PERIODIC_SHARE`` of the counted frames (and at least 3) are periodic: noise, clicks and chaos have no pitch.
    Sounds shorter than ``VIBRATO_MIN_SPAN_S`` have vibrato rate NaN and depth 0.
    """
    n = midi.shape[-1]
    audible = level > jnp.max(level, axis=-1, keepdims=True) * 1e-3
    used = audible & periodic
    n_used = jnp.sum(used, axis=-1)
    pitched = (n_used >= PERIODIC_SHARE * jnp.maximum(jnp.sum(audible, axis=-1), 1)) & (n_used >= 3)
    pitch, p10, p90 = masked_quantiles(midi, used, (0.5, 0.1, 0.9))
    spread = p90 - p10
    third = max(1, n // 3)
    steps = jnp.arange(n)
    glide = (masked_quantiles(midi, used & (steps >= n - third), (0.5,))[0]
             - masked_quantiles(midi, used & (steps < third), (0.5,))[0])
    glide = jnp.where(jnp.isnan(glide), 0.0, glide)  # pitched, but silent or unpitched at one end: no glide seen
    # Frames further than ±VIBRATO_CLIP_ST from the trend are octave errors, not vibrato: they count as on the trend
    # (clipping them still let an octave error in a frame or two pose as a 2 st vibrato on a steady low bass).
    # A wobble spends most of its time near its extremes, inside the 10th–90th percentile band; a frame far outside
    # it (a tracker slip at the onset or in the tail) is left out of the trend and counts as on it, so a steady low
    # bass does not read as a 2 st vibrato.
    inlier = used & (jnp.abs(midi - pitch[:, None]) <= jnp.maximum(1.5 * spread, 0.5)[:, None])
    residual = detrend_quadratic(midi, inlier)
    residual = jnp.where(inlier & (jnp.abs(residual) <= VIBRATO_CLIP_ST), residual, 0.0)
    # Frame spacing differs per sound: analyse in cycles per frame, convert with the sound's own spacing.
    rate_cycles, depth = band_wobble(residual, inlier, 1.0, (1.5 / n, 0.5))
    rate = rate_cycles / jnp.maximum(span_s / max(n - 1, 1), 1e-4)
    keep = lambda x: jnp.where(pitched, x, jnp.nan)  # noqa: E731
    # Vibrato needs time to show: under VIBRATO_MIN_SPAN_S a wobble cannot be told from a bend.
    long_enough = span_s >= VIBRATO_MIN_SPAN_S
    return (keep(pitch), keep(spread), keep(glide), keep(jnp.where(long_enough, rate, jnp.nan)),
            keep(jnp.where(long_enough, depth, 0.0)))


# ----------------------------------------------------------------------------------------------
# The whole profile
# ----------------------------------------------------------------------------------------------
def measure_profile(audio, geometry: ProfileGeometry):
    """Audio ``[B, T]`` float32 → profile ``[B, D]`` float32 (columns in :data:`QUALITIES` order). Traceable."""
    sr = geometry.sample_rate
    duration_s = audio.shape[-1] / sr
    step_s = geometry.envelope_step_s
    power = envelope_power(audio, geometry.envelope_hop)
    level_db = power_to_db(power)
    attack, decay, length = envelope_times(power, step_s)
    tremolo_rate, tremolo_depth, roughness = level_modulations(level_db, step_s)
    loudness = jnp.max(level_db, axis=-1)
    first, last = audible_span(level_db)
    first_s, last_s = first * step_s, (last + 1) * step_s

    n_spec = geometry.spectrum_frame
    spec_starts = span_frame_starts(first_s, last_s, N_SPECTRUM_FRAMES, n_spec / sr, duration_s)
    spectrum_frames = slice_frames(audio, jnp.round(spec_starts * sr).astype(jnp.int32), n_spec)
    brightness, noisiness = frame_brightness_noisiness(spectrum_frames, sr)
    n_rich = min(geometry.richness_frame, audio.shape[-1])
    rich_starts = span_frame_starts(first_s, last_s, N_RICHNESS_FRAMES, n_rich / sr, duration_s)
    long_power = frame_power(slice_frames(audio, jnp.round(rich_starts * sr).astype(jnp.int32), n_rich))
    rich, motion = richness(long_power, n_rich), brightness_motion(long_power, sr, n_rich)
    end_level = jnp.maximum(power_to_db(jnp.mean(power[:, -END_STEPS:], axis=-1)) - jnp.max(level_db, axis=-1),
                            END_FLOOR_DB)

    low = decimate(audio, geometry.decimation)
    rate = geometry.pitch_rate
    frame = geometry.pitch_frame
    pitch_starts = span_frame_starts(first_s, last_s, N_PITCH_FRAMES, frame / rate, low.shape[-1] / rate)
    frames = slice_frames(low, jnp.round(pitch_starts * rate).astype(jnp.int32), frame)
    norm = normalized_difference(frames, geometry.max_lag)
    lag, periodic, dip = pick_period(norm, 2, PERIODIC_THRESHOLD)
    midi = 69.0 + 12.0 * jnp.log2(rate / jnp.maximum(lag, 1.0) / 440.0)
    frame_level = jnp.mean(frames ** 2, axis=-1)
    span_s = pitch_starts[:, -1] - pitch_starts[:, 0]
    pitch, pitch_range, glide, vibrato_rate, vibrato_depth = pitch_qualities(midi, periodic, frame_level, span_s)
    inharmonic = inharmonicity(dip, periodic, frame_level)

    columns = dict(pitch=pitch, pitch_range=pitch_range, glide=glide, vibrato_rate=vibrato_rate,
                   vibrato_depth=vibrato_depth, brightness=brightness, noisiness=noisiness, roughness=roughness,
                   attack=attack, decay=decay, length=length, tremolo_rate=tremolo_rate, tremolo_depth=tremolo_depth,
                   loudness=loudness, richness=rich, inharmonicity=inharmonic, brightness_motion=motion,
                   end_level=end_level)
    profile = jnp.stack([columns[q.name].astype(jnp.float32) for q in QUALITIES], axis=-1)
    # Silence has no pitch, brightness or timing; only its loudness (the floor) is a fact.
    silent = loudness <= 10.0 * math.log10(POWER_EPS) + 1.0
    not_loudness = np.array([q.name != "loudness" for q in QUALITIES])
    return jnp.where(silent[:, None] & not_loudness, jnp.nan, profile)


def check_profile_length(sample_rate: int, num_samples: int) -> ProfileGeometry:
    """The geometry for these sizes; :class:`~studio.errors.SettingsError` (field ``duration``) when sounds are
    too short to profile."""
    geometry = ProfileGeometry(int(sample_rate), int(num_samples))
    if num_samples < geometry.min_samples:
        raise SettingsError(f"sounds of {num_samples} samples at {sample_rate} Hz are too short to profile: "
                         f"need at least {geometry.min_samples} samples ({geometry.min_samples / sample_rate:.3f} s)",
                            "duration")
    return geometry


@lru_cache(maxsize=16)
def profiler(sample_rate: int, num_samples: int):
    """The jitted profile function for one buffer shape: audio ``[B, T]`` (float32) → profile ``[B, D]``."""
    geometry = check_profile_length(sample_rate, num_samples)
    return jax.jit(lambda audio: measure_profile(audio, geometry))


def sound_profile(audio, sample_rate: int) -> np.ndarray:
    """Measure sounds: audio ``[B, T]`` (or ``[T]``) at ``sample_rate`` Hz → profile ``[B, D]`` (or ``[D]``), numpy.

    Columns follow :data:`QUALITIES` (units there); NaN where a quality does not apply.
    """
    batch, single = as_batch(audio)
    out = np.asarray(profiler(int(sample_rate), int(batch.shape[-1]))(batch))
    return out[0] if single else out


def profile_as_dict(row) -> dict[str, float]:
    """One profile row ``[D]`` → ``{quality name: value}`` (floats, NaN kept)."""
    return {q.name: float(v) for q, v in zip(QUALITIES, np.asarray(row))}
