"""The prompt panel's handlers without a browser, with the real descriptor scorer and the real synth: a search
streams its best-so-far sound, spectrogram and score curve, Cancel stops it and keeps what it found, results open
in the synth and save to the library with their prompt, locks hold, and every mistake gets a specific message."""
from __future__ import annotations

import re

import functools
import html
from types import SimpleNamespace

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
from studio.ui.common import Config, Studio, sound_outputs, streamed_user_errors
from studio.ui.views import to_player


@functools.cache
def prompt_panel() -> dict:
    """The prompt panel's components (built in a Blocks that is never served): outputs are read by component."""
    with gr.Blocks():
        studio = Studio(config=Config(library_root="unused", public=False, export_dir="unused"))
        return pp.build(studio, st.initial_state(initial_sound()))


@pytest.fixture(scope="module")
def scorer():
    return make_scorer("descriptors")


@pytest.fixture
def state():
    return st.initial_state(initial_sound())


class Outputs:
    """One streamed update read by the panel's component names (``out["audio"]``); None for what it leaves as is."""

    def __init__(self, panel: dict, update: dict):
        assert set(update) <= set(pp.stream_outputs(panel)), "an update names a component the event does not output"
        self.update, self.panel = update, panel

    def __getitem__(self, name: str):
        return self.update.get(self.panel[name])

    def __contains__(self, name: str) -> bool:
        return self.panel[name] in self.update


def search(scorer, state, prompt="short bright pluck", *, pitch="", length=None, brightness=None, noisiness=None,
           budget="quick", strategy="learned_es", seed=0, restarts=2, locks=(), results=(), session="test",
           panel=None):
    panel = panel if panel is not None else prompt_panel()
    for update in pp.search_for_prompt(panel, prompt, pitch, length, brightness, noisiness, budget, strategy, seed,
                                       restarts, list(locks), state, results, session, scorer=scorer):
        yield Outputs(panel, update)


@pytest.fixture(scope="module")
def streamed(scorer):
    """Every update of one quick two-restart search for "short bright pluck"."""
    return list(search(scorer, st.initial_state(initial_sound())))


def test_a_search_streams_sound_pictures_and_progress(streamed, scorer):
    first = streamed[0]
    # (escaped for Markdown: it quotes the prompt's words; "<" arrives as "&lt;" and shows as "<")
    assert html.unescape(first["understood"]).startswith("**Understood:** short → length < 0.3 s; bright → "
                                                         "brightness > 3 kHz")
    assert first["badge"].startswith("<details class='scorer-details'><summary>Offline word scorer — chosen in the "
                                     "settings <span class='scorer-more'>(details)</span></summary>")
    assert "the descriptor scorer was chosen" in first["badge"]
    running = streamed[1:-1]
    assert running, "the search streamed nothing while it ran"
    assert all("generation" in out["progress"] and "sounds judged" in out["progress"] for out in running)
    sounds = [out["audio"] for out in running if "audio" in out]
    assert sounds and all(rate == 48_000 and audio.dtype == np.int16 for rate, audio in sounds)
    assert all(out["curve"].ndim == 3 and out["curve"].dtype == np.uint8 for out in running)
    assert all(out["spectrogram"].ndim == 3 for out in running if "spectrogram" in out)
    assert not any("results" in out for out in streamed[:-1])  # the list changes once, at the end


def test_the_last_update_lists_the_results_best_first_and_plays_the_best(streamed):
    last = streamed[-1]
    results = last["results"]
    assert len(results) == 2  # one per restart
    assert [r.preset.prompt for r in results] == ["short bright pluck"] * 2
    assert results[0].score >= results[1].score
    assert results[0].label.startswith("1. short bright pluck · score ") and "seed " in results[0].label
    assert last["choice"]["value"] == results[0].key
    assert last["choice"]["choices"] == [(r.label, r.key) for r in results]
    assert last["name"] == "short bright pluck" and results[1].preset.name == "short bright pluck #2"
    assert last["progress"].startswith("Done: 2 results in ")
    best = results[0].preset
    rate, audio = last["audio"]
    np.testing.assert_array_equal(audio, to_player(np.asarray(render(best.theta, best.settings)), rate)[1])
    assert results[0].score > 0.9  # a quick search meets "short bright pluck" (a fit of 1 means every target)


