"""Loudness for listening comparisons: how loud a sound is, and clips brought to one loudness for A/B.

The measure is the one targets are normalized with (:func:`studio.audio.target.normalize_loudness`): the RMS, in
dBFS, of the *audible* 10 ms frames (those within 50 dB of the loudest), so a short sound padded with silence is
not called quiet. Comparing two sounds by ear is only fair at equal loudness (a louder sound tends to be judged
better, brighter, closer); :func:`equal_loudness` gives every clip of a comparison the same level, as high as the
peak limit allows for all of them, without touching the sounds themselves.
"""
from __future__ import annotations

import math

import numpy as np

from .target import PEAK_LIMIT, TARGET_RMS_DB, TRIM_BELOW_PEAK_DB, frame_levels_db


def loudness_db(audio, sample_rate: int) -> float:
    """Loudness of ``[T]`` float audio in dBFS: the RMS of its audible 10 ms frames (−200 for digital silence)."""
    levels = frame_levels_db(np.asarray(audio, np.float32).reshape(-1), sample_rate)
    audible = levels >= levels.max() - TRIM_BELOW_PEAK_DB
    return 10.0 * math.log10(max(float(np.mean(10.0 ** (levels[audible] / 10.0))), 1e-20))


def equal_loudness(clips, sample_rate: int, level_db: float = TARGET_RMS_DB,
                   peak_limit: float = PEAK_LIMIT) -> tuple[list[np.ndarray], float]:
    """Scale each clip ``[T_i]`` to one common loudness: ``level_db``, or lower where a clip's peak would pass
    ``peak_limit`` at that level (then every clip is lowered alike, so they stay equal). Silent clips stay silent,
    and a clip already within 0.01 dB of the level is returned as it is.

    Returns (the scaled clips, float32, in order; the common level in dBFS).
    """
    clips = [np.asarray(c, np.float32).reshape(-1) for c in clips]
    level = float(level_db)
    for clip in clips:
        peak = float(np.max(np.abs(clip))) if clip.size else 0.0
        if peak > 0.0:  # the level at which this clip's peak reaches the limit
            level = min(level, loudness_db(clip, sample_rate) + 20.0 * math.log10(peak_limit / peak))
    out = []
    for clip in clips:
        if not clip.size or not np.any(clip):
            out.append(clip)
            continue
        gain_db = level - loudness_db(clip, sample_rate)
        # Within a hundredth of a dB a clip is already there (a normalized target): left bit-exact.
        out.append(clip if abs(gain_db) < 0.01 else clip * np.float32(10.0 ** (gain_db / 20.0)))
    return out, level
