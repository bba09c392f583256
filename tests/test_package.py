"""The studio as an installed package: the wheel built from pyproject.toml carries the code, the factory presets and
the ``synth-studio`` command, and that command renders a factory preset from a folder outside the checkout."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio.io import write_wav
from studio.presets import factory_preset, preset_render

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from this checkout (no network: the build backend is the environment's setuptools)."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("synth_sketch_studio-*.whl")
    return path


def test_the_wheel_holds_the_code_the_presets_and_the_command(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "studio/cli.py" in names and "studio/search/engine.py" in names
    assert {f"studio/factory_presets/{p}.yaml" for p in ("bass", "pad", "pluck")} <= set(names)
    assert "studio/ui/keyboard.js" in names  # the keyboard's page script, read at launch
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "synth-studio = studio.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_installed_command_renders_a_factory_preset_from_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}  # the installed copy, not the checkout
    done = subprocess.run([str(target / "bin" / "synth-studio"), "render", "bass", "-o", "bass.wav"], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    audio, rate = sf.read(elsewhere / "bass.wav", dtype="int16")
    expected, _ = sf.read(write_wav(tmp_path / "expected.wav", preset_render(factory_preset("bass")), 48_000),
                          dtype="int16")
    assert rate == 48_000
    np.testing.assert_array_equal(audio, expected)  # the sound the checkout renders, to the bit
    done = subprocess.run([str(target / "bin" / "synth-studio"), "render", "no-such-preset"], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
