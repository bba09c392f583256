"""Hard targets beside any prompt: pitch (a note name), length, brightness, noisiness.

"Dog bark at C3, under half a second": the prompt says what kind of sound, the constraints pin measurable
facts. Each constraint is a target with a tolerance on one descriptor of :mod:`studio.audio.sound_profile`;
a search adds their violations to its fitness as penalties heavy enough (one unit per semitone, per 25 % of
length, …) that a candidate outside them never outranks one inside for long, whatever the scorer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from studio.audio.sound_profile import PITCH_MIN_HZ, QUALITY_INDEX
from studio.checks import check_number, hz_to_midi, note_name, parse_note
from studio.errors import SettingsError, StudioError

from .base import Terms, make_terms
from .descriptors import format_value

# Tolerances: a constraint is met when the measured value is inside them.
PITCH_TOLERANCE_ST = 0.5  # the nearest semitone
LENGTH_TOLERANCE = 0.15  # ±15 %
BRIGHTNESS_TOLERANCE = 0.20  # ±20 %
NOISINESS_TOLERANCE = 0.05  # ± flatness
SEARCH_SHARE = 0.5  # searches aim at this share of each tolerance, so results land inside it, not on its edge

# Penalty weights: violation units a constraint adds per descriptor unit outside its tolerance (descriptor
# units: 12 st of pitch, a doubling of length or brightness, 0.15 of flatness; see scoring.base). A score lies
# in [0, 1] (descriptor fit) or [−1, 1] (cosine), so a penalty of a unit or more outweighs anything the prompt
# can offer for breaking a constraint. Pitch pulls 1 unit per semitone, the others 4 units per step; a heavier
# pitch weight made searches fix pitch first and run out of budget before length (measured on quick searches).
PITCH_WEIGHT = 12.0  # 1 per semitone
LENGTH_WEIGHT = 4.0 / math.log2(1.25)  # 4 per 25 % of length
BRIGHTNESS_WEIGHT = 4.0 / math.log2(1.5)  # 4 per 50 % of brightness
NOISINESS_WEIGHT = 4.0 * 3.0  # 4 per 0.05 of flatness

MIN_PITCH_MIDI = int(math.ceil(hz_to_midi(PITCH_MIN_HZ)))  # lowest measurable note: G#1
MAX_PITCH_MIDI = 96  # C7 (2093 Hz): above it the pitch tracker's resolution is coarser than the tolerance


class ConstraintError(StudioError):
    """A constraint that cannot be used; the message names it and says what is allowed. ``field``: the
    constraint (``"pitch"``, ``"length"``, ``"brightness"``, ``"noisiness"``)."""


def parse_pitch(text) -> float:
    """A pitch as a MIDI note number: ``"C3"`` → 48 (C4 = 60 is middle C), ``"F#2"``, ``"Bb4"``, ``"440 Hz"``,
    or a number (already MIDI), read by :func:`studio.checks.parse_note`. :class:`ConstraintError` for anything
    else or outside the measurable range."""
    try:
        midi = parse_note(text, "pitch")
    except SettingsError as err:
        if not (isinstance(text, str) and text.strip().lower().endswith("hz")):
            raise ConstraintError(str(err), "pitch") from None
        midi = -math.inf  # "0 Hz": a frequency, just not a measurable one
    if not MIN_PITCH_MIDI <= midi <= MAX_PITCH_MIDI:
        raise ConstraintError(f"pitch {text} is outside what the studio can measure: from {note_name(MIN_PITCH_MIDI)} "
                              f"to {note_name(MAX_PITCH_MIDI)} (52 Hz to 2.1 kHz)", "pitch")
    return midi


@dataclass(frozen=True)
class ConstraintCheck:
    """How one constraint came out on a sound."""

    name: str
    target: float
    measured: float  # NaN when the sound lacks the descriptor (pitch of noise)
    met: bool
    text: str  # e.g. "pitch C3 (131 Hz): measured C3 (130 Hz) ✓"


@dataclass(frozen=True)
class Constraints:
    """Optional hard targets. pitch: MIDI note number; length: seconds (audible length); brightness: Hz
    (spectral centroid); noisiness: spectral flatness 0–0.6. Build from user input with :meth:`from_user`."""

    pitch: float | None = None
    length: float | None = None
    brightness: float | None = None
    noisiness: float | None = None

    @classmethod
    def from_user(cls, pitch=None, length=None, brightness=None, noisiness=None,
                  duration: float = 2.0) -> Constraints:
        """Validated constraints from loose input (a note name, numbers or None); :class:`ConstraintError` names
        the bad one. ``duration`` is the render length in seconds (a sound cannot be longer)."""
        midi = parse_pitch(pitch) if pitch not in (None, "") else None
        length = _number("length", length, 0.02, duration, "s")
        brightness = _number("brightness", brightness, 100.0, 16000.0, "Hz")
        noisiness = _number("noisiness", noisiness, 0.0, 0.6, "")
        return cls(midi, length, brightness, noisiness)

    @property
    def descriptors(self) -> tuple[str, ...]:
        """Names of the constrained descriptors (pitch, length, brightness, noisiness), in that order."""
        return tuple(name for name in ("pitch", "length", "brightness", "noisiness") if getattr(self, name) is not None)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.pitch, self.length, self.brightness, self.noisiness))

    def targets(self, share: float = 1.0) -> list[tuple[str, float, float, float]]:
        """``(descriptor, lo, hi, weight)`` per set constraint: ``share`` of its tolerance band, its penalty weight."""
        out = []
        if self.pitch is not None:
            tolerance = PITCH_TOLERANCE_ST * share
            out.append(("pitch", self.pitch - tolerance, self.pitch + tolerance, PITCH_WEIGHT))
        if self.length is not None:
            tolerance = LENGTH_TOLERANCE * share
            out.append(("length", self.length * (1 - tolerance), self.length * (1 + tolerance), LENGTH_WEIGHT))
        if self.brightness is not None:
            tolerance = BRIGHTNESS_TOLERANCE * share
            out.append(("brightness", self.brightness * (1 - tolerance), self.brightness * (1 + tolerance),
                        BRIGHTNESS_WEIGHT))
        if self.noisiness is not None:
            tolerance = NOISINESS_TOLERANCE * share
            out.append(("noisiness", max(self.noisiness - tolerance, 0.0), self.noisiness + tolerance,
                        NOISINESS_WEIGHT))
        return out

    def terms(self) -> Terms:
        """The constraints as Terms for a search (4 slots; unset ones have weight 0).

        The search aims at the inner half of each tolerance (``SEARCH_SHARE``): a search stops improving once a
        target is met, so aiming at the full band would leave results on its edge.
        """
        return make_terms(self.targets(SEARCH_SHARE), 4)

    def describe(self) -> str:
        """``pitch C3 (131 Hz) ± 0.5 st; length 0.5 s ± 15 %`` (empty when none is set)."""
        parts = []
        if self.pitch is not None:
            parts.append(f"pitch {format_value('pitch', self.pitch)} ± {PITCH_TOLERANCE_ST:g} st")
        if self.length is not None:
            parts.append(f"length {format_value('length', self.length)} ± {LENGTH_TOLERANCE:.0%}")
        if self.brightness is not None:
            parts.append(f"brightness {format_value('brightness', self.brightness)} ± {BRIGHTNESS_TOLERANCE:.0%}")
        if self.noisiness is not None:
            parts.append(f"noisiness {self.noisiness:g} ± {NOISINESS_TOLERANCE:g}")
        return "; ".join(parts)

    def check(self, profile_row) -> list[ConstraintCheck]:
        """Each set constraint against one measured profile ``[D]`` (``studio.audio.sound_profile``)."""
        row = np.asarray(profile_row, np.float64)
        checks = []
        for name, lo, hi, _ in self.targets():
            target = getattr(self, name)
            measured = float(row[QUALITY_INDEX[name]])
            met = bool(np.isfinite(measured) and lo <= measured <= hi)
            shown = format_value(name, measured) if np.isfinite(measured) else f"no {name}"
            checks.append(ConstraintCheck(name, float(target), measured, met,
                                          f"{name} {format_value(name, target)}: measured {shown} "
                                          f"{'✓' if met else '✗'}"))
        return checks


def _number(name: str, value, lo: float, hi: float, unit: str) -> float | None:
    """A finite number in [lo, hi] or None; :class:`ConstraintError` naming the constraint otherwise."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConstraintError(f"{name} must be a number, got {value!r}", name) from None
    try:
        return check_number(number, lo, hi, name, unit)
    except SettingsError:  # the constraint's own wording, which the UI and the CLI have always shown
        raise ConstraintError(f"{name} {value} is out of range: {lo:g} to {hi:g}{' ' + unit if unit else ''}",
                              name) from None
