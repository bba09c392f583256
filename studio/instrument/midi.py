"""MIDI files played through a patch: every note rendered at its pitch, for its own length, at its velocity.

``read_midi`` turns a Standard MIDI File into notes (start, note-on length, pitch, velocity) with tempo changes
applied; ``render_song`` renders them through one patch and mixes them; ``play_midi`` is both for a file.

How a note becomes sound:

- its θ is the patch's with ``keyboard.midi_f0`` = the note's pitch and ``keyboard.duration`` = how long the key
  was held (:func:`studio.instrument.notes.note_thetas`), so the envelopes release where the MIDI note ends and the
  release tail follows;
- the keyboard's note-on knob stops at 4 s, so **a note held longer than 4 s is released at 4 s** (the synth has
  no longer note-on; the release then sounds as it would for a 4 s note);
- each note's buffer covers its note-on plus the tail (``tail`` seconds, by default the patch's longest release of
  an envelope that can gate a level), rounded up to one of a few fixed buffer lengths (:data:`BUFFER_SECONDS`),
  so a song compiles the synth at most once per length used, and notes are rendered :data:`ROWS` at a time in one
  batched call per group; a note still sounding at its buffer's end is faded out over 5 ms (no click);
- velocity sets the gain (linear: velocity / 127); notes are added at their start times and the mix is scaled so
  its peak sits at :data:`PEAK` (−1 dBFS): never clipped, and a quiet file is not left quiet.

Bad files are refused with a :class:`~studio.errors.StudioError` that says why: not MIDI, corrupt, no notes, more
than :data:`MAX_POLYPHONY` notes at once, more than :data:`MAX_NOTES` notes, a tempo outside
:data:`MIN_BPM`–:data:`MAX_BPM`, or a song longer than :data:`MAX_SONG_SECONDS`.
"""
from __future__ import annotations

import dataclasses
import io
import math
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import StudioError
from studio.instrument.notes import declick, note_thetas
from studio.synth import PARAM_INDEX, PARAMS, RenderSettings, to_human

MAX_NOTE_ON = PARAMS[PARAM_INDEX["keyboard.duration"]].hi  # 4 s: a longer held note is released here
MIN_NOTE_ON = PARAMS[PARAM_INDEX["keyboard.duration"]].lo  # 0.01 s: a shorter note still sounds this long
MAX_TAIL = 10.0  # seconds of release after a note-off, at most
BUFFER_SECONDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 14.0)  # every note's buffer is one of these (one compile each)
ROWS = 32  # notes per batched render call (a group's last call is padded with copies, rendered and dropped)
ROW_SECONDS = 64.0  # long buffers get fewer rows per call, so padding a group's last call wastes at most this much
MAX_NOTES = 20_000
MAX_POLYPHONY = 256  # notes held at the same time (MIDI has 16 channels × 128 keys)
MAX_SONG_SECONDS = 600.0
MIN_BPM, MAX_BPM = 5.0, 1000.0
MAX_FILE_BYTES = 16 * 1024 * 1024
PEAK = 10 ** (-1 / 20)  # the mix's peak after normalization: −1 dBFS
# Envelopes that can gate a level: adsr_1/adsr_2 route to amplifiers directly, the LFOs through their amp ADSRs.
GATING_RELEASES = tuple(PARAM_INDEX[f"{m}.release"] for m in ("adsr_1", "adsr_2", "lfo_1_amp_adsr", "lfo_2_amp_adsr"))


@dataclass(frozen=True)
class Song:
    """The notes of a MIDI file, sorted by start. Arrays ``[N]``: ``start`` and ``length`` (how long the key was
    held) in seconds, ``pitch`` MIDI note numbers, ``velocity`` 1–127. ``end`` is the time of the file's last
    event (s); ``tempo_changes`` how many tempo events it holds; ``source`` names the file in messages."""

    start: np.ndarray
    length: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    end: float
    tempo_changes: int = 0
    source: str = "<midi>"

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass(frozen=True)
class RenderedSong:
    """A rendered song: ``audio`` float32 ``[T]`` at ``sample_rate``, the song's ``notes``, the ``tail`` rendered
    after each note-off (s), how many notes were held longer than 4 s (``clamped``), the render calls made and the
    buffer lengths they used (``calls``, ``buffers``)."""

    audio: np.ndarray
    sample_rate: int
    notes: int
    tail: float
    clamped: int
    calls: int
    buffers: tuple[float, ...]

    @property
    def seconds(self) -> float:
        return self.audio.shape[0] / self.sample_rate

    def describe(self) -> str:
        clamped = f", {self.clamped} held over 4 s released at 4 s" if self.clamped else ""
        return (f"{self.notes} notes{clamped}, {self.seconds:.2f} s at {self.sample_rate} Hz, release tail "
                f"{self.tail:g} s; {self.calls} batched render call{'s' if self.calls != 1 else ''}")


def _bad(source: str, problem: str) -> StudioError:
    return StudioError(f"{source}: {problem}", "midi")


