"""How fast a MIDI file renders through a patch (``studio.instrument.midi``): target ≥ 100× real time on the
project's 2-core CPU for a 1-minute file with 500 notes.

    .venv/bin/python bench/midi_speed.py                    # pluck, lead and pad; 500 notes in 60 s
    .venv/bin/python bench/midi_speed.py --presets pad --notes 1000 --seconds 120

The test file is made here with mido (seeded): random pitches C2–C6, note lengths 0.05–1.5 s (a few up to 6 s,
longer than the 4 s note-on the synth allows), velocities 30–127, and a tempo change half-way (120 → 90 BPM).
Each row times the whole job (reading the file, the batched renders, mixing, normalizing) with the renders
synchronized (the audio is copied to numpy before it is mixed): "first" is the first call in the process (it
compiles the synth once per buffer length used), "warm" the median of the following runs. × real time is the
song's length over the warm time.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import cpu_name, measure, tune_allocator  # noqa: E402


def make_song(notes: int, seconds: float, seed: int = 0) -> bytes:
    """A type 1 MIDI file: ``notes`` notes spread over about ``seconds`` s, one tempo change half-way."""
    import mido
    import numpy as np

    rng = np.random.default_rng(seed)
    ticks = 480
    song = mido.MidiFile(type=1, ticks_per_beat=ticks)
    tempo, notes_track = mido.MidiTrack(), mido.MidiTrack()
    song.tracks += [tempo, notes_track]
    # 120 BPM for the first half (seconds/2 s = seconds beats), then 90 BPM (1.5 beats per second).
    half_beats = seconds  # seconds/2 at 2 beats per second
    tempo.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    tempo.append(mido.MetaMessage("set_tempo", tempo=666_667, time=int(half_beats * ticks)))
    total_beats = half_beats + seconds / 2 * 1.5
    starts = np.sort(rng.uniform(0, total_beats - 2, notes))
    lengths = np.where(rng.random(notes) < 0.02, rng.uniform(4, 8, notes), rng.uniform(0.1, 2.0, notes))  # beats
    events = []
    for start, length in zip(starts, lengths):
        key, velocity = int(rng.integers(36, 85)), int(rng.integers(30, 128))
        events += [(int(start * ticks), 1, key, velocity), (int((start + length) * ticks), 0, key, 0)]
    events.sort()
    now = 0
    for tick, on, key, velocity in events:
        kind = "note_on" if on else "note_off"
        notes_track.append(mido.Message(kind, note=key, velocity=velocity, time=tick - now))
        now = tick
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["pluck", "lead", "pad"])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tune_allocator()
    import jax

    from studio.instrument.midi import play_midi, read_midi
    from studio.presets import factory_preset

    data = make_song(args.notes, args.seconds)
    song = read_midi(data, "bench.mid")
    print(f"MIDI render speed · {cpu_name()} · JAX {jax.__version__} on {jax.default_backend()} · "
          f"{len(song)} notes, {song.end:.1f} s of MIDI, {song.tempo_changes} tempo events · 48 kHz")
    print()
    print("| preset | tail s | audio s | calls | buffers s | first (compiles) s | warm s | × real time |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for name in args.presets:
        preset = factory_preset(name)
        start = time.perf_counter()
        rendered = play_midi(preset, data, source="bench.mid")
        first = time.perf_counter() - start
        timing = measure(lambda p=preset: play_midi(p, data, source="bench.mid"), repeats=args.repeats, warmup=0)
        warm = timing["median_s"]
        print(f"| {name} | {rendered.tail:g} | {rendered.seconds:.1f} | {rendered.calls} | "
              f"{', '.join(f'{b:g}' for b in rendered.buffers)} | {first:.2f} | {warm:.3f} | "
              f"**{rendered.seconds / warm:.0f}×** |")


if __name__ == "__main__":
    main()
