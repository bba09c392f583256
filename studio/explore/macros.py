"""Macro knobs: named qualities in their own units, measured on the sound, that move θ so the quality follows.

A macro is one column of the sound profile (:mod:`studio.audio.sound_profile`, the studio's one measure of a
sound): pitch (MIDI note, moved in semitones), brightness (spectral centroid, Hz), noisiness (flatness), attack,
decay and length (s), vibrato depth (st) and rate (Hz), tremolo depth (dB) and rate (Hz), richness (effective
number of partials). Moving a macro to a value is a small constrained search over θ (:func:`move`):

1. **Handles**: each macro knows the knob moves that change its quality in the Voice (brightness: the sine ↔
   square-saw balance, the square-saw's shape, its octave; attack: the attack time of every envelope that opens an
   amplifier; vibrato depth: the LFO → pitch routes, or a new vibrato on a free LFO; …). Each handle is tried at a
   grid of amounts around the amount the target needs.
2. Every candidate is rendered and measured in one batch (render and profile compiled together, one shard per CPU
   core) and scored: the distance of the moved quality from its target dominates, then how far each *other*
   quality left the sound's own value (on the scoring scales of :mod:`studio.scoring.base`: octaves of brightness,
   doublings of a time, …), then how far θ moved.
3. A refinement round: a finer grid around the best handle amount, and sparse compensation steps (one or two knobs
   at a time) that pull the other qualities back.
4. The winner is rendered again on its own and measured: what the move reports is what the sound does.

Locks (:mod:`.locks`) hold their knobs at the sound's values in every candidate. A macro whose target lies beyond
the synth's reach from this sound goes as far as it can and says so (:attr:`MacroMove.notes`). Qualities that a
macro cannot move without moving another are *coupled* and not counted against it (pitch moves brightness in Hz:
the timbre, richness, stays; a shorter length shortens a long decay). Everything is deterministic for a seed.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from studio.audio.sound_profile import QUALITIES, QUALITY_INDEX, VIBRATO_MIN_SPAN_S, profiler
from studio.errors import SettingsError
from studio.synth import N_PARAMS, PARAM_INDEX, PARAMS, RenderSettings, to_human, to_normalized

from .locks import lock_mask

BATCH = 32  # candidates per compiled call (fixed: one compilation per render settings)


# ----------------------------------------------------------------------------------------------
# The macros
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Macro:
    """One macro knob: the profile quality it moves, how people read it, its slider and what it may disturb."""

    name: str  # the profile quality (studio.audio.sound_profile)
    label: str
    unit: str  # shown to people
    lo: float  # slider range (times are also capped by the buffer)
    hi: float
    step: float
    log: bool  # relative changes (+50 %) are the natural ones
    reach: float  # |measured − target| within this (natural units, or a ratio − 1 when log) counts as reached
    coupled: tuple[str, ...] = ()  # qualities this macro cannot help moving
    naive_knob: str = ""  # the single knob most related to the quality (bench/macro_quality.py's baseline)
    help: str = ""


MACROS: dict[str, Macro] = {m.name: m for m in (
    Macro("pitch", "pitch", "MIDI note", 32.0, 100.0, 0.1, False, 0.3, ("brightness",), "keyboard.midi_f0",
          "the note it sounds at; moves in semitones (the timbre moves with it)"),
    Macro("brightness", "brightness", "Hz", 30.0, 16000.0, 1.0, True, 0.1, ("richness",), "vco_2.shape",
          "spectral centroid: where the sound's energy sits"),
    Macro("noisiness", "noisiness", "flatness 0–0.6", 0.0, 0.6, 0.005, False, 0.02, ("richness", "brightness"),
          "mixer.noise", "0 a pure tone, 0.55 white noise"),
    Macro("attack", "attack", "s", 0.0, 2.0, 0.001, True, 0.2, (), "adsr_1.attack",
          "time for the level to rise from 10 % to 90 %"),
    Macro("decay", "decay", "s", 0.005, 4.0, 0.005, True, 0.15, ("length",), "adsr_1.decay",
          "time from the loudest moment until the level stays 20 dB down"),
    Macro("length", "length", "s", 0.01, 4.0, 0.005, True, 0.12, ("decay",), "keyboard.duration",
          "how long it is audible (within 40 dB of its loudest)"),
    Macro("vibrato_depth", "vibrato depth", "st", 0.0, 6.0, 0.01, False, 0.15, ("pitch", "vibrato_rate"),
          "vco_1.mod_depth", "peak-to-peak size of the pitch wobble"),
    Macro("vibrato_rate", "vibrato rate", "Hz", 0.5, 15.0, 0.05, True, 0.12, (), "lfo_1.frequency",
          "how fast the pitch wobbles"),
    Macro("tremolo_depth", "tremolo depth", "dB", 0.0, 30.0, 0.1, False, 1.5, ("tremolo_rate", "roughness"),
          "mod_matrix.lfo_1->vco_1_amp", "peak-to-peak size of the level wobble"),
    Macro("tremolo_rate", "tremolo rate", "Hz", 1.5, 20.0, 0.05, True, 0.12, (), "lfo_1.frequency",
          "how fast the level wobbles"),
    Macro("richness", "richness", "partials", 1.0, 12.0, 0.01, True, 0.12, ("brightness",), "vco_2.shape",
          "effective number of partials: 1 a sine, ~2 a square, ~5 a saw"),
)}
MACRO_NAMES = tuple(MACROS)
OTHERS = MACRO_NAMES + ("loudness",)  # what a move keeps: every macro quality and the level
DEPTH_OF = {"vibrato_rate": "vibrato_depth", "tremolo_rate": "tremolo_depth"}
RATE_PRESENT = {"vibrato_depth": 0.2, "tremolo_depth": 1.5}  # a rate counts only where its wobble is this deep

TARGET_WEIGHT = 25.0  # the moved quality dominates: the others only choose among moves that reach it
OTHER_TOLERANCE = 0.05  # units (scoring scales) another quality may drift for free
KNOB_WEIGHT = 0.02  # per unit of Σ|Δθ|: the smaller move wins a tie
SILENT_DB, SILENCE_COST = -50.0, 1e4  # below this loudest level a candidate is silence: a wall, not a cost
MISSING = 1.0  # a quality the sound had and lost (the pitch of a sound turned to noise), in units


def check_macro(name: str) -> Macro:
    if name not in MACROS:
        import difflib

        close = difflib.get_close_matches(str(name), MACRO_NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SettingsError(f"unknown macro {name!r}: {hint}choose from {', '.join(MACRO_NAMES)}", "macro")
    return MACROS[name]


def slider_range(name: str, settings: RenderSettings) -> tuple[float, float]:
    """The slider's (lo, hi) for a macro and a buffer (times stop at the buffer's length)."""
    m = MACROS[name]
    if name in ("attack", "decay", "length"):
        return m.lo, min(m.hi, float(settings.duration))
    return m.lo, m.hi


# ----------------------------------------------------------------------------------------------
# Measuring candidates: render + profile compiled together
# ----------------------------------------------------------------------------------------------
EMBED_BATCH = 8  # sounds per compiled call of the perceptual embedding (~4× a profile's cost: only the finalists)


@lru_cache(maxsize=16)
def _measure_program(settings: RenderSettings, embed: bool):
    import jax

    from studio.audio.embedding import _embedding, analysis_config
    from studio.synth import renderer

    render = renderer(settings)
    profile_of = profiler(settings.sample_rate, settings.num_samples)
    rate = int(analysis_config(settings.sample_rate).sample_rate)

    def program(thetas, seeds):
        audio = render(thetas, seeds)
        return _embedding(audio, rate) if embed else profile_of(audio)

    return jax.jit(program)


def _batched(thetas, settings: RenderSettings, embed: bool, size: int) -> np.ndarray:
    from studio.search.parallel import evaluation_threads, map_shards

    thetas = np.asarray(thetas, np.float32).reshape(-1, N_PARAMS)
    program = _measure_program(settings, embed)
    out = []
    for start in range(0, len(thetas), size):
        chunk = thetas[start:start + size]
        count = len(chunk)
        if count < size:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - count, axis=0)])
        seeds = np.full(size, settings.noise_seed, np.uint32)
        threads = evaluation_threads(size) if not embed else min(2, max(1, evaluation_threads(size * 2)))
        out.append(np.asarray(map_shards(program, (chunk, seeds), (), threads))[:count])
    return np.concatenate(out) if out else np.zeros((0, len(QUALITIES)), np.float32)


def measure_thetas(thetas, settings: RenderSettings) -> np.ndarray:
    """Profiles ``[N, D]`` of θ ``[N, 78]``, each rendered with ``settings`` (its noise seed for every sound), in
    batches of :data:`BATCH` split over the CPU cores."""
    return _batched(thetas, settings, False, BATCH)


def embed_thetas(thetas, settings: RenderSettings) -> np.ndarray:
    """Perceptual embeddings ``[N, E]`` (:mod:`studio.audio.embedding`) of θ ``[N, 78]``, in batches of
    :data:`EMBED_BATCH`."""
    return _batched(thetas, settings, True, EMBED_BATCH)


def measure(theta, settings: RenderSettings) -> dict[str, float]:
    """One sound's profile as ``{quality: value}`` (NaN where a quality does not apply), rendered on its own with
    the studio's renderer: the values a macro slider starts at."""
    from studio.audio.sound_profile import profile_as_dict, sound_profile
    from studio.synth import render

    return profile_as_dict(sound_profile(np.asarray(render(np.asarray(theta, np.float32), settings)),
                                         settings.sample_rate))


