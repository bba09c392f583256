"""``python -m studio`` in a subprocess, as a user runs it: renders, listings, info, and one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.audio.io import read_wav
from studio.presets import factory_preset, factory_presets, preset_render, save_preset

ROOT = Path(__file__).resolve().parent.parent


def studio(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or ROOT, timeout=120)


def test_render_factory_preset_by_name_matches_the_library(tmp_path):
    out = tmp_path / "bass.wav"
    done = studio("render", "bass", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: bass, 2.00 s at 48000 Hz")
    info = soundfile.info(out)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (48000, 1, 96000, "PCM_16")
    audio, _ = read_wav(out)
    assert np.max(np.abs(audio - preset_render(factory_preset("bass")))) <= 1 / 32767  # only int16 rounding


def test_render_file_with_overrides(tmp_path):
    preset = save_preset(factory_preset("snare"), tmp_path / "my snare.json")
    out = tmp_path / "snare.wav"
    done = studio("render", str(preset), "-o", str(out), "--sample-rate", "16000", "--duration", "0.5", "--seed",
                  "3", "--float")
    assert done.returncode == 0, done.stderr
    info = soundfile.info(out)
    assert (info.samplerate, info.frames, info.subtype) == (16000, 8000, "FLOAT")
    audio, _ = read_wav(out)
    assert 0.05 < np.max(np.abs(audio)) < 1.0


def test_presets_lists_every_factory_preset_with_tags():
    done = studio("presets")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(factory_presets())
    for line, preset in zip(lines, factory_presets()):
        assert line.startswith(preset.name) and f"[{', '.join(preset.tags)}]" in line


def test_info_reports_versions_and_backend():
    done = studio("info")
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines())
    import jax

    import studio as package
    assert fields["studio"].strip() == package.__version__
    assert fields["jax"].strip() == jax.__version__
    assert fields["jax backend"].strip() == "cpu" and "cpu" in fields["jax devices"]
    assert fields["numpy"].strip() == np.__version__


def test_help_is_quick_and_names_the_commands():
    done = studio("--help")
    assert done.returncode == 0
    assert all(command in done.stdout for command in ("render", "presets", "info"))


@pytest.fixture
def broken_preset(tmp_path) -> Path:
    path = save_preset(factory_preset("bass"), tmp_path / "broken.yaml")
    path.write_text(path.read_text().replace("keyboard.midi_f0:", "keyboard.midi_f1:"))
    return path


@pytest.mark.parametrize("args, status, message", [
    (["render", "{tmp}/missing.yaml"], 1, "missing.yaml: cannot read the file"),
    (["render", "{broken}"], 1, "broken.yaml: params.keyboard.midi_f1: unknown field"),
    (["render", "nonsense"], 1, "no preset named 'nonsense'"),
    (["render", "bass", "--sample-rate", "fast"], 2, "--sample-rate: sample rate must be a whole number"),
    (["render", "bass", "--sample-rate", "100"], 2, "--sample-rate: sample rate must be a whole number from 8000"),
    (["render", "bass", "--duration", "100", "-o", "{tmp}/x.wav"], 2,
     "--duration: duration must be a finite number from 0.05 to 30 s"),
    (["render", "bass", "--seed", str(2**32)], 2, "--seed: the seed must be a whole number from 0 to 4294967295"),
    (["render", "bass", "-o", "{tmp}/no/such/folder/x.wav"], 1, "folder .* does not exist"),
    (["dance", "bass"], 2, "invalid choice: 'dance'"),
])
def test_errors_are_one_line_without_traceback(tmp_path, broken_preset, args, status, message):
    import re

    done = studio(*[a.format(tmp=tmp_path, broken=broken_preset) for a in args])
    assert done.returncode == status
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert re.search(message, lines[0]), lines[0]
    assert done.stdout == "" and list(tmp_path.glob("*.wav")) == []


def test_a_bug_is_an_internal_error_with_its_traceback_logged(monkeypatch, capsys, caplog):
    """Only StudioErrors are the user's: anything else prints the internal-error line, logs the traceback, exits 1."""
    from studio import cli
    from studio.errors import StudioError

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "cmd_presets", broken)
    with caplog.at_level("ERROR", logger="studio.cli"):
        assert cli.main(["presets"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: internal error: the studio hit a bug") and "KeyError" in err[-1]
    record = next(r for r in caplog.records if r.name == "studio.cli")
    assert record.exc_info and record.exc_info[0] is KeyError

    def user_mistake(args):
        raise StudioError("the seed must be a whole number from 0 to 4294967295, got -1", "seed")

    monkeypatch.setattr(cli, "cmd_presets", user_mistake)
    assert cli.main(["presets"]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == "error: the seed must be a whole number from 0 to 4294967295, got -1\n"


@pytest.mark.parametrize("args, message", [
    (["prompt", "bees", "--seed", str(2**63)], "--seed: the seed must be a whole number from 0 to 4294967295"),
    (["prompt", "bees", "--restarts", "17"], "--restarts: restarts must be a whole number from 1 to 16, got 17"),
    (["prompt", "bees", "--restarts", "0"], "--restarts: restarts must be a whole number from 1 to 16, got 0"),
    (["match", "x.wav", "--restarts", "99"], "--restarts: restarts must be a whole number from 1 to 16"),
])
def test_seeds_and_restarts_are_bounded_before_anything_runs(capsys, args, message):
    from studio import cli

    with pytest.raises(SystemExit) as done:
        cli.main(args)
    assert done.value.code == cli.EXIT_USAGE and message in capsys.readouterr().err
