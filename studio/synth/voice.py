"""The Voice patch: θ ``[B, 78]`` in [0, 1] → audio ``[B, T]``, jitted and batched.

Signal flow (torchsynth 1.0.2's ``Voice``; README, "The synthesizer in Python"): six ADSRs and two LFOs
at control rate → a 4×5 modulation matrix → five
control signals upsampled to audio rate → a sine VCO, a square-saw VCO and noise, each through its
amplifier → a three-channel mixer → per-sound normalization when a sound clips.
"""
from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import dsp
from .params import MOD_INPUTS, MOD_OUTPUTS, N_PARAMS, PARAM_INDEX, PARAM_KEYS, PARAMS, to_human

MAX_SAMPLE_RATE = 192_000
MAX_DURATION = 30.0


@dataclass(frozen=True)
class RenderSettings:
    """How a θ becomes audio. Defaults are CTAG's: 48 kHz, 2 s, control rate 480 Hz.

    ``noise_seed`` picks the noise row: sound b of a batch rendered with these settings uses seed
    ``noise_seed + b`` (see :func:`noise_seeds`), so a single sound re-renders identically from its seed.
    """

    sample_rate: int = 48_000
    duration: float = 2.0  # seconds
    control_rate: float = 480.0  # Hz
    noise_seed: int = 0

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.duration))

    @property
    def num_control(self) -> int:
        return int(round(self.control_rate * self.duration))

    def validate(self) -> RenderSettings:
        """Raise ``ValueError`` naming the bad setting; return self when all are usable."""
        checks = [
            ("sample_rate",
             isinstance(self.sample_rate, (int, np.integer)) and 8_000 <= self.sample_rate <= MAX_SAMPLE_RATE,
             f"an integer from 8000 to {MAX_SAMPLE_RATE} Hz"),
            ("duration", _finite(self.duration) and 0.05 <= self.duration <= MAX_DURATION, f"0.05 to {MAX_DURATION} s"),
            ("control_rate", _finite(self.control_rate) and 10.0 <= self.control_rate <= self.sample_rate / 4,
             "10 Hz to a quarter of the sample rate"),
            ("noise_seed", isinstance(self.noise_seed, (int, np.integer)) and 0 <= self.noise_seed < 2**32,
             "an integer from 0 to 2**32 - 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"render setting {name}={getattr(self, name)!r} is invalid: expected {expected}")
        return self


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v))


def noise_seeds(settings: RenderSettings, batch: int) -> np.ndarray:
    """Per-sound noise seeds ``[batch]`` uint32: ``settings.noise_seed + b`` (wrapping)."""
    return ((np.uint64(settings.noise_seed) + np.arange(batch, dtype=np.uint64)) % np.uint64(2**32)).astype(np.uint32)


def _col(human, key):
    return human[:, PARAM_INDEX[key], None]  # [B, 1]


def _adsr_bank(human, n, control_rate, note_on, modules):
    """The named ADSR modules evaluated together: ``[B, len(modules), C]``."""
    idx = np.array([[PARAM_INDEX[f"{m}.{p}"] for p in ("attack", "decay", "sustain", "release", "alpha")]
                    for m in modules])
    a, d, s, r, alpha = (human[:, idx[:, j], None] for j in range(5))  # each [B, M, 1]
    return dsp.adsr(a, d, s, r, alpha, note_on[:, :, None], n, control_rate)


def _lfo(human, name, rate_env, amp_env, control_rate):
    shapes = human[:, [PARAM_INDEX[f"{name}.{s}"] for s in ("sin", "tri", "saw", "rsaw", "sqr")]]
    out = dsp.lfo(_col(human, f"{name}.frequency"), _col(human, f"{name}.mod_depth"),
                  _col(human, f"{name}.initial_phase"), shapes, rate_env, control_rate)
    return out * amp_env


def control_signals(theta, num_control: int, control_rate: float):
    """θ ``[B, 78]`` (clipped) → the modulation matrix's five outputs ``[B, 5, C]`` at control rate.

    Order: vco_1_pitch, vco_1_amp, vco_2_pitch, vco_2_amp, noise_amp (``MOD_OUTPUTS``).
    """
    human = to_human(theta)
    n = jnp.arange(num_control, dtype=theta.dtype)
    envs = _adsr_bank(human, n, control_rate, _col(human, "keyboard.duration"),
                      ("adsr_1", "adsr_2", "lfo_1_amp_adsr", "lfo_2_amp_adsr", "lfo_1_rate_adsr", "lfo_2_rate_adsr"))
    lfo_1 = _lfo(human, "lfo_1", envs[:, 4], envs[:, 2], control_rate)
    lfo_2 = _lfo(human, "lfo_2", envs[:, 5], envs[:, 3], control_rate)
    sources = jnp.stack([envs[:, 0], envs[:, 1], lfo_1, lfo_2], axis=1)  # [B, 4, C]
    first = PARAM_INDEX[f"mod_matrix.{MOD_INPUTS[0]}->{MOD_OUTPUTS[0]}"]
    routes = human[:, first:first + len(MOD_INPUTS) * len(MOD_OUTPUTS)].reshape(-1, len(MOD_INPUTS), len(MOD_OUTPUTS))
    return dsp.mod_matrix(sources, routes)


