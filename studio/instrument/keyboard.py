"""The playable keyboard's samples: every note of a range of keys rendered from one patch in one batched call, and
packed compactly (one block of int16, with a small JSON header) for the browser, which plays them with the Web
Audio API.

Each key is the patch itself at that key's pitch (:func:`studio.instrument.notes.note_thetas`): same knobs, same
note length, same render settings and noise seed, so the key of the sound's own note sounds like the player. All
notes share one fixed gain (the player's), so a quiet sound stays quiet and the notes keep their relative levels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.audio.io import to_int16
from studio.instrument.notes import declick, note_thetas
from studio.synth import RenderSettings, render

KEYS = 25  # two octaves and the top C: what the on-screen piano shows
LOWEST_START, HIGHEST_START = 0, 127 - (KEYS - 1)  # the range may start on any MIDI note that keeps it in 0…127
DEFAULT_START = 48  # C3 … C5
SILENCE = 10.0 ** (-84.0 / 20.0)  # below half an int16 step at full scale: cutting there removes nothing audible
GAIN = 1.0  # the player's fixed gain (studio.ui.views.AUDIO_GAIN): keys play as loud as the player


@dataclass(frozen=True)
class KeyboardSamples:
    """Notes ``start … start + count − 1`` of one sound: ``pcm`` int16 ``[count, length]`` at ``sample_rate``."""

    start: int
    pcm: np.ndarray
    sample_rate: int
    gain: float = GAIN

    @property
    def count(self) -> int:
        return int(self.pcm.shape[0])

    @property
    def length(self) -> int:
        return int(self.pcm.shape[1])


def key_range(start: int, count: int = KEYS) -> np.ndarray:
    """MIDI notes ``[count]`` from ``start`` (clamped so the whole range fits in 0…127)."""
    start = int(np.clip(int(start), 0, 128 - count))
    return np.arange(start, start + count)


def render_keys(theta, settings: RenderSettings, midi) -> np.ndarray:
    """The patch θ ``[78]`` played at each MIDI note of ``midi`` ``[N]`` → float32 audio ``[N, T]``, one batched render.

    Every note uses the sound's own noise seed (the same patch, only the key changes) and ends with the de-click
    fade, so a sustained note cut by the buffer end does not click when the browser plays it to the end.
    """
    rows = note_thetas(theta, midi)
    seeds = np.full(rows.shape[0], int(settings.noise_seed), np.uint32)
    audio = np.asarray(render(rows, settings, seeds=seeds))
    return declick(audio, settings.sample_rate)


def audible_length(audio: np.ndarray, sample_rate: int, threshold: float = SILENCE) -> int:
    """Samples up to the last one any note of ``audio`` ``[N, T]`` reaches ``threshold`` (plus the de-click
    fade's length), at least one fade long: the trailing silence every note shares is not worth sending."""
    loud = np.flatnonzero(np.abs(audio).max(axis=0) > threshold)
    fade = int(round(0.005 * sample_rate))
    end = (int(loud[-1]) + 1 + fade) if loud.size else 0
    return int(min(audio.shape[-1], max(end, fade)))


def keyboard_samples(theta, settings: RenderSettings, start: int = DEFAULT_START, count: int = KEYS) -> KeyboardSamples:
    """Render the keys ``start …`` of the sound (θ, settings) and pack them as int16 at the player's fixed gain,
    cut after the last audible sample of the loudest note (with the de-click fade at the cut)."""
    midi = key_range(start, count)
    audio = render_keys(theta, settings, midi)
    length = audible_length(audio, settings.sample_rate)
    if length < audio.shape[-1]:
        audio = declick(audio[:, :length], settings.sample_rate)
    return KeyboardSamples(start=int(midi[0]), pcm=to_int16(audio, gain=GAIN), sample_rate=int(settings.sample_rate))


def to_bytes(samples: KeyboardSamples) -> bytes:
    """The notes as one block of little-endian int16, note-major (``count × length`` samples): what the page
    fetches and plays from."""
    return np.ascontiguousarray(samples.pcm.astype("<i2")).tobytes()


def header(samples: KeyboardSamples, version: str = "") -> dict:
    """What the page needs to slice :func:`to_bytes`'s block (JSON-ready); ``version`` names the sound and range."""
    return {"version": version, "start": samples.start, "count": samples.count, "length": samples.length,
            "sample_rate": samples.sample_rate, "gain": samples.gain}


def from_bytes(data: bytes, head: dict) -> KeyboardSamples:
    """:func:`to_bytes` and :func:`header`'s inverse (tests, tools)."""
    pcm = np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(int(head["count"]), int(head["length"]))
    return KeyboardSamples(start=int(head["start"]), pcm=pcm, sample_rate=int(head["sample_rate"]),
                           gain=float(head["gain"]))


__all__ = ["KEYS", "DEFAULT_START", "KeyboardSamples", "key_range", "render_keys", "audible_length",
           "keyboard_samples", "to_bytes", "header", "from_bytes"]