# ----------------------------------------------------------------------------------------------
# Distances on the scoring scales
# ----------------------------------------------------------------------------------------------
NOISE_FLOOR = 1e-4  # flatness below this is no audible noise


def to_units(name: str, value):
    """A quality's value on its scoring axis (studio.scoring.base.SCALES): log2 above a floor, or linear. Noisiness
    counts in decades of flatness here, as the perceptual embedding hears it: a little noise under a tone moves
    flatness from 0.0002 to 0.001 and is plainly audible, which 0.15-wide linear units would not see."""
    from studio.scoring.base import SCALES

    value = np.asarray(value, np.float64)
    if name == "noisiness":
        return np.log10(np.maximum(value, NOISE_FLOOR))
    scale = SCALES[name]
    return (np.log2(np.maximum(value, scale.floor)) if scale.log else value) / scale.unit


KEEP_FLOORS = {"vibrato_depth": 0.25}  # below this a pitch wobble is not heard: differences there do not count


def quality_gap(name: str, a, b):
    """|a − b| in units (NaN-aware: both missing → 0, one missing → :data:`MISSING`)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    floor = KEEP_FLOORS.get(name)
    if floor is not None:
        a, b = np.maximum(a, floor), np.maximum(b, floor)
    gap = np.abs(to_units(name, a) - to_units(name, b))
    gap = np.where(np.isnan(a) & np.isnan(b), 0.0, gap)
    return np.where(np.isnan(a) != np.isnan(b), MISSING, gap)


def kept_qualities(before: dict[str, float], moved: Iterable[str]) -> list[str]:
    """The qualities a move of ``moved`` must keep: every macro quality and the level, less the moved ones, their
    coupled qualities, and rates whose wobble is too shallow to have a rate."""
    moved = set(moved)
    skip = set(moved)
    for name in moved:
        skip.update(MACROS[name].coupled if name in MACROS else ())
    kept = []
    for name in OTHERS:
        if name in skip:
            continue
        depth = DEPTH_OF.get(name)
        if depth and not (before.get(depth, 0.0) >= RATE_PRESENT[depth]):
            continue
        kept.append(name)
    return kept


@dataclass(frozen=True)
class Goal:
    """What a search aims at: targets (quality → (lo, hi) natural units, weight), qualities to keep near their
    values (quality → (value, weight)), and optional extra costs ``[N]``: from the candidates' perceptual
    embeddings (closeness to the start) and from their audio (CLAP)."""

    targets: dict[str, tuple[float, float, float]]
    keep: dict[str, tuple[float, float]]
    embedding_cost: Callable[[np.ndarray], np.ndarray] | None = None  # embeddings [N, E] → cost [N]
    audio_cost: Callable[[np.ndarray], np.ndarray] | None = None  # audio [N, T] → cost [N]
    grouped: tuple[tuple[tuple[str, float, float, float], ...], ...] = ()  # alternatives: (q, lo, hi, w) any of


def interval_cost(profiles: np.ndarray, name: str, lo: float, hi: float) -> np.ndarray:
    """Distance ``[N]`` (units) of each profile's ``name`` outside [lo, hi]; a missing quality costs 2 × MISSING
    unless both bounds are open (then it only asks that the quality exists)."""
    x = profiles[:, QUALITY_INDEX[name]].astype(np.float64)
    with np.errstate(invalid="ignore"):
        below_ = np.maximum(to_units(name, lo) - to_units(name, x), 0.0) if np.isfinite(lo) else 0.0 * x
        above_ = np.maximum(to_units(name, x) - to_units(name, hi), 0.0) if np.isfinite(hi) else 0.0 * x
    return np.where(np.isnan(x), 2.0 * MISSING, np.nan_to_num(below_ + above_))


def target_cost(profiles: np.ndarray, goal: Goal) -> np.ndarray:
    """Σ weight × distance outside each target's [lo, hi] (units) ``[N]``; alternatives count their best."""
    cost = np.zeros(len(profiles))
    for name, (lo, hi, weight) in goal.targets.items():
        cost += weight * interval_cost(profiles, name, lo, hi)
    for options in goal.grouped:
        cost += options[0][3] * np.min([interval_cost(profiles, q, lo, hi) for q, lo, hi, _ in options], axis=0)
    return cost


