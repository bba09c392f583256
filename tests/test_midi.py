"""MIDI files through a patch (``studio.instrument.midi`` and ``python -m studio play``): notes at their times,
pitches (measured with the studio's YIN) and velocities, tempo changes, no clipping, and clear messages for bad
files. Every MIDI file here is made with mido."""
from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from studio.audio.features import sound_features
from studio.checks import hz_to_midi
from studio.errors import StudioError
from studio.instrument import midi
from studio.presets import factory_preset
from studio.synth import RenderSettings

ROOT = Path(__file__).resolve().parent.parent
TICKS = 480
SR = 16_000  # fast renders; the synth is the same at any rate


def midi_bytes(notes, tempos=((0, 500_000),), ticks: int = TICKS, kind: int = 1) -> bytes:
    """A MIDI file: ``notes`` = (start beat, length beats, key, velocity[, channel]); ``tempos`` = (beat, µs per
    beat) in a track of their own (type 1) or merged (type 0)."""
    events = [(int(beat * ticks), 0, mido.MetaMessage("set_tempo", tempo=tempo)) for beat, tempo in tempos]
    for start, length, key, velocity, *channel in notes:
        ch = channel[0] if channel else 0
        events.append((int(start * ticks), 2, mido.Message("note_on", note=key, velocity=velocity, channel=ch)))
        events.append((int((start + length) * ticks), 1, mido.Message("note_off", note=key, velocity=0, channel=ch)))
    song = mido.MidiFile(type=kind, ticks_per_beat=ticks)
    tracks = [events] if kind == 0 else [[e for e in events if e[2].is_meta], [e for e in events if not e[2].is_meta]]
    for track_events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, _, message in sorted(track_events, key=lambda e: (e[0], e[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        song.tracks.append(track)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def onset(audio: np.ndarray, after_s: float, level: float = 0.02) -> float:
    """Seconds of the first sample after ``after_s`` whose magnitude reaches ``level`` × the clip's peak."""
    begin = int(after_s * SR)
    loud = np.flatnonzero(np.abs(audio[begin:]) >= level * np.abs(audio).max())
    return (begin + loud[0]) / SR


def measured_midi(audio: np.ndarray) -> float:
    return hz_to_midi(float(sound_features(audio, SR).f0_hz[0]))


@pytest.fixture(scope="module")
def pluck():
    return factory_preset("pluck")


def test_notes_sound_at_their_times_and_pitches(pluck):
    keys = [48, 55, 60, 67, 72]
    data = midi_bytes([(i, 0.25, key, 100) for i, key in enumerate(keys)])  # one every beat at 120 BPM: 0.5 s
    song = midi.read_midi(data)
    np.testing.assert_allclose(song.start, [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(song.length, 0.125)
    rendered = midi.render_song(pluck.theta, song, RenderSettings(sample_rate=SR))
    audio = rendered.audio
    for i, key in enumerate(keys):
        start = 0.5 * i
        assert onset(audio, max(start - 0.1, 0)) == pytest.approx(start, abs=0.003)
        piece = audio[int(start * SR):int((start + 0.3) * SR)]
        assert measured_midi(piece) == pytest.approx(key, abs=0.3), f"note {i}"
    # the song lasts until the last note's release ends: its start + note-on + the patch's release tail
    assert rendered.seconds == pytest.approx(2.0 + 0.125 + midi.release_tail(pluck.theta), abs=1e-3)


def test_tempo_changes_move_the_notes():
    # 120 BPM for two beats, then 60 BPM (a tempo change in its own track), then 240 BPM from beat 4
    data = midi_bytes([(b, 0.5, 60, 90) for b in range(6)], tempos=((0, 500_000), (2, 1_000_000), (4, 250_000)))
    song = midi.read_midi(data)
    np.testing.assert_allclose(song.start, [0.0, 0.5, 1.0, 2.0, 3.0, 3.25])
    np.testing.assert_allclose(song.length, [0.25, 0.25, 0.5, 0.5, 0.125, 0.125])
    assert song.tempo_changes == 3
    type0 = midi.read_midi(midi_bytes([(b, 0.5, 60, 90) for b in range(6)], kind=0,
                                      tempos=((0, 500_000), (2, 1_000_000), (4, 250_000))))
    np.testing.assert_allclose(type0.start, song.start)


def test_tempo_changes_are_heard(pluck):
    data = midi_bytes([(b, 0.25, 64, 100) for b in range(4)], tempos=((0, 500_000), (2, 1_500_000)))  # → 40 BPM
    audio = midi.render_song(pluck.theta, midi.read_midi(data), RenderSettings(sample_rate=SR)).audio
    expected = [0.0, 0.5, 1.0, 2.5]
    found = [onset(audio, max(t - 0.2, 0)) for t in expected]
    np.testing.assert_allclose(found, expected, atol=0.003)


def test_velocity_sets_the_gain(pluck):
    data = midi_bytes([(0, 0.25, 60, 127), (2, 0.25, 60, 64), (4, 0.25, 60, 32)])
    audio = midi.render_song(pluck.theta, midi.read_midi(data), RenderSettings(sample_rate=SR)).audio
    peaks = [np.abs(audio[int(s * SR):int((s + 0.4) * SR)]).max() for s in (0.0, 1.0, 2.0)]
    assert peaks[0] == pytest.approx(midi.PEAK, rel=1e-5)  # the loudest note sets the normalization
    assert peaks[1] / peaks[0] == pytest.approx(64 / 127, rel=0.01)
    assert peaks[2] / peaks[0] == pytest.approx(32 / 127, rel=0.01)


def test_a_big_chord_never_clips_and_a_quiet_file_is_not_left_quiet():
    lead = factory_preset("lead")
    chord = midi_bytes([(0, 2, key, 127) for key in range(40, 88)])  # 48 notes at once, full velocity
    audio = midi.render_song(lead.theta, midi.read_midi(chord), RenderSettings(sample_rate=SR)).audio
    assert np.abs(audio).max() == pytest.approx(midi.PEAK, rel=1e-5)
    quiet = midi_bytes([(0, 1, 60, 5)])
    audio = midi.render_song(lead.theta, midi.read_midi(quiet), RenderSettings(sample_rate=SR)).audio
    assert np.abs(audio).max() == pytest.approx(midi.PEAK, rel=1e-5)


def test_note_lengths_release_where_the_key_is_let_go():
    pad = factory_preset("pad")  # slow attack, long sustain, 0.65 s release
    data = midi_bytes([(0, 1, 57, 100), (4, 3, 57, 100)])  # 0.5 s and 1.5 s held
    rendered = midi.render_song(pad.theta, midi.read_midi(data), RenderSettings(sample_rate=SR))
    audio, tail = rendered.audio, rendered.tail
    assert tail == pytest.approx(0.65)

    def level(t0, t1):
        return float(np.sqrt(np.mean(audio[int(t0 * SR):int(t1 * SR)] ** 2)))

    # the first note is silent once its release is over (0.5 s + 0.65 s); the second, held longer, still sounds
    # at that time after its own start, and is silent once its own release is over
    assert level(0.5 + tail + 0.01, 1.9) < 1e-4
    assert level(2.0 + 1.2, 2.0 + 1.5) > 0.1
    assert rendered.seconds == pytest.approx(2.0 + 1.5 + tail, abs=1e-3) and level(rendered.seconds - 0.01, 99) < 1e-2


def test_a_note_held_over_four_seconds_is_released_at_four():
    lead = factory_preset("lead")
    data = midi_bytes([(0, 12, 60, 100)])  # 6 s at 120 BPM
    rendered = midi.render_song(lead.theta, midi.read_midi(data), RenderSettings(sample_rate=SR))
    assert rendered.clamped == 1 and "1 held over 4 s released at 4 s" in rendered.describe()
    assert rendered.seconds == pytest.approx(4.0 + rendered.tail, abs=1e-3)
    audio = rendered.audio
    assert np.abs(audio[int(3.5 * SR):int(3.9 * SR)]).max() > 0.1
    assert np.abs(audio[-int(0.005 * SR):]).max() < 1e-3  # faded out, no click


def test_notes_are_rendered_in_few_batched_calls(pluck):
    notes = [(0.25 * i, 0.2 + 0.05 * (i % 5), 40 + i % 40, 100) for i in range(100)]
    song = midi.read_midi(midi_bytes(notes))
    rendered = midi.render_song(pluck.theta, song, RenderSettings(sample_rate=SR))
    needed = np.clip(song.length, 0.01, 4.0) + rendered.tail
    groups = {}
    for seconds in map(midi.buffer_seconds, needed):
        groups[seconds] = groups.get(seconds, 0) + 1
    assert rendered.buffers == tuple(sorted(groups))
    assert rendered.calls == sum(math.ceil(n / midi.rows_per_call(s)) for s, n in groups.items()) <= 4


def test_each_note_has_its_own_noise_and_a_song_renders_identically():
    hihat = factory_preset("hihat")
    data = midi_bytes([(0, 0.1, 60, 100), (1, 0.1, 60, 100)])
    first = midi.play_midi(hihat, data, sample_rate=SR).audio
    again = midi.play_midi(hihat, data, sample_rate=SR).audio
    np.testing.assert_array_equal(first, again)
    a, b = first[:int(0.2 * SR)], first[int(0.5 * SR):int(0.7 * SR)]
    assert not np.allclose(a, b)


def _simultaneous(count: int) -> bytes:
    track = mido.MidiTrack()
    for i in range(count):
        track.append(mido.Message("note_on", note=i % 128, velocity=100, channel=(i // 128) % 16, time=0))
    track.append(mido.Message("note_off", note=0, velocity=0, time=TICKS))
    song = mido.MidiFile(ticks_per_beat=TICKS)
    song.tracks.append(track)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def _meta_only() -> bytes:
    song = mido.MidiFile(ticks_per_beat=TICKS)
    song.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="empty"),
                                       mido.Message("program_change", program=3, time=10)]))
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def _type2() -> bytes:
    song = mido.MidiFile(type=2, ticks_per_beat=TICKS)
    song.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90),
                                       mido.Message("note_off", note=60, time=TICKS)]))
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


