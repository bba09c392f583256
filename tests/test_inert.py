"""Knobs marked as having no effect on a sound really change no sample when moved (rendered), and the marks follow
the routing (the noise fader is inert while nothing routes to the noise level)."""
from __future__ import annotations

import numpy as np
import pytest

from studio.presets import factory_preset
from studio.synth import PARAM_INDEX, PARAMS, render, to_human, to_normalized
from studio.synth.inert import inert_knobs


def moved(theta: np.ndarray, index: int) -> np.ndarray:
    """θ with one knob moved far (to its other end, in human units)."""
    human = to_human(np.asarray(theta, np.float64))
    spec = PARAMS[index]
    human[index] = spec.lo if human[index] > (spec.lo + spec.hi) / 2 else spec.hi
    out = np.asarray(theta, np.float32).copy()
    out[index] = np.float32(np.clip(to_normalized(human)[index], 0, 1))
    return out


@pytest.mark.parametrize("name", ["pad", "bass", "hihat", "wind"])
def test_every_inert_knob_changes_no_sample(name):
    preset = factory_preset(name)
    inert = sorted(inert_knobs(preset.theta))
    assert inert, f"{name}: some knob should be idle"
    batch = np.stack([preset.theta] + [moved(preset.theta, i) for i in inert])
    seeds = np.full(len(batch), preset.settings.noise_seed, np.uint32)  # the same noise in every row
    audio = np.asarray(render(batch, preset.settings, seeds=seeds))
    for row, index in enumerate(inert, start=1):
        assert np.array_equal(audio[row], audio[0]), f"{name}: {PARAMS[index].key} is marked inert but changes"


def test_noise_fader_is_inert_until_something_routes_to_the_noise_level():
    pad = factory_preset("pad")
    noise = PARAM_INDEX["mixer.noise"]
    assert noise in inert_knobs(pad.theta)
    theta = np.asarray(pad.theta, np.float32).copy()
    theta[PARAM_INDEX["mod_matrix.adsr_1->noise_amp"]] = 0.5
    assert noise not in inert_knobs(theta)
    assert PARAM_INDEX["keyboard.midi_f0"] not in inert_knobs(pad.theta)
