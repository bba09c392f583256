"""studio.checks: one validator per concept, each naming its field; and the StudioError family built on it."""
from __future__ import annotations

import math

import numpy as np
import pytest

from studio import checks
from studio.errors import SettingsError, StudioError


def test_seeds_follow_one_rule():
    assert checks.check_seed(0) == 0 and checks.check_seed(checks.MAX_SEED) == 2**32 - 1
    assert checks.check_seed("42") == 42 and checks.check_seed(np.uint32(7)) == 7 and checks.check_seed(3.0) == 3
    for bad, message in [(-1, "from 0 to 4294967295, got -1"), (2**32, "got 4294967296"), (2**63, "got 9223372036"),
                         ("x", "whole number, got 'x'"), (1.5, "whole number"), (True, "whole number"),
                         (None, "whole number"), (math.nan, "whole number")]:
        with pytest.raises(SettingsError, match=message) as err:
            checks.check_seed(bad, "noise_seed")
        assert err.value.field == "noise_seed" and "the noise seed" in str(err.value)


def test_whole_numbers():
    assert checks.check_whole("16", 1, 16, "restarts") == 16 and checks.check_whole(10**6, 1, None, "count") == 10**6
    with pytest.raises(SettingsError, match="restarts must be a whole number from 1 to 16, got 17") as err:
        checks.check_whole(17, 1, 16, "restarts")
    assert err.value.field == "restarts"
    with pytest.raises(SettingsError, match="count must be a whole number ≥ 1, got 0"):
        checks.check_whole(0, 1, None, "count")
    with pytest.raises(SettingsError, match="dense points must be a whole number, got '2.5'"):
        checks.check_whole("2.5", 2, 8, "dense_points")


def test_numbers():
    assert checks.check_number("0.25", 0, 1, "delta") == 0.25 and checks.check_number(5, 0, math.inf, "x") == 5.0
    for bad in (1.5, "nan", "inf", "abc", None, True):
        with pytest.raises(SettingsError, match="delta must be a finite number from 0 to 1") as err:
            checks.check_number(bad, 0, 1, "delta")
        assert err.value.field == "delta"
    with pytest.raises(SettingsError, match="length must be a finite number ≥ 0 s"):
        checks.check_number(-1, 0, math.inf, "length", "s")
    with pytest.raises(SettingsError, match="^--duration must be"):  # an option is named as typed
        checks.check_number(0, 0.05, 30, "--duration", "s")


def test_choices():
    assert checks.check_choice("even", ("linear", "even"), "mode") == "even"
    with pytest.raises(SettingsError, match="unknown colour by 'hue': choose one of tag, prompt") as err:
        checks.check_choice("hue", ("tag", "prompt"), "colour_by")
    assert err.value.field == "colour_by"


def test_render_settings_name_the_setting_at_fault():
    from studio.synth import RenderSettings

    good = RenderSettings()
    assert checks.check_render_settings(good) is good
    for kw, field in [({"sample_rate": 100}, "sample_rate"), ({"duration": 31.0}, "duration"),
                      ({"control_rate": 5.0}, "control_rate"), ({"noise_seed": -1}, "noise_seed"),
                      ({"noise_seed": 2**32}, "noise_seed"), ({"sample_rate": 8000, "control_rate": 4000.0},
                                                              "control_rate")]:
        with pytest.raises(SettingsError) as err:
            checks.check_render_settings(RenderSettings(**kw))
        assert err.value.field == field, kw


def test_note_names_and_pitches():
    assert checks.note_name(60) == "C4" and checks.note_name(69) == "A4" and checks.note_name(61) == "C#4"
    assert checks.note_name(60.3, cents=True) == "C4 +30 ct" and checks.note_name(60.3) == "C4"
    assert checks.parse_note("C3") == 48 and checks.parse_note("Bb2") == 46 and checks.parse_note("f#2") == 42
    assert checks.parse_note("440 Hz") == pytest.approx(69.0) and checks.parse_note(60) == 60.0
    assert checks.midi_to_hz(checks.hz_to_midi(123.0)) == pytest.approx(123.0)
    for bad, message in [("H2", "is not a note"), ("C", "is not a note"), (None, "is not a note"),
                         ("0 Hz", "not a finite pitch"), (math.inf, "not a finite pitch")]:
        with pytest.raises(SettingsError, match=message) as err:
            checks.parse_note(bad, "pitch")
        assert err.value.field == "pitch"


def test_settings_errors_are_studio_errors_and_value_errors():
    error = SettingsError("bad seed", "seed")
    assert isinstance(error, StudioError) and isinstance(error, ValueError)
    assert str(error) == "bad seed" and error.field == "seed" and StudioError("x").field is None


def test_every_user_error_is_a_studio_error_with_its_field(tmp_path):
    from studio.library import LibraryError, SoundNotFoundError, clean_name, parse_tags
    from studio.presets import PresetError, factory_preset, loads_preset
    from studio.scoring import ConstraintError, Constraints, PromptError, ScorerUnavailable, check_prompt
    from studio.scoring.descriptors import prompt_terms

    cases = []
    with pytest.raises(PresetError) as err:
        loads_preset("format_version: 1\nname: x\nsettings: {}\nparams: {}\nsize: 3\n", fmt="yaml")
    cases.append((err.value, "size"))
    with pytest.raises(PresetError) as err:
        factory_preset("nonsense")
    cases.append((err.value, "name"))
    with pytest.raises(LibraryError) as err:
        clean_name("  ")
    cases.append((err.value, "name"))
    with pytest.raises(LibraryError) as err:
        parse_tags(",".join(f"t{i}" for i in range(20)))
    cases.append((err.value, "tags"))
    from studio.library import Library

    with pytest.raises(SoundNotFoundError) as err:
        Library(tmp_path).load("nothing-here")
    cases.append((err.value, "slug"))
    with pytest.raises(ConstraintError) as err:
        Constraints.from_user(pitch="H2")
    cases.append((err.value, "pitch"))
    with pytest.raises(ConstraintError) as err:
        Constraints.from_user(noisiness=0.9)
    cases.append((err.value, "noisiness"))
    with pytest.raises(PromptError) as err:
        check_prompt("   ")
    cases.append((err.value, "prompt"))
    with pytest.raises(PromptError) as err:
        prompt_terms("glorp")
    cases.append((err.value, "prompt"))
    cases.append((ScorerUnavailable("no CLAP weights here"), "scorer"))
    for error, field in cases:
        assert isinstance(error, StudioError), type(error)
        assert error.field == field, (type(error).__name__, error.field, str(error))