def _open(data: bytes, source: str):
    import mido

    if not data:
        raise _bad(source, "the file is empty; a MIDI file (.mid) starts with 'MThd'")
    if not data.startswith(b"MThd"):
        raise _bad(source, "this is not a MIDI file (it does not start with 'MThd'); export a Standard MIDI File "
                           "(.mid) from your sequencer")
    try:
        song = mido.MidiFile(file=io.BytesIO(data))
    except Exception as err:  # mido raises EOFError, OSError, ValueError, KeyError… for broken files
        detail = str(err).strip() or "the file ends in the middle of a track"
        raise _bad(source, f"the MIDI file is corrupt and cannot be read ({detail})") from None
    if song.ticks_per_beat <= 0:
        raise _bad(source, f"the MIDI file is corrupt: its header gives {song.ticks_per_beat} ticks per beat")
    if song.type == 2:
        raise _bad(source, "this is a type 2 MIDI file (independent sequences); save it as type 0 or 1")
    return song


def read_midi(midi, source: str | None = None) -> Song:
    """The notes of a Standard MIDI File (type 0 or 1): a path or the file's bytes. Tempo changes (in any track)
    are applied; a note-off (or a note-on at velocity 0) ends the earliest held note of its channel and key; a note
    never released ends at the file's last event. Raises :class:`~studio.errors.StudioError` for a file that is
    not MIDI, corrupt, holds no notes, too many notes at once, an absurd tempo or a song that is too long."""
    if isinstance(midi, (bytes, bytearray)):
        data, source = bytes(midi), source or "<midi>"
    else:
        path = Path(midi)
        source = source or str(path)
        if path.is_dir():
            raise _bad(source, "is a folder, not a MIDI file")
        if not path.exists():
            raise _bad(source, "no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _bad(source, f"the file is larger than {MAX_FILE_BYTES // 2**20} MB; that is not a song")
        data = path.read_bytes()
    song = _open(data, source)

    now, tempo_changes, note_ons = 0.0, 0, 0
    held: dict[tuple[int, int], deque] = defaultdict(deque)  # (channel, key) → (start, velocity) of held notes
    notes: list[tuple[float, float, int, int]] = []
    try:
        for msg in song:  # merged tracks, .time in seconds at the tempo then in force
            now += msg.time
            if msg.type == "set_tempo":
                tempo_changes += 1
                bpm = 60e6 / msg.tempo if msg.tempo > 0 else math.inf
                if not MIN_BPM <= bpm <= MAX_BPM:
                    shown = "an infinite tempo" if math.isinf(bpm) else f"{bpm:.3g} BPM"
                    raise _bad(source, f"a tempo change at {now:.2f} s sets {shown}; the studio plays tempos from "
                                       f"{MIN_BPM:g} to {MAX_BPM:g} BPM")
            elif msg.type == "note_on" and msg.velocity > 0:
                held[(msg.channel, msg.note)].append((now, msg.velocity))
                note_ons += 1
                if note_ons > MAX_NOTES:
                    raise _bad(source, f"the file holds more than {MAX_NOTES} notes; the studio plays at most "
                                       f"{MAX_NOTES}")
            elif msg.type in ("note_off", "note_on"):
                queue = held.get((msg.channel, msg.note))
                if queue:
                    start, velocity = queue.popleft()
                    notes.append((start, now - start, msg.note, velocity))
            if now > MAX_SONG_SECONDS:
                raise _bad(source, f"the song runs past {MAX_SONG_SECONDS / 60:g} minutes; the studio renders at "
                                   f"most {MAX_SONG_SECONDS / 60:g} minutes")
    except StudioError:
        raise
    except Exception as err:  # a track that mido cannot merge or decode
        raise _bad(source, f"the MIDI file is corrupt and cannot be read ({err})") from None
    for (_, key), queue in held.items():  # keys still held at the end are released there
        notes += [(start, now - start, key, velocity) for start, velocity in queue]
    if not notes:
        raise _bad(source, "the file holds no notes to play")
    most, at = polyphony(np.array([n[0] for n in notes]), np.array([n[1] for n in notes]))
    if most > MAX_POLYPHONY:
        raise _bad(source, f"{most} notes sound at once at {at:.2f} s; the studio plays at most {MAX_POLYPHONY} at "
                           "a time")
    notes.sort(key=lambda n: (n[0], n[2]))
    start, length, pitch, velocity = (np.array(column) for column in zip(*notes))
    return Song(start.astype(np.float64), length.astype(np.float64), pitch.astype(np.int64),
                velocity.astype(np.int64), float(now), tempo_changes, source)


def polyphony(start, length) -> tuple[int, float]:
    """The most notes held at once and when (s), counting each note for its note-on as rendered (at most 4 s,
    at least 0.01 s; a note that ends as another starts does not overlap it)."""
    start = np.asarray(start, np.float64)
    end = start + np.clip(np.asarray(length, np.float64), MIN_NOTE_ON, MAX_NOTE_ON)
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones(start.size, np.int64), -np.ones(end.size, np.int64)])
    order = np.lexsort((steps, times))  # at equal times, releases before starts
    count = np.cumsum(steps[order])
    peak = int(np.argmax(count))
    return int(count[peak]), float(times[order][peak])


