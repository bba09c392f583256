"""``python -m studio prompt``: a search from a shell writes the WAV and its preset, says which scorer judged and why,
what it understood, and ends every mistake with one ``error:`` line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.audio.io import read_wav
from studio.cli import main
from studio.presets import load_preset, preset_render

ROOT = Path(__file__).resolve().parent.parent


def test_prompt_writes_wav_and_preset_and_explains(tmp_path):
    out = tmp_path / "pluck.wav"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", "HF_HUB_OFFLINE": "1",
           "SYNTH_STUDIO_JAX_CACHE": str(tmp_path / "jax-cache")}
    env.pop("SYNTH_STUDIO_CLAP", None)
    done = subprocess.run([sys.executable, "-m", "studio", "prompt", "short bright glorp pluck", "-o", str(out),
                           "--pitch", "C4", "--seed", "3"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # auto: no weights here, so the descriptor scorer, with the reason and the variable to set
    assert lines[0].startswith("scorer: descriptors (offline) — CLAP is unavailable")
    assert "SYNTH_STUDIO_CLAP" in lines[0]
    assert lines[1].startswith("understood: short → length < 0.3 s; bright → brightness > 3 kHz; 'glorp' unknown; "
                               "pluck → ")
    assert lines[2].startswith("constraints: pitch C4 (262 Hz) ± 0.5 st")
    assert any(line.startswith(f"wrote {out} and {out.with_suffix('.yaml')}: score ") for line in lines)
    assert "pitch C4 (262 Hz): measured C4" in done.stdout and "✓" in done.stdout

    preset = load_preset(out.with_suffix(".yaml"))
    assert preset.prompt == "short bright glorp pluck" and preset.name == "short bright glorp pluck"
    assert preset.tags == ("prompt", "descriptors") and "seed 3" in preset.description
    audio, rate = read_wav(out)
    assert rate == 48_000
    assert np.max(np.abs(audio - preset_render(preset))) <= 1 / 32767  # the WAV is the preset's sound
    assert any((tmp_path / "jax-cache").iterdir())  # compiled programs kept for the next run


@pytest.mark.parametrize("argv, message", [
    (["prompt", "   "], "error: the prompt is empty"),
    (["prompt", "glorp", "--scorer", "descriptors"], "error: the descriptor scorer recognizes no sound word"),
    (["prompt", "bright", "--scorer", "descriptors", "--pitch", "H2"], "error: pitch 'H2' is not a note"),
    (["prompt", "bright", "--scorer", "descriptors", "--length", "3"], "error: length 3.0 is out of range"),
    (["prompt", "bright", "--scorer", "descriptors", "-o", "/no/such/folder/x.wav"], "error: cannot write"),
    (["prompt", "bright", "--scorer", "descriptors", "-o", "x.mp3"], "error: the output x.mp3 must end in .wav"),
])
def test_prompt_mistakes_end_with_one_line(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_unknown_scorer_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["prompt", "bright", "--scorer", "magic"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_clap_scorer_without_weights_says_what_to_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTH_STUDIO_CLAP", str(tmp_path))
    assert main(["prompt", "bright", "--scorer", "clap"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --scorer clap: the folder") and "SYNTH_STUDIO_CLAP" in err


# ---------------------------------------------------------------------------------------------------------------
# --lock and --from: locked knobs keep the --from preset's values (else the default sound's)


def test_locked_knobs_keep_the_from_presets_values(tmp_path, capsys):
    from studio.explore import LOCK_GROUPS, lock_mask
    from studio.presets import factory_preset

    out = tmp_path / "bright.wav"
    assert main(["prompt", "short bright pluck", "--scorer", "descriptors", "-o", str(out), "--from", "bass",
                 "--lock", "pitch,adsr_1", "--lock", "mixer", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "locked: pitch, adsr_1, mixer (kept from bass)" in printed
    bass = factory_preset("bass")
    preset = load_preset(out.with_suffix(".yaml"))
    mask = lock_mask(["pitch", "adsr_1", "mixer"])
    assert mask.sum() == 1 + len(LOCK_GROUPS["adsr_1"]) + len(LOCK_GROUPS["mixer"])
    np.testing.assert_allclose(preset.theta[mask], bass.theta[mask], atol=1e-6)
    assert np.abs(preset.theta[~mask] - bass.theta[~mask]).max() > 0.05  # the free knobs were searched
    assert preset.settings == bass.settings  # --from also brings its render settings
    assert preset.prompt == "short bright pluck"


def test_locks_without_from_keep_the_default_sound(tmp_path, capsys):
    from studio.explore import lock_mask
    from studio.synth import default_theta

    out = tmp_path / "low.wav"
    assert main(["prompt", "low hum", "--scorer", "descriptors", "-o", str(out), "--lock", "note_length"]) == 0
    assert "locked: note_length (kept from the default sound)" in capsys.readouterr().out
    preset = load_preset(out.with_suffix(".yaml"))
    mask = lock_mask(["note_length"])
    np.testing.assert_allclose(preset.theta[mask], default_theta()[mask], atol=1e-6)


def test_lock_mistakes_end_with_one_line(capsys):
    from studio.explore import LOCK_GROUPS

    assert main(["prompt", "bright", "--scorer", "descriptors", "--lock", "pich"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --lock: unknown lock 'pich': did you mean pitch?") and err.count("\n") == 1
    assert main(["prompt", "bright", "--scorer", "descriptors", "--lock", ",".join(LOCK_GROUPS)]) == 1
    assert capsys.readouterr().err.startswith("error: --lock: every knob is locked")
    assert main(["prompt", "bright", "--scorer", "descriptors", "--from", "no-such-preset"]) == 1
    assert capsys.readouterr().err.startswith("error: ")
