"""Edits in words (studio/explore/word_edits.py): what a phrase is read as ("slightly" halves a step, "much"
doubles it, "not" keeps a quality from moving that way, "an octave lower" is −12 st, "more like a bell" asks for a
bell's targets), that applied edits move the named qualities the right way and stay near the sound, that unknown
words change nothing and say so, and the ``edit`` command's contract."""
from __future__ import annotations

import math

import numpy as np
import pytest

from studio.cli import main
from studio.explore.word_edits import EditError, apply_edit, edited_prompt, read_edit
from studio.presets import factory_preset, load_preset


def steps_of(text: str) -> list[tuple[str, str, float, float]]:
    """(kind, quality, effective factor, effective step) per relative step of an edit."""
    out = []
    for part in read_edit(text).parts:
        for step in part.steps:
            out.append((part.kind, step.quality, step.factor ** part.strength, step.add * part.strength))
    return out


def test_relative_words_and_their_modifiers():
    assert steps_of("brighter") == [("relative", "brightness", pytest.approx(1.5), 0.0)]
    assert steps_of("slightly brighter") == [("relative", "brightness", pytest.approx(1.5 ** 0.5), 0.0)]
    assert steps_of("much brighter") == [("relative", "brightness", pytest.approx(1.5 ** 2), 0.0)]
    assert steps_of("a bit darker") == [("relative", "brightness", pytest.approx(1.5 ** -0.5), 0.0)]
    assert steps_of("higher")[0][3] == 3.0 and steps_of("slightly higher")[0][3] == 1.5
    assert steps_of("much lower")[0][3] == -6.0
    assert steps_of("not brighter") == [("keep", "brightness", pytest.approx(1.5), 0.0)]
    assert steps_of("an octave lower") == [("relative", "pitch", 1.0, -12.0)]
    assert steps_of("up a fifth") == [("relative", "pitch", 1.0, 7.0)]
    assert steps_of("two semitones down") == [("relative", "pitch", 1.0, -2.0)]
    assert steps_of("50% brighter") == [("relative", "brightness", pytest.approx(1.5), 0.0)]
    assert steps_of("twice as long") == [("relative", "length", pytest.approx(2.0), 0.0)]
    assert [s[1] for s in steps_of("shorter and more wobble")] == ["length", "vibrato_depth"]
    assert [s[:2] for s in steps_of("brighter, but not longer")] == [("relative", "brightness"), ("keep", "length")]
    assert steps_of("less noise") == [("relative", "noisiness", pytest.approx(0.4), 0.0)]


def test_sound_words_become_absolute_targets():
    reading = read_edit("more like a bell")
    (part,) = reading.parts
    assert part.kind == "absolute" and part.far
    described = reading.explain()
    assert "decay > 0.6 s" in described and "end_level < -40 dB" in described and " or " in described
    assert read_edit("bell-like").parts[0].targets == part.targets
    assert read_edit("metallic").parts[0].kind == "absolute"
    assert "roughness < 1.5 dB" in read_edit("smoother").explain()  # the scorer's "smooth", compared


def test_unknown_words_are_named():
    reading = read_edit("brighter and more glorpy, frobnicate")
    assert reading.unknown == ("glorpy", "frobnicate")
    assert "not understood: 'glorpy', 'frobnicate'" in reading.explain()
    for empty in ("", "   "):
        with pytest.raises(EditError, match="the edit is empty"):
            read_edit(empty)


@pytest.fixture(scope="module")
def pad():
    return factory_preset("pad")


def test_unknown_words_change_nothing(pad):
    with pytest.raises(EditError, match=r"not understood: 'glorp' — nothing changed\. .*Try words like brighter"):
        apply_edit(pad.theta, pad.settings, "brighter and glorp")


@pytest.mark.parametrize("text, quality, sign", [
    ("brighter", "brightness", +1), ("darker", "brightness", -1), ("shorter", "length", -1),
    ("an octave lower", "pitch", -1), ("more wobble", "vibrato_depth", +1), ("slower attack", "attack", +1),
])
def test_edits_move_the_named_quality_and_stay_close(pad, text, quality, sign):
    result = apply_edit(pad.theta, pad.settings, text)
    (change,) = [c for c in result.changes if c.quality == quality]
    assert change.ok and np.sign(change.after - change.before) == sign, result.summary()
    assert result.changed and result.renders > 0
    # Within the closeness bound: a δ = 0.1 variation's distance (δ = 0.25 for an octave) plus a little slack.
    assert result.distance <= 1.25 * result.budget, result.summary()
    assert result.delta == (0.25 if "octave" in text else 0.1)
    assert result.summary().startswith(change.describe())


def test_slightly_moves_less_than_much(pad):
    slight = apply_edit(pad.theta, pad.settings, "slightly darker")
    much = apply_edit(pad.theta, pad.settings, "much darker")
    before = slight.before["brightness"]
    assert much.after["brightness"] < slight.after["brightness"] < before
    assert much.budget > slight.budget  # "much" asks for more: a δ = 0.25 variation's distance


def test_not_keeps_a_quality_from_moving_that_way(pad):
    result = apply_edit(pad.theta, pad.settings, "shorter but not brighter")
    by_quality = {c.quality: c for c in result.changes}
    assert by_quality["length"].ok and by_quality["length"].after < by_quality["length"].before
    assert by_quality["brightness"].wanted == "no higher" and by_quality["brightness"].ok
    assert by_quality["brightness"].after <= by_quality["brightness"].before * 1.03


def test_a_chain_of_edits_and_the_clap_prompt(pad):
    first = apply_edit(pad.theta, pad.settings, "brighter")
    second = apply_edit(first.theta, pad.settings, "shorter")
    assert second.before["brightness"] == pytest.approx(first.after["brightness"], rel=1e-4)
    assert math.isfinite(second.distance)
    assert edited_prompt(pad, "brighter") == "pad, tonal, slow, brighter"  # what CLAP would judge (tags + edit)


def test_edit_command_contract(tmp_path, capsys):
    out = tmp_path / "lead.yaml"
    assert main(["edit", "lead", "darker, shorter", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0] == "understood: darker → brightness × 0.667; shorter → length × 0.667"
    assert lines[1].startswith(f"wrote {out} and {out.with_suffix('.wav')}")
    assert any(line.startswith("  brightness ") and "→" in line for line in lines)
    assert any(line.startswith("  distance from lead: ") for line in lines)
    assert load_preset(out).name == "lead (darker, shorter)"

    assert main(["edit", "lead", "glorp", "-o", str(tmp_path / "x.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: not understood: 'glorp' — nothing changed") and err.count("\n") == 1
    assert not (tmp_path / "x.yaml").exists()