def test_results_accumulate_newest_first(streamed, scorer, state):
    earlier = streamed[-1]["results"]
    last = list(search(scorer, state, "low dark hum", restarts=1, results=earlier))[-1]
    assert [r.preset.prompt for r in last["results"]] == ["low dark hum"] + ["short bright pluck"] * 2
    assert len({r.key for r in last["results"]}) == 3


def test_cancel_stops_within_a_generation_and_keeps_the_best_so_far(scorer, state):
    stream = search(scorer, state, "wobbly bass drone", restarts=3, session="cancel-me")
    for out in stream:
        if "sounds judged" in out["progress"]:
            break
    assert pp.SEARCHES.cancel("cancel-me")
    rest = list(stream)
    last = rest[-1]
    assert last["progress"].startswith("Stopped early; kept the best so far: 1 result in ")
    assert len(last["results"]) == 1  # the first restart's best; the other two never started
    assert not pp.SEARCHES.cancel("cancel-me")  # a finished search leaves nothing to cancel
    assert not pp.SEARCHES.running("cancel-me")


def test_cancel_before_the_first_generation_stops_the_search(scorer, state):
    """Cancel pressed while the panel still prepares (loading the scorer, compiling) reaches the job: its stop flag
    exists from the job's first update, and the search stops before judging anything."""
    stream = search(scorer, state, "wobbly bass drone", session="cancel-early")
    first = next(stream)
    assert first["progress"].startswith("Searching (")
    assert pp.SEARCHES.cancel("cancel-early")
    rest = list(stream)
    assert rest[-1]["progress"] == "Stopped before the first generation: nothing found."
    assert not pp.SEARCHES.running("cancel-early")


def test_locks_keep_the_current_sounds_values(scorer, state):
    bass = factory_preset("bass")
    state = st.load(state, bass)
    last = list(search(scorer, state, "short bright pluck", locks=["pitch", "adsr_1"], restarts=1))[-1]
    theta = last["results"][0].preset.theta
    mask = lock_mask(["pitch", "adsr_1"])
    np.testing.assert_allclose(theta[mask], bass.theta[mask], atol=1e-6)
    assert np.abs(theta[~mask] - bass.theta[~mask]).max() > 0.05
    assert last["results"][0].preset.settings == bass.settings  # searched with the current sound's settings


def test_constraints_are_reported_with_the_results(scorer, state):
    stream = list(search(scorer, state, "dog bark", pitch="C3", length=0.4, restarts=1))
    first, last = stream[0], stream[-1]
    assert "**Constraints:** pitch C3 (131 Hz) ± 0.5 st; length 0.4 s ± 15%" in first["understood"]
    assert "pitch C3 (131 Hz): measured " in last["progress"] and "length 0.4 s: measured " in last["progress"]
    # Seed 0 meets both constraints. (Its score depends on the whole search's trajectory, which any change of the
    # compiled render-and-judge program moves: issue 17's richer profile took it from 1.000 to 0.848.)
    assert re.fullmatch(r"1\. dog bark · score [01]\.\d{3} · constraints ✓ · seed 0", last["results"][0].label)


def test_a_result_missing_a_constraint_is_marked_not_met():
    met, missed = SimpleNamespace(met=True), SimpleNamespace(met=False)
    result = SimpleNamespace(score=0.5, seed=7)
    scorer = make_scorer("descriptors")
    assert pp.result_label(2, "hum", result, scorer, [met, missed]) == "2. hum · score 0.500 · constraints ✗ · seed 7"
    assert pp.result_label(2, "hum", result, scorer, []) == "2. hum · score 0.500 · seed 7"


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
    wrapped = streamed_user_errors(search)
    with pytest.raises(gr.Error) as caught:
        list(wrapped(scorer, state, prompt, **kwargs))
    assert message in caught.value.message