def audio_blocks(theta, controls, seeds, sample_rate: int, geometry: dsp.BlockGeometry):
    """θ ``[B, 78]`` (clipped), controls ``[B, 5, C]``, seeds ``[B]`` → un-normalized audio ``[B, NB, K]``."""
    human = to_human(theta)
    midi_f0 = _col(human, "keyboard.midi_f0")
    pitch_1, amp_1, pitch_2, amp_2, noise_amp = (dsp.upsample(controls[:, i], geometry) for i in range(5))

    def oscillator_phase(name, pitch):
        tuning, depth = _col(human, f"{name}.tuning")[..., None], _col(human, f"{name}.mod_depth")[..., None]
        midi = jnp.clip(midi_f0[..., None] + tuning + depth * pitch, 0.0, 127.0)
        increments = dsp.midi_to_hz(midi) / sample_rate  # cycles per sample, [B, NB, K]
        return dsp.phase_cycles(increments, human[:, PARAM_INDEX[f"{name}.initial_phase"]] / (2.0 * math.pi))

    cos_1, _ = dsp.cos_sin_cycles(oscillator_phase("vco_1", pitch_1))
    cos_2, sin_2 = dsp.cos_sin_cycles(oscillator_phase("vco_2", pitch_2))
    partials = dsp.square_saw_partials(midi_f0, _col(human, "vco_2.tuning"), _col(human, "vco_2.mod_depth"))[..., None]
    wave_2 = dsp.square_saw(cos_2, sin_2, _col(human, "vco_2.shape")[..., None], partials)
    noise = dsp.uniform_noise(seeds, geometry.num_blocks, geometry.block)

    level = lambda key: _col(human, key)[..., None]  # noqa: E731 — [B, 1, 1]
    return (level("mixer.vco_1") * amp_1 * cos_1 + level("mixer.vco_2") * amp_2 * wave_2
            + level("mixer.noise") * noise_amp * noise)


def normalize_if_clipping(audio):
    """Divide each sound ``[B, T]`` by its own peak when that peak exceeds 1; leave quieter sounds alone."""
    peak = jnp.max(jnp.abs(audio), axis=-1, keepdims=True)
    return audio / jnp.maximum(peak, 1.0)


def default_sounds_per_step(backend: str) -> int:
    """How many sounds one step of the render loop processes: 1 on CPU, the whole batch (0) elsewhere.

    On a CPU, rendering sound by sound keeps every audio-rate intermediate (~0.4 MB) in cache; a whole
    batch of 32 spills ~12 MB arrays to memory and runs ~2× slower (``bench/synth_speed.py``). A GPU wants
    the opposite: one wide kernel over the whole batch.
    """
    return 1 if backend == "cpu" else 0


# Compiled renderers are kept by memory, not only by count: each holds its executables and constants, and their
# size grows with the buffer (measured on a CPU: RSS grew 65–120 bytes per audio sample per shape compiled, so
# 192 kHz × 29 s costs ~0.6 GB; bench/renderer_memory.py). Least recently used go first.
RENDERER_BYTES_PER_SAMPLE = 120
RENDERER_CACHE_BYTES = int(float(os.environ.get("SYNTH_RENDERER_CACHE_MB", "768")) * 2**20)
RENDERER_CACHE_COUNT = 16
_RENDERERS: OrderedDict = OrderedDict()  # key → (run, estimated bytes)
_RENDERERS_LOCK = threading.Lock()


def renderer_bytes(num_samples: int) -> int:
    """Estimated memory a compiled renderer for ``num_samples`` audio samples holds (bytes)."""
    return int(num_samples) * RENDERER_BYTES_PER_SAMPLE


def cached_renderer_bytes() -> int:
    """Estimated memory the compiled renderers kept now hold (bytes); at most ``RENDERER_CACHE_BYTES`` unless a
    single renderer is bigger than that (the one in use is always kept)."""
    with _RENDERERS_LOCK:
        return sum(size for _, size in _RENDERERS.values())


def cached_renderer_shapes() -> list[tuple[int, int]]:
    """(sample rate, samples) of every compiled renderer kept now, least recently used first."""
    with _RENDERERS_LOCK:
        return [(key[0], key[1]) for key in _RENDERERS]


