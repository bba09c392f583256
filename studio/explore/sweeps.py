"""Sound sets: one-attribute sweeps of the Voice and random audible sounds (the ranking test's material, the
``sweeps`` kind of ``studio.data`` datasets, the explore benchmarks).

The ranking test after Combes et al. (2025) needs sweeps in which exactly one perceptual attribute changes
monotonically. Each sweep starts from a *base sound* drawn from a fixed seed (a sustained, clearly pitched
two-oscillator note whose first envelope opens all three amplifiers, no modulation), then the attribute's
own patch (e.g. a tremolo needs LFO 2 routed to the amplifiers) and finally 20 monotonic values of the Voice
parameters behind the attribute. Everything is set in human units and converted with ``to_normalized``, so
the steps are even in the units a musician would use (seconds, semitones, Hz, dB).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from studio.synth import PARAM_INDEX, RenderSettings, default_human, noise_seeds, render, to_normalized

STEPS = 20
AMP_ROUTES = ("vco_1_amp", "vco_2_amp", "noise_amp")
PITCH_ROUTES = ("vco_1_pitch", "vco_2_pitch")
_ROUTE_KEYS = tuple(k for k in PARAM_INDEX if k.startswith("mod_matrix."))


def _set(human: np.ndarray, key: str, value) -> None:
    human[..., PARAM_INDEX[key]] = value


def _route(source: str, target: str) -> str:
    return f"mod_matrix.{source}->{target}"


def base_sound(rng: np.random.Generator) -> np.ndarray:
    """A plain sustained note in human units ``[78]``: two oscillators, a touch of noise, no modulation."""
    h = default_human()
    for key in _ROUTE_KEYS:
        _set(h, key, 0.0)
    for target in AMP_ROUTES:
        _set(h, _route("adsr_1", target), 1.0)
    _set(h, "keyboard.midi_f0", rng.uniform(45, 70))
    _set(h, "keyboard.duration", 1.5)
    for name, value in (("attack", rng.uniform(0.005, 0.03)), ("decay", rng.uniform(0.2, 0.5)),
                        ("sustain", rng.uniform(0.6, 0.9)), ("release", rng.uniform(0.1, 0.3)), ("alpha", 1.0)):
        _set(h, f"adsr_1.{name}", value)
    for name, value in (("attack", 0.0), ("decay", rng.uniform(0.1, 0.3)), ("sustain", 0.0), ("release", 0.1),
                        ("alpha", 1.0)):
        _set(h, f"adsr_2.{name}", value)
    _set(h, "vco_1.tuning", rng.choice([-12.0, 0.0, 7.0, 12.0]))
    _set(h, "vco_2.tuning", rng.choice([-12.0, 0.0, 0.0, 12.0]))
    _set(h, "vco_1.mod_depth", 0.0)
    _set(h, "vco_2.mod_depth", 0.0)
    _set(h, "vco_1.initial_phase", rng.uniform(-np.pi, np.pi))
    _set(h, "vco_2.initial_phase", rng.uniform(-np.pi, np.pi))
    _set(h, "vco_2.shape", rng.uniform(0.2, 0.8))
    _set(h, "mixer.vco_1", rng.uniform(0.3, 0.6))
    _set(h, "mixer.vco_2", rng.uniform(0.3, 0.6))
    _set(h, "mixer.noise", rng.uniform(0.0, 0.01))
    for lfo in ("lfo_1", "lfo_2"):
        _set(h, f"{lfo}.frequency", rng.uniform(4.0, 7.0))
        _set(h, f"{lfo}.mod_depth", 0.0)
        _set(h, f"{lfo}.initial_phase", rng.uniform(-np.pi, np.pi))
        for shape in ("sin", "tri", "saw", "rsaw", "sqr"):
            _set(h, f"{lfo}.{shape}", 1.0 if shape == "sin" else 0.0)
    return h


# How each attribute enters a patch: human values h [STEPS, 78] (every row the base sound) and the step values
# v [STEPS]; each sets up what makes the attribute audible, then writes v into the Voice parameters behind it.
def _attack(h, v):
    _set(h, "adsr_1.attack", v)
    _set(h, "adsr_1.sustain", 0.8)


def _decay(h, v):
    _set(h, "adsr_1.attack", 0.005)
    _set(h, "adsr_1.sustain", 0.15)
    _set(h, "adsr_1.decay", v)


def _sustain(h, v):
    _set(h, "adsr_1.decay", 0.15)
    _set(h, "adsr_1.sustain", v)


def _release(h, v):
    _set(h, "keyboard.duration", 0.3)
    _set(h, "adsr_1.sustain", 0.8)
    _set(h, "adsr_1.release", v)


def _shape(h, v):
    _set(h, "mixer.vco_1", 0.1)
    _set(h, "mixer.vco_2", 0.7)
    _set(h, "vco_2.shape", v)


def _balance(h, v):
    _set(h, "mixer.vco_1", 0.7 * (1.0 - v))
    _set(h, "mixer.vco_2", 0.7 * v)


def _noise(h, v):
    _set(h, "mixer.noise", 10.0 ** (v / 20.0))


def _vibrato(h, depth, rate):
    for target in PITCH_ROUTES:
        _set(h, _route("lfo_1", target), 1.0)
    _set(h, "vco_1.mod_depth", depth)
    _set(h, "vco_2.mod_depth", depth)
    _set(h, "lfo_1.frequency", rate)


def _vibrato_depth(h, v):
    _vibrato(h, v, 5.5)


def _vibrato_rate(h, v):
    _vibrato(h, 1.5, v)


def _tremolo(h, depth, rate):
    # amp = env·(1 − d + d·lfo): LFO 2's depth envelope copies envelope 1, so the tremolo rides on the note.
    for name in ("attack", "decay", "sustain", "release", "alpha"):
        _set(h, f"lfo_2_amp_adsr.{name}", h[..., PARAM_INDEX[f"adsr_1.{name}"]])
    for target in AMP_ROUTES:
        _set(h, _route("adsr_1", target), 1.0 - depth)
        _set(h, _route("lfo_2", target), depth)
    _set(h, "lfo_2.frequency", rate)


def _tremolo_depth(h, v):
    _tremolo(h, v, 5.0)


def _tremolo_rate(h, v):
    _tremolo(h, 0.7, v)


def _pitch_envelope(h, v):
    for target in PITCH_ROUTES:
        _set(h, _route("adsr_2", target), v)
    _set(h, "vco_1.mod_depth", 12.0)
    _set(h, "vco_2.mod_depth", 12.0)


def _pitch(h, v):
    _set(h, "keyboard.midi_f0", v)


@dataclass(frozen=True)
class Attribute:
    """One swept attribute: its name, unit, the 20 step values and how they enter a patch."""

    name: str
    unit: str
    values: Callable[[np.random.Generator], np.ndarray]  # rng → [STEPS] human values, monotonic
    apply: Callable  # (human [STEPS, 78], values [STEPS]) → None, in place


def _linspace(lo, hi):
    return lambda rng: np.linspace(lo, hi, STEPS)


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("attack", "s", _linspace(0.0, 0.8), _attack),
    Attribute("decay", "s", _linspace(0.02, 1.0), _decay),
    Attribute("sustain", "", _linspace(0.0, 1.0), _sustain),
    Attribute("release", "s", _linspace(0.02, 1.2), _release),
    Attribute("shape", "square→saw", _linspace(0.0, 1.0), _shape),
    Attribute("osc balance", "sine→square-saw", _linspace(0.0, 1.0), _balance),
    Attribute("noise level", "dB", _linspace(-50.0, -6.0), _noise),
    Attribute("vibrato depth", "semitones", _linspace(0.0, 2.0), _vibrato_depth),
    Attribute("vibrato rate", "Hz", _linspace(1.0, 12.0), _vibrato_rate),
    Attribute("tremolo depth", "", _linspace(0.0, 0.95), _tremolo_depth),
    Attribute("tremolo rate", "Hz", _linspace(1.0, 12.0), _tremolo_rate),
    Attribute("pitch envelope", "route amount", _linspace(0.0, 1.0), _pitch_envelope),
    Attribute("pitch", "MIDI", lambda rng: rng.uniform(40, 55) + np.linspace(0.0, 24.0, STEPS), _pitch),
)


def attribute_sweeps(attribute: Attribute, bases: int = 10, seed: int = 0) -> np.ndarray:
    """θ of ``bases`` sweeps of one attribute: ``[bases, STEPS, 78]`` float32 in [0, 1].

    The base sounds come from ``seed`` (the same bases for every attribute, so attributes are compared on
    the same material); each sweep's step values come from the same generator, so the set is reproducible.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((bases, STEPS, len(PARAM_INDEX)), np.float32)
    for b in range(bases):
        out[b], _ = sweep(attribute, rng)
    return out


