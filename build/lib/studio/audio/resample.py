"""Sample-rate conversion for batches of sounds (soxr, high quality).

Used where a model wants a fixed rate (CLAP hears 48 kHz) and the studio renders at another.
"""
from __future__ import annotations

import numpy as np


def resample(audio, from_rate: int, to_rate: int) -> np.ndarray:
    """Audio ``[B, T]`` (or ``[T]``) float at ``from_rate`` Hz → float32 ``[B, T']`` (or ``[T']``) at ``to_rate`` Hz.

    ``T' = round(T · to_rate / from_rate)``. Returns the input (as float32) when the rates are equal.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} → {to_rate}")
    arr = np.asarray(audio, np.float32)
    if arr.ndim not in (1, 2):
        raise ValueError(f"audio must have shape [T] or [batch, T], got {list(arr.shape)}")
    if from_rate == to_rate:
        return arr
    import soxr

    # soxr treats columns as channels: the batch becomes channels of one multichannel signal.
    batch = arr[None] if arr.ndim == 1 else arr
    out = np.asarray(soxr.resample(np.ascontiguousarray(batch.T), from_rate, to_rate, quality="HQ"), np.float32)
    out = np.ascontiguousarray(out.reshape(out.shape[0], -1).T)
    return out[0] if arr.ndim == 1 else out