def _compiled_renderer(sample_rate: int, num_samples: int, num_control: int, control_rate: float,
                       block: int, sounds_per_step: int):
    key = (sample_rate, num_samples, num_control, control_rate, block, sounds_per_step)
    with _RENDERERS_LOCK:
        if key in _RENDERERS:
            _RENDERERS.move_to_end(key)
            return _RENDERERS[key][0]
    run = _build_renderer(*key)
    with _RENDERERS_LOCK:
        if key in _RENDERERS:  # another thread built it meanwhile: keep one
            return _RENDERERS[key][0]
        _RENDERERS[key] = (run, renderer_bytes(num_samples))
        evicted = False
        while len(_RENDERERS) > 1 and (len(_RENDERERS) > RENDERER_CACHE_COUNT or
                                       sum(size for _, size in _RENDERERS.values()) > RENDERER_CACHE_BYTES):
            _RENDERERS.popitem(last=False)  # dropping the jitted function frees its executables
            evicted = True
    if evicted:
        dsp.block_geometry.cache_clear()  # geometries of evicted shapes would keep their buffers alive
        return_freed_memory()
    return run


def return_freed_memory() -> None:
    """Hand memory freed by an evicted renderer back to the system. glibc keeps freed blocks in its heap: without
    this, RSS still grew ~40 MB per evicted 96 kHz × 10 s renderer; with it, it stays flat (README)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the allocator keeps what it keeps
        pass


def _build_renderer(sample_rate: int, num_samples: int, num_control: int, control_rate: float,
                    block: int, sounds_per_step: int):
    geometry = dsp.block_geometry(num_samples, num_control, block)

    def audio_step(theta, controls, seeds):
        blocks = audio_blocks(theta, controls, seeds, sample_rate, geometry)
        return normalize_if_clipping(blocks.reshape(theta.shape[0], -1)[:, :num_samples])

    @jax.jit
    def run(theta, seeds):
        theta = jnp.clip(theta, 0.0, 1.0)
        # Control rate for the whole batch at once (small arrays: per-step overhead would dominate).
        controls = control_signals(theta, num_control, control_rate)
        batch = theta.shape[0]
        step = sounds_per_step if 0 < sounds_per_step < batch else batch
        if step == batch:
            return audio_step(theta, controls, seeds)
        steps = -(-batch // step)
        pad = steps * step - batch  # padded rows (zeros) are rendered and dropped

        def per_step(x):
            return jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1)).reshape((steps, step) + x.shape[1:])

        audio = jax.lax.map(lambda args: audio_step(*args), (per_step(theta), per_step(controls), per_step(seeds)))
        return audio.reshape(steps * step, num_samples)[:batch]

    return run


def renderer(settings: RenderSettings = RenderSettings(), block: int = 32, sounds_per_step: int | None = None):
    """The jitted render function for these settings: ``(θ [B, 78] float32, seeds [B] uint32) → [B, T]``.

    For hot loops (search) that already hold clean arrays on the device: no validation, no host sync.
    ``block`` (audio samples per phase block) and ``sounds_per_step`` (see :func:`default_sounds_per_step`)
    only change speed, never the sound beyond float rounding.
    """
    settings.validate()
    if sounds_per_step is None:
        sounds_per_step = default_sounds_per_step(jax.default_backend())
    return _compiled_renderer(int(settings.sample_rate), settings.num_samples, settings.num_control,
                              float(settings.control_rate), int(block), int(sounds_per_step))


def check_theta(theta) -> np.ndarray:
    """Validate θ ``[78]`` or ``[B, 78]``; return it as a float32 numpy array ``[B, 78]``.

    Non-finite values raise ``ValueError`` naming the sound and the parameter; values outside [0, 1] are
    allowed (the synth clips them).
    """
    arr = np.asarray(theta, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != N_PARAMS or arr.shape[0] == 0:
        raise ValueError(f"theta must have shape [{N_PARAMS}] or [batch, {N_PARAMS}], got {list(np.shape(theta))}")
    bad = ~np.isfinite(arr)
    if bad.any():
        b, i = map(int, np.argwhere(bad)[0])
        raise ValueError(f"parameter {PARAM_KEYS[i]} of sound {b} is not finite ({arr[b, i]})")
    return arr


def render(theta, settings: RenderSettings = RenderSettings(), seeds=None):
    """Render sounds.

    theta: ``[78]`` or ``[B, 78]`` normalized parameters (clipped to [0, 1]; NaN/inf raise ``ValueError``).
    settings: sample rate, duration, control rate, noise seed. seeds: optional ``[B]`` per-sound noise seeds
    (default :func:`noise_seeds`). Returns float32 audio in [−1, 1]: ``[B, T]`` (or ``[T]`` for a single θ).
    """
    settings.validate()
    single = np.ndim(theta) == 1
    arr = check_theta(theta)
    if seeds is None:
        seeds = noise_seeds(settings, arr.shape[0])
    seeds = np.asarray(seeds)
    if seeds.shape != (arr.shape[0],):
        raise ValueError(f"seeds must have shape [{arr.shape[0]}], got {list(seeds.shape)}")
    audio = renderer(settings)(jnp.asarray(arr), jnp.asarray(seeds.astype(np.uint32)))
    return audio[0] if single else audio


__all__ = ["RenderSettings", "render", "renderer", "check_theta", "noise_seeds", "normalize_if_clipping",
           "PARAMS", "N_PARAMS"]