def keep_cost(profiles: np.ndarray, goal: Goal) -> np.ndarray:
    cost = np.zeros(len(profiles))
    for name, (value, weight) in goal.keep.items():
        gap = quality_gap(name, profiles[:, QUALITY_INDEX[name]], value)
        cost += weight * np.maximum(gap - OTHER_TOLERANCE, 0.0)
    return cost


def goal_cost(thetas: np.ndarray, profiles: np.ndarray, theta0: np.ndarray, goal: Goal) -> np.ndarray:
    """The cost of each candidate ``[N]`` from its profile: targets, kept qualities, knob travel, audibility."""
    cost = target_cost(profiles, goal) + keep_cost(profiles, goal)
    cost += KNOB_WEIGHT * np.sum(np.abs(thetas - theta0), axis=-1)
    loud = profiles[:, QUALITY_INDEX["loudness"]]
    silent = ~np.isfinite(loud) | (loud < SILENT_DB)
    cost += np.where(silent, SILENCE_COST, 0.0)  # never settle on silence, whatever else it would get right
    return np.where(np.isfinite(cost), cost, np.inf)


# ----------------------------------------------------------------------------------------------
# Handles: knob moves that change one quality in the Voice
# ----------------------------------------------------------------------------------------------
AMPS = ("vco_1_amp", "vco_2_amp", "noise_amp")
CHANNEL_OF = {"vco_1_amp": "vco_1", "vco_2_amp": "vco_2", "noise_amp": "noise"}
ADSRS = ("adsr_1", "adsr_2")
LFOS = ("lfo_1", "lfo_2")


class Knobs:
    """θ in human units with named access; :meth:`theta` converts back (clipped to each knob's range)."""

    def __init__(self, theta):
        self.human = to_human(np.clip(np.asarray(theta, np.float64), 0.0, 1.0))

    def copy(self) -> Knobs:
        other = Knobs.__new__(Knobs)
        other.human = self.human.copy()
        return other

    def __getitem__(self, key: str) -> float:
        return float(self.human[PARAM_INDEX[key]])

    def __setitem__(self, key: str, value: float) -> None:
        spec = PARAMS[PARAM_INDEX[key]]
        self.human[PARAM_INDEX[key]] = float(np.clip(value, spec.lo, spec.hi))

    def theta(self) -> np.ndarray:
        return np.clip(to_normalized(self.human), 0.0, 1.0).astype(np.float32)

    def route(self, source: str, dest: str) -> float:
        return self[f"mod_matrix.{source}->{dest}"]

    def level(self, amp: str) -> float:
        return self[f"mixer.{CHANNEL_OF[amp]}"]

    def amp_weight(self, source: str) -> float:
        """How much a modulation source shapes the output level: Σ route × channel level."""
        return sum(self.route(source, a) * self.level(a) for a in AMPS)

    def amp_sources(self, kinds: tuple[str, ...]) -> list[str]:
        weights = {s: self.amp_weight(s) for s in kinds}
        top = max(weights.values(), default=0.0)
        return [s for s, w in weights.items() if top > 0 and w >= 0.1 * top]

    def pitch_weight(self, lfo: str) -> float:
        return sum(self.route(lfo, f"{osc}_pitch") * abs(self[f"{osc}.mod_depth"]) * self.level(f"{osc}_amp")
                   for osc in ("vco_1", "vco_2"))


def _geometric(center: float, lo_ratio: float, hi_ratio: float, n: int, floor: float = 1e-4) -> np.ndarray:
    center = max(center, floor)
    return center * np.geomspace(lo_ratio, hi_ratio, n)


def _around(needed: float, spread: float, n: int) -> np.ndarray:
    """Amounts spread around the one a target needs (relative): ``needed × ratio`` for ratios over ±spread."""
    return np.unique(np.concatenate([[1.0], np.geomspace(1.0 / spread, spread, n)])) * needed


def _times(knobs: Knobs, keys: list[str], factors: Iterable[float]) -> list[Knobs]:
    """Each time knob ``keys`` × factor (a time at 0 starts from 1 ms)."""
    out = []
    for f in factors:
        k = knobs.copy()
        for key in keys:
            k[key] = max(k[key], 0.001) * f
        out.append(k)
    return out


def _ratio(before: float, target: float, default: float) -> float:
    if not (np.isfinite(before) and np.isfinite(target)) or before <= 0:
        return default
    return float(np.clip(target / before, 1 / 64, 64))


