"""Sampler-ready exports (``studio.instrument.sampler``, ``python -m studio export-instrument``): every sample sounds
at the root its SFZ/DecentSampler entry and its ``smpl`` chunk say (measured with the studio's YIN), ends without a
click, the SFZ parses with an independent parser (sfzlint), the ``.dspreset`` has DecentSampler's structure, the
zip round-trips; plus trimming, the de-click fade at a cut end, and the single-sound WAV's options."""
from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.audio.features import sound_features
from studio.audio.io import riff_chunks, smpl_root_note, wav_bytes, with_smpl_chunk
from studio.checks import hz_to_midi
from studio.errors import SettingsError
from studio.instrument import sampler, trim
from studio.instrument.notes import note_thetas
from studio.presets import factory_preset, loads_preset
from studio.synth import render

ROOT = Path(__file__).resolve().parent.parent
SR = 24_000


def click_free(audio: np.ndarray, sr: int) -> bool:
    """Ends without a click: no jump to silence after the last sample (it is ~0) and the last 0.5 ms are 20 dB
    under the sound's peak (a fade brought it down; a cut sound jumps from full level)."""
    peak = np.abs(audio).max()
    return abs(audio[-1]) <= 1e-4 and np.abs(audio[-int(0.0005 * sr):]).max() <= 0.1 * peak


def sfz_regions(folder: Path, name: str) -> list[dict[str, str]]:
    """The regions of an SFZ file read by sfzlint (an independent parser and validator); fails on any message."""
    from sfzlint.parser import SFZValidatorConfig, validate

    messages = []
    path = folder / name
    parsed = validate(path, err_cb=lambda severity, message, token, file: messages.append((severity, message)),
                      config=SFZValidatorConfig(file_path=path))
    assert messages == []  # sfzlint checks every opcode's type and range and that every sample file exists
    return [{str(k): str(v) for k, v in region.items()} for region in parsed.regions]


def dspreset_samples(text: str) -> list[dict[str, str]]:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "DecentSampler"
    groups = root.findall("groups")
    assert len(groups) == 1 and float(groups[0].get("release")) > 0
    samples = groups[0].findall("group/sample")
    assert samples and all({"path", "rootNote", "loNote", "hiNote"} <= set(s.attrib) for s in samples)
    return [s.attrib for s in samples]


@pytest.fixture(scope="module", params=["pluck", "pad"])
def instrument(request, tmp_path_factory):
    """An exported instrument (pluck: a plain pitch; pad: a fifth, measured an octave under its keyboard note)."""
    preset = factory_preset(request.param)
    folder = tmp_path_factory.mktemp(request.param)
    made = sampler.export_instrument(preset, folder / "inst.zip", every=4, low=40, high=84, sample_rate=SR, bits=24)
    with zipfile.ZipFile(made.path) as archive:
        archive.extractall(folder / "unzipped")
        names = archive.namelist()
    return preset, made, folder / "unzipped", names


def test_the_zip_holds_the_preset_both_sampler_files_and_the_samples(instrument):
    preset, made, folder, names = instrument
    stem = preset.name
    assert names[:3] == [f"{stem}.yaml", f"{stem}.sfz", f"{stem}.dspreset"]
    assert loads_preset((folder / f"{stem}.yaml").read_text(), fmt="yaml") == preset
    roots = [s.root for s in made.samples]
    assert roots == list(range(40, 85, 4))
    assert sorted(names[3:]) == sorted(s.path for s in made.samples)
    assert all(re.fullmatch(r"samples/[a-z0-9-]+-[A-G]s?-?\d\.wav", s.path) for s in made.samples)


def test_sfz_and_dspreset_map_every_key_to_the_nearest_sample(instrument):
    preset, made, folder, _ = instrument
    regions = sfz_regions(folder, f"{preset.name}.sfz")
    decent = dspreset_samples((folder / f"{preset.name}.dspreset").read_text())
    assert len(regions) == len(decent) == len(made.samples)
    keys = []
    for region, entry, s in zip(regions, decent, made.samples):
        assert region["sample"] == entry["path"] == s.path and (folder / s.path).is_file()
        assert int(region["pitch_keycenter"]) == int(entry["rootNote"]) == s.root
        assert (int(region["lokey"]), int(region["hikey"])) == (int(entry["loNote"]), int(entry["hiNote"]))
        assert float(region["ampeg_release"]) == pytest.approx(made.release)
        lo, hi = int(region["lokey"]), int(region["hikey"])
        assert lo <= s.root <= hi and all(abs(k - s.root) <= 2 for k in range(max(lo, 38), min(hi, 86) + 1))
        keys += range(lo, hi + 1)
    assert keys == list(range(128))  # the whole keyboard, each key once