def sweep(attribute: Attribute, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One sweep of an attribute from a base sound drawn from ``rng``: (θ ``[STEPS, 78]`` float32 in [0, 1], the
    step values ``[STEPS]`` float64 in the attribute's unit). Draws the base sound, then the step values."""
    human = np.repeat(base_sound(rng)[None], STEPS, axis=0)
    values = np.asarray(attribute.values(rng), np.float64)
    attribute.apply(human, values)
    return np.clip(to_normalized(human), 0.0, 1.0).astype(np.float32), values


ATTRIBUTE_NAMES: tuple[str, ...] = tuple(a.name for a in ATTRIBUTES)


def attribute_named(name: str) -> Attribute:
    """The swept attribute called ``name`` (``ATTRIBUTE_NAMES``); ``KeyError`` for another name."""
    for attribute in ATTRIBUTES:
        if attribute.name == name:
            return attribute
    raise KeyError(name)


def render_sweeps(thetas: np.ndarray, settings: RenderSettings = RenderSettings()) -> np.ndarray:
    """Render sweeps ``[S, STEPS, 78]`` → audio ``[S, STEPS, T]``; every step of sweep s shares one noise seed."""
    s, n, _ = thetas.shape
    seeds = np.repeat(noise_seeds(settings, s), n)
    audio = render(thetas.reshape(s * n, -1), settings, seeds=seeds)
    return np.asarray(audio).reshape(s, n, -1)


def random_audible_thetas(count: int, seed: int, settings: RenderSettings = RenderSettings(),
                          min_peak_db: float = -40.0) -> np.ndarray:
    """``count`` uniform-random θ ``[count, 78]`` whose renders peak above ``min_peak_db`` dBFS.

    Uniform θ over all 78 knobs (as CTAG and the doppelgänger paper sample) gives many silent patches (every
    amplifier route near 0); those would make any distance 0 and say nothing, so they are skipped.
    """
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    while sum(len(k) for k in kept) < count:
        batch = rng.random((64, len(PARAM_INDEX)), dtype=np.float32)
        peaks = np.max(np.abs(np.asarray(render(batch, settings))), axis=-1)
        kept.append(batch[peaks > 10.0 ** (min_peak_db / 20.0)])
    return np.concatenate(kept)[:count]
