"""Where a rendered sound ends: its audible end (for trimmed exports) and whether the buffer cut it (the player's
"release cut" note and the de-click fade of playback and exports). ``render()`` itself stays faithful: these work on
its output."""
from __future__ import annotations

import numpy as np

from studio.instrument.notes import declick

AUDIBLE_FLOOR_DB = -60.0  # below the sound's own peak: quieter than this at the end counts as silence
TRIM_FADE_SECONDS = 0.01  # the fade a trimmed sound ends with
CUT_WINDOW_SECONDS = 0.01  # the last stretch of a buffer that tells whether the sound was still going
CUT_LEVEL = 10 ** (-50 / 20)  # a peak above −50 dBFS there is a cut you can hear (a click without a fade)


def audible_end(audio, sample_rate: int, floor_db: float = AUDIBLE_FLOOR_DB) -> int:
    """The number of samples up to the sound's audible end: one past the last sample within ``floor_db`` of the
    sound's peak (0 for silence). ``audio`` ``[T]`` float."""
    magnitude = np.abs(np.asarray(audio, np.float32))
    peak = float(magnitude.max(initial=0.0))
    if peak <= 0.0:
        return 0
    loud = np.flatnonzero(magnitude >= peak * 10 ** (floor_db / 20))
    return int(loud[-1]) + 1


def trim_to_audible(audio, sample_rate: int, floor_db: float = AUDIBLE_FLOOR_DB,
                    fade_seconds: float = TRIM_FADE_SECONDS) -> np.ndarray:
    """``audio`` ``[T]`` cut after its audible end (:func:`audible_end`) plus ``fade_seconds``, ending with a
    raised-cosine fade over those last ``fade_seconds`` so it stops without a click. A sound still loud at its
    buffer's end keeps its whole length and fades over its last 5 ms (:func:`~studio.instrument.notes.declick`).
    Returns float32 ``[T']``, at least one fade long."""
    audio = np.asarray(audio, np.float32)
    fade = max(1, int(round(fade_seconds * sample_rate)))
    end = audible_end(audio, sample_rate, floor_db)
    if end + fade >= audio.shape[0]:
        return declick(audio, sample_rate)
    return declick(audio[:max(end + fade, fade)], sample_rate, fade / sample_rate)


def tail_peak(audio, sample_rate: int, seconds: float = CUT_WINDOW_SECONDS) -> float:
    """The largest magnitude in the last ``seconds`` of ``audio`` ``[T]`` (linear, 1 = full scale)."""
    audio = np.asarray(audio, np.float32)
    n = max(1, int(round(seconds * sample_rate)))
    return float(np.max(np.abs(audio[-n:]), initial=0.0))


def cut_at_end(audio, sample_rate: int) -> bool:
    """Whether the buffer cut the sound: its last 10 ms still peak above −50 dBFS (a release that did not finish,
    or a sound still held), which would click without a fade."""
    return tail_peak(audio, sample_rate) > CUT_LEVEL


def declicked(audio, sample_rate: int) -> np.ndarray:
    """``audio`` with the 5 ms de-click fade at its end when the buffer cut it (:func:`cut_at_end`); otherwise the
    samples unchanged. For playback and exports; ``render()`` keeps the cut."""
    return declick(audio, sample_rate) if cut_at_end(audio, sample_rate) else np.asarray(audio, np.float32)


__all__ = ["AUDIBLE_FLOOR_DB", "CUT_LEVEL", "audible_end", "cut_at_end", "declicked", "tail_peak", "trim_to_audible"]
