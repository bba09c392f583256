"""Small pure signal functions of the Voice synthesizer (JAX, float32, batched).

Conventions: ``B`` sounds, ``C`` control samples, audio handled as ``[B, NB, K]`` blocks of ``K`` samples
(``NB·K ≥ T``), phases in *cycles* (not radians) so that wrapping modulo 1 is exact and float32 does not
drift over long buffers. Formulas follow torchsynth 1.0.2's Voice (``torchsynth.module``), checked against it
by ``tests/test_fidelity.py`` (README, "Fidelity to torchsynth").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

ENVELOPE_EPS = 1e-6  # torchsynth's ε in the ADSR ramps; kept so envelopes match it sample for sample


def midi_to_hz(midi):
    """MIDI note number (any shape, float) → frequency in Hz, A4 = 69 = 440 Hz."""
    return 440.0 * jnp.exp2((midi - 69.0) / 12.0)


# ----------------------------------------------------------------------------------------------
# Control rate: envelopes and LFOs, [B, C]
# ----------------------------------------------------------------------------------------------
def ramp(n, start, length, control_rate: float):
    """Linear 0→1 ramp at control rate.

    n: ``[C]`` control sample indices; start, length: ``[..., 1]`` seconds. Returns ``[..., C]`` in (0, 1].
    A zero length gives an all-ones ramp (division by zero → inf → clipped), as in torchsynth.
    """
    t = jnp.maximum(n - start * control_rate, 0.0)
    return jnp.minimum((t + ENVELOPE_EPS) / (length * control_rate) + ENVELOPE_EPS, 1.0)


def inverse_ramp(n, start, length, control_rate: float):
    """1 − ramp where the segment has a length; an all-ones ramp where it has none. Shapes as :func:`ramp`."""
    r = ramp(n, start, length, control_rate)
    return jnp.where(length > 0.0, 1.0 - r, r)


def adsr(attack, decay, sustain, release, alpha, note_on, n, control_rate: float):
    """ADSR envelope at control rate.

    attack, decay, release, note_on: seconds; sustain in [0, 1]; alpha the ramp exponent; all ``[..., 1]``.
    n: ``[C]``. Returns ``[..., C]`` in [0, 1]. Attack and decay are squeezed into the note-on time;
    the release starts at note-off. Each segment's ramp (already inverted for decay/release) is raised to alpha.
    """
    a = jnp.minimum(attack, note_on)
    d = jnp.minimum(jnp.maximum(note_on - attack, 0.0), decay)
    rise = _power(ramp(n, 0.0, a, control_rate), alpha)
    fall = _power(inverse_ramp(n, a, d, control_rate), alpha)
    fade = _power(inverse_ramp(n, note_on, release, control_rate), alpha)
    return rise * (sustain + (1.0 - sustain) * fall) * fade


def _power(base, exponent):
    """base ** exponent for base in [0, 1], exponent > 0, as exp2(e·log2 b): XLA:CPU vectorizes this, not pow."""
    return jnp.exp2(exponent * jnp.log2(base))


def lfo_shape_weights(shape_amounts):
    """Shape amounts ``[..., 5]`` in [0, 1] → mixing weights ``w_k = s_k^e / Σ s^e``.

    All-zero amounts (torchsynth: NaN) give equal weights, the limit of equal small amounts.
    """
    p = shape_amounts ** math.e
    total = jnp.sum(p, axis=-1, keepdims=True)
    return jnp.where(total > 0.0, p / jnp.where(total > 0.0, total, 1.0), 1.0 / shape_amounts.shape[-1])


def lfo(frequency, mod_depth, initial_phase, shape_amounts, rate_env, control_rate: float):
    """Low-frequency oscillator at control rate, unipolar.

    frequency, mod_depth: Hz ``[B, 1]``; initial_phase: radians ``[B, 1]``; shape_amounts ``[B, 5]`` in the
    order (sin, tri, saw, rsaw, sqr); rate_env ``[B, C]`` in [0, 1]. Returns ``[B, C]`` in [0, 1].
    """
    hz = jnp.maximum(frequency + mod_depth * rate_env, 0.0)
    # Summed exactly in fixed point: a float32 cumsum is off by ~1e-5 cycles after a few hundred steps,
    # enough to move a square or saw edge by one control sample (and, through a pitch route, the whole note).
    running = jnp.cumsum(to_phase_units(hz / control_rate), axis=-1, dtype=jnp.uint32)
    cycles = from_phase_units(running) + initial_phase / (2.0 * math.pi)
    saw = jnp.mod(cycles, 1.0)
    c = jnp.cos(2.0 * math.pi * cycles)
    shapes = jnp.stack(
        [(1.0 - c) / 2.0, 1.0 - jnp.abs(2.0 * saw - 1.0), saw, 1.0 - saw, (jnp.sign(-c) + 1.0) / 2.0], axis=1
    )  # [B, 5, C]
    w = lfo_shape_weights(shape_amounts)
    return jnp.einsum("bk,bkc->bc", w, shapes)


def mod_matrix(sources, routes):
    """Mix modulation sources into destinations, no normalization.

    sources: ``[B, I, C]`` (adsr_1, adsr_2, lfo_1, lfo_2); routes: ``[B, I, O]`` human amounts.
    Returns ``[B, O, C]`` (vco_1_pitch, vco_1_amp, vco_2_pitch, vco_2_amp, noise_amp).
    """
    return jnp.einsum("bic,bio->boc", sources, routes)


# ----------------------------------------------------------------------------------------------
# Control → audio rate
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BlockGeometry:
    """How audio samples are laid out in blocks and interpolated from control samples.

    Linear interpolation with the endpoints aligned (control 0 ↦ audio 0, control C−1 ↦ audio T−1).
    Audio sample ``j·K + k`` reads control samples ``index[m, j]`` with weights ``weight[m, j, k]``, so
    upsampling is a tiny gather at control rate plus M multiply-adds per sample (no audio-rate gather).
    """

    num_samples: int  # T
    num_control: int  # C
    block: int  # K
    index: np.ndarray  # [M, NB] int32
    weight: np.ndarray  # [M, NB, K] float32

    @property
    def num_blocks(self) -> int:
        return self.index.shape[1]


@lru_cache(maxsize=32)
def block_geometry(num_samples: int, num_control: int, block: int = 32) -> BlockGeometry:
    """Precompute the θ-independent upsampling layout for T audio and C control samples (C ≥ 2).

    ``block`` K trades the in-block phase sum (a K×K matrix product: 2K flops a sample) against the
    number of blocks; a multiple of 8 keeps the audio-rate loops vectorized (32 is fastest on the CPU).
    """
    t, c, k = num_samples, num_control, block
    nb = -(-t // k)
    i = np.minimum(np.arange(nb * k), t - 1).astype(np.float64)
    pos = i * (c - 1) / (t - 1)
    left = np.minimum(np.floor(pos), c - 2).astype(np.int64)
    frac = pos - left
    left, frac = left.reshape(nb, k), frac.reshape(nb, k)
    base = left[:, :1]
    offset = left - base  # [NB, K]
    m = int(offset.max()) + 2
    weight = np.zeros((m, nb, k), np.float64)
    rows, cols = np.meshgrid(np.arange(nb), np.arange(k), indexing="ij")
    weight[offset, rows, cols] += 1.0 - frac
    weight[offset + 1, rows, cols] += frac
    index = np.minimum(base.T + np.arange(m)[:, None], c - 1).astype(np.int32)
    return BlockGeometry(t, c, k, index, weight.astype(np.float32))


def upsample(control, geometry: BlockGeometry):
    """One control signal ``[B, C]`` → audio-rate blocks ``[B, NB, K]`` by linear interpolation.

    Call it once per signal: XLA:CPU fuses ``[B, NB, K]`` well but emits a ~10× slower loop for a stacked
    ``[B, S, NB, K]`` broadcast.
    """
    w = jnp.asarray(geometry.weight)
    return sum(jnp.take(control, geometry.index[m], axis=-1)[..., None] * w[m] for m in range(w.shape[0]))


# ----------------------------------------------------------------------------------------------
# Audio rate: oscillators and noise, [B, NB, K]
# ----------------------------------------------------------------------------------------------
_CYCLE_UNITS = 2.0 ** 32  # fixed-point phase: one cycle = 2^32 units, so uint32 arithmetic wraps exactly at 1


def to_phase_units(cycles):
    """Phase increments in cycles (float32 ≥ 0, any shape) → uint32 units of 2⁻³² cycle, modulo one cycle.

    Sums of these wrap exactly at one cycle and never round: accumulated phase carries no float32 error.
    """
    units = jnp.floor((cycles - jnp.floor(cycles)) * _CYCLE_UNITS + 0.5)
    return jnp.minimum(units, _CYCLE_UNITS - 256.0).astype(jnp.uint32)  # 2^32 itself would overflow


def from_phase_units(units):
    """uint32 phase units → cycles in [0, 1) as float32 (resolution 2⁻²⁴ cycle; the top 24 bits)."""
    return (units >> 8).astype(jnp.float32) * (1.0 / 16777216.0)


def _inclusive_cumsum(x, precision=jax.lax.Precision.HIGHEST):
    """Inclusive cumulative sum along the last axis ``[..., K]`` as a triangular matrix product.

    A dot, not a scan: exact enough for short axes, fast on CPU and GPU, and it stays out of XLA's loop
    fusions (a fused scan interleave stops LLVM from vectorizing the audio-rate loop that consumes it).
    """
    k = x.shape[-1]
    return jnp.matmul(x, jnp.triu(jnp.ones((k, k), x.dtype)), precision=precision)


def phase_cycles(increments, initial_cycles):
    """Running phase in cycles from per-sample increments.

    increments: ``[B, NB, K]`` cycles per sample (≥ 0); initial_cycles ``[B]``. Returns ``[B, NB, K]`` equal
    to ``initial + Σ_{s ≤ i} increment_s`` (inclusive, like torchsynth's cumsum) up to whole cycles.
    Within a block the sum is a triangular matrix product in float32 (K terms: error ~1e-7 cycles that
    does not accumulate); the starts of the blocks are summed exactly in fixed point, so the phase does not
    drift however long the sound.
    """
    within = _inclusive_cumsum(increments)
    totals = jnp.sum(to_phase_units(increments), axis=-1, dtype=jnp.uint32)  # [B, NB], exact modulo 1 cycle
    before = jnp.cumsum(totals, axis=-1, dtype=jnp.uint32) - totals
    return within + (from_phase_units(before) + initial_cycles[:, None])[..., None]


def _taylor(odd: bool, terms: int) -> list[float]:
    # Coefficients of cos(2πr) (even) or sin(2πr)/r (odd) in powers of r² — computed, not typed in.
    first = 1 if odd else 0
    return [(-1) ** j * (2 * math.pi) ** (2 * j + first) / math.factorial(2 * j + first) for j in range(terms)]


_COS_COEF = _taylor(False, 10)  # degree 18: |error| < 3e-8 on |r| ≤ 1/2
_SIN_COEF = _taylor(True, 10)  # degree 19


def _horner(z, coefs):
    acc = jnp.full_like(z, coefs[-1])
    for c in coefs[-2::-1]:
        acc = acc * z + c
    return acc


def cos_sin_cycles(cycles):
    """(cos 2πu, sin 2πu) for phases u in cycles, any shape.

    Reduces to r ∈ [−½, ½] exactly (u − round(u)) and evaluates Taylor polynomials: 5–6× cheaper than
    XLA's cos on CPU at float32 accuracy (≈1e-7).
    """
    r = cycles - jnp.round(cycles)
    z = r * r
    return _horner(z, _COS_COEF), r * _horner(z, _SIN_COEF)


def square_saw(cos_phase, sin_phase, shape, partials):
    """Lazzarini & Timoney's square→saw waveform.

    cos_phase, sin_phase: ``[B, NB, K]``; shape ``[B, 1, 1]`` in [0, 1] (0 square, 1 saw);
    partials ``[B, 1, 1]`` the band-limiting constant k. Returns ``[B, NB, K]`` in about [−1.5, 1.5].
    """
    square = jnp.tanh(math.pi * partials * sin_phase / 2.0)
    return (1.0 - shape / 2.0) * square * (1.0 + shape * cos_phase)


def square_saw_partials(midi_f0, tuning, mod_depth):
    """k = 12000 / (f_max · log10 f_max), f_max the highest pitch the modulation can reach (Hz). Shapes ``[B]``."""
    f_max = midi_to_hz(midi_f0 + tuning + jnp.maximum(mod_depth, 0.0))
    return 12000.0 / (f_max * jnp.log10(f_max))


def _mix32(h):
    # "lowbias32" integer finalizer (C. Wellons): good avalanche for a few integer ops per sample.
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x7FEB352D)
    h = h ^ (h >> 15)
    h = h * jnp.uint32(0x846CA68B)
    return h ^ (h >> 16)


def uniform_noise(seeds, num_blocks: int, block: int):
    """White noise uniform in [−1, 1), one independent row per seed.

    seeds: ``[B]`` uint32. Returns ``[B, NB, K]`` float32. A counter-based hash of (seed, sample index):
    the same seed always gives the same row, whatever the batch it is rendered in, and costs ~20× less
    than threefry here.
    """
    n = jnp.arange(num_blocks * block, dtype=jnp.uint32).reshape(num_blocks, block)
    # A well-mixed key per seed, then one finalizer round per sample: rows of different seeds hash
    # disjoint inputs (n ^ key), so they are uncorrelated; one round keeps the audio loop cheap.
    key = _mix32(_mix32(seeds.astype(jnp.uint32) * jnp.uint32(0x9E3779B9) + jnp.uint32(0x632BE5AB)))
    h = _mix32(n[None] ^ key[:, None, None])
    return (h >> 8).astype(jnp.float32) * (2.0 / 16777216.0) - 1.0
