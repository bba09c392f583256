"""A target sound for matching: decode an upload or a recording, check it, and fit it to the synth's buffer.

The pipeline (:func:`prepare_target`), each step a small pure function:

1. :func:`decode_audio`: whatever libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, …) → float32 ``[T, C]`` at the
   file's rate, after checking the file's size, length and sample rate *before* reading its samples.
2. :func:`to_mono`: the channels averaged → ``[T]``.
3. :func:`~studio.audio.resample.resample`: soxr (high quality) to the synth's rate.
4. :func:`trim_silence`: leading and trailing silence cut (levels more than ``TRIM_BELOW_PEAK_DB`` under the
   loudest 10 ms), so the sound starts where the synth's note does: at sample 0.
5. :func:`fit_to_length`: padded with silence, or cut (with a 10 ms fade, and the cut reported) to the buffer.
6. :func:`normalize_loudness`: scaled to ``TARGET_RMS_DB`` dBFS RMS, at most to a peak of ``PEAK_LIMIT``. The match
   loss is gain-invariant, so this only sets how loud the target plays beside its match.

Every problem a user can cause raises :class:`TargetError` (a :class:`~studio.errors.StudioError`) with a message
that says what is wrong and what is accepted: an empty, silent, unreadable, too large or too long file, an absurd
sample rate.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.errors import StudioError

MAX_FILE_BYTES = 20_000_000  # 20 MB: two minutes of 48 kHz stereo 16-bit audio is 23 MB; a target is seconds
MAX_INPUT_SECONDS = 60.0  # longer uploads are refused before decoding; only the first buffer-length is used anyway
MIN_INPUT_SECONDS = 0.02  # shorter than 20 ms holds no note to match (a 1-sample file is a broken export)
MAX_PEAK = 1000.0  # float files may exceed full scale a little; 60 dB over it is a broken level, not a sound
MIN_SAMPLE_RATE = 4_000  # below this nothing but a telephone band survives; likely a broken header
MAX_SAMPLE_RATE = 384_000  # the highest rate audio interfaces record at
SILENT_PEAK_DB = -60.0  # a recording whose loudest sample is below −60 dBFS holds nothing to match
TRIM_BELOW_PEAK_DB = 50.0  # 10 ms frames quieter than this many dB under the loudest frame count as silence
TRIM_FRAME_S = 0.010
FADE_S = 0.010  # fade-out where a too-long target is cut, so the cut does not click
TARGET_RMS_DB = -20.0  # where targets are normalized to (RMS over the audible part, dBFS)
PEAK_LIMIT = 0.98  # normalization never pushes a peak beyond this (no clipping)


class TargetError(StudioError):
    """A target sound that cannot be used; ``str()`` says why and what is accepted (a ``StudioError``, so the UI
    and the CLI show it as a message)."""


@dataclass(frozen=True)
class Target:
    """A sound ready to be matched: ``audio`` float32 ``[T]`` at ``sample_rate`` Hz, T = the synth's buffer length.

    ``source``: a name for people (the file's name). ``original_rate``/``original_channels``/``original_s``: what
    the file held. ``lead_s``/``tail_s``: silence trimmed at the start/end (seconds). ``sound_s``: the trimmed
    sound's length before fitting; ``cut_s``: how much of it was cut to fit the buffer (0 when it fitted).
    ``gain_db``: the normalization applied. ``notes``: one line each for people (cut, trimmed, resampled…).
    """

    audio: np.ndarray
    sample_rate: int
    source: str
    original_rate: int
    original_channels: int
    original_s: float
    lead_s: float
    tail_s: float
    sound_s: float
    cut_s: float
    gain_db: float
    notes: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> float:
        return self.audio.size / self.sample_rate

    def describe(self) -> str:
        """One line for people: source, original format, and what was done to it."""
        channels = {1: "mono", 2: "stereo"}.get(self.original_channels, f"{self.original_channels} channels")
        head = (f"{self.source}: {self.original_s:.2f} s, {self.original_rate} Hz {channels}; "
                f"sound {self.sound_s:.2f} s")
        return "; ".join((head,) + self.notes)


# ----------------------------------------------------------------------------------------------
# Decoding and checks
# ----------------------------------------------------------------------------------------------
def _check_rate(sample_rate, source: str) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise TargetError(f"{source}: sample rate {sample_rate!r} Hz is not usable: expected {MIN_SAMPLE_RATE} to "
                          f"{MAX_SAMPLE_RATE} Hz")
    return int(sample_rate)


def decode_audio(source, name: str | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file: a path or the file's bytes → (audio float32 ``[T, C]`` in [−1, 1], sample rate Hz).

    Checks before reading samples: the file exists and is at most ``MAX_FILE_BYTES``; libsndfile recognizes it;
    its rate is within ``MIN_SAMPLE_RATE``…``MAX_SAMPLE_RATE``; it holds at most ``MAX_INPUT_SECONDS``. Then: it
    holds at least ``MIN_INPUT_SECONDS`` of samples, all finite, peaking under ``MAX_PEAK``. Every failure raises
    :class:`TargetError` naming the file (``name`` or the path's file name).
    """
    import soundfile

    if isinstance(source, (bytes, bytearray)):
        label, size, handle = name or "the audio", len(source), io.BytesIO(bytes(source))
    else:
        path = Path(source)
        label = name or path.name
        if not path.is_file():
            raise TargetError(f"{label}: no such audio file")
        size, handle = path.stat().st_size, path
    if size == 0:
        raise TargetError(f"{label}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise TargetError(f"{label}: the file is {size / 1e6:.1f} MB; targets may be at most "
                          f"{MAX_FILE_BYTES / 1e6:.0f} MB (a few seconds of sound is enough)")
    try:
        with soundfile.SoundFile(handle) as f:
            rate, frames, channels = f.samplerate, f.frames, f.channels
            _check_rate(rate, label)
            if frames > MAX_INPUT_SECONDS * rate:
                raise TargetError(f"{label}: the sound is {frames / rate:.1f} s long; targets may be at most "
                                  f"{MAX_INPUT_SECONDS:.0f} s (trim it to the note you want matched)")
            data = f.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        # libsndfile's reason ("Format not recognised", "Unspecified internal error") helps less than the choices
        raise TargetError(f"{label}: cannot read this as audio ({_first_line(err)}); send WAV, FLAC, OGG/Vorbis or "
                          f"AIFF") from None
    if data.shape[0] == 0 or channels == 0:
        raise TargetError(f"{label}: the file holds no samples")
    if not np.isfinite(data).all():
        raise TargetError(f"{label}: the file holds NaN or infinite samples")
    if data.shape[0] < MIN_INPUT_SECONDS * rate:
        raise TargetError(f"{label}: the sound is {data.shape[0]} samples ({1000 * data.shape[0] / rate:.1f} ms) long; "
                          f"targets need at least {1000 * MIN_INPUT_SECONDS:.0f} ms")
    peak = float(np.max(np.abs(data)))
    if peak > MAX_PEAK:
        raise TargetError(f"{label}: the samples reach {peak:.3g}, {20 * np.log10(peak):.0f} dB over full scale: the "
                          f"file's level is broken; export it again at a normal level (peaks up to 1.0)")
    return data, int(rate)


def _first_line(err: BaseException) -> str:
    """libsndfile's reason without the path it quotes (a server's temporary file name helps nobody)."""
    import re

    text = str(err).strip().splitlines()
    reason = text[0] if text else type(err).__name__
    return re.sub(r"^Error opening .*?: ", "", reason).rstrip(".") or type(err).__name__


def to_mono(audio) -> np.ndarray:
    """Audio ``[T, C]`` (or ``[T]``) → ``[T]`` float32, the mean of the channels."""
    arr = np.asarray(audio, np.float32)
    return arr if arr.ndim == 1 else arr.mean(axis=1, dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# Shaping: trim, fit, normalize
# ----------------------------------------------------------------------------------------------
def frame_levels_db(audio, sample_rate: int, frame_s: float = TRIM_FRAME_S) -> np.ndarray:
    """RMS level of consecutive frames of ``frame_s`` seconds: ``[T]`` → ``[ceil(T / frame)]`` dBFS (−200 = 0)."""
    frame = max(1, int(round(frame_s * sample_rate)))
    n = -(-audio.size // frame)
    blocks = np.pad(np.asarray(audio, np.float64), (0, n * frame - audio.size)).reshape(n, frame)
    return 10.0 * np.log10(np.maximum(np.mean(blocks ** 2, axis=1), 1e-20))


def trim_silence(audio, sample_rate: int, below_peak_db: float = TRIM_BELOW_PEAK_DB) -> tuple[np.ndarray, int, int]:
    """Cut leading and trailing silence: ``[T]`` → (the sound ``[T']``, samples cut at the start, at the end).

    Silence is every 10 ms frame more than ``below_peak_db`` dB under the loudest frame; the sound runs from the
    first louder frame to the end of the last one, so a soft attack or tail within that range stays whole.
    """
    levels = frame_levels_db(audio, sample_rate)
    loud = np.flatnonzero(levels >= levels.max() - below_peak_db)
    frame = max(1, int(round(TRIM_FRAME_S * sample_rate)))
    start, stop = int(loud[0]) * frame, min(audio.size, (int(loud[-1]) + 1) * frame)
    return np.asarray(audio[start:stop], np.float32), start, audio.size - stop


def fit_to_length(audio, num_samples: int, sample_rate: int, fade_s: float = FADE_S) -> tuple[np.ndarray, int]:
    """Pad with silence or cut to ``num_samples``: ``[T]`` → (``[num_samples]``, samples cut, 0 when none).

    A cut sound fades out linearly over its last ``fade_s`` seconds, so the cut does not click.
    """
    audio = np.asarray(audio, np.float32)
    if audio.size <= num_samples:
        return np.pad(audio, (0, num_samples - audio.size)), 0
    out = audio[:num_samples].copy()
    fade = min(num_samples, max(1, int(round(fade_s * sample_rate))))
    out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out, audio.size - num_samples


def normalize_loudness(audio, sample_rate: int, rms_db: float = TARGET_RMS_DB,
                       peak_limit: float = PEAK_LIMIT) -> tuple[np.ndarray, float]:
    """Scale ``[T]`` so its audible part (frames within 50 dB of the loudest) has an RMS of ``rms_db`` dBFS, but
    never beyond a peak of ``peak_limit``; returns (scaled ``[T]`` float32, gain in dB).

    The RMS is taken over the audible frames only, so padding a short sound with silence does not raise its gain.
    """
    levels = frame_levels_db(audio, sample_rate)
    audible = levels >= levels.max() - TRIM_BELOW_PEAK_DB
    rms_db_now = 10.0 * math.log10(float(np.mean(10.0 ** (levels[audible] / 10.0))))
    peak = float(np.max(np.abs(audio)))
    gain_db = min(rms_db - rms_db_now, 20.0 * math.log10(peak_limit / peak))
    return (np.asarray(audio, np.float32) * np.float32(10.0 ** (gain_db / 20.0))), gain_db


# ----------------------------------------------------------------------------------------------
# The whole pipeline
# ----------------------------------------------------------------------------------------------
def prepare_audio(audio, sample_rate: int, target_rate: int, num_samples: int, *, source: str = "the audio",
                  original_channels: int = 1) -> Target:
    """Samples in memory → :class:`Target`: mono, resampled to ``target_rate``, trimmed, fitted to
    ``num_samples``, normalized. ``audio``: float ``[T]`` or ``[T, C]`` in [−1, 1] at ``sample_rate`` Hz.

    Raises :class:`TargetError` for empty, non-finite or silent audio and for unusable rates.
    """
    rate = _check_rate(sample_rate, source)
    arr = np.asarray(audio, np.float32)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0 or (arr.ndim == 2 and arr.shape[1] == 0):
        raise TargetError(f"{source}: no samples to match (shape {list(arr.shape)})")
    if not np.isfinite(arr).all():
        raise TargetError(f"{source}: the audio holds NaN or infinite samples")
    mono = to_mono(arr)
    original_s = mono.size / rate
    peak = float(np.max(np.abs(mono)))
    if peak <= 10.0 ** (SILENT_PEAK_DB / 20.0):
        level = f"{20 * math.log10(peak):.0f} dBFS" if peak > 0 else "digital silence"
        raise TargetError(f"{source}: the recording is silent (its peak is {level}); record or upload a sound "
                          f"louder than {SILENT_PEAK_DB:.0f} dBFS")
    from .resample import resample

    resampled = resample(mono, rate, target_rate) if rate != target_rate else mono
    sound, lead, tail = trim_silence(resampled, target_rate)
    fitted, cut = fit_to_length(sound, num_samples, target_rate)
    normalized, gain_db = normalize_loudness(fitted, target_rate)
    notes = []
    if rate != target_rate:
        notes.append(f"resampled {rate} → {target_rate} Hz")
    if lead or tail:
        notes.append(f"trimmed {lead / target_rate:.2f} s of silence at the start and {tail / target_rate:.2f} s "
                     f"at the end")
    if cut:
        notes.append(f"cut to the synth's {num_samples / target_rate:g} s: the last {cut / target_rate:.2f} s "
                     f"are not matched")
    notes.append(f"loudness normalized ({gain_db:+.1f} dB)")
    return Target(normalized, int(target_rate), source, rate, int(original_channels), original_s,
                  lead / target_rate, tail / target_rate, sound.size / target_rate, cut / target_rate, gain_db,
                  tuple(notes))


def load_target(source, target_rate: int = 48_000, duration: float = 2.0, name: str | None = None) -> Target:
    """A file (path or bytes) → :class:`Target` at ``target_rate`` Hz, ``duration`` seconds long (the synth's
    buffer). See the module docstring for the steps; :class:`TargetError` for anything unusable."""
    label = name or (Path(source).name if not isinstance(source, (bytes, bytearray)) else "the audio")
    data, rate = decode_audio(source, label)
    return prepare_audio(data, rate, int(target_rate), int(round(target_rate * duration)), source=label,
                         original_channels=data.shape[1])


__all__ = ["MAX_FILE_BYTES", "MAX_INPUT_SECONDS", "MAX_PEAK", "MIN_INPUT_SECONDS",
           "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "SILENT_PEAK_DB", "Target",
           "TargetError", "decode_audio", "fit_to_length", "frame_levels_db", "load_target", "normalize_loudness",
           "prepare_audio", "to_mono", "trim_silence"]
