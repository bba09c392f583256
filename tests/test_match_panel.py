"""The match panel's handler without a browser, with the real synth and a real file on disk: a match streams its
best-so-far sound, Cancel reaches it even before the first sounds are judged, the results land in the list and the
A/B player, and every mistake is a StudioError with its own message (nothing left running)."""
from __future__ import annotations

import dataclasses
import functools

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from studio.errors import StudioError
from studio.presets import factory_preset
from studio.synth import RenderSettings, render
from studio.ui import match_panel as mp
from studio.ui import state as st
from studio.ui.app import initial_sound
from studio.ui.common import Config, Studio

SETTINGS = RenderSettings(duration=0.5)  # short sounds keep a quick match to a few seconds


@functools.cache
def match_panel() -> dict:
    """The match panel's components (built in a Blocks that is never served): outputs are read by component."""
    with gr.Blocks():
        studio = Studio(config=Config(library_root="unused", public=False, export_dir="unused"))
        return mp.build(studio, st.initial_state(initial_sound()))


@pytest.fixture
def state():
    return st.initial_state(dataclasses.replace(initial_sound(), settings=SETTINGS))


@pytest.fixture(scope="module")
def pluck_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("targets") / "pluck.wav"
    sf.write(path, np.asarray(render(factory_preset("pluck").theta, SETTINGS)), SETTINGS.sample_rate)
    return str(path)


def match(path, state, *, session="test", lock_pitch=False, budget="quick", seed=0, restarts=1, locks=()):
    panel = match_panel()
    for update in mp.match_target(panel, path, lock_pitch, False, budget, "learned_es", seed, restarts, list(locks),
                                  state, (), session):
        assert set(update) <= set(mp.stream_outputs(panel)), "an update names a component the event does not output"
        yield {name: update[component] for name, component in panel.items() if component in update}


def test_a_match_streams_and_lists_its_results(pluck_file, state):
    updates = list(match(pluck_file, state))
    assert updates[0]["progress"].startswith("Matching (quick budget, ")
    streamed = [u for u in updates[1:-1] if "audio" in u]
    assert streamed and all(u["audio"][0] == SETTINGS.sample_rate for u in streamed)  # best-so-far previews
    last = updates[-1]
    assert last["progress"].startswith("Done") and last["ab"] == mp.B_MATCH
    results = last["results"]
    assert 1 <= len(results) <= 3 and results[0].preset.tags == ("match",)
    assert [r.loss for r in results] == sorted(r.loss for r in results)  # best (lowest loss) first
    assert not mp.MATCHES.running("test")


def test_cancel_before_the_first_sounds_are_judged_stops_the_match(pluck_file, state):
    stream = match(pluck_file, state, session="cancel-early")
    first = next(stream)
    assert first["progress"].startswith("Matching (")
    assert mp.MATCHES.cancel("cancel-early")  # the job's stop flag exists from its first update
    rest = list(stream)
    assert rest[-1]["progress"] == "Stopped before the first sounds were judged: nothing found."
    assert not mp.MATCHES.running("cancel-early")


@pytest.mark.parametrize("path, kwargs, message", [
    (None, {}, "upload a sound or record one first"),
    ("pluck", {"seed": -1}, "the seed must be a whole number from 0 to 4294967295"),
    ("pluck", {"budget": "huge"}, "unknown budget 'huge'"),
    ("pluck", {"restarts": 0}, "restarts must be a whole number from 1 to 8"),
    ("pluck", {"locks": ["no_such_group"]}, "no_such_group"),
])
def test_mistakes_are_studio_errors_and_leave_nothing_running(pluck_file, state, path, kwargs, message):
    with pytest.raises(StudioError, match=message):
        list(match(pluck_file if path == "pluck" else path, state, session="oops", **kwargs))
    assert not mp.MATCHES.running("oops")


def test_a_pitch_lock_on_noise_says_so(tmp_path, state):
    noise = tmp_path / "hiss.wav"
    sf.write(noise, np.random.default_rng(0).uniform(-0.5, 0.5, SETTINGS.num_samples), SETTINGS.sample_rate)
    with pytest.raises(StudioError, match="the target has no steady pitch to lock"):
        list(match(str(noise), state, session="oops", lock_pitch=True))
    assert not mp.MATCHES.running("oops")


def test_a_failed_match_clears_its_sound_and_says_so(state):
    """Issue 12 item 5: a failed match ends with one update (no event error, whose red label covered the text):
    the message in the progress line, the previous best-so-far sound and spectrogram cleared."""
    from studio.ui.common import streamed_user_errors

    panel = match_panel()
    wrapped = streamed_user_errors(lambda: mp.match_target(panel, None, False, False, "quick", "learned_es", 0, 1,
                                                           [], state, (), "fails"),
                                   failed=lambda message: mp.failed_match(panel, message))
    updates = list(wrapped())
    assert len(updates) == 1
    update = updates[0]
    assert update[panel["progress"]] == "**✗ Failed:** upload a sound or record one first"
    assert update[panel["audio"]] is None and update[panel["spectrogram"]] is None
    assert set(update) <= set(mp.stream_outputs(panel))
    assert not mp.MATCHES.running("fails")


# ---------------------------------------------------------------------------------------------------------------
# A/B at equal loudness (issue 12, item 7): the match used to play 8–11 dB quieter or 10 dB louder than the target


def played_db(player) -> float:
    from studio.audio.loudness import loudness_db

    sample_rate, samples = player
    return loudness_db(samples.astype(np.float32) / 32767.0, sample_rate)


@pytest.mark.parametrize("preset_name", ["riser", "siren"])  # far quieter, far louder than a normalized target
def test_a_b_plays_target_and_match_at_the_same_loudness(pluck_file, state, preset_name):
    from studio.audio.loudness import loudness_db

    preset = dataclasses.replace(factory_preset(preset_name), settings=SETTINGS, tags=("match",))
    results = (mp.MatchEntry("k1", "1. match", preset, 0.5),)
    own = loudness_db(np.asarray(render(preset.theta, SETTINGS)), SETTINGS.sample_rate)
    a = mp.ab_audio(mp.A_TARGET, pluck_file, "k1", results, state)
    b = mp.ab_audio(mp.B_MATCH, pluck_file, "k1", results, state)
    assert abs(own - played_db(a)) > 8.0  # at its own level the match would be far off the target
    assert abs(played_db(a) - played_db(b)) < 0.5
    assert int(np.abs(b[1]).max()) < 32767  # leveled, not clipped
    # The match keeps its own level: the entry (what Open in synth and Save use) is the preset as found.
    assert results[0].preset is preset


def test_the_end_of_a_match_puts_a_level_matched_b_in_the_a_b_player(pluck_file, state):
    last = list(match(pluck_file, state, session="ab-level"))[-1]
    a, _, _ = mp.show_target(pluck_file, state)
    assert abs(played_db(last["ab_audio"]) - played_db(a)) < 0.5
    assert "A/B plays both at the same loudness" in last["progress"]
    assert "same loudness" in match_panel()["ab_audio"].label
