"""The Voice patch's 78 parameters, declared once as data.

A sound is a normalized vector θ ∈ [0, 1]^78 in the canonical order below (torchsynth's
registration order in torchsynth 1.0.2's ``torchsynth.synth.Voice``). Human units exist only at the
edges (sliders, preset files); :func:`to_human` and :func:`to_normalized` convert between the two, vectorized over any
leading batch shape, and are exact inverses of each other up to float rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParamSpec:
    """One synth parameter: where it lives, its human range and curve, and the studio's default.

    ``curve`` c maps normalized x to human y: plain ``y = lo + (hi − lo)·x^(1/c)``; symmetric curves
    act on ``2x − 1`` so the curve bends around the centre of the range.
    """

    module: str
    name: str
    lo: float
    hi: float
    curve: float
    symmetric: bool
    unit: str
    description: str
    default: float  # human units

    @property
    def key(self) -> str:
        """``module.parameter``: the name used in preset files and the UI."""
        return f"{self.module}.{self.name}"


_ADSR_DOC = {
    "attack": "time to rise from silence to full level",
    "decay": "time to fall from full level to the sustain level",
    "sustain": "level held while the note is on",
    "release": "time to fade out after the note is released",
    "alpha": "ramp exponent: 1 is linear, above 1 starts slowly, below 1 starts fast",
}


def _adsr(module: str, purpose: str, defaults: tuple[float, float, float, float, float]) -> list[ParamSpec]:
    a, d, s, r, alpha = defaults
    return [
        ParamSpec(module, "attack", 0.0, 2.0, 0.5, False, "s", f"{purpose}: {_ADSR_DOC['attack']}", a),
        ParamSpec(module, "decay", 0.0, 2.0, 0.5, False, "s", f"{purpose}: {_ADSR_DOC['decay']}", d),
        ParamSpec(module, "sustain", 0.0, 1.0, 1.0, False, "", f"{purpose}: {_ADSR_DOC['sustain']}", s),
        ParamSpec(module, "release", 0.0, 5.0, 0.5, False, "s", f"{purpose}: {_ADSR_DOC['release']}", r),
        ParamSpec(module, "alpha", 0.1, 6.0, 1.0, False, "", f"{purpose}: {_ADSR_DOC['alpha']}", alpha),
    ]


LFO_SHAPES = ("sin", "tri", "saw", "rsaw", "sqr")
_SHAPE_DOC = {"sin": "sine", "tri": "triangle", "saw": "rising saw", "rsaw": "falling saw", "sqr": "square"}


def _lfo(module: str, freq: float, shape: str) -> list[ParamSpec]:
    specs = [
        ParamSpec(module, "frequency", 0.0, 20.0, 0.25, False, "Hz", "LFO rate", freq),
        ParamSpec(module, "mod_depth", -10.0, 20.0, 0.5, True, "Hz",
                  "how far the LFO's rate envelope moves its rate", 0.0),
        ParamSpec(module, "initial_phase", -math.pi, math.pi, 1.0, False, "rad", "LFO phase at the start", 0.0),
    ]
    specs += [ParamSpec(module, s, 0.0, 1.0, 1.0, False, "", f"weight of the {_SHAPE_DOC[s]} shape in the LFO mix",
                        1.0 if s == shape else 0.0) for s in LFO_SHAPES]
    return specs


MOD_INPUTS = ("adsr_1", "adsr_2", "lfo_1", "lfo_2")
MOD_OUTPUTS = ("vco_1_pitch", "vco_1_amp", "vco_2_pitch", "vco_2_amp", "noise_amp")
# The default patch: envelope 1 opens both oscillators' amplifiers, so the default is audible
# (with every amp route at 0 the Voice is silent, whatever the mixer says).
_DEFAULT_ROUTES = {("adsr_1", "vco_1_amp"): 1.0, ("adsr_1", "vco_2_amp"): 1.0, ("adsr_1", "noise_amp"): 1.0}
_OUT_DOC = {"vco_1_pitch": "oscillator 1 pitch", "vco_1_amp": "oscillator 1 level", "vco_2_pitch": "oscillator 2 pitch",
            "vco_2_amp": "oscillator 2 level", "noise_amp": "noise level"}


def _routes() -> list[ParamSpec]:
    return [ParamSpec("mod_matrix", f"{i}->{o}", 0.0, 1.0, 0.5, False, "",
                      f"how much {i.replace('_', ' ')} drives {_OUT_DOC[o]}", _DEFAULT_ROUTES.get((i, o), 0.0))
            for i in MOD_INPUTS for o in MOD_OUTPUTS]


def _vco(module: str, label: str, square_saw: bool, tuning: float) -> list[ParamSpec]:
    specs = [
        ParamSpec(module, "tuning", -24.0, 24.0, 1.0, False, "semitones", f"{label} offset from the keyboard pitch",
                  tuning),
        ParamSpec(module, "mod_depth", -96.0, 96.0, 0.2, True, "semitones",
                  f"how far the pitch routes of the modulation matrix bend {label}", 0.0),
        ParamSpec(module, "initial_phase", -math.pi, math.pi, 1.0, False, "rad", f"{label} phase at the start", 0.0),
    ]
    if square_saw:
        specs.append(ParamSpec(module, "shape", 0.0, 1.0, 1.0, False, "", "waveform: 0 square … 1 saw", 0.5))
    return specs


PARAMS: tuple[ParamSpec, ...] = tuple(
    [
        ParamSpec("keyboard", "midi_f0", 0.0, 127.0, 1.0, False, "MIDI note", "pitch of the note (60 = middle C)",
                  60.0),
        ParamSpec("keyboard", "duration", 0.01, 4.0, 0.5, False, "s", "note-on time before the release starts", 1.0),
    ]
    + _adsr("adsr_1", "envelope 1", (0.01, 0.3, 0.6, 0.5, 1.0))
    + _adsr("adsr_2", "envelope 2", (0.05, 0.5, 0.3, 0.5, 1.0))
    + _lfo("lfo_1", 5.0, "sin")
    + _lfo("lfo_2", 0.5, "tri")
    + _adsr("lfo_1_amp_adsr", "LFO 1 depth envelope", (0.0, 0.0, 1.0, 1.0, 1.0))
    + _adsr("lfo_2_amp_adsr", "LFO 2 depth envelope", (0.0, 0.0, 1.0, 1.0, 1.0))
    + _adsr("lfo_1_rate_adsr", "LFO 1 rate envelope", (0.0, 0.0, 1.0, 1.0, 1.0))
    + _adsr("lfo_2_rate_adsr", "LFO 2 rate envelope", (0.0, 0.0, 1.0, 1.0, 1.0))
    + _routes()
    + _vco("vco_1", "the sine oscillator", False, 0.0)
    + _vco("vco_2", "the square-saw oscillator", True, 0.0)
    + [
        ParamSpec("mixer", "vco_1", 0.0, 1.0, 1.0, False, "", "level of the sine oscillator", 0.6),
        ParamSpec("mixer", "vco_2", 0.0, 1.0, 1.0, False, "", "level of the square-saw oscillator", 0.4),
        ParamSpec("mixer", "noise", 0.0, 1.0, 0.025, False, "", "level of the noise (steep curve: x⁴⁰)", 0.0),
    ]
)

N_PARAMS = len(PARAMS)
assert N_PARAMS == 78, N_PARAMS
PARAM_KEYS: tuple[str, ...] = tuple(p.key for p in PARAMS)
PARAM_INDEX: dict[str, int] = {k: i for i, k in enumerate(PARAM_KEYS)}
MODULES: tuple[str, ...] = tuple(dict.fromkeys(p.module for p in PARAMS))

_LO = np.array([p.lo for p in PARAMS], np.float64)
_HI = np.array([p.hi for p in PARAMS], np.float64)
_CURVE = np.array([p.curve for p in PARAMS], np.float64)
_SYM = np.array([p.symmetric for p in PARAMS], bool)


def to_human(x):
    """Normalized ``[..., 78]`` in [0, 1] → human units ``[..., 78]`` (same array library and dtype).

    Works on numpy and JAX arrays alike (only elementwise ufuncs), so the synth can call it inside ``jit``.
    """
    xp = _array_module(x)
    lo, hi, curve = (xp.asarray(a, dtype=x.dtype) for a in (_LO, _HI, _CURVE))
    sym = xp.asarray(_SYM)
    plain = lo + (hi - lo) * x ** (1.0 / curve)
    # centre + half·n (not lo + (hi − lo)(n + 1)/2): keeps tiny bends near the centre, so the inverse is exact.
    d = 2.0 * x - 1.0
    bent = xp.sign(d) * xp.abs(d) ** (1.0 / curve)
    symmetric = (lo + hi) / 2.0 + (hi - lo) / 2.0 * bent
    return xp.where(sym, symmetric, plain)


def to_normalized(y):
    """Human units ``[..., 78]`` → normalized ``[..., 78]``; the exact inverse of :func:`to_human`.

    Values outside a parameter's range map outside [0, 1] (callers validate or clip).
    """
    xp = _array_module(y)
    lo, hi, curve = (xp.asarray(a, dtype=y.dtype) for a in (_LO, _HI, _CURVE))
    sym = xp.asarray(_SYM)
    u = (y - lo) / (hi - lo)
    plain = xp.abs(u) ** curve * xp.sign(u)
    d = (y - (lo + hi) / 2.0) / ((hi - lo) / 2.0)
    symmetric = (1.0 + xp.sign(d) * xp.abs(d) ** curve) / 2.0
    return xp.where(sym, symmetric, plain)


def _array_module(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import jax.numpy as jnp  # the synth calls these inside jit

    return jnp


def default_human() -> np.ndarray:
    """The studio's default patch in human units, ``[78]`` float64."""
    return np.array([p.default for p in PARAMS], np.float64)


def default_theta() -> np.ndarray:
    """The studio's default patch, normalized: ``[78]`` float32 in [0, 1]."""
    return np.clip(to_normalized(default_human()), 0.0, 1.0).astype(np.float32)


def module_slices() -> dict[str, slice]:
    """Each module's contiguous slice of θ, in canonical order."""
    out: dict[str, slice] = {}
    for i, p in enumerate(PARAMS):
        s = out.get(p.module)
        out[p.module] = slice(i if s is None else s.start, i + 1)
    return out
