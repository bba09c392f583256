"""One validator per concept the UI and the CLI both take from a user: seeds, whole numbers in a range, finite
numbers, names from a fixed set (budget, strategy, scorer, mode…) and note names. Each returns the clean value or
raises :class:`~studio.errors.SettingsError` naming the field, with a message that says what is accepted.

Note names live here too (``note_name``/``parse_note``): every place that shows or reads a pitch uses them.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np

from studio.errors import SettingsError

MAX_SEED = 2**32 - 1  # one rule for every seed: the synth's noise seeds are uint32


def _whole(value, field: str, what: str) -> int:
    """``value`` as an int when it is a whole number (int, numpy int, integral float, or text of one)."""
    if isinstance(value, bool) or value is None:
        raise SettingsError(f"{what} must be a whole number, got {value!r}", field)
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise SettingsError(f"{what} must be a whole number, got {value!r}", field)
        return int(text)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise SettingsError(f"{what} must be a whole number, got {value!r}", field)


def label(field: str) -> str:
    """How a field is named in a message: ``noise_seed`` → ``noise seed``, ``settings.duration`` → ``duration``;
    a command-line option (``--sample-rate``) stays as it is."""
    if field.startswith("-"):
        return field
    return field.rsplit(".", 1)[-1].replace("_", " ")


def check_seed(value, field: str = "seed") -> int:
    """A seed: a whole number from 0 to ``MAX_SEED`` (2**32 − 1), the same rule for every seed in the studio."""
    name = label(field) if field.startswith("-") else f"the {label(field)}"
    seed = _whole(value, field, name)
    if not 0 <= seed <= MAX_SEED:
        raise SettingsError(f"{name} must be a whole number from 0 to {MAX_SEED}, got {seed}", field)
    return seed


def check_whole(value, lo: int, hi: int | None, field: str) -> int:
    """A whole number from ``lo`` to ``hi`` (inclusive; ``hi`` None: no upper bound)."""
    number = _whole(value, field, label(field))
    if number < lo or (hi is not None and number > hi):
        accepted = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
        raise SettingsError(f"{label(field)} must be a whole number {accepted}, got {number}", field)
    return number


def check_number(value, lo: float, hi: float, field: str, unit: str = "") -> float:
    """A finite number from ``lo`` to ``hi`` (inclusive; ``hi`` may be ``math.inf``: no upper bound);
    ``unit`` is named in the message."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and lo <= number <= hi):
        suffix = f" {unit}" if unit else ""
        accepted = f"from {lo:g} to {hi:g}{suffix}" if math.isfinite(hi) else f"≥ {lo:g}{suffix}"
        raise SettingsError(f"{label(field)} must be a finite number {accepted}, got {value!r}", field)
    return number


def check_choice(value, choices: Iterable[str], field: str) -> str:
    """One of ``choices`` (exact name)."""
    options = tuple(choices)
    if value not in options:
        raise SettingsError(f"unknown {label(field)} {value!r}: choose one of {', '.join(options)}", field)
    return value


def check_render_settings(settings):
    """``settings`` (:class:`~studio.synth.RenderSettings`) when every setting is usable, else
    :class:`~studio.errors.SettingsError` whose ``field`` is the setting at fault (``sample_rate``, ``duration``,
    ``control_rate``, ``noise_seed``). The ranges are the synth's own (``studio.synth.voice``)."""
    from studio.synth.voice import MAX_DURATION, MAX_SAMPLE_RATE

    check_whole(settings.sample_rate, 8_000, MAX_SAMPLE_RATE, "sample_rate")
    check_number(settings.duration, 0.05, MAX_DURATION, "duration", "s")
    check_number(settings.control_rate, 10.0, settings.sample_rate / 4, "control_rate", "Hz")
    check_seed(settings.noise_seed, "noise_seed")
    return settings.validate()  # the synth's own check: agrees with the ones above


# ----------------------------------------------------------------------------------------------
# Note names (C4 = MIDI 60 is middle C, A4 = 69 = 440 Hz)
# ----------------------------------------------------------------------------------------------
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_PATTERN = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(-?\d+)\s*$")
HZ_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*hz\s*$", re.IGNORECASE)
NOTE_OFFSETS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def midi_to_hz(midi: float) -> float:
    """MIDI note number → frequency in Hz (equal temperament, A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: float) -> float:
    """Frequency in Hz (> 0) → MIDI note number (fractional)."""
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def note_name(midi: float, cents: bool = False) -> str:
    """MIDI note number → the nearest note's name with octave (60 → C4, 69 → A4); with ``cents`` the offset from
    it is added when not 0 (60.3 → C4 +30 ct)."""
    nearest = int(round(midi))
    name = f"{NOTE_NAMES[nearest % 12]}{nearest // 12 - 1}"
    offset = int(round((midi - nearest) * 100))
    return f"{name} {offset:+d} ct" if cents and offset else name


def parse_note(text, field: str = "pitch") -> float:
    """A pitch as a MIDI note number: ``"C3"`` → 48, ``"F#2"``, ``"Bb4"``, ``"440 Hz"``, or a number (already MIDI).
    :class:`~studio.errors.SettingsError` for anything else; range checks are the caller's."""
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        midi = float(text)
    elif isinstance(text, str) and (m := NOTE_PATTERN.match(text)):
        letter, accidental, octave = m.groups()
        shift = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
        midi = 12.0 * (int(octave) + 1) + NOTE_OFFSETS[letter.lower()] + shift
    elif isinstance(text, str) and (m := HZ_PATTERN.match(text)):
        hz = float(m.group(1))
        midi = hz_to_midi(hz) if hz > 0 else -math.inf
    else:
        raise SettingsError(f"{label(field)} {text!r} is not a note: write a note name and octave like C3, F#2 or Bb4 "
                            "(C4 is middle C), or a frequency like 220 Hz", field)
    if not math.isfinite(midi):
        raise SettingsError(f"{label(field)} {text!r} is not a finite pitch", field)
    return midi