def handles_pitch(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    shift = target - before["pitch"] if np.isfinite(before["pitch"]) else 0.0
    out = []
    for extra in (0.0, -0.15, 0.15, -0.4, 0.4):
        k = knobs.copy()
        wanted = knobs["keyboard.midi_f0"] + shift + extra
        k["keyboard.midi_f0"] = wanted
        excess = wanted - k["keyboard.midi_f0"]  # beyond the keyboard's range: the oscillators' tuning takes it
        if abs(excess) > 1e-6:
            for osc in ("vco_1", "vco_2"):
                k[f"{osc}.tuning"] = k[f"{osc}.tuning"] + excess
        out.append(k)
    return out


def _vco2_audible(knobs: Knobs) -> Knobs:
    """The square-saw made audible where nothing opens its amplifier: it borrows the sine's amplifier routes."""
    k = knobs.copy()
    if sum(k.route(s, "vco_2_amp") for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2")) == 0.0:
        for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2"):
            k[f"mod_matrix.{s}->vco_2_amp"] = k.route(s, "vco_1_amp")
    return k


def _vco1_audible(knobs: Knobs) -> Knobs:
    k = knobs.copy()
    if sum(k.route(s, "vco_1_amp") for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2")) == 0.0:
        for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2"):
            k[f"mod_matrix.{s}->vco_1_amp"] = k.route(s, "vco_2_amp")
    return k


def handles_timbre(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    """Brightness and richness: the sine ↔ square-saw balance (same total level), the square-saw's shape and its
    octave, and the sine's octave (a sine an octave or two up is bright but has few partials)."""
    out = []
    total = knobs["mixer.vco_1"] + knobs["mixer.vco_2"]
    total = total if total > 0 else 0.6
    base2 = _vco2_audible(knobs)
    base1 = _vco1_audible(knobs)
    for share in np.linspace(0.0, 1.0, 11):
        k = (base2 if share > 0 else base1).copy()
        k["mixer.vco_1"], k["mixer.vco_2"] = total * (1 - share), total * share
        out.append(k)
    for shape in np.linspace(0.0, 1.0, 9):
        k = base2.copy()
        k["vco_2.shape"] = shape
        if knobs["mixer.vco_2"] == 0.0:
            k["mixer.vco_2"] = 0.5 * total
        out.append(k)
    for semitones in (-24, -12, 12, 24, 7, 19):
        k = base2.copy()
        k["vco_2.tuning"] = knobs["vco_2.tuning"] + semitones
        out.append(k)
    for semitones in (12, 24, 19, 28):
        k = knobs.copy()
        k["vco_1.tuning"] = knobs["vco_1.tuning"] + semitones
        out.append(k)
    return out


def _noise_open(knobs: Knobs) -> Knobs:
    k = knobs.copy()
    if sum(k.route(s, "noise_amp") for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2")) == 0.0:
        for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2"):
            k[f"mod_matrix.{s}->noise_amp"] = max(k.route(s, "vco_1_amp"), k.route(s, "vco_2_amp"))
    return k


def handles_noisiness(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    out = []
    base = _noise_open(knobs)
    spec = PARAMS[PARAM_INDEX["mixer.noise"]]
    for x in np.concatenate([[0.0], np.linspace(0.80, 1.0, 21)]):  # the fader's curve is x⁴⁰: the action is on top
        k = base.copy()
        k["mixer.noise"] = float(to_human_one(spec, x))
        out.append(k)
    for factor in (0.5, 0.25, 0.1, 2.0, 4.0):  # the oscillators quieter or louder under the same noise
        k = base.copy()
        k["mixer.vco_1"], k["mixer.vco_2"] = k["mixer.vco_1"] * factor, k["mixer.vco_2"] * factor
        out.append(k)
    if knobs["mixer.vco_1"] + knobs["mixer.vco_2"] == 0.0 or not any(
            knobs.route(s, a) for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2") for a in ("vco_1_amp", "vco_2_amp")):
        for level in (0.05, 0.15, 0.4):  # pure noise: a tone under it, opened like the noise
            k = knobs.copy()
            for s in ("adsr_1", "adsr_2", "lfo_1", "lfo_2"):
                k[f"mod_matrix.{s}->vco_1_amp"] = k.route(s, "noise_amp")
            k["mixer.vco_1"] = level
            out.append(k)
    return out


def to_human_one(spec, x: float) -> float:
    """One knob's normalized value ``x`` in human units."""
    theta = np.zeros(N_PARAMS)
    theta[PARAMS.index(spec)] = x
    return float(to_human(theta)[PARAMS.index(spec)])


def _amp_adsrs(knobs: Knobs) -> list[str]:
    found = knobs.amp_sources(ADSRS)
    return found or ["adsr_1"]


def handles_attack(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    keys = [f"{a}.attack" for a in _amp_adsrs(knobs)]
    ratio = _ratio(before["attack"], target, 1.0)
    out = _times(knobs, keys, _around(ratio, 3.0, 9))
    for seconds in np.geomspace(0.0005, 2.0, 12):  # absolute times: an attack at 0 does not scale
        k = knobs.copy()
        for key in keys:
            k[key] = seconds
        out.append(k)
    for alpha in (0.5, 1.0, 2.0):
        k = knobs.copy()
        for a in _amp_adsrs(knobs):
            k[f"{a}.alpha"] = alpha
        out.append(k)
    for lfo in _tremolo_lfos(knobs):  # a slow LFO on the amplifier makes its own swell: start it at its top, or less
        k = knobs.copy()
        k[f"{lfo}.initial_phase"] = math.pi
        out.append(k)
        for seconds in np.geomspace(0.002, 2.0, 8):  # … or fades in with its depth envelope (an LFO-gated sound)
            k = knobs.copy()
            k[f"{lfo}_amp_adsr.attack"] = seconds
            out.append(k)
        for f in (0.5, 0.25, 0.0):
            k = knobs.copy()
            for a in AMPS:
                k[f"mod_matrix.{lfo}->{a}"] = k.route(lfo, a) * f
            out.append(k)
    return out


def handles_decay(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    adsrs = _amp_adsrs(knobs)
    ratio = _ratio(before["decay"], target, 1.0)
    out = []
    factors = _around(ratio, 3.0, 7)
    out += _times(knobs, [f"{a}.decay" for a in adsrs], factors)
    out += _times(knobs, [f"{a}.release" for a in adsrs], factors)
    out += _times(knobs, [f"{a}.{p}" for a in adsrs for p in ("decay", "release")], factors)
    for sustain in (0.0, 0.1, 0.3):  # a held level does not decay: lower it and let the decay time decide
        for seconds in np.geomspace(0.02, 3.0, 6):
            k = knobs.copy()
            for a in adsrs:
                k[f"{a}.sustain"] = min(sustain, k[f"{a}.sustain"])
                k[f"{a}.decay"] = seconds
            out.append(k)
    return out


def handles_length(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    adsrs = _amp_adsrs(knobs)
    ratio = _ratio(before["length"], target, 1.0)
    factors = _around(ratio, 3.0, 7)
    out = []
    out += _times(knobs, ["keyboard.duration"], factors)
    out += _times(knobs, [f"{a}.release" for a in adsrs], factors)
    out += _times(knobs, ["keyboard.duration"] + [f"{a}.{p}" for a in adsrs for p in ("decay", "release")], factors)
    for seconds in np.geomspace(0.02, 4.0, 10):
        k = knobs.copy()
        k["keyboard.duration"] = seconds
        out.append(k)
    return out


def _vibrato_lfos(knobs: Knobs) -> list[str]:
    weights = {lfo: knobs.pitch_weight(lfo) for lfo in LFOS}
    top = max(weights.values())
    return [lfo for lfo, w in weights.items() if top > 0 and w >= 0.1 * top]


def _tremolo_lfos(knobs: Knobs) -> list[str]:
    weights = {lfo: knobs.amp_weight(lfo) for lfo in LFOS}
    top = max(weights.values())
    return [lfo for lfo, w in weights.items() if top > 0 and w >= 0.1 * top]


def _open_lfo(k: Knobs, lfo: str, rate: float) -> None:
    """An LFO made to wobble: a rate in the vibrato range and its depth envelope open."""
    if not 1.5 <= k[f"{lfo}.frequency"] <= 12.0:
        k[f"{lfo}.frequency"] = rate
    env = f"{lfo}_amp_adsr"
    if k[f"{env}.sustain"] < 0.5 and k[f"{env}.decay"] < 1.0:
        k[f"{env}.attack"], k[f"{env}.decay"], k[f"{env}.sustain"] = 0.0, 0.0, 1.0


def handles_vibrato_depth(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    out = []
    lfos = _vibrato_lfos(knobs)
    current = before.get("vibrato_depth", 0.0)
    if lfos and current > 0.05:
        ratio = _ratio(current, max(target, 0.0), 1.0)
        for f in np.concatenate([[0.0], _around(max(ratio, 0.05), 3.0, 9)]):
            k = knobs.copy()
            for lfo in lfos:
                for osc in ("vco_1", "vco_2"):
                    # the route's human amount multiplies the LFO: scaling it scales the depth
                    k[f"mod_matrix.{lfo}->{osc}_pitch"] = k.route(lfo, f"{osc}_pitch") * f
            out.append(k)
    # A new vibrato: a free LFO (not already a tremolo) routed to both oscillators' pitch.
    for lfo in LFOS:
        if knobs.amp_weight(lfo) > 0 and lfo not in lfos:
            continue
        for depth in np.geomspace(0.2, 8.0, 10) * (max(target, 0.1) / 2.0):
            k = knobs.copy()
            _open_lfo(k, lfo, 5.5)
            for osc in ("vco_1", "vco_2"):
                bend = k[f"{osc}.mod_depth"]
                if bend == 0.0 or not any(k.route(s, f"{osc}_pitch") for s in ADSRS):  # no pitch envelope relies on it
                    k[f"{osc}.mod_depth"] = math.copysign(max(abs(bend), 2.0), bend or 1.0)
                k[f"mod_matrix.{lfo}->{osc}_pitch"] = min(1.0, depth / max(abs(k[f"{osc}.mod_depth"]), 1e-3))
            out.append(k)
    return out


def handles_rate(knobs: Knobs, before: dict, target: float, name: str) -> list[Knobs]:
    lfos = _vibrato_lfos(knobs) if name == "vibrato_rate" else _tremolo_lfos(knobs)
    if not lfos:
        return []
    ratio = _ratio(before[name], target, 1.0)
    out = []
    for f in _around(ratio, 1.6, 9):
        k = knobs.copy()
        for lfo in lfos:
            k[f"{lfo}.frequency"] = max(k[f"{lfo}.frequency"], 0.05) * f
        out.append(k)
    return out


def handles_tremolo_depth(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    out = []
    lfos = _tremolo_lfos(knobs)
    audible = [a for a in AMPS if knobs.level(a) > 0]
    if lfos and before.get("tremolo_depth", 0.0) > 0.5:
        ratio = _ratio(before["tremolo_depth"], max(target, 0.0), 1.0)
        for f in np.concatenate([[0.0], _around(max(ratio, 0.05), 3.0, 9)]):
            k = knobs.copy()
            for lfo in lfos:
                for a in AMPS:
                    k[f"mod_matrix.{lfo}->{a}"] = k.route(lfo, a) * f
            out.append(k)
        for f in (0.5, 0.8):  # a deeper wobble: the envelope's share of the amplifier shrinks
            k = knobs.copy()
            for a in AMPS:
                for s in ADSRS:
                    k[f"mod_matrix.{s}->{a}"] = k.route(s, a) * f
            out.append(k)
        adsr = _amp_adsrs(knobs)[0]
        for level in (0.1, 0.25, 0.5, 1.0):  # a shallower wobble: a held envelope under the LFO (an LFO-gated sound)
            k = knobs.copy()
            for a in audible:
                k[f"mod_matrix.{adsr}->{a}"] = max(k.route(adsr, a), level)
            out.append(k)
    for lfo in LFOS:
        if knobs.pitch_weight(lfo) > 0 and lfo not in lfos:
            continue
        for amount in np.geomspace(0.05, 1.0, 10):
            k = knobs.copy()
            _open_lfo(k, lfo, 5.0)
            for a in audible:
                k[f"mod_matrix.{lfo}->{a}"] = amount
            out.append(k)
    return out


def handles_loudness(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    """Every mixer level × a factor (the synth normalizes a clipping sound, so louder stops at full scale)."""
    gain = 10 ** ((target - before["loudness"]) / 20.0) if np.isfinite(before["loudness"]) else 1.0
    out = []
    for f in _around(float(np.clip(gain, 1 / 32, 32)), 2.0, 7):
        k = knobs.copy()
        for channel in ("vco_1", "vco_2"):
            k[f"mixer.{channel}"] = k[f"mixer.{channel}"] * f
        out.append(k)
    return out


def handles_roughness(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    """Beating: the square-saw detuned a little from the sine (or back in tune)."""
    out = []
    base = _vco2_audible(knobs)
    for cents in (0.0, 5.0, 15.0, 30.0, 60.0, 100.0, -30.0):
        k = base.copy()
        k["vco_2.tuning"] = round(knobs["vco_2.tuning"]) + cents / 100.0
        if k["mixer.vco_2"] == 0.0:
            k["mixer.vco_2"] = max(k["mixer.vco_1"], 0.3)
        out.append(k)
    return out


def handles_inharmonicity(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    """Partials at non-integer ratios: the square-saw tuned between harmonics (a bell's 2.76 is +17.6 st)."""
    out = []
    base = _vco2_audible(knobs)
    for semitones in (0.0, 12.0, 17.6, 6.3, 21.4, 9.8, 27.3):
        for level in (0.3, 0.6):
            k = base.copy()
            k["vco_2.tuning"] = semitones
            k["mixer.vco_2"] = level * max(k["mixer.vco_1"], 0.3)
            out.append(k)
    return out


def handles_ending(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    """The release made to end inside the buffer (or held to its end): the note and release times scaled."""
    adsrs = _amp_adsrs(knobs)
    factors = (0.25, 0.5, 0.75, 1.5, 2.0, 4.0)
    return (_times(knobs, [f"{a}.release" for a in adsrs], factors)
            + _times(knobs, ["keyboard.duration"] + [f"{a}.release" for a in adsrs], factors))


def handles_brightness(knobs: Knobs, before: dict, target: float) -> list[Knobs]:
    """The timbre moves, plus a little noise on top: above a saw's centroid only noise brightens this synth."""
    out = handles_timbre(knobs, before, target)
    if np.isfinite(before["brightness"]) and target > before["brightness"]:
        base = _noise_open(knobs)
        spec = PARAMS[PARAM_INDEX["mixer.noise"]]
        for x in np.linspace(0.82, 0.97, 6):
            k = base.copy()
            k["mixer.noise"] = max(k["mixer.noise"], to_human_one(spec, x))
            out.append(k)
    return out


HANDLES: dict[str, Callable[[Knobs, dict, float], list[Knobs]]] = {
    "loudness": handles_loudness,
    "roughness": handles_roughness,
    "inharmonicity": handles_inharmonicity,
    "end_level": handles_ending,
    "pitch": handles_pitch,
    "brightness": handles_brightness,
    "richness": handles_timbre,
    "noisiness": handles_noisiness,
    "attack": handles_attack,
    "decay": handles_decay,
    "length": handles_length,
    "vibrato_depth": handles_vibrato_depth,
    "vibrato_rate": lambda k, b, t: handles_rate(k, b, t, "vibrato_rate"),
    "tremolo_depth": handles_tremolo_depth,
    "tremolo_rate": lambda k, b, t: handles_rate(k, b, t, "tremolo_rate"),
}
# Knobs the refinement may touch to pull other qualities back (mixer levels keep the level, envelopes the times…)
COMPENSATION_KEYS = ("mixer.vco_1", "mixer.vco_2", "mixer.noise", "vco_2.shape", "keyboard.duration",
                     "adsr_1.attack", "adsr_1.decay", "adsr_1.sustain", "adsr_1.release", "adsr_2.attack",
                     "adsr_2.decay", "adsr_2.sustain", "adsr_2.release", "lfo_1.frequency", "lfo_2.frequency")


def handle_candidates(name: str, theta0: np.ndarray, before: dict, target: float) -> list[np.ndarray]:
    """Candidate θs that move ``name`` toward ``target`` from θ (none for a quality without handles)."""
    if name not in HANDLES:
        return []
    knobs = Knobs(theta0)
    return [k.theta() for k in HANDLES[name](knobs, before, target)]


# ----------------------------------------------------------------------------------------------
# The search
# ----------------------------------------------------------------------------------------------
@dataclass
class SearchStats:
    renders: int = 0


def _unique(thetas: list[np.ndarray], theta0: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Candidates with locks applied, without duplicates (θ itself first)."""
    rows = [theta0] + [np.where(mask, theta0, t).astype(np.float32) for t in thetas]
    array = np.stack(rows)
    _, first = np.unique(array, axis=0, return_index=True)
    return array[np.sort(first)]


FINALISTS = 8  # candidates per round judged on the costs that need more than a profile (closeness, CLAP)


def _judge(thetas: np.ndarray, settings: RenderSettings, theta0: np.ndarray, goal: Goal,
           stats: SearchStats, before: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(profiles, costs) of candidates. Every candidate is rendered and profiled; when the goal also has costs from
    embeddings or audio, only the :data:`FINALISTS` best on the profile (plus how far the profile moved, a cheap
    stand-in for the perceptual distance) are judged on them too, and the others count as out of reach."""
    profiles = measure_thetas(thetas, settings)
    stats.renders += len(thetas)
    costs = goal_cost(thetas, profiles, theta0, goal)
    if goal.embedding_cost is None and goal.audio_cost is None:
        return profiles, costs
    start = profiles[:1] if before is None else before[None]
    drift = sum(np.nan_to_num(quality_gap(q, profiles[:, QUALITY_INDEX[q]], start[0, QUALITY_INDEX[q]]), nan=1.0)
                for q in OTHERS + ("roughness",))
    # Finalists: the best on the profile, and the candidates that improve on the start while its profile moves least
    # (a part of the way that stays close, when going all the way would leave the closeness bound).
    best_first = list(np.argsort(costs + 0.5 * drift)[:FINALISTS // 2])
    start_cost = costs[0] if before is None else goal_cost(theta0[None], start, theta0, goal)[0]
    improving = np.flatnonzero(costs < start_cost - 1e-6)
    closest = [int(i) for i in improving[np.argsort(drift[improving])] if i not in best_first]
    order = np.array((best_first + closest)[:FINALISTS], int)
    full = np.full(len(thetas), np.inf)
    extra = np.zeros(len(order))
    if goal.embedding_cost is not None:
        extra += goal.embedding_cost(embed_thetas(thetas[order], settings))
    if goal.audio_cost is not None:
        from .sounds import render_sounds

        extra += goal.audio_cost(render_sounds(thetas[order], settings))
    full[order] = costs[order] + extra
    return profiles, full


def search(theta0: np.ndarray, settings: RenderSettings, goal: Goal, mask: np.ndarray, candidates: list[np.ndarray],
           *, seed: int = 0, refine: int = 2, stats: SearchStats | None = None,
           again: Callable[[np.ndarray, np.ndarray], list[np.ndarray]] | None = None
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Best θ for ``goal`` among ``candidates`` (handle moves) and refinements around the best.

    again: when the best of the first round still misses the targets, ``again(best θ, its profile)`` gives handle
    moves from there (two moves combined: a slow LFO's swell taken away, then the attack shortened).
    Returns (θ, its profile from the batch, its cost).
    """
    stats = stats or SearchStats()
    rng = np.random.default_rng(seed)
    pool = _unique(candidates, theta0, mask)  # θ itself is row 0: its profile is the start's
    profiles, costs = _judge(pool, settings, theta0, goal, stats)
    start_profile = profiles[0]
    best = int(np.argmin(costs))
    best_theta, best_profile, best_cost = pool[best], profiles[best], float(costs[best])
    if again is not None and target_cost(best_profile[None], goal)[0] > 0.05 * TARGET_WEIGHT:
        more = [c for c in again(best_theta, best_profile) if np.any(c != best_theta)]
        if more:
            pool2 = _unique(more, best_theta, mask)[1:]
            pool2 = np.where(mask, theta0, pool2).astype(np.float32)
            profiles2, costs2 = _judge(pool2, settings, theta0, goal, stats, profiles[0])
            i = int(np.argmin(costs2))
            if costs2[i] < best_cost:
                best_theta, best_profile, best_cost = pool2[i], profiles2[i], float(costs2[i])
    free = np.flatnonzero(~mask)
    compensation = np.array([PARAM_INDEX[k] for k in COMPENSATION_KEYS if not mask[PARAM_INDEX[k]]], int)
    for round_ in range(refine):
        moved = np.flatnonzero(best_theta != theta0)
        rows = []
        # Finer steps along what the best candidate moved …
        for f in (0.25, 0.5, 0.75, 1.25, 1.5, 0.9, 1.1, 0.6):
            rows.append(np.clip(theta0 + (best_theta - theta0) * f, 0, 1))
        # … then sparse steps of one or two knobs that pull the other qualities back.
        spread = 0.06 / (round_ + 1)
        while len(rows) < BATCH:
            row = best_theta.copy()
            pick_from = compensation if (compensation.size and rng.random() < 0.6) else (moved if moved.size else free)
            if pick_from.size == 0:
                break
            chosen = rng.choice(pick_from, min(int(rng.integers(1, 3)), pick_from.size), replace=False)
            row[chosen] = np.clip(row[chosen] + rng.normal(0.0, spread, chosen.size), 0.0, 1.0)
            rows.append(row)
        rows = [np.where(mask, theta0, r).astype(np.float32) for r in rows]
        batch = np.stack(rows)
        batch_profiles, batch_costs = _judge(batch, settings, theta0, goal, stats, start_profile)
        i = int(np.argmin(batch_costs))
        if batch_costs[i] < best_cost - 1e-9:
            best_theta, best_profile, best_cost = batch[i], batch_profiles[i], float(batch_costs[i])
        if best_cost < 1e-3:
            break
    return best_theta, best_profile, best_cost


# ----------------------------------------------------------------------------------------------
# Moving macros
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MacroMove:
    """The outcome of a macro move: the new θ, every quality before and after (measured on the rendered sounds),
    the targets asked for, which were reached, and notes for people (limits, locks, what could not move)."""

    theta: np.ndarray
    before: dict[str, float]
    after: dict[str, float]
    targets: dict[str, float]
    reached: dict[str, bool]
    notes: tuple[str, ...] = ()
    renders: int = 0
    elapsed_ms: float = 0.0
    changed: bool = True
    kept: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """``brightness 1.20 kHz → 1.79 kHz (asked 1.80 kHz) ✓`` per target, then the notes."""
        parts = []
        for name, target in self.targets.items():
            mark = "✓" if self.reached.get(name) else "✗"
            parts.append(f"{MACROS[name].label if name in MACROS else name} {format_quality(name, self.before[name])}"
                         f" → {format_quality(name, self.after[name])} (asked {format_quality(name, target)}) {mark}")
        return "; ".join(parts + list(self.notes))

    def others_change(self) -> dict[str, float]:
        """How far each kept quality moved, in units (0 = unchanged)."""
        return {q: float(quality_gap(q, self.after[q], self.before[q])) for q in self.kept}


def format_quality(name: str, value: float) -> str:
    """A quality's value for people: C4 +10 ct for pitch, 1.2 kHz, 35 ms, 0.8 st, 6 dB, 3.1 partials."""
    if value is None or not np.isfinite(value):
        return "none"
    from studio.checks import note_name
    from studio.scoring.descriptors import format_value

    if name == "pitch":
        return f"{note_name(value, cents=True)}"
    if name == "richness":
        return f"{value:.2f} partials"
    if name == "noisiness":
        return f"{value:.3f}"
    if name in ("vibrato_depth",):
        return f"{value:.2f} st"
    return format_value(name, value)


def reached(name: str, value: float, target: float) -> bool:
    m = MACROS.get(name)
    if m is None or not (np.isfinite(value) and np.isfinite(target)):
        return False
    if m.log:
        floor = max(m.lo, 1e-3)
        return abs(math.log(max(value, floor) / max(target, floor))) <= math.log(1 + m.reach)
    return abs(value - target) <= m.reach


def clamp_target(name: str, value: float, settings: RenderSettings) -> float:
    lo, hi = slider_range(name, settings)
    return float(np.clip(value, lo, hi))


def move(theta, settings: RenderSettings, targets: dict[str, float], locks=None, *, seed: int = 0,
         refine: int = 2, before: dict[str, float] | None = None) -> MacroMove:
    """Move θ so each quality in ``targets`` (macro name → value in its unit) follows, the others staying.

    Several targets move one after the other, each keeping the ones before at their targets. ``locks``: lock
    names or a mask (see :func:`~studio.explore.locks.lock_mask`). Raises :class:`~studio.errors.SettingsError`
    for an unknown macro or a target that is not a number.
    """
    start = time.perf_counter()
    theta0 = np.asarray(theta, np.float32).copy()
    mask = lock_mask(locks)
    for name, value in targets.items():
        check_macro(name)
        if value is None or not np.isfinite(float(value)):
            raise SettingsError(f"{name}: the target must be a number, got {value!r}", name)
    targets = {name: clamp_target(name, float(v), settings) for name, v in targets.items()}
    before = before or measure(theta0, settings)
    notes: list[str] = []
    stats = SearchStats()
    current = theta0
    done: dict[str, float] = {}
    for name, target in targets.items():
        short = {"vibrato_depth": ("vibrato_rate", VIBRATO_MIN_SPAN_S), "tremolo_depth": ("tremolo_rate", 1.0)}
        if name in short and not np.isfinite(before.get(short[name][0], 0.0)) and \
                before.get("length", 0.0) < short[name][1]:
            notes.append(f"{MACROS[name].label}: this sound is too short to carry a wobble (it lasts "
                         f"{format_quality('length', before['length'])}; a {MACROS[name].label.split()[0]} needs "
                         f"{short[name][1]:g} s or more); nothing moved")
            continue
        if not np.isfinite(before[name]) and name not in ("vibrato_depth", "tremolo_depth"):
            what = {"pitch": "no measurable pitch (noise, or too short)", "vibrato_rate": "no vibrato to speed up or "
                    "slow down (raise vibrato depth first)", "tremolo_rate": "no tremolo (raise tremolo depth first)"}
            notes.append(f"{MACROS[name].label}: this sound has {what.get(name, 'no measurable ' + name)}; "
                         f"nothing moved")
            continue
        done[name] = target
        keep = {q: (before[q], 1.0) for q in kept_qualities(before, done)}
        goal = Goal({q: (t, t, TARGET_WEIGHT) for q, t in done.items()}, keep)
        candidates = handle_candidates(name, current, _profile_of(current, before, theta0, settings),
                                       target)
        movable = [c for c in candidates if np.any(np.where(mask, current, c) != current)]
        if not movable:
            notes.append(f"{MACROS[name].label}: every knob that moves it here is locked"
                         if candidates else f"{MACROS[name].label}: nothing in this sound can move it")
            continue
        def again(theta, profile, name=name, target=target):
            from studio.audio.sound_profile import profile_as_dict

            return handle_candidates(name, theta, profile_as_dict(profile), target)

        current, _, _ = search(current, settings, goal, mask, candidates, seed=seed, refine=refine, stats=stats,
                               again=again)
    after = measure(current, settings) if not np.array_equal(current, theta0) else dict(before)
    stats.renders += int(not np.array_equal(current, theta0))
    reached_ = {name: reached(name, after[name], t) for name, t in targets.items()}
    for name, target in targets.items():
        if name in done and not reached_[name] and np.isfinite(after[name]):
            way = "higher" if target > before[name] else "lower"
            notes.append(f"{MACROS[name].label} can go no {way} than {format_quality(name, after[name])} from this "
                         f"sound (asked {format_quality(name, target)})" + (" with these locks" if mask.any() else ""))
    kept = tuple(kept_qualities(before, done))
    return MacroMove(current, before, after, targets, reached_, tuple(notes), stats.renders,
                     (time.perf_counter() - start) * 1000.0, not np.array_equal(current, theta0), kept)


def _profile_of(theta, before: dict, theta0, settings) -> dict:
    """The profile of θ as a dict: ``before`` when θ is the starting sound (no render), else measured."""
    return before if np.array_equal(theta, theta0) else measure(theta, settings)


# ----------------------------------------------------------------------------------------------
# Parsing macro values: "+50%", "-3", "x1.5", "C5", "0.3"
# ----------------------------------------------------------------------------------------------
def parse_target(name: str, text, current: float) -> float:
    """A macro value typed by a person → the target in the macro's unit.

    ``0.3`` or ``2000`` is absolute; ``+50%``/``-20%`` relative to the current value; ``x1.5`` or ``*0.5`` a
    factor; ``+12``/``-5`` (a sign without %) a step in the macro's unit (semitones for pitch); pitch also takes a
    note name (``C5``, ``F#3``) or a frequency (``440 Hz``). :class:`SettingsError` naming the macro otherwise.
    """
    macro = check_macro(name)
    raw = str(text).strip().replace("×", "x").replace(" ", "")
    relative_needed = raw[:1] in "+-x*" or raw.endswith("%")
    if relative_needed and not np.isfinite(current):
        raise SettingsError(f"--{name.replace('_', '-')} {text}: this sound has no measurable {macro.label} to "
                            "change relatively; give a value", name)
    try:
        if raw.endswith("%"):
            return current * (1.0 + float(raw[:-1]) / 100.0)
        if raw[:1] in "x*":
            return current * float(raw[1:])
        if raw[:1] in "+-":  # no macro's value is negative: a sign is a step
            return current + float(raw)
        return float(raw)
    except ValueError:
        pass
    if name == "pitch":
        from studio.scoring import parse_pitch

        try:
            return float(parse_pitch(str(text)))
        except Exception:  # noqa: BLE001 — the message below says what is accepted
            pass
    raise SettingsError(f"--{name.replace('_', '-')} {text!r} is not a value: give a number in {macro.unit} "
                        f"(e.g. {macro.lo:g}), a change like +50% or -20%, a factor like x1.5"
                        + (", a step in semitones like +12, or a note like C5" if name == "pitch" else ""), name)


def naive_move(theta, settings: RenderSettings, name: str, target: float, *, points: int = 33,
               before: dict | None = None) -> tuple[np.ndarray, dict, int]:
    """The baseline a macro is measured against: the single knob most related to the quality
    (:attr:`Macro.naive_knob`) set to whichever of ``points`` values (plus the sound's own) lands nearest the
    target. Returns (θ, its profile, renders)."""
    theta0 = np.asarray(theta, np.float32)
    index = PARAM_INDEX[MACROS[name].naive_knob]
    values = np.unique(np.concatenate([np.linspace(0.0, 1.0, points), [theta0[index]]]))
    rows = np.repeat(theta0[None], len(values), axis=0)
    rows[:, index] = values
    profiles = measure_thetas(rows, settings)
    goal = Goal({name: (target, target, 1.0)}, {})
    best = int(np.argmin(target_cost(profiles, goal) + 1e-6 * np.abs(values - theta0[index])))
    return rows[best], measure(rows[best], settings), len(rows) + 1
