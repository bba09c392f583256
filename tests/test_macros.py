"""Macro knobs (studio/explore/macros.py): each macro moves its quality the right way, measured on the rendered
sound, while the others stay; locks hold; a macro that cannot go further says so; values parse as typed; a move
is one undoable step; and the ``macro`` command keeps its contract."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from studio.cli import main
from studio.errors import SettingsError
from studio.explore.macros import (MACRO_NAMES, MACROS, Knobs, clamp_target, format_quality, kept_qualities, measure,
                                   move, parse_target)
from studio.explore.locks import lock_mask
from studio.presets import factory_preset, load_preset
from studio.synth import PARAM_INDEX, RenderSettings
from studio.ui import state as st

SETTINGS = RenderSettings()


@pytest.fixture(scope="module")
def lead():
    """The lead preset with a tremolo added (LFO 2 at 5 Hz on its amplifiers), so every macro has a quality to
    move: it already has a vibrato."""
    preset = factory_preset("lead")
    knobs = Knobs(preset.theta)
    knobs["lfo_2.frequency"] = 5.0
    for amp in ("vco_1_amp", "vco_2_amp"):
        knobs[f"mod_matrix.lfo_2->{amp}"] = 0.4
    theta = knobs.theta()
    return theta, measure(theta, preset.settings)


# Each macro, asked up and down from the lead: (macro, factor or step up, factor or step down, multiplicative?)
ASKS = {
    "pitch": (5.0, -5.0, False), "brightness": (1.3, 0.6, True), "noisiness": (0.15, None, False),
    "attack": (4.0, 0.25, True), "decay": (1.4, 0.5, True), "length": (1.3, 0.5, True),
    "vibrato_depth": (2.0, 0.3, True), "vibrato_rate": (1.4, 0.7, True), "tremolo_depth": (1.6, 0.4, True),
    "tremolo_rate": (1.4, 0.7, True), "richness": (1.3, 0.6, True),
}


def test_every_macro_is_covered():
    assert set(ASKS) == set(MACRO_NAMES)
    assert [MACROS[m].label for m in ("pitch", "brightness", "vibrato_depth")] == ["pitch", "brightness",
                                                                                   "vibrato depth"]


@pytest.mark.parametrize("name", list(ASKS))
def test_each_macro_moves_its_quality_the_right_way(lead, name):
    theta, before = lead
    up, down, relative = ASKS[name]
    for amount, sign in ((up, +1), (down, -1)):
        if amount is None:
            continue
        if name == "noisiness":
            target = before[name] + amount
        else:
            target = before[name] * amount if relative else before[name] + amount
        target = clamp_target(name, target, SETTINGS)  # as the slider does: times stop at the buffer's end
        result = move(theta, SETTINGS, {name: target}, before=before)
        assert result.changed and result.renders > 0
        moved = result.after[name] - before[name]
        assert np.sign(moved) == sign, (name, target, result.summary())
        # It gets at least half way (on the quality's own scale), and says whether it reached the target.
        asked = abs(math.log(target / before[name])) if relative else abs(target - before[name])
        got = abs(math.log(result.after[name] / before[name])) if relative else abs(moved)
        assert got >= 0.5 * asked, (name, target, result.summary())
        assert result.reached[name] == (result.summary().count("✓") == 1)


def test_the_other_qualities_stay_and_the_result_is_the_rendered_sound(lead):
    theta, before = lead
    result = move(theta, SETTINGS, {"length": before["length"] * 0.6}, before=before)
    assert result.reached["length"]
    change = result.others_change()  # units of the scoring scales: an octave, 12 st, a doubling of a time, …
    assert "pitch" in change and "length" not in change and "decay" not in change  # decay is coupled to length
    assert change["pitch"] < 0.05 and change["brightness"] < 0.25 and np.median(list(change.values())) < 0.1
    assert measure(result.theta, SETTINGS) == result.after  # verified by rendering the chosen θ on its own


def test_locks_hold_and_a_macro_says_when_everything_is_locked(lead):
    theta, before = lead
    mask = lock_mask(["mixer", "vco_2"])
    result = move(theta, SETTINGS, {"brightness": before["brightness"] * 0.7}, mask, before=before)
    np.testing.assert_array_equal(result.theta[mask], theta[mask])
    everything = lock_mask(["keyboard", "adsr_1", "adsr_2", "lfo_1", "lfo_2", "mod_matrix", "vco_1", "vco_2",
                            "mixer", "lfo_1_amp_adsr", "lfo_2_amp_adsr", "lfo_1_rate_adsr", "lfo_2_rate_adsr"])
    assert everything.all()
    stuck = move(theta, SETTINGS, {"length": 0.3}, everything, before=before)
    assert not stuck.changed and np.array_equal(stuck.theta, theta)
    assert any("locked" in note for note in stuck.notes)


def test_a_macro_that_cannot_go_further_says_so(lead):
    theta, before = lead
    result = move(theta, SETTINGS, {"brightness": 16000.0}, before=before)  # above white noise's centroid
    assert not result.reached["brightness"]
    assert any(note.startswith("brightness can go no higher than") for note in result.notes)


def test_a_rate_without_a_wobble_says_what_to_do_first():
    pluck = factory_preset("pluck")
    result = move(pluck.theta, pluck.settings, {"vibrato_rate": 6.0})
    assert not result.changed and "raise vibrato depth first" in " ".join(result.notes)


def test_values_parse_as_typed():
    assert parse_target("brightness", "+50%", 1000.0) == pytest.approx(1500.0)
    assert parse_target("brightness", "-20%", 1000.0) == pytest.approx(800.0)
    assert parse_target("brightness", "x1.5", 1000.0) == pytest.approx(1500.0)
    assert parse_target("length", "0.3", 1.2) == pytest.approx(0.3)
    assert parse_target("pitch", "-12", 60.0) == pytest.approx(48.0)
    assert parse_target("pitch", "C5", 60.0) == pytest.approx(72.0)
    with pytest.raises(SettingsError, match="is not a value"):
        parse_target("brightness", "lots", 1000.0)
    with pytest.raises(SettingsError, match="unknown macro 'brightnes': did you mean brightness"):
        parse_target("brightnes", "1", 1.0)
    with pytest.raises(SettingsError, match="no measurable pitch"):
        parse_target("pitch", "+12", float("nan"))
    assert format_quality("pitch", 60.0) == "C4" and format_quality("richness", 2.5) == "2.50 partials"


def test_kept_qualities_leave_out_coupled_ones_and_absent_rates(lead):
    _, before = lead
    kept = kept_qualities(before, ["pitch"])
    assert "pitch" not in kept and "brightness" not in kept and "richness" in kept and "loudness" in kept
    quiet = dict(before, tremolo_depth=0.2)
    assert "tremolo_rate" not in kept_qualities(quiet, ["brightness"])


def test_a_move_is_one_undoable_step(lead):
    theta, before = lead
    sound = dataclasses.replace(factory_preset("lead"), theta=theta)
    state = st.initial_state(sound)
    result = move(theta, SETTINGS, {"decay": before["decay"] * 0.5}, before=before)
    state = st.change(state, st.with_theta(state.sound, result.theta))
    assert len(state.past) == 1
    np.testing.assert_array_equal(st.undo(state).sound.theta, theta)


def test_macro_command_writes_the_preset_and_says_what_moved(tmp_path, capsys):
    out = tmp_path / "bass.yaml"
    assert main(["macro", "bass", "--brightness", "-30%", "--length", "0.5", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} and {out.with_suffix('.wav')}")
    assert "  brightness: " in printed and "  length: " in printed and "(asked 0.5 s)" in printed
    edited = load_preset(out)
    assert out.with_suffix(".wav").exists() and edited.name == "bass (macro)"
    after = measure(edited.theta, edited.settings)
    assert after["length"] == pytest.approx(0.5, rel=0.15)
    pitch = PARAM_INDEX["keyboard.midi_f0"]
    assert edited.theta[pitch] == factory_preset("bass").theta[pitch]


@pytest.mark.parametrize("argv, message", [
    (["macro", "bass"], "error: name at least one macro to move"),
    (["macro", "bass", "--brightness", "lots"], "error: --brightness 'lots' is not a value"),
    (["macro", "bass", "--length", "0.3", "-o", "out.wav"], "error: the output out.wav must end in .yaml"),
    (["macro", "bass", "--length", "0.3", "--lock", "pich"], "error: --lock: unknown lock 'pich'"),
])
def test_macro_command_mistakes_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written