GOOD = midi_bytes([(0, 1, 60, 100), (1, 1, 64, 100)])


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "this is not a MIDI file"),
    (GOOD[:30], "the MIDI file is corrupt and cannot be read"),
    (GOOD[:14] + b"MTrk\xff\xff\xff\xff" + GOOD[22:], "the MIDI file is corrupt"),
    (_meta_only(), "the file holds no notes to play"),
    (_simultaneous(10_000), f"10000 notes sound at once at 0.00 s; the studio plays at most {midi.MAX_POLYPHONY}"),
    (_simultaneous(midi.MAX_NOTES + 1), f"the file holds more than {midi.MAX_NOTES} notes"),
    (midi_bytes([(0, 1, 60, 100)], tempos=((0, 1),)), "a tempo change at 0.00 s sets 6e\\+07 BPM; the studio plays "
                                                       "tempos from 5 to 1000 BPM"),
    (midi_bytes([(0, 1, 60, 100)], tempos=((0, 0),)), "sets an infinite tempo"),
    (midi_bytes([(0, 1, 60, 100)], tempos=((0, 16_777_215),)), "sets 3.58 BPM"),
    (midi_bytes([(0, 1, 60, 100), (1300, 1, 60, 100)]), "the song runs past 10 minutes"),
    (_type2(), "type 2 MIDI file"),
])
def test_bad_files_get_clear_messages(data, message):
    import re

    with pytest.raises(StudioError, match=re.compile(r"^song\.mid: (.* )?" + message)) as caught:
        midi.read_midi(data, "song.mid")
    assert caught.value.field == "midi"