def test_every_sample_sounds_at_its_root_and_ends_without_a_click(instrument):
    preset, made, folder, _ = instrument
    for s in made.samples:
        data = (folder / s.path).read_bytes()
        assert smpl_root_note(data) == s.root
        info = soundfile.info(io.BytesIO(data))
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_24")
        audio, _ = soundfile.read(io.BytesIO(data), dtype="float32")
        head = np.zeros(int(0.25 * SR), np.float32)  # one shape for every sample: YIN compiles once
        head[:min(len(audio), len(head))] = audio[:len(head)]
        f0 = float(sound_features(head, SR).f0_hz[0])
        assert hz_to_midi(f0) == pytest.approx(s.root, abs=0.3), s.path
        assert click_free(audio, SR), s.path
        assert len(audio) <= preset.settings.duration * SR


def test_a_patch_sounding_away_from_its_keyboard_note_is_exported_in_tune(instrument):
    preset, made, _, _ = instrument
    assert made.offset == {"pluck": 0, "pad": -12}[preset.name]  # the pad's fifth has its fundamental an octave down
    assert all(s.played == s.root - made.offset for s in made.samples)
    assert ("rendered 12 higher" in made.describe()) == (made.offset == -12)


def test_samples_are_trimmed_to_their_audible_end(instrument):
    preset, made, _, _ = instrument
    if preset.name == "pluck":  # 0.28 s of a 2 s buffer
        assert all(s.seconds < 0.4 for s in made.samples)
    else:  # 1.3 s held + 0.65 s release
        assert all(1.8 < s.seconds < preset.settings.duration for s in made.samples)


def held_pad():
    """The pad held for 3 s: its 2 s buffer cuts it while it sounds."""
    pad = factory_preset("pad")
    return dataclasses.replace(pad, name="held pad", theta=note_thetas(pad.theta, [57], 3.0)[0])


def test_a_sound_cut_by_its_buffer_is_kept_whole_and_faded(tmp_path):
    made = sampler.export_instrument(held_pad(), tmp_path / "held.zip", every=12, low=48, high=72, sample_rate=SR)
    with zipfile.ZipFile(made.path) as archive:
        for s in made.samples:
            audio, _ = soundfile.read(io.BytesIO(archive.read(s.path)), dtype="float32")
            assert audio.shape[0] == 2 * SR and click_free(audio, SR)


def test_trim_and_cut_detection():
    pluck, pad = factory_preset("pluck"), held_pad()
    short, held = (np.asarray(render(p.theta, p.settings)) for p in (pluck, pad))
    sr = pluck.settings.sample_rate
    assert not trim.cut_at_end(short, sr) and trim.cut_at_end(held, sr)
    assert trim.tail_peak(held, sr) > 0.1 and not click_free(held, sr)
    trimmed = trim.trim_to_audible(short, sr)
    assert 0.2 < trimmed.shape[0] / sr < 0.4 and click_free(trimmed, sr)
    np.testing.assert_array_equal(trimmed[:1000], short[:1000])
    faded = trim.declicked(held, sr)
    assert faded.shape == held.shape and click_free(faded, sr)
    np.testing.assert_array_equal(faded[:-int(0.005 * sr)], held[:-int(0.005 * sr)])
    np.testing.assert_array_equal(trim.declicked(short, sr), short)  # a sound that ended is left bit for bit


def test_smpl_chunk_is_a_valid_riff_chunk():
    odd = np.linspace(-0.5, 0.5, 101, dtype=np.float32)  # 24-bit mono, 101 frames: an odd data size, padded
    for bits in (16, 24):
        data = wav_bytes(odd, 44_100, bits, root_note=61)
        assert int.from_bytes(data[4:8], "little") == len(data) - 8
        chunks = riff_chunks(data)
        assert set(chunks) >= {b"fmt ", b"data", b"smpl"} and len(chunks[b"smpl"]) == 36
        assert smpl_root_note(data) == 61
        period = int.from_bytes(chunks[b"smpl"][8:12], "little")
        assert period == round(1e9 / 44_100)
        audio, rate = soundfile.read(io.BytesIO(data), dtype="float32")
        assert rate == 44_100 and np.abs(audio - odd).max() < 1e-4
    assert smpl_root_note(wav_bytes(odd, 44_100)) is None
    with pytest.raises(ValueError, match="not a RIFF/WAVE file"):
        with_smpl_chunk(b"OggS....", 60, 48_000)
    with pytest.raises(SettingsError, match="root note must be a MIDI note from 0 to 127"):
        wav_bytes(odd, 44_100, root_note=128)


