"""One patch played as notes: θ rows that differ only in the keyboard's pitch and note-on length, and the short
fade that keeps a note cut at its buffer's end from clicking. The keyboard, MIDI rendering and sampler exports
all build on these two."""
from __future__ import annotations

import numpy as np

from studio.synth import N_PARAMS, PARAM_INDEX, PARAMS, to_normalized

PITCH = PARAM_INDEX["keyboard.midi_f0"]
NOTE_ON = PARAM_INDEX["keyboard.duration"]
DECLICK_SECONDS = 0.005  # a fade this short is inaudible as a fade, long enough that a cut end does not click


def _normalized(index: int, human: np.ndarray) -> np.ndarray:
    """Human values ``[N]`` of knob ``index`` → its normalized values ``[N]`` float32 (clipped to the knob's range)."""
    spec = PARAMS[index]
    full = np.zeros((human.shape[0], N_PARAMS), np.float64)
    full[:, index] = np.clip(human, spec.lo, spec.hi)
    return np.clip(to_normalized(full)[:, index], 0.0, 1.0).astype(np.float32)


def note_thetas(theta, midi, note_on_seconds=None) -> np.ndarray:
    """θ ``[78]`` played at MIDI pitches ``midi`` ``[N]`` (fractional = cents) → θ rows ``[N, 78]`` float32.

    ``note_on_seconds`` ``[N]`` (or a scalar) sets each note's ``keyboard.duration`` (the time before the release
    starts, 0.01–4 s); None keeps the patch's own. Every other knob is the patch's, bit for bit.
    """
    theta = np.asarray(theta, np.float32)
    midi = np.atleast_1d(np.asarray(midi, np.float64))
    rows = np.repeat(theta[None], midi.shape[0], axis=0)
    rows[:, PITCH] = _normalized(PITCH, midi)
    if note_on_seconds is not None:
        rows[:, NOTE_ON] = _normalized(NOTE_ON, np.broadcast_to(np.asarray(note_on_seconds, np.float64), midi.shape))
    return rows


def declick(audio, sample_rate: int, seconds: float = DECLICK_SECONDS) -> np.ndarray:
    """``audio`` ``[..., T]`` with a raised-cosine fade-out over its last ``seconds`` (at most the whole clip), so
    a sound cut at the buffer end (or trimmed) stops without a click. The rest is untouched."""
    audio = np.array(audio, dtype=np.float32, copy=True)
    n = min(audio.shape[-1], max(1, int(round(seconds * sample_rate))))
    fade = 0.5 * (1.0 + np.cos(np.pi * (np.arange(1, n + 1) / n)))  # 1 → 0, reaching 0 at the last sample
    audio[..., -n:] *= fade.astype(np.float32)
    return audio
