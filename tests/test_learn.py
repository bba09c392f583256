"""The learned models (studio/learn): a tiny proxy and inverse model trained for a few steps lower their loss; a
checkpoint reads back to identical outputs; a model made for other settings or another synth is refused with a
message saying so (and the matcher then runs as before, saying why); the matcher's learned starts beat the random
starts at equal renders on a fixed set of targets; the ``learn`` command trains and writes its models."""
from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

from studio.learn.checkpoint import (ModelError, ModelMismatchError, compat_record, load_network, read_header,
                                     save_network)
from studio.learn.data import learn_spec, read_dataset, render_dataset, spec_settings
from studio.learn.inverse import SCHEDULES, InverseRecipe, guess_thetas, inverse_loss, train_inverse
from studio.learn.models import DEFAULT_SCHEDULE, LearnedModels, inverse_file, learned_models
from studio.learn.nets import init_network
from studio.learn.proxy import ProxyRecipe, train_proxy
from studio.synth import N_PARAMS, RenderSettings, render

TINY = learn_spec(seed=7, count=256, duration=0.5)  # short sounds: a few seconds to render
TINY_SETTINGS = spec_settings(TINY)
TINY_PROXY = ProxyRecipe(hidden=(64, 64), steps=150, batch=64, learning_rate=3e-3, seed=0)
TINY_INVERSE = InverseRecipe(hidden=(64,), steps=100, batch=64, learning_rate=3e-3, seed=0)


@pytest.fixture(scope="module")
def data():
    return render_dataset(TINY)


@pytest.fixture(scope="module")
def proxy(data):
    return train_proxy(data.thetas, data.embeddings, TINY_PROXY)


@pytest.fixture(scope="module")
def inverse(data, proxy):
    return train_inverse(data.inputs, data.thetas, data.embeddings, proxy[0],
                         dataclasses.replace(TINY_INVERSE, schedule="mix"))


def test_data_is_deterministic_from_its_seed(data):
    again = render_dataset(dataclasses.replace(TINY, count=64))
    np.testing.assert_array_equal(again.thetas, data.thetas[:64])
    np.testing.assert_allclose(again.embeddings, data.embeddings[:64], atol=1e-5)
    other = render_dataset(dataclasses.replace(TINY, count=64, seed=8))
    assert not np.allclose(other.thetas, data.thetas[:64])


def test_the_training_sounds_are_the_dataset_tools_and_train_from_its_folder(tmp_path, data):
    """The models learn from the dataset tool's sounds: the same θ for the same spec, whether rendered on the fly
    or read from a folder made by `python -m studio dataset` (whose int16 audio measures within a hair)."""
    from studio.cli import main

    folder = tmp_path / "set"
    assert main(["dataset", "--kind", "random", "--count", "64", "--seed", "7", "--duration", "0.5",
                 "--fields", "theta,settings,audio", "--audio-format", "int16", str(folder), "--no-progress"]) == 0
    read = read_dataset(folder)
    np.testing.assert_array_equal(read.thetas, data.thetas[:64])
    apart = np.linalg.norm(read.embeddings - data.embeddings[:64], axis=-1)
    random_pair = np.median(np.linalg.norm(data.embeddings[:32] - data.embeddings[32:64], axis=-1))
    # int16 rounding moves a sound a hair; rarely it tips one of the embedding's discrete numbers (1 of 64 here)
    assert np.median(apart) < 0.01 * random_pair and np.mean(apart < 0.05 * random_pair) >= 0.95
    np.testing.assert_array_equal(read.audible, data.audible[:64])
    assert read.spec.to_dict()["settings"] == TINY.to_dict()["settings"]

    without_audio = tmp_path / "knobs"
    assert main(["dataset", "--kind", "random", "--count", "8", "--fields", "theta", str(without_audio),
                 "--no-progress"]) == 0
    with pytest.raises(Exception, match="has no audio field"):
        read_dataset(without_audio)