def test_single_sound_export_trims_and_takes_rate_and_depth(tmp_path):
    pluck = factory_preset("pluck")
    wav, preset_path = sampler.export_sound(pluck, tmp_path, sample_rate=44_100, bits=24, trim=True)
    info = soundfile.info(wav)
    assert (info.samplerate, info.subtype, wav.name, preset_path.name) == (44_100, "PCM_24", "pluck.wav", "pluck.yaml")
    assert info.frames < 0.4 * 44_100
    audio, _ = soundfile.read(wav, dtype="float32")
    assert click_free(audio, 44_100)
    wav, _ = sampler.export_sound(held_pad(), tmp_path)  # untrimmed: the whole buffer, faded where it is cut
    audio, rate = soundfile.read(wav, dtype="float32")
    assert soundfile.info(wav).subtype == "PCM_16" and audio.shape[0] == 2 * rate and click_free(audio, rate)


@pytest.mark.parametrize("kwargs, message", [
    (dict(fmt="exs"), "unknown format 'exs': choose one of sfz, dspreset, both"),
    (dict(every=0), "every must be a whole number from 1 to 12"),
    (dict(low=80, high=60), r"the lowest note \(G#5\) must not be above the highest \(C4\)"),
    (dict(high=128), r"high must be a note from C-1 \(0\) to G9 \(127\) on a semitone, got 128"),
    (dict(low="H2"), "low 'H2' is not a note"),
    (dict(low="C4 +50 ct"), "not a note"),
    (dict(bits=8), "bits must be 16 or 24"),
    (dict(sample_rate=4000), "sample rate must be a whole number from 8000"),
])
def test_bad_instrument_settings_are_refused(tmp_path, kwargs, message):
    with pytest.raises(SettingsError, match=message):
        sampler.export_instrument(factory_preset("pluck"), tmp_path / "x.zip", **kwargs)
    assert not (tmp_path / "x.zip").exists()


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=180)


def test_cli_export_instrument_round_trip_and_errors(tmp_path, monkeypatch, capsys):
    done = studio("export-instrument", "pluck", "-o", "pluck16.zip", "--format", "sfz", "--every", "12", "--low",
                  "C3", "--high", "C5", "--sample-rate", "22050", "--bits", "16", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote pluck16.zip: 3 samples C3–C5 at 22050 Hz, 16-bit")
    with zipfile.ZipFile(tmp_path / "pluck16.zip") as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "out")
    assert names == ["pluck.yaml", "pluck.sfz", "samples/pluck-C3.wav", "samples/pluck-C4.wav", "samples/pluck-C5.wav"]
    regions = sfz_regions(tmp_path / "out", "pluck.sfz")
    assert [(r["pitch_keycenter"], r["lokey"], r["hikey"]) for r in regions] == [("48", "0", "54"),
                                                                                 ("60", "55", "66"),
                                                                                 ("72", "67", "127")]
    assert soundfile.info(tmp_path / "out" / "samples" / "pluck-C4.wav").subtype == "PCM_16"

    # the rest in this process (a subprocess costs seconds of imports each)
    from studio import cli

    monkeypatch.chdir(tmp_path)
    # defaults: both formats, C2–C7 every 3, 24-bit (at the rate above, so its analysis is compiled already)
    assert cli.main(["export-instrument", "pluck", "--sample-rate", "22050"]) == 0
    with zipfile.ZipFile(tmp_path / "pluck.zip") as archive:
        assert {"pluck.sfz", "pluck.dspreset"} <= set(archive.namelist())
        assert len([n for n in archive.namelist() if n.endswith(".wav")]) == 21

    for args, status, message in [
        (("--low", "X9"), 2, "--low 'X9' is not a note"),
        (("--low", "C5", "--high", "C4"), 1, r"--low \(C5\) must not be above --high \(C4\)"),
        (("--bits", "8"), 2, "--bits: invalid choice: 8"),
        (("--every", "0"), 2, "--every must be a whole number from 1 to 12"),
        (("-o", "out.tar"), 1, "must end in .zip"),
        (("--sample-rate", "1000"), 2, "--sample-rate: sample rate must be a whole number from 8000"),
    ]:
        capsys.readouterr()
        try:
            returned = cli.main(["export-instrument", "pluck", *args])
        except SystemExit as exit:  # argparse's usage errors
            returned = exit.code
        lines = capsys.readouterr().err.splitlines()
        assert returned == status and len(lines) == 1 and lines[0].startswith("error: "), lines
        assert re.search(message, lines[0]), lines[0]
