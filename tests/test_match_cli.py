"""``python -m studio match``: a target file in, a preset + WAV out that re-render the judged sound; what was read
and measured is printed; every mistake ends with one ``error:`` line."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from studio.audio.io import read_wav
from studio.cli import main
from studio.presets import load_preset, preset_render

RATE = 44_100


def tone(path, seconds=0.6, freq=220.0, rate=RATE, silence=0.2):
    """A decaying square-ish tone after ``silence`` seconds of silence, stereo, 16-bit WAV."""
    t = np.arange(int(seconds * rate)) / rate
    note = 0.4 * np.tanh(3 * np.sin(2 * np.pi * freq * t)) * np.exp(-3 * t)
    audio = np.concatenate([np.zeros(int(silence * rate)), note])
    soundfile.write(path, np.stack([audio, audio], axis=1), rate, subtype="PCM_16")
    return path


def test_match_writes_preset_and_wav_and_explains(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYNTH_STUDIO_JAX_CACHE", "off")
    target = tone(tmp_path / "my tone.wav")
    out = tmp_path / "matched.yaml"
    assert main(["match", str(target), "-o", str(out), "--duration", "0.5", "--restarts", "1", "--keep", "2",
                 "--seed", "4", "--lock-pitch"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("target: my tone.wav: 0.80 s, 44100 Hz stereo; sound 0.6")
    assert "resampled 44100 → 48000 Hz" in lines[0] and "trimmed 0.20 s of silence at the start" in lines[0]
    assert "cut to the synth's 0.5 s: the last 0.1" in lines[0]  # 0.6 s of sound into a 0.5 s buffer: said so
    assert lines[1].startswith("start: pitch A3 (220 Hz), note length") and lines[1].endswith("(locked: pitch)")
    assert lines[2] == ("searching: 256 random candidates, then Learned ES from the best 1 (16 × 36 each), then "
                        "108 generations polishing the best; quick budget, 2560 renders, seed 4")
    wrote = [line for line in lines if line.startswith("wrote ")]
    assert wrote[0].startswith(f"wrote {out} and {out.with_suffix('.wav')}: loss ")
    assert "spectral convergence" in wrote[0]

    preset = load_preset(out)
    assert preset.name == "match my tone" and preset.tags == ("match",)
    assert "match of my tone.wav: loss" in preset.description and preset.settings.duration == 0.5
    assert abs(preset.human[0] - 57.0) < 0.3  # the pitch lock held the measured A3
    audio, rate = read_wav(out.with_suffix(".wav"))
    assert rate == 48_000
    assert np.max(np.abs(audio - preset_render(preset))) <= 1 / 32767  # the WAV is the preset's sound
    for extra in wrote[1:]:  # a second distinct match, if the screen and the restart found two
        assert "matched-2.yaml" in extra and (tmp_path / "matched-2.wav").exists()


def test_default_output_is_named_after_the_target(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTH_STUDIO_JAX_CACHE", "off")
    tone(tmp_path / "Bell Hit.wav")
    assert main(["match", "Bell Hit.wav", "--duration", "0.5", "--restarts", "1"]) == 0
    assert (tmp_path / "bell-hit-match.yaml").exists() and (tmp_path / "bell-hit-match.wav").exists()


def test_an_option_out_of_range_is_a_usage_error(tmp_path, capsys):
    tone(tmp_path / "tone.wav")
    with pytest.raises(SystemExit) as done:
        main(["match", str(tmp_path / "tone.wav"), "--clap-weight", "-1"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --clap-weight: clap weight must be a finite number from 0 to 10, got '-1'")
    assert err.count("\n") == 1


@pytest.mark.parametrize("make, argv, message", [
    (None, ["match", "{dir}/missing.wav"], "error: missing.wav: no such audio file"),
    ("text", ["match", "{dir}/notes.wav"], "error: notes.wav: cannot read this as audio"),
    ("silent", ["match", "{dir}/hush.wav"], "error: hush.wav: the recording is silent"),
    ("noise", ["match", "{dir}/hiss.wav", "--lock-pitch", "-o", "{dir}/x.yaml", "--duration", "0.5"],
     "error: the target has no steady pitch to lock"),
    ("tone", ["match", "{dir}/tone.wav", "-o", "{dir}/x.wav"], "error: the output"),
    ("tone", ["match", "{dir}/tone.wav", "-o", "/no/such/folder/x.yaml"], "error: cannot write"),
])
def test_match_mistakes_end_with_one_line(tmp_path, make, argv, message, capsys):
    if make == "text":
        (tmp_path / "notes.wav").write_text("not audio")
    elif make == "silent":
        soundfile.write(tmp_path / "hush.wav", np.zeros(RATE), RATE)
    elif make == "noise":
        noise = np.random.default_rng(0).uniform(-0.5, 0.5, RATE).astype(np.float32)
        soundfile.write(tmp_path / "hiss.wav", noise, RATE)
    elif make == "tone":
        tone(tmp_path / "tone.wav")
    assert main([a.replace("{dir}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_unknown_budget_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["match", "x.wav", "--budget", "huge"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err