def test_training_a_tiny_proxy_lowers_its_loss(proxy):
    network, record = proxy
    assert record["loss_last"] < 0.6 * record["loss_first"]
    assert network.architecture.in_dim == N_PARAMS and network.architecture.out_dim == 259


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_training_a_tiny_inverse_model_lowers_its_loss(data, proxy, schedule):
    # mix and switch change their loss as training goes: judge the start and the end by the final step's loss
    recipe = dataclasses.replace(TINY_INVERSE, schedule=schedule)
    network, _ = train_inverse(data.inputs, data.thetas, data.embeddings, proxy[0], recipe)
    start = init_network(network.architecture, network.stats, recipe.seed)
    batch = {"inputs": jnp.asarray(data.inputs), "theta": jnp.asarray(data.thetas),
             "embedding": jnp.asarray(data.embeddings)}

    def final_loss(net):
        return float(inverse_loss(net.params, net.stats, batch, jnp.asarray(recipe.steps - 1), net.architecture,
                                  proxy[0], schedule, recipe.steps))

    assert final_loss(network) < 0.8 * final_loss(start)
    guesses = np.asarray(network(data.inputs[:8]))
    assert guesses.shape == (8, N_PARAMS) and np.all((guesses > 0) & (guesses < 1))


def test_the_proxy_gives_the_same_embeddings_in_blocks_and_shards_as_in_one_call(proxy, data):
    """The studio screens in blocks of a few thousand rows per core (faster on a CPU): the split changes nothing but
    float rounding (XLA vectorizes another batch size differently, in the last bit)."""
    from studio.learn.proxy import proxy_embeddings

    network, thetas = proxy[0], data.thetas[:203]  # not a multiple of any block: a short last block and shard
    whole = np.asarray(network(thetas))
    for threads, block in ((1, None), (2, None), (2, 16), (3, 50), (1, 1)):
        np.testing.assert_allclose(proxy_embeddings(network, thetas, threads, block), whole, rtol=1e-5, atol=1e-6)
    assert proxy_embeddings(network, thetas[:0]).shape == (0, 259)


def test_descending_the_proxy_distance_brings_candidates_closer_and_keeps_locked_knobs(proxy, inverse, data):
    from studio.learn.models import proxy_distances, refined_by_proxy

    models = LearnedModels(proxy[0], inverse[0], TINY_SETTINGS)
    target = data.embeddings[0]
    starts = data.thetas[1:17]
    locked = np.zeros(N_PARAMS, bool)
    locked[:10] = True
    refined = refined_by_proxy(models, target, starts, locked=locked, steps=50, learning_rate=0.02)
    before, after = proxy_distances(models, target, starts), proxy_distances(models, target, refined)
    assert np.all(after < 1.05 * before) and np.mean(after) < 0.7 * np.mean(before)
    np.testing.assert_array_equal(refined[:, :10], starts[:, :10])
    assert np.all((refined >= 0) & (refined <= 1))
    np.testing.assert_array_equal(refined_by_proxy(models, target, starts, locked=locked, steps=50,
                                                   learning_rate=0.02), refined)  # deterministic


def test_the_perceptual_schedules_need_a_proxy(data):
    with pytest.raises(Exception, match="needs a proxy"):
        train_inverse(data.inputs, data.thetas, data.embeddings, None, TINY_INVERSE)


def test_save_then_load_gives_identical_outputs(tmp_path, proxy, inverse, data):
    for (network, _), kind in ((proxy, "proxy"), (inverse, "inverse")):
        path = save_network(tmp_path / f"{kind}.msgpack", network, kind,
                            {"compat": compat_record(TINY_SETTINGS), "data": TINY.to_dict()})
        loaded, header = load_network(path, kind, TINY_SETTINGS)
        x = data.thetas[:16] if kind == "proxy" else data.inputs[:16]
        np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(network(x)))
        assert header["format_version"] == 1 and header["data"]["seed"] == TINY.seed
        assert header["architecture"]["hidden"] == list(network.architecture.hidden)


