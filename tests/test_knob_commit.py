"""A knob's committed value (released slider or typed box) as the server handles it: clamped with a note, refused
with a message, and an edit that changes no sample adds no undo step and no "modified"."""
from __future__ import annotations

import json

import numpy as np
import pytest

from studio.errors import StudioError
from studio.presets import factory_preset
from studio.synth import PARAM_INDEX, PARAMS, to_human
from studio.ui import state as st
from studio.ui.app import initial_sound
from studio.ui.synth_panel import commit_knob, commit_typed, typed_value
from studio.ui.views import render_audio

DECAY = PARAMS[PARAM_INDEX["adsr_1.decay"]]


def test_out_of_range_values_clamp_with_a_note_and_non_numbers_are_refused():
    assert typed_value("1e9", DECAY) == (2.0, "adsr_1.decay: 1e+09 is above the maximum; set to 2 s")
    assert typed_value(-5, DECAY)[0] == 0.0 and "below the minimum" in typed_value(-5, DECAY)[1]
    assert typed_value("0.25", DECAY) == (0.25, None)
    for bad in ("abc", "", None, "NaN", "inf", float("nan"), True):
        with pytest.raises(StudioError, match="adsr_1.decay: .*type a number from 0 to 2"):
            typed_value(bad, DECAY)


def test_a_typed_value_sets_the_sound_and_the_box_to_the_same_value():
    state = st.initial_state(initial_sound())  # the studio's init patch: its envelope-1 decay is heard
    out = commit_typed(json.dumps(["knob-adsr_1-decay", "1e9", 1]), state)
    new, (rate, samples), line = out[:3]
    assert float(to_human(new.sound.theta)[PARAM_INDEX["adsr_1.decay"]]) == pytest.approx(2.0, abs=1e-5)
    assert out[3 + PARAM_INDEX["adsr_1.decay"]] == 2.0  # the box shows what the sound has
    assert "1e+09 is above the maximum" in line and len(new.past) == len(state.past) + 1
    assert rate == new.sound.settings.sample_rate and len(samples) == len(render_audio(new.sound))


def test_refused_text_keeps_the_sound_and_says_why():
    state = st.initial_state(factory_preset("pad"))
    out = commit_typed(json.dumps(["knob-adsr_1-decay", "abc", 2]), state)
    current = float(to_human(state.sound.theta)[PARAM_INDEX["adsr_1.decay"]])
    assert "that is not a number" in out[2] and out[3 + PARAM_INDEX["adsr_1.decay"]] == pytest.approx(current, abs=1e-3)
    assert not isinstance(out[0], st.StudioState)  # state untouched (a skip)


def test_a_knob_with_no_effect_adds_no_undo_step_and_no_modified():
    pad = factory_preset("pad")
    state = st.initial_state(pad)
    new, audio, line, _ = commit_knob(PARAM_INDEX["mixer.noise"], 0.8, state)
    assert new.past == state.past and not st.audibly_modified(new)
    assert "changes no sample" in line and "modified" not in line
    assert np.array_equal(render_audio(new.sound), render_audio(pad))
    # pad's envelope-1 decay changes no sample either (the routing rule does not see it; the render does)
    decayed, _, line, _ = commit_knob(PARAM_INDEX["adsr_1.decay"], 1.5, state)
    assert decayed.past == state.past and not st.audibly_modified(decayed) and "modified" not in line
    moved, _, line, _ = commit_knob(PARAM_INDEX["adsr_1.sustain"], 0.3, state)  # an audible knob: one undo step
    assert len(moved.past) == len(state.past) + 1 and st.audibly_modified(moved) and "modified" in line