def test_the_studio_stays_usable_after_a_mistake(scorer, state):
    with pytest.raises(gr.Error):
        list(streamed_user_errors(search)(scorer, state, "", session="oops"))
    assert not pp.SEARCHES.running("oops")  # a mistake leaves no stop flag behind
    last = list(search(scorer, state, "noisy snare", restarts=1, session="oops"))[-1]
    assert last["results"] and last["results"][0].preset.prompt == "noisy snare"


def test_open_in_synth_loads_the_result_into_every_knob_undoably(streamed, state):
    results = streamed[-1]["results"]
    chosen = results[1]
    with gr.Blocks():
        studio = Studio(config=Config(library_root="unused", public=False, export_dir="unused"))
        studio.state, studio.audio, studio.spectrogram, studio.waveform, studio.status = (
            gr.State(), gr.Audio(), gr.Image(), gr.Image(), gr.Markdown())
        studio.name, studio.duration, studio.noise_seed = gr.Textbox(), gr.Dropdown(), gr.Number()
        studio.sliders = [gr.Slider() for _ in range(78)]
    values = dict(zip(sound_outputs(studio), pp.open_result(chosen.key, results, state)))
    new_state = values[studio.state]
    assert new_state.sound is chosen.preset and new_state.past[-1] is state.sound  # one undo step back
    assert values[studio.name] == chosen.preset.name  # the name box
    sliders = [values[slider] for slider in studio.sliders]
    np.testing.assert_allclose(sliders, st.human_values(chosen.preset.theta), rtol=1e-3, atol=1e-3)
    assert st.undo(new_state).sound is state.sound


def test_a_picked_result_plays_in_the_panel(streamed):
    results = streamed[-1]["results"]
    (rate, audio), image, name = pp.preview_result(results[1].key, results)
    preset = results[1].preset
    np.testing.assert_array_equal(audio, to_player(np.asarray(render(preset.theta, preset.settings)), rate)[1])
    assert image.ndim == 3 and name == "short bright pluck #2"


def test_results_save_to_the_library_with_their_prompt(streamed, state, tmp_path):
    results = streamed[-1]["results"]
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
    summary, details = badge.split("</summary>")
    assert summary.endswith("Offline word scorer — no CLAP weights in the folder given "
                            "<span class='scorer-more'>(details)</span>")
    assert details.strip().startswith("CLAP is unavailable: the folder ")
    assert "set `SYNTH_STUDIO_CLAP` to a folder with a local copy of laion/clap-htsat-unfused" in details
    assert "list of sound words" in details and "To use CLAP" in details


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
    assert "random weights: its scores mean nothing about the prompt" in badge.split("</summary>")[0]
    stream = list(search(clap, state, "bees buzzing", restarts=1))
    assert stream[0]["understood"].startswith(f"{clap.label} judges the prompt's text itself")
    assert all("not meaningful" in out["progress"] for out in stream[1:] if "best score" in out["progress"])
    assert "not meaningful" in stream[-1]["results"][0].label