def test_a_model_for_other_settings_or_another_synth_is_refused(tmp_path, proxy):
    path = save_network(tmp_path / "proxy.msgpack", proxy[0], "proxy", {"compat": compat_record(TINY_SETTINGS)})
    with pytest.raises(ModelMismatchError, match=r"other render settings: duration 0.5 \(asked: 2.0\)"):
        load_network(path, "proxy", RenderSettings())
    with pytest.raises(ModelMismatchError, match="sample_rate 48000 \\(asked: 44100\\)"):
        load_network(path, "proxy", RenderSettings(sample_rate=44_100, duration=0.5))
    with pytest.raises(ModelMismatchError, match="not a inverse model|a proxy model, not"):
        load_network(path, "inverse", TINY_SETTINGS)
    # the same file claiming another synth table, or another format version
    blob = serialization.msgpack_restore(path.read_bytes())
    for change, message in (({"compat": {**compat_record(TINY_SETTINGS), "synth": "0123456789abcdef"}},
                             "another version of the synth"),
                            ({"format_version": 99}, "format version 99")):
        header = {**json.loads(blob["header"]), **change}
        other = tmp_path / "other.msgpack"
        other.write_bytes(serialization.msgpack_serialize({**blob, "header": json.dumps(header)}))
        with pytest.raises(ModelMismatchError, match=message) as err:
            load_network(other, "proxy", TINY_SETTINGS)
        assert "python -m studio learn proxy" in str(err.value)
    garbage = tmp_path / "garbage.msgpack"
    garbage.write_bytes(b"\x00not a model")
    with pytest.raises(ModelError, match="not a readable studio model"):
        read_header(garbage)


def test_the_studio_says_why_it_runs_without_models(tmp_path, proxy, inverse):
    models, why = learned_models(TINY_SETTINGS, folder=tmp_path)
    assert models is None and f"no proxy.msgpack or {inverse_file(DEFAULT_SCHEDULE)}" in why
    assert "python -m studio learn" in why
    save_network(tmp_path / "proxy.msgpack", proxy[0], "proxy", {"compat": compat_record(TINY_SETTINGS)})
    save_network(tmp_path / inverse_file(DEFAULT_SCHEDULE), inverse[0], "inverse",
                 {"compat": compat_record(TINY_SETTINGS)})
    models, why = learned_models(RenderSettings(), folder=tmp_path)
    assert models is None and "other render settings" in why and "starting from random sounds" in why
    models, why = learned_models(TINY_SETTINGS, folder=tmp_path)
    assert isinstance(models, LearnedModels) and why.startswith("learned starts on")


def test_the_inverse_guess_is_gain_invariant(inverse, data):
    audio = np.asarray(render(data.thetas[:4], TINY_SETTINGS))
    loud, quiet = guess_thetas(inverse[0], audio, TINY.sample_rate), guess_thetas(inverse[0], 0.1 * audio,
                                                                                   TINY.sample_rate)
    np.testing.assert_allclose(loud, quiet, atol=2e-3)


# ---------------------------------------------------------------------------------------------------------------
# The matcher's learned starts (the shipped models, 48 kHz / 2 s)

SHIPPED, SHIPPED_WHY = learned_models(RenderSettings())
needs_shipped = pytest.mark.skipif(SHIPPED is None, reason=f"no shipped models: {SHIPPED_WHY}")


def random_targets(count: int, seed: int, settings: RenderSettings):
    """Audible uniform random presets from ``seed``, prepared as uploads are."""
    from studio.audio.target import prepare_audio

    rng, out = np.random.default_rng(seed), []
    while len(out) < count:
        theta = rng.uniform(0.0, 1.0, (1, N_PARAMS)).astype(np.float32)
        audio = np.asarray(render(theta, settings))[0]
        if np.max(np.abs(audio)) > 0.01:
            out.append(prepare_audio(audio, settings.sample_rate, settings.sample_rate, settings.num_samples,
                                     source=f"random-{len(out)}.wav"))
    return out


@needs_shipped
def test_learned_starts_beat_random_starts_at_equal_renders():
    from studio.search import Budget, run_to_end
    from studio.search.match import MatchPlan, match_sound

    plan = MatchPlan(Budget("small", 16, 4, 0.05, "learned_es"), restarts=1, screen=64, polish=4)
    today, learned = [], []
    for target in random_targets(4, 31_337, RenderSettings()):  # a seed used neither in training nor tuning
        off = run_to_end(match_sound(target, budget=plan, seed=0, learned="off"))
        on = run_to_end(match_sound(target, budget=plan, seed=0))  # "auto": the shipped models
        assert on.evaluations == off.evaluations == plan.evaluations
        assert on.learned.startswith("learned starts on") and off.learned.startswith("learned starts off (asked)")
        today.append(off.best_loss)
        learned.append(on.best_loss)
    assert np.mean(learned) < np.mean(today), (learned, today)