def test_polyphony_counts_notes_as_rendered():
    start = np.arange(600) * 0.125
    assert midi.polyphony(start, np.full(600, 1e6)) == (32, pytest.approx(3.875))  # held notes end at 4 s
    assert midi.polyphony([0.0, 1.0], [1.0, 1.0]) == (1, 0.0)  # one ends as the next starts
    # a drum track that never sends note-offs: each hit is held to the end, rendered for 4 s, so it plays
    track = mido.MidiTrack([mido.Message("note_on", note=36 + i % 3, velocity=100, channel=9,
                                         time=0 if i == 0 else TICKS // 2) for i in range(300)])
    song = mido.MidiFile(ticks_per_beat=TICKS)
    song.tracks.append(track)
    out = io.BytesIO()
    song.save(file=out)
    parsed = midi.read_midi(out.getvalue())
    assert len(parsed) == 300 and parsed.length.max() == pytest.approx(299 * 0.25)


def test_bad_paths_and_tails(tmp_path, pluck):
    with pytest.raises(StudioError, match="no such file"):
        midi.read_midi(tmp_path / "missing.mid")
    with pytest.raises(StudioError, match="is a folder"):
        midi.read_midi(tmp_path)
    song = midi.read_midi(GOOD)
    with pytest.raises(StudioError, match="the tail must be a finite number from 0 to 10 s"):
        midi.render_song(pluck.theta, song, tail=float("nan"))


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", "SYNTH_STUDIO_JAX_CACHE": "off"}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=180)


def test_cli_play_writes_the_song_and_refuses_bad_files(tmp_path, pluck):
    song = tmp_path / "tune.mid"
    song.write_bytes(midi_bytes([(i, 0.5, 60 + 2 * i, 100) for i in range(4)]))
    done = studio("play", "pluck", str(song), "-o", str(tmp_path / "out.wav"), "--sample-rate", str(SR), "--tail",
                  "0.1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path / 'out.wav'}: tune.mid through pluck: 4 notes")
    audio, rate = soundfile.read(tmp_path / "out.wav", dtype="float32")
    assert rate == SR and soundfile.info(tmp_path / "out.wav").subtype == "PCM_16"
    expected = midi.render_song(pluck.theta, midi.read_midi(song), RenderSettings(sample_rate=SR), tail=0.1).audio
    assert audio.shape == expected.shape and np.abs(audio - expected).max() <= 1 / 32767

    done = studio("play", "pluck", str(song), cwd=tmp_path)  # default output: the song's stem, here
    assert done.returncode == 0 and (tmp_path / "tune.wav").exists()

    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    for args, status, message in [
        (("play", "pluck", str(broken), "-o", "x.wav"), 1, "error: .*broken.mid: the MIDI file is corrupt"),
        (("play", "pluck", str(tmp_path / "none.mid"), "-o", "x.wav"), 1, "none.mid: no such file"),
        (("play", "pluck", str(song), "--tail", "11"), 2, "--tail must be a finite number from 0 to 10 s"),
        (("play", "nonsense", str(song)), 1, "no preset named 'nonsense'"),
    ]:
        done = studio(*args, cwd=tmp_path)
        lines = done.stderr.splitlines()
        assert done.returncode == status and len(lines) == 1, done.stderr
        import re

        assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "x.wav").exists()
