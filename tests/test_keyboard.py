"""The keyboard's samples: one batched render of the shown range, each note at its key's pitch, the sound's own key
equal to the player's samples, one shared gain, trailing silence cut with a fade, and the packing round trip."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from studio.audio.io import to_int16
from studio.audio.sound_profile import profile_as_dict, sound_profile
from studio.instrument.keyboard import (DEFAULT_START, KEYS, audible_length, from_bytes, header, key_range,
                                        keyboard_samples, render_keys, to_bytes)
from studio.presets import factory_preset
from studio.synth import PARAM_INDEX, RenderSettings, default_theta, render
from studio.ui import state as st
from studio.ui.keyboard_panel import keyboard_payload, requested_start, sound_version

PITCH = PARAM_INDEX["keyboard.midi_f0"]


@pytest.fixture(scope="module")
def init_keys():
    return keyboard_samples(default_theta(), RenderSettings(), DEFAULT_START)


def test_one_batch_of_the_whole_range(init_keys):
    assert init_keys.pcm.dtype == np.int16 and init_keys.pcm.shape[0] == KEYS == 25
    assert init_keys.start == DEFAULT_START and init_keys.sample_rate == 48_000
    assert 0 < init_keys.length <= RenderSettings().num_samples
    assert list(key_range(120)) == list(range(103, 128))  # a range that would leave 0…127 is moved back inside
    assert list(key_range(-5))[:2] == [0, 1]


def test_each_key_sounds_at_its_pitch(init_keys):
    audio = init_keys.pcm.astype(np.float32) / 32767
    pitches = [profile_as_dict(row)["pitch"] for row in sound_profile(audio, init_keys.sample_rate)]
    midi = key_range(DEFAULT_START)
    assert np.all(np.abs(np.asarray(pitches) - midi) < 0.25), list(zip(midi, np.round(pitches, 2)))


def test_the_sounds_own_key_is_the_player_sound_with_one_shared_gain(init_keys):
    theta, settings = default_theta(), RenderSettings()
    own = int(round(float(st.human_values(theta)[PITCH])))
    player = to_int16(np.asarray(render(theta, settings)))
    key = init_keys.pcm[own - init_keys.start]
    fade = int(0.005 * settings.sample_rate)
    body = init_keys.length - fade  # the de-click fade touches only the last 5 ms
    assert np.abs(key[:body].astype(np.int32) - player[:body]).max() <= 1
    # One gain for all notes (no per-note normalization): levels follow the float renders.
    floats = render_keys(theta, settings, key_range(DEFAULT_START))
    peaks = np.abs(init_keys.pcm).max(axis=1) / 32767
    np.testing.assert_allclose(peaks, np.abs(floats[:, :init_keys.length]).max(axis=1), atol=2e-4)


def test_short_sounds_are_cut_after_their_last_audible_sample_without_a_click():
    pluck = factory_preset("pluck")
    keys = keyboard_samples(pluck.theta, pluck.settings, 36)
    assert keys.length < pluck.settings.num_samples // 2  # a pluck does not carry 2 s of silence
    tail = np.abs(keys.pcm[:, -3:]).max()
    assert tail <= 2  # faded to silence at the cut
    full = render_keys(pluck.theta, pluck.settings, key_range(36))
    assert np.abs(full[:, keys.length:]).max() < 1e-4  # what was cut was silent
    assert audible_length(np.zeros((2, 100), np.float32), 1000) == 5  # all silent: just the fade's length


def test_a_sustained_sound_cut_by_the_buffer_ends_faded():
    held = st.with_human_value(default_theta(), PARAM_INDEX["keyboard.duration"], 4.0)  # held past the buffer's end
    keys = keyboard_samples(held, RenderSettings(), 48)
    assert keys.length == RenderSettings().num_samples
    assert np.abs(keys.pcm[:, -1]).max() == 0 and np.abs(keys.pcm[:, -300]).max() > 100


def test_packing_round_trip_is_exact_and_compact(init_keys):
    head = json.loads(json.dumps(header(init_keys, "v1")))
    data = to_bytes(init_keys)
    back = from_bytes(data, head)
    assert np.array_equal(back.pcm, init_keys.pcm) and back.start == init_keys.start
    assert back.sample_rate == init_keys.sample_rate and head["version"] == "v1"
    assert len(data) == 2 * KEYS * init_keys.length  # one int16 block, nothing more
    assert data[:2] == int(init_keys.pcm[0, 0]).to_bytes(2, "little", signed=True)  # little-endian, note-major


def test_the_handler_sends_a_range_once_per_sound():
    state = st.initial_state(factory_preset("bass"))
    payload, version = keyboard_payload(state, json.dumps([36, 3]), None)
    assert payload["start"] == 36 and payload["version"] == version and payload["name"] == "bass"
    written = from_bytes(Path(payload["path"]).read_bytes(), payload)  # the file the page fetches
    expected = factory_preset("bass")
    assert np.array_equal(written.pcm, keyboard_samples(expected.theta, expected.settings, 36).pcm)
    assert payload["own"] == pytest.approx(float(st.human_values(state.sound.theta)[PITCH]))
    again = keyboard_payload(state, json.dumps([36, 4]), version)  # the page holds it: nothing is sent
    assert again == (gr.skip(), gr.skip())
    other, other_version = keyboard_payload(state, "[48, 5]", version)  # another octave: new samples
    assert other["start"] == 48 and other_version != version
    changed = st.change(state, st.with_theta(state.sound, np.clip(state.sound.theta + 0.05, 0, 1)))
    assert sound_version(changed.sound, 36) != version


@pytest.mark.parametrize("raw, start", [("[60, 1]", 60), ("24", 24), ("[500, 1]", 103), ("nonsense", DEFAULT_START),
                                        (None, DEFAULT_START), ("[-3, 2]", 0)])
def test_requested_start_is_clamped_and_forgiving(raw, start):
    assert requested_start(raw) == start


def test_keyboard_files_live_in_one_folder_per_process_and_dead_ones_are_swept(tmp_path, monkeypatch):
    import os
    import tempfile

    from studio.ui import keyboard_panel

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(keyboard_panel, "_DIR", [])
    dead = tmp_path / f"{keyboard_panel.KEYBOARD_PREFIX}999999999-abc"  # no such process
    dead.mkdir()
    folder = keyboard_panel.keyboard_dir()
    assert folder.parent == tmp_path.resolve() and folder.name.startswith(f"synth-studio-keyboard-{os.getpid()}-")
    assert not dead.exists() and keyboard_panel.keyboard_dir() == folder