def test_clap_searches_run_on_its_proxy_where_one_is_trained(tmp_path, monkeypatch):
    """Issue 16 item 4: with CLAP and a proxy trained for its weights and the sound's settings, the panel's
    generations run on the proxy: it ranks four times the budget's population and CLAP judges only the budget's
    population a generation, and the progress line says so. Without a proxy, CLAP judges every candidate and the
    line says how to train one."""
    pytest.importorskip("transformers")
    import dataclasses

    from test_scoring import _tiny_clap

    from transformers import ClapModel, ClapProcessor

    from studio.learn.clap_proxy import CLAP_DATA, train_clap_proxy
    from studio.scoring.clap import ClapScorer
    from studio.synth import RenderSettings

    folder = _tiny_clap(tmp_path)
    processor = ClapProcessor.from_pretrained(str(folder))
    clap = ClapScorer(ClapModel.from_pretrained(str(folder)), processor.tokenizer, processor.feature_extractor,
                      source="random", semantic=False, device="cpu")
    judged = []  # how many sounds each call to CLAP judged
    real_score = clap.score
    monkeypatch.setattr(clap, "score", lambda audio, rate, prompt: judged.append(len(audio)) or
                        real_score(audio, rate, prompt))
    monkeypatch.setenv("SYNTH_STUDIO_CLAP_PROXIES", str(tmp_path / "proxies"))
    short = st.initial_state(dataclasses.replace(initial_sound(), settings=RenderSettings(duration=0.5)))
    quick = pp.budget_for("quick", clap)
    per_search = quick.population * quick.generations

    stream = list(search(clap, short, "bright", restarts=1, session="clap-unscreened"))
    assert sum(judged) == per_search
    assert "learn proxy --target clap" in stream[0]["progress"]  # how to train one, from the start...
    last = stream[-1]["progress"]
    assert f"{per_search} sounds judged" in last and "learn proxy --target clap" in last  # ...and in the summary
    assert "candidates screened" not in last

    train_clap_proxy(tmp_path / "proxies", scorer=clap, count=32, steps=60, log=lambda _: None,
                     spec=dataclasses.replace(CLAP_DATA, count=32, duration=0.5))
    judged.clear()
    stream = list(search(clap, short, "bright", restarts=1, session="clap-screened"))
    assert sum(judged) == per_search and max(judged) <= quick.population  # CLAP judged the verified ones only
    assert "Generations run on the CLAP proxy" in stream[0]["progress"]
    assert f"{4 * quick.population} candidates a generation" in stream[0]["progress"]
    assert any("candidates screened by the CLAP proxy" in out["progress"] for out in stream[1:-1])
    last = stream[-1]["progress"]
    assert f"{4 * per_search} candidates screened by the CLAP proxy, {per_search} judged by CLAP" in last
    assert "learn proxy" not in last
    assert "not meaningful" in last  # a random-weight CLAP's score is still flagged


def test_score_curve_rises_with_the_score():
    image = score_curve_image([[0.1, 0.5, 0.9]], 3, lo=0.0, hi=1.0)
    assert image.shape == (160, 640, 3) and image.dtype == np.uint8
    curve = np.all(image == np.array([255, 170, 60], np.uint8), axis=-1)  # the first restart's colour
    rows, cols = np.nonzero(curve)
    assert rows[np.argmin(cols)] > rows[np.argmax(cols)]  # higher score → nearer the top, left to right
    score_curve_image([[np.nan, 0.2], []], 10)  # NaN and empty curves are skipped, not drawn


# ---------------------------------------------------------------------------------------------------------------
# Issue 12: what a newcomer tripped on


def test_the_badge_is_one_short_line_with_a_details_toggle(monkeypatch, tmp_path):
    """Item 11: one line (which scorer, why not CLAP) above the prompt; the reason and how to enable CLAP behind
    the toggle."""
    from studio.scoring import clap
    from studio.scoring.base import ScorerUnavailable

    def no_torch(source, device):
        raise ScorerUnavailable("CLAP needs torch and transformers (No module named 'torch'); install the studio's "
                                "requirements.txt")

    monkeypatch.setattr(clap, "cached_clap", no_torch)
    badge = pp.scorer_badge(make_scorer("auto", clap_model=str(tmp_path / "never-loaded")))
    summary, details = badge.split("</summary>")
    assert summary == ("<details class='scorer-details'><summary>Offline word scorer — CLAP not installed "
                       "<span class='scorer-more'>(details)</span>")
    assert "\n" not in summary and len("Offline word scorer — CLAP not installed (details)") <= 60
    assert "CLAP needs torch and transformers" in details
    assert "install the studio's requirements.txt (torch and transformers)" in details
    assert "`SYNTH_STUDIO_CLAP`" in details
    assert "\n" not in pp.LOADING_BADGE


