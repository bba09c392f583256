"""``python -m studio vary`` and ``morph`` in a subprocess, as a user runs them: files written, one-line errors."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from studio.audio.io import read_wav
from studio.explore import lock_mask
from studio.presets import factory_preset, load_preset, preset_render, save_preset

ROOT = Path(__file__).resolve().parent.parent


def studio(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)


def test_vary_writes_a_preset_and_a_wav_per_variation_with_locks_kept(tmp_path):
    out = tmp_path / "new folder" / "variations"  # created, parents too
    done = studio("vary", "pluck", "--delta", "0.3", "--count", "3", "--seed", "5", "--lock", "pitch", "mixer",
                  "-o", str(out))
    assert done.returncode == 0, done.stderr
    original = factory_preset("pluck")
    stems = [f"pluck-d0.3-seed5-{i:02d}" for i in (1, 2, 3)]
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{s}.wav" for s in stems] + [f"{s}.yaml" for s in stems])
    mask = lock_mask(["pitch", "mixer"])
    distances = [float(x) for x in re.findall(r"distance (\d+\.\d+)", done.stdout)]
    assert len(distances) == 3 and all(d > 0 for d in distances)
    thetas = []
    for stem in stems:
        variant = load_preset(out / f"{stem}.yaml")
        assert variant.settings == original.settings and "variation" in variant.tags
        assert "δ 0.3, seed 5" in variant.name and "locked: pitch, mixer" in variant.description
        assert np.array_equal(variant.theta[mask], original.theta[mask])
        assert np.any(variant.theta[~mask] != original.theta[~mask])
        info = soundfile.info(out / f"{stem}.wav")
        assert (info.samplerate, info.frames, info.subtype) == (48_000, 96_000, "PCM_16")
        audio, _ = read_wav(out / f"{stem}.wav")
        assert np.max(np.abs(audio - preset_render(variant))) <= 2 / 32767  # the file plays what the preset holds
        thetas.append(variant.theta)
    assert len({t.tobytes() for t in thetas}) == 3


def test_vary_with_delta_zero_writes_the_original(tmp_path):
    preset = save_preset(factory_preset("bell"), tmp_path / "my bell.json")
    done = studio("vary", str(preset), "--delta", "0", "--count", "1", "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    variant = load_preset(tmp_path / "out" / "my-bell-d0-seed0-01.yaml")
    assert np.array_equal(variant.theta, factory_preset("bell").theta)
    assert "distance 0.000" in done.stdout


def test_morph_writes_every_step_from_a_to_b(tmp_path):
    done = studio("morph", "bass", "pad", "--steps", "4", "--mode", "even", "--lock", "pitch", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    stems = [f"bass-to-pad-even-{j:02d}-of-04" for j in (1, 2, 3, 4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{s}.{x}" for s in stems for x in ("wav", "yaml")])
    steps = [load_preset(tmp_path / f"{s}.yaml") for s in stems]
    a, b = factory_preset("bass"), factory_preset("pad")
    assert np.array_equal(steps[0].theta, a.theta)
    pitch = lock_mask(["pitch"])
    assert np.array_equal(steps[-1].theta[~pitch], b.theta[~pitch])  # B, except the locked pitch, held at A's
    assert all(np.array_equal(s.theta[pitch], a.theta[pitch]) for s in steps)
    gaps = [float(x) for x in re.findall(r"distance to step \d: (\d+\.\d+)", done.stdout)]
    assert len(gaps) == 3 and max(gaps) <= 1.25 * min(gaps)  # even steps, as rendered
    assert steps[1].settings == a.settings and "morph" in steps[1].tags


def test_explore_errors_are_one_line(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    cases = [
        (("vary", "pluck", "--lock", "pitchh", "-o", str(tmp_path)), 1,
         "--lock: unknown lock 'pitchh': did you mean pitch"),
        (("vary", "pluck", "--delta", "1.5", "-o", str(tmp_path)), 2,
         "--delta: delta must be a finite number from 0 to 1"),
        (("vary", "pluck", "--count", "0", "-o", str(tmp_path)), 2,
         "--count: count must be a whole number from 1 to 64"),
        (("vary", "pluck"), 2, "required: -o/--output"),
        (("vary", "pluck", "-o", str(tmp_path / "taken")), 1, "it is a file, not a folder"),
        (("morph", "bass", "nosuch", "-o", str(tmp_path)), 1, "no preset named 'nosuch'"),
        (("morph", "bass", "pad", "--mode", "cubic", "-o", str(tmp_path)), 2, "invalid choice: 'cubic'"),
        (("morph", "bass", "pad", "--steps", "1", "-o", str(tmp_path)), 2,
         "--steps: steps must be a whole number from 2"),
    ]
    for args, status, message in cases:
        done = studio(*args)
        assert done.returncode == status, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr
