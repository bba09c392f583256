"""The prompt panel's handlers without a browser, with the real descriptor scorer and the real synth: a search
streams its best-so-far sound, spectrogram and score curve, Cancel stops it and keeps what it found, results open
in the synth and save to the library with their prompt, locks hold, and every mistake gets a specific message."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from studio.explore import LOCK_GROUPS, lock_mask
from studio.library import open_library
from studio.plots import score_curve_image
from studio.presets import factory_preset
from studio.scoring import make_scorer
from studio.synth import render
from studio.ui import prompt_panel as pp
from studio.ui import state as st
from studio.ui.app import initial_sound
from studio.ui.common import Config, Studio
from studio.ui.views import to_player

AUDIO, SPECTROGRAM, CURVE, PROGRESS, UNDERSTOOD, BADGE, RESULTS, CHOICE, NAME = range(9)


@pytest.fixture(scope="module")
def scorer():
    return make_scorer("descriptors")


@pytest.fixture
def state():
    return st.initial_state(initial_sound())


def search(scorer, state, prompt="short bright pluck", *, pitch="", length=None, brightness=None, noisiness=None,
           budget="quick", strategy="learned_es", seed=0, restarts=2, locks=(), results=(), session="test"):
    return pp.run_prompt_search(prompt, pitch, length, brightness, noisiness, budget, strategy, seed, restarts,
                                list(locks), state, results, session, scorer=scorer)


def is_skip(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and set(value) == {"__type__"}


@pytest.fixture(scope="module")
def streamed(scorer):
    """Every yield of one quick two-restart search for "short bright pluck"."""
    return list(search(scorer, st.initial_state(initial_sound())))


def test_a_search_streams_sound_pictures_and_progress(streamed, scorer):
    first = streamed[0]
    assert first[UNDERSTOOD].startswith("**Understood:** short → length < 0.3 s; bright → brightness > 3 kHz")
    assert first[BADGE].startswith("**Scorer: descriptors (offline)** — the descriptor scorer was chosen")
    running = streamed[1:-1]
    assert running, "the search streamed nothing while it ran"
    assert all("generation" in out[PROGRESS] and "sounds judged" in out[PROGRESS] for out in running)
    sounds = [out[AUDIO] for out in running if not is_skip(out[AUDIO])]
    assert sounds and all(rate == 48_000 and audio.dtype == np.int16 for rate, audio in sounds)
    assert all(out[CURVE].ndim == 3 and out[CURVE].dtype == np.uint8 for out in running)
    assert all(out[SPECTROGRAM].ndim == 3 for out in running if not is_skip(out[SPECTROGRAM]))
    assert all(is_skip(out[RESULTS]) for out in streamed[:-1])  # the list changes once, at the end


def test_the_last_update_lists_the_results_best_first_and_plays_the_best(streamed):
    last = streamed[-1]
    results = last[RESULTS]
    assert len(results) == 2  # one per restart
    assert [r.preset.prompt for r in results] == ["short bright pluck"] * 2
    assert results[0].score >= results[1].score
    assert results[0].label.startswith("1. short bright pluck · score ") and "seed " in results[0].label
    assert last[CHOICE]["value"] == results[0].key
    assert last[CHOICE]["choices"] == [(r.label, r.key) for r in results]
    assert last[NAME] == "short bright pluck" and results[1].preset.name == "short bright pluck #2"
    assert last[PROGRESS].startswith("Done: 2 results in ")
    best = results[0].preset
    rate, audio = last[AUDIO]
    np.testing.assert_array_equal(audio, to_player(np.asarray(render(best.theta, best.settings)), rate)[1])
    assert results[0].score > 0.9  # a quick search meets "short bright pluck" (a fit of 1 means every target)


def test_results_accumulate_newest_first(streamed, scorer, state):
    earlier = streamed[-1][RESULTS]
    last = list(search(scorer, state, "low dark hum", restarts=1, results=earlier))[-1]
    assert [r.preset.prompt for r in last[RESULTS]] == ["low dark hum"] + ["short bright pluck"] * 2
    assert len({r.key for r in last[RESULTS]}) == 3


def test_cancel_stops_within_a_generation_and_keeps_the_best_so_far(scorer, state):
    stream = search(scorer, state, "wobbly bass drone", restarts=3, session="cancel-me")
    for out in stream:
        if "sounds judged" in out[PROGRESS]:
            break
    assert pp.request_cancel("cancel-me")
    rest = list(stream)
    last = rest[-1]
    assert last[PROGRESS].startswith("Stopped early; kept the best so far: 1 result in ")
    assert len(last[RESULTS]) == 1  # the first restart's best; the other two never started
    assert not pp.request_cancel("cancel-me")  # a finished search leaves nothing to cancel


def test_locks_keep_the_current_sounds_values(scorer, state):
    bass = factory_preset("bass")
    state = st.load(state, bass)
    last = list(search(scorer, state, "short bright pluck", locks=["pitch", "adsr_1"], restarts=1))[-1]
    theta = last[RESULTS][0].preset.theta
    mask = lock_mask(["pitch", "adsr_1"])
    np.testing.assert_allclose(theta[mask], bass.theta[mask], atol=1e-6)
    assert np.abs(theta[~mask] - bass.theta[~mask]).max() > 0.05
    assert last[RESULTS][0].preset.settings == bass.settings  # searched with the current sound's settings


def test_constraints_are_reported_with_the_results(scorer, state):
    stream = list(search(scorer, state, "dog bark", pitch="C3", length=0.4, restarts=1))
    first, last = stream[0], stream[-1]
    assert "**Constraints:** pitch C3 (131 Hz) ± 0.5 st; length 0.4 s ± 15%" in first[UNDERSTOOD]
    assert "pitch C3 (131 Hz): measured " in last[PROGRESS] and "length 0.4 s: measured " in last[PROGRESS]
    assert "constraints ✓" in last[RESULTS][0].label or "constraints ✗" in last[RESULTS][0].label


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompt="   "), "the prompt is empty"),
    (dict(prompt="glorp"), "the descriptor scorer recognizes no sound word in 'glorp'"),
    (dict(pitch="H2"), "pitch 'H2' is not a note"),
    (dict(pitch="C9"), "pitch C9 is outside what the studio can measure"),
    (dict(length=float("nan")), "length nan is out of range"),
    (dict(brightness="loud"), "brightness must be a number"),
    (dict(noisiness=2.0), "noisiness 2.0 is out of range"),
    (dict(seed=float("nan")), "seed must be a whole number"),
    (dict(restarts=0), "restarts must be a whole number from 1 to 8"),
    (dict(budget="forever"), "unknown budget 'forever'"),
    (dict(strategy="gradient"), "unknown strategy 'gradient'"),
    (dict(locks=["pich"]), "unknown lock 'pich': did you mean pitch?"),
    (dict(locks=list(LOCK_GROUPS)), "every knob is locked"),
])
def test_mistakes_get_a_specific_message(scorer, state, kwargs, message):
    prompt = kwargs.pop("prompt", "short bright pluck")
    wrapped = pp.streamed_user_errors(search)
    with pytest.raises(gr.Error) as caught:
        list(wrapped(scorer, state, prompt, **kwargs))
    assert message in caught.value.message


def test_the_studio_stays_usable_after_a_mistake(scorer, state):
    with pytest.raises(gr.Error):
        list(pp.streamed_user_errors(search)(scorer, state, "", session="oops"))
    last = list(search(scorer, state, "noisy snare", restarts=1, session="oops"))[-1]
    assert last[RESULTS] and last[RESULTS][0].preset.prompt == "noisy snare"


def test_open_in_synth_loads_the_result_into_every_knob_undoably(streamed, state):
    results = streamed[-1][RESULTS]
    chosen = results[1]
    values = pp.open_result(chosen.key, results, state)
    new_state = values[0]
    assert new_state.sound is chosen.preset and new_state.past[-1] is state.sound  # one undo step back
    assert values[5] == chosen.preset.name  # the name box
    sliders = values[-78:]
    np.testing.assert_allclose(sliders, st.human_values(chosen.preset.theta), rtol=1e-3, atol=1e-3)
    assert st.undo(new_state).sound is state.sound


def test_a_picked_result_plays_in_the_panel(streamed):
    results = streamed[-1][RESULTS]
    (rate, audio), image, name = pp.preview_result(results[1].key, results)
    preset = results[1].preset
    np.testing.assert_array_equal(audio, to_player(np.asarray(render(preset.theta, preset.settings)), rate)[1])
    assert image.ndim == 3 and name == "short bright pluck #2"


def test_results_save_to_the_library_with_their_prompt(streamed, state, tmp_path):
    results = streamed[-1][RESULTS]
    studio = Studio(config=Config(library_root=str(tmp_path), public=False, export_dir=str(tmp_path)))
    new_state, picker, version = pp.save_result(studio, results[0].key, results, "my pluck", state, 3)
    assert version == 4 and picker["value"].startswith("library:")
    library = open_library(str(tmp_path), False, None)
    saved = library.load(picker["value"][len("library:"):])
    assert saved.name == "my pluck" and saved.prompt == "short bright pluck"
    np.testing.assert_array_equal(saved.theta, results[0].preset.theta)
    with pytest.raises(ValueError, match="already exists"):  # the name is taken: say so, overwrite nothing
        pp.save_result(studio, results[0].key, results, "my pluck", new_state, version)


def test_open_and_save_without_results_say_what_to_do(state, tmp_path):
    with pytest.raises(ValueError, match="generate a sound first"):
        pp.open_result(None, (), state)
    studio = Studio(config=Config(library_root=str(tmp_path), public=False, export_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="generate a sound first"):
        pp.save_result(studio, None, (), "x", state, 0)


def test_the_badge_names_the_scorer_and_the_reason(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.setenv("SYNTH_STUDIO_CLAP", str(tmp_path))  # a folder without weights: auto falls back
    badge = pp.scorer_badge(make_scorer("auto"))
    assert badge.startswith("**Scorer: descriptors (offline)** — CLAP is unavailable: the folder ")
    assert "set `SYNTH_STUDIO_CLAP` to a folder with a local copy of laion/clap-htsat-unfused" in badge
    assert "list of sound words" in badge


def test_random_weight_clap_is_never_presented_as_meaningful(tmp_path_factory, state):
    pytest.importorskip("transformers")
    from test_scoring import _tiny_clap
    from transformers import ClapModel, ClapProcessor

    from studio.scoring.clap import ClapScorer

    folder = _tiny_clap(tmp_path_factory.mktemp("clap"))
    processor = ClapProcessor.from_pretrained(str(folder))
    clap = ClapScorer(ClapModel.from_pretrained(str(folder)), processor.tokenizer, processor.feature_extractor,
                      source="random", semantic=False, device="cpu")
    badge = pp.scorer_badge(clap)
    assert "Random weights: its scores mean nothing about the prompt" in badge
    stream = list(search(clap, state, "bees buzzing", restarts=1))
    assert stream[0][UNDERSTOOD].startswith("CLAP judges the prompt's text itself")
    assert all("not meaningful" in out[PROGRESS] for out in stream[1:] if "best score" in out[PROGRESS])
    assert "not meaningful" in stream[-1][RESULTS][0].label


def test_score_curve_rises_with_the_score():
    image = score_curve_image([[0.1, 0.5, 0.9]], 3, lo=0.0, hi=1.0)
    assert image.shape == (160, 640, 3) and image.dtype == np.uint8
    curve = np.all(image == np.array([255, 170, 60], np.uint8), axis=-1)  # the first restart's colour
    rows, cols = np.nonzero(curve)
    assert rows[np.argmin(cols)] > rows[np.argmax(cols)]  # higher score → nearer the top, left to right
    score_curve_image([[np.nan, 0.2], []], 10)  # NaN and empty curves are skipped, not drawn
