"""The studio's session state: undo/redo, A/B, knob edits and randomize, without Gradio."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from studio.presets import Preset
from studio.synth import PARAM_INDEX, PARAMS, RenderSettings, default_theta
from studio.ui import state as st

MIDI = PARAM_INDEX["keyboard.midi_f0"]


def preset(name="init", **theta_updates) -> Preset:
    theta = default_theta().copy()
    for key, value in theta_updates.items():
        theta[PARAM_INDEX[key.replace("__", ".")]] = value
    return Preset(name=name, theta=theta, settings=RenderSettings())


def edit(state: st.StudioState, index: int, human: float) -> st.StudioState:
    return st.change(state, st.with_theta(state.sound, st.with_human_value(state.sound.theta, index, human)))


def test_undo_reaches_back_at_least_fifty_steps_and_redo_returns():
    start = st.initial_state(preset())
    state = start
    for note in range(60):
        state = edit(state, MIDI, 30 + note)
    assert len(state.past) == 60
    latest = state
    for _ in range(60):
        state = st.undo(state)
    assert st.same_sound(state.sound, start.sound)
    with pytest.raises(st.NothingToUndo):
        st.undo(state)
    for _ in range(60):
        state = st.redo(state)
    assert st.same_sound(state.sound, latest.sound)
    with pytest.raises(st.NothingToUndo):
        st.redo(state)


def test_history_is_bounded_and_keeps_the_latest_steps():
    state = st.initial_state(preset())
    for i in range(st.HISTORY_LIMIT + 30):
        state = edit(state, MIDI, (i % 120) + 1)
    assert len(state.past) == st.HISTORY_LIMIT
    assert st.human_values(state.past[-1].theta)[MIDI] == pytest.approx(((st.HISTORY_LIMIT + 28) % 120) + 1,
                                                                        abs=1e-3)


def test_a_new_change_clears_redo_and_metadata_is_not_a_step():
    state = edit(edit(st.initial_state(preset()), MIDI, 40), MIDI, 50)
    state = st.undo(state)
    assert len(state.future) == 1
    state = edit(state, MIDI, 70)
    assert state.future == ()
    renamed = st.change(state, dataclasses.replace(state.sound, name="renamed"))
    assert renamed.sound.name == "renamed" and len(renamed.past) == len(state.past)


def test_load_sets_the_reset_point():
    state = edit(st.initial_state(preset()), MIDI, 40)
    bass = preset("bass", keyboard__midi_f0=0.3)
    state = edit(st.load(state, bass), MIDI, 90)
    state = st.change(state, state.base)  # "reset to preset"
    assert st.same_sound(state.sound, bass)
    assert st.same_sound(st.undo(state).sound, st.with_theta(bass, st.with_human_value(bass.theta, MIDI, 90)))


def test_ab_swap_is_undoable():
    a, b = preset("a", keyboard__midi_f0=0.2), preset("b", keyboard__midi_f0=0.8)
    state = st.pin(st.initial_state(b))
    with pytest.raises(st.NothingToUndo):
        st.swap(st.initial_state(a))
    state = st.load(state, a)
    swapped = st.swap(state)
    assert swapped.sound.name == "b" and swapped.pinned.name == "a"
    assert st.swap(swapped).sound.name == "a"
    assert st.undo(swapped).sound.name == "a"


def test_a_knob_edit_changes_only_that_knob():
    theta = np.random.default_rng(0).uniform(0, 1, len(PARAMS)).astype(np.float32)
    for index in (MIDI, PARAM_INDEX["lfo_1.mod_depth"], PARAM_INDEX["mixer.noise"], PARAM_INDEX["vco_1.mod_depth"]):
        spec = PARAMS[index]
        target = spec.lo + 0.3 * (spec.hi - spec.lo)
        out = st.with_human_value(theta, index, target)
        others = np.arange(len(PARAMS)) != index
        assert np.array_equal(out[others], theta[others])
        assert st.human_values(out)[index] == pytest.approx(target, rel=1e-5, abs=1e-6)
    clipped = st.with_human_value(theta, MIDI, 500.0)
    assert clipped[MIDI] == 1.0
    with pytest.raises(IndexError):
        st.with_human_value(theta, 78, 0.0)


def test_randomize_is_reproducible_and_scaled_by_amount():
    theta = default_theta()
    assert np.array_equal(st.randomized(theta, "vary", 3), st.randomized(theta, "vary", 3))
    assert not np.array_equal(st.randomized(theta, "vary", 3), st.randomized(theta, "vary", 4))
    distances = []
    for amount in st.RANDOM_AMOUNTS:
        draws = np.stack([st.randomized(theta, amount, seed) for seed in range(20)])
        assert draws.dtype == np.float32 and draws.min() >= 0.0 and draws.max() <= 1.0
        distances.append(np.abs(draws - theta).mean())
    assert distances == sorted(distances), dict(zip(st.RANDOM_AMOUNTS, distances))
    # "anything" ignores where it starts
    assert np.array_equal(st.randomized(theta, "anything", 5), st.randomized(np.zeros(78, np.float32), "anything", 5))
    with pytest.raises(ValueError, match="unknown randomize amount"):
        st.randomized(theta, "a lot", 0)