def test_without_fitting_models_the_match_is_todays_and_says_why():
    from studio.search import Budget, run_to_end
    from studio.search.match import MatchPlan, match_sound

    settings = RenderSettings(duration=0.5)  # no shipped model fits 0.5 s sounds
    target = random_targets(1, 5, settings)[0]
    plan = MatchPlan(Budget("tiny", 8, 2, 0.05, "learned_es"), restarts=1, screen=16)
    auto = run_to_end(match_sound(target, settings=settings, budget=plan, seed=3))
    off = run_to_end(match_sound(target, settings=settings, budget=plan, seed=3, learned="off"))
    np.testing.assert_array_equal(auto.best_theta, off.best_theta)
    assert auto.best_loss == off.best_loss
    assert auto.learned.startswith("learned starts off") and "random sounds" in auto.learned


def test_the_learn_command_trains_and_writes_both_models(tmp_path, monkeypatch, capsys):
    from studio.cli import main

    monkeypatch.setenv("SYNTH_STUDIO_LEARN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "models"
    assert main(["learn", "proxy", "--count", "64", "--steps", "3", "--out", str(out)]) == 0
    assert main(["learn", "inverse", "--schedule", "switch", "--count", "64", "--steps", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "data: 64 sounds from the cache" in printed  # the inverse command reused the proxy command's render
    proxy_header, inverse_header = read_header(out / "proxy.msgpack"), read_header(out / "inverse-switch.msgpack")
    assert proxy_header["data"]["count"] == 64 and proxy_header["training"]["recipe"]["steps"] == 3
    assert inverse_header["training"]["recipe"]["schedule"] == "switch"
    assert {"normalized_distance_mean", "spearman_pairs"} <= set(proxy_header["metrics"])
    assert main(["learn", "inverse", "--schedule", "mix", "--out", str(tmp_path / "empty")]) == 1
    assert "no model file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# The CLAP proxy, end to end with a small random-weight CLAP (its numbers mean nothing; the code path is real)

def test_clap_proxy_trains_loads_and_screens_a_prompt_search(tmp_path, monkeypatch, capsys):
    pytest.importorskip("transformers")
    from test_scoring import _tiny_clap

    from studio.learn.clap_proxy import load_clap_proxy, train_clap_proxy
    from studio.scoring.clap import load_clap
    from studio.search import Budget, run_to_end
    from studio.search.prompt import ProxyScreenedObjective, PromptObjective, prompt_search

    folder = _tiny_clap(tmp_path)
    scorer = load_clap(str(folder), device="cpu", batch_size=8, precision="fp32")
    settings = RenderSettings(duration=0.5)
    proxy, why = load_clap_proxy(scorer, settings, tmp_path / "proxies")
    assert proxy is None and "learn proxy --target clap" in why
    from studio.learn import clap_proxy

    spec = dataclasses.replace(clap_proxy.CLAP_DATA, count=32, duration=0.5)
    path = train_clap_proxy(tmp_path / "proxies", scorer=scorer, count=32, steps=120, spec=spec, log=lambda _: None)
    header = read_header(path)
    assert header["kind"] == "clap-proxy" and header["compat"]["clap_model"] == scorer.source
    assert header["training"]["loss_last"] < header["training"]["loss_first"]
    proxy, why = load_clap_proxy(scorer, settings, tmp_path / "proxies")
    assert proxy is not None and proxy.architecture.out_dim == scorer.model.config.projection_dim
    _, other = load_clap_proxy(scorer, RenderSettings(), tmp_path / "proxies")
    assert "other render settings" in other

    final = run_to_end(prompt_search("bright", scorer, settings=settings, budget=Budget("t", 8, 2, 0.2), seed=1,
                                     proxy=proxy, verify=2))
    # the reported best is a sound CLAP itself judged, not a proxy estimate
    real = scorer.score(np.asarray(render(final.best_theta[None], settings,
                                          seeds=np.zeros(1, np.uint32))), settings.sample_rate, "bright")
    np.testing.assert_allclose(final.best_score, real[0], atol=1e-4)
    screened = ProxyScreenedObjective(PromptObjective(scorer, "bright", settings), proxy, verify=3)
    thetas = np.random.default_rng(0).uniform(0, 1, (12, N_PARAMS)).astype(np.float32)
    fitness, _, _ = screened.judge_thetas(thetas)
    assert screened.rendered == 3
    best3 = np.argsort(-screened.estimate(thetas), kind="stable")[:3]
    assert set(np.argsort(fitness, kind="stable")[:3]) == set(best3)  # the verified ones rank first

    # The CLI and the prompt panel screen through one function: with the proxy, CLAP judges the budget's population
    # a generation out of four times as many candidates; without one (or with another scorer), nothing changes.
    from studio.cli import main
    from studio.scoring import make_scorer
    from studio.search import budget_for, proxy_screened

    plain, quick = PromptObjective(scorer, "bright", settings), budget_for("quick", scorer)
    searched, budget, note = proxy_screened(plain, quick, tmp_path / "proxies")
    assert (budget.population, budget.generations) == (4 * quick.population, quick.generations)
    assert searched.verify == quick.population and note == why
    searched, budget, note = proxy_screened(plain, quick, tmp_path / "no-proxies")
    assert searched is plain and budget == quick and "learn proxy --target clap" in note
    descriptors = PromptObjective(make_scorer("descriptors"), "bright", settings)
    assert proxy_screened(descriptors, quick, tmp_path / "proxies") == (descriptors, quick, None)

    monkeypatch.setenv("SYNTH_STUDIO_CLAP_PROXIES", str(tmp_path / "proxies"))
    assert main(["prompt", "bright", "--scorer", "clap", "--clap-model", str(folder), "--duration", "0.5",
                 "-o", str(tmp_path / "bright.wav")]) == 0
    printed = capsys.readouterr().out
    assert why in printed and f"quick budget ({4 * quick.population} × {quick.generations} per restart" in printed


@needs_shipped
def test_the_first_generation_of_learned_starts_comes_before_the_full_screen():
    """The first generation (the two guesses and the proxy's picks of a small part of the pool) is ready without
    screening the whole pool; the rest is screened when asked for, picks no candidate twice, and the screen holds
    exactly the plan's count."""
    from studio.search.engine import CandidateList
    from studio.search.match import estimate_start, learned_starts

    target = random_targets(1, 4_242, RenderSettings())[0]
    guess = estimate_start(target.audio, target.sample_rate)
    calls = []
    first, rest = learned_starts(SHIPPED, target.audio, guess, np.full(N_PARAMS, 0.5, np.float32),
                                 np.zeros(N_PARAMS, bool), seed=3, count=64, first=16)
    assert first.shape == (16, N_PARAMS)

    def counted():
        calls.append(1)
        return rest()

    screen = CandidateList(16, first, counted)
    state = screen.init(0)
    state, generation = screen.ask(state, 0)
    np.testing.assert_array_equal(generation, first)
    assert calls == []  # nothing more screened for the first generation
    rows = [generation]
    for g in range(1, 4):
        state, generation = screen.ask(state, g)
        rows.append(generation)
    assert calls == [1]  # the rest screened once
    everything = np.concatenate(rows)
    assert len(everything) == 64 and len(np.unique(everything, axis=0)) == 64

    # A screen shorter than one generation: the first part is all of it, and nothing more is asked for.
    short, rest = learned_starts(SHIPPED, target.audio, guess, np.full(N_PARAMS, 0.5, np.float32),
                                 np.zeros(N_PARAMS, bool), seed=3, count=8, first=16)
    assert short.shape == (8, N_PARAMS) and len(rest()) == 0
    _, generation = CandidateList(16, short, rest).ask(0, 0)
    assert generation.shape == (16, N_PARAMS)  # padded by repeating, as a last batch is