def release_tail(theta) -> float:
    """Seconds a note of patch θ ``[78]`` rings after its note-off: the longest release among the envelopes that
    can gate a level (adsr_1, adsr_2 and the LFOs' amp envelopes); past it every level is 0."""
    human = to_human(np.asarray(theta, np.float64)[None])[0]
    return float(max(human[i] for i in GATING_RELEASES))


def buffer_seconds(needed: float) -> float:
    """The shortest of :data:`BUFFER_SECONDS` that holds ``needed`` seconds (the longest when none does)."""
    for seconds in BUFFER_SECONDS:
        if needed <= seconds + 1e-9:
            return seconds
    return BUFFER_SECONDS[-1]


def rows_per_call(seconds: float) -> int:
    """Notes per render call for a buffer of ``seconds``: :data:`ROWS`, fewer for long buffers (at least 4), so
    the padding of a group's last call costs at most about :data:`ROW_SECONDS` of rendered audio."""
    return int(np.clip(ROW_SECONDS // seconds, 4, ROWS))


def velocity_gain(velocity) -> np.ndarray:
    """MIDI velocity 1–127 → linear gain (velocity / 127): 127 plays at the patch's own level, 64 about 6 dB lower."""
    return np.asarray(velocity, np.float64) / 127.0


def render_song(theta, song: Song, settings: RenderSettings = RenderSettings(), tail: float | None = None,
                rows: int | None = None) -> RenderedSong:
    """Render ``song``'s notes through patch θ ``[78]`` and mix them (see the module's docstring).

    settings: sample rate, control rate and noise seed of every note (note i uses seed ``noise_seed + i``; the
    duration is chosen per note). tail: seconds rendered after each note-off (default :func:`release_tail`, at most
    :data:`MAX_TAIL`). rows: notes per render call (default :func:`rows_per_call`). Returns the mix, float32 ``[T]``
    peaking at :data:`PEAK`, T covering the last note's tail.
    """
    from studio.synth import noise_seeds, renderer

    tail = min(release_tail(theta), MAX_TAIL) if tail is None else float(tail)
    if not (math.isfinite(tail) and 0.0 <= tail <= MAX_TAIL):
        raise StudioError(f"the tail must be a finite number from 0 to {MAX_TAIL:g} s, got {tail!r}", "tail")
    if len(song) == 0:
        raise _bad(song.source, "the file holds no notes to play")
    sr = int(settings.sample_rate)
    note_on = np.clip(song.length, MIN_NOTE_ON, MAX_NOTE_ON)
    needed = note_on + tail
    buffers = np.array([buffer_seconds(n) for n in needed])
    heard = np.minimum(needed, buffers)  # a note sounds for its note-on + tail, at most its buffer
    starts = np.round(song.start * sr).astype(np.int64)
    lengths = np.maximum(1, np.round(heard * sr).astype(np.int64))
    mix = np.zeros(int((starts + lengths).max()), np.float32)
    thetas = note_thetas(theta, song.pitch, note_on)
    seeds = noise_seeds(settings, len(song))
    gains = velocity_gain(song.velocity).astype(np.float32)
    calls = 0
    for seconds in sorted(set(buffers.tolist())):
        render = renderer(dataclasses.replace(settings, duration=seconds))
        members = np.flatnonzero(buffers == seconds)
        size = rows or rows_per_call(seconds)
        for first in range(0, members.size, size):
            chunk = members[first:first + size]
            padded = np.concatenate([chunk, np.repeat(chunk[:1], size - chunk.size)])  # one shape per buffer length
            audio = np.asarray(render(thetas[padded], seeds[padded]))[:chunk.size]  # waits for the device
            calls += 1
            for row, i in enumerate(chunk):
                note = declick(audio[row, :lengths[i]], sr) * gains[i]
                mix[starts[i]:starts[i] + lengths[i]] += note
    peak = float(np.max(np.abs(mix)))
    if peak > 0:
        mix *= np.float32(PEAK / peak)
    return RenderedSong(mix, sr, len(song), tail, int(np.sum(song.length > MAX_NOTE_ON)), calls,
                        tuple(sorted(set(buffers.tolist()))))


def play_midi(preset, midi, sample_rate: int | None = None, tail: float | None = None,
              source: str | None = None) -> RenderedSong:
    """Render a MIDI file (path or bytes) through a preset: its θ, its control rate and noise seed, at
    ``sample_rate`` (default the preset's). See :func:`read_midi` and :func:`render_song`."""
    settings = preset.settings if sample_rate is None else dataclasses.replace(preset.settings,
                                                                               sample_rate=int(sample_rate))
    return render_song(preset.theta, read_midi(midi, source), settings, tail)


__all__ = ["BUFFER_SECONDS", "MAX_NOTES", "MAX_POLYPHONY", "MAX_SONG_SECONDS", "MAX_TAIL", "PEAK", "RenderedSong",
           "Song", "buffer_seconds", "play_midi", "polyphony", "read_midi", "release_tail", "render_song",
           "rows_per_call", "velocity_gain"]