def test_a_very_long_prompt_is_cut_with_a_word_read_once_and_named_short(scorer, state):
    """Item 6: 5,000 characters are cut (and the Understood line says so), repeated phrases are explained once,
    and the found sounds get a short name, not the whole text."""
    prompt = "deep sub bass rumble " * 250  # 5,250 characters
    updates = list(search(scorer, state, prompt, restarts=2, session="long"))
    understood = updates[0]["understood"]
    assert understood.startswith("**Prompt cut:** it was 5,249 characters long; the search reads its first 49")
    reading = understood.split("**Understood:**")[1]
    assert reading.count("sub") == 1 and reading.count("bass") == 1 and "sub (×24)" in reading, reading
    last = updates[-1]
    assert [r.preset.name for r in last["results"]] == ["deep sub bass rumble deep sub bass",
                                                        "deep sub bass rumble deep sub bass #2"]
    assert last["name"] == "deep sub bass rumble deep sub bass"
    assert len(last["results"][0].preset.prompt) <= 500  # what was searched for is what the preset keeps
    assert pp.short_name("short bright pluck") == "short bright pluck"
    assert pp.short_name("x" * 90) == "x" * 40


def test_generate_while_a_search_runs_is_refused_with_a_message(scorer, state):
    """Item 2: one search per session; a second Generate is refused with a message naming both prompts (the
    browser test shows it as a toast), and a claimed search that is cancelled before its turn stops at once."""
    assert pp.claim_search("laser zap", "busy") == "Starting the search for “laser zap”…"
    assert pp.SEARCHES.running("busy")
    with pytest.raises(pp.StudioError, match="The search for “laser zap” is still running, so Generate for "
                                             "“deep sub bass rumble” was not started. Press Cancel"):
        pp.claim_search("deep sub bass rumble", "busy")
    assert pp.SEARCHES.cancel("busy")  # Cancel while it waits for its turn
    last = list(search(scorer, state, "laser zap", restarts=1, session="busy"))[-1]
    assert last["progress"] == "Stopped before the first generation: nothing found."
    assert not pp.SEARCHES.running("busy")
    # A claimed search whose inputs are wrong releases the claim too.
    pp.claim_search("", "busy")
    with pytest.raises(pp.StudioError, match="the prompt is empty"):
        list(search(scorer, state, "", session="busy"))
    assert not pp.SEARCHES.running("busy")
    assert pp.claim_search("   ", "busy") == "Starting the search…"
    with pytest.raises(pp.StudioError, match="^A search is still running, so Generate for “low hum” was not"):
        pp.claim_search("low hum", "busy")
    pp.SEARCHES.forget("busy")


def test_a_failed_search_clears_its_output_and_says_so(scorer, state):
    """Item 5: a failed run ends with one update that says what went wrong in the progress line and clears this
    run's reading, sound, spectrogram and curve (no event error, so no red label over the text)."""
    panel = prompt_panel()

    def failing(*args, **kwargs):
        yield from search(scorer, state, "short bright pluck", pitch="H2", session="fails")

    wrapped = streamed_user_errors(failing, failed=lambda message: pp.failed_search(panel, message))
    updates = [Outputs(panel, update) for update in wrapped()]
    assert len(updates) == 1
    out = updates[0]
    assert out["progress"].startswith("**✗ Failed:** pitch 'H2' is not a note")
    assert out["understood"] == "" and "understood" in out
    for name in ("audio", "spectrogram", "curve"):
        assert name in out and out[name] is None
    assert "results" not in out  # earlier results stay listed
    assert not pp.SEARCHES.running("fails")
