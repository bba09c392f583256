"""Matching a sound (studio/search/match.py): the loss is 0 for the sound itself, ignores gain and grows with the
change; the smart start hears pitch and note length; a target rendered from a known preset is matched much closer
than the initial population; locks hold; cancel stops within a generation; results reproduce from the seed."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.audio.embedding import perceptual_embedding
from studio.audio.target import prepare_audio
from studio.errors import SettingsError
from studio.explore.locks import lock_mask
from studio.presets import preset_render
from studio.search import Budget, judge, run_to_end
from studio.search.engine import ScreenStrategy, SparsePolish, generations
from studio.search.match import (DISTINCT, MIDI_F0, NOTE_LENGTH, MatchError, MatchObjective, MatchPlan, MatchResult,
                                 distinct_matches, estimate_start, match_losses, match_sound, normalized,
                                 spectral_convergence, target_features, to_preset)
from studio.synth import N_PARAMS, PARAM_INDEX, RenderSettings, default_theta, render, to_human

SETTINGS = RenderSettings(duration=0.5)  # short sounds keep the tests fast; the loss is length-agnostic
RATE = SETTINGS.sample_rate
SMALL = Budget("small", 16, 36, 0.05, "learned_es")  # one compiled step shared by the tests below


def known_theta(seed: int = 11) -> np.ndarray:
    """An audible random sound: uniform θ from ``seed``, with a clear, sustained note (so it has a pitch)."""
    theta = np.random.default_rng(seed).uniform(0.0, 1.0, N_PARAMS).astype(np.float32)
    human = to_human(theta.astype(np.float64))
    human[PARAM_INDEX["keyboard.midi_f0"]] = 57.0  # A3, 220 Hz
    human[PARAM_INDEX["keyboard.duration"]] = 0.3
    human[PARAM_INDEX["mixer.vco_1"]] = 0.8
    human[PARAM_INDEX["mixer.noise"]] = 0.0
    for key in ("vco_1.tuning", "vco_2.tuning", "vco_1.mod_depth", "vco_2.mod_depth"):
        human[PARAM_INDEX[key]] = 0.0
    for key, value in (("attack", 0.01), ("decay", 0.1), ("sustain", 0.8), ("release", 0.05), ("alpha", 1.0)):
        human[PARAM_INDEX[f"adsr_1.{key}"]] = value
    for route in range(20):  # adsr_1 → vco_1 amp and vco_2 amp only, so the envelope is the one set above
        human[PARAM_INDEX["mod_matrix.adsr_1->vco_1_pitch"] + route] = 0.0
    human[PARAM_INDEX["mod_matrix.adsr_1->vco_1_amp"]] = 1.0
    human[PARAM_INDEX["mod_matrix.adsr_1->vco_2_amp"]] = 1.0
    from studio.synth import to_normalized

    return np.clip(to_normalized(human), 0.0, 1.0).astype(np.float32)


def as_target(theta: np.ndarray):
    audio = np.asarray(render(theta, SETTINGS))
    return prepare_audio(audio, RATE, RATE, SETTINGS.num_samples, source="known.wav")


@pytest.fixture(scope="module")
def known():
    theta = known_theta()
    return theta, as_target(theta)


@pytest.fixture(scope="module")
def matched(known):
    _, target = known
    reports = list(match_sound(target, settings=SETTINGS, budget=SMALL, restarts=2, seed=5, keep=2))
    return reports


# ---------------------------------------------------------------------------------------------------------------
# The loss


def test_loss_is_zero_for_the_sound_itself_and_ignores_gain(known):
    theta, target = known
    features = target_features(target.audio, RATE)
    audio = np.asarray(render(theta, SETTINGS))
    losses = match_losses(features, np.stack([target.audio, 0.05 * target.audio, audio]), RATE)
    assert losses[0] < 1e-3 and losses[1] < 1e-3  # the target itself, 26 dB quieter: the same sound
    assert losses[2] < 0.02  # the synth's own render (the target was trimmed by at most a frame and normalized)


def test_loss_grows_as_the_sound_moves_away(known):
    theta, target = known
    features = target_features(target.audio, RATE)
    rng = np.random.default_rng(0)
    means = []
    for delta in (0.02, 0.1, 0.3):  # doppelgängers θ + δ·z: further away on average as δ grows
        thetas = np.clip(theta + delta * rng.standard_normal((32, N_PARAMS)), 0, 1).astype(np.float32)
        means.append(float(np.mean(match_losses(features, render(thetas, SETTINGS), RATE))))
    assert means[0] < means[1] < means[2]
    assert 0.3 < means[2] < 2.0  # far sounds read around 1 ("as different as two random sounds")


def test_the_loss_embedding_is_the_perceptual_embedding():
    from studio.audio.embedding import loss_features
    from studio.search.match import N_SEGMENTS

    thetas = np.random.default_rng(3).uniform(0, 1, (16, N_PARAMS)).astype(np.float32)
    audio = render(thetas, SETTINGS)
    ours = np.asarray(loss_features(audio, RATE, N_SEGMENTS)[0])
    reference = np.asarray(perceptual_embedding(audio, RATE))
    # half the frames for speed: the same features up to a small fraction of the median random distance (1.0)
    assert np.median(np.linalg.norm(ours - reference, axis=-1)) < 0.05


def test_spectral_convergence():
    theta = known_theta(1)
    a = np.asarray(render(theta, SETTINGS))
    assert spectral_convergence(a, a) == 0.0
    assert spectral_convergence(a, 0.1 * a) < 1e-5  # gain-invariant, as the loss is
    other = theta.copy()
    other[MIDI_F0] = normalized("keyboard.midi_f0", 66.0)  # 9 semitones up: partials mostly apart
    b = np.asarray(render(other, SETTINGS))
    assert 0.9 < spectral_convergence(a, b) < 1.5  # disjoint spectra of equal energy would give √2
    assert abs(spectral_convergence(a, np.zeros_like(a)) - 1.0) < 1e-6  # nothing matched: ‖S_t‖ / ‖S_t‖


# ---------------------------------------------------------------------------------------------------------------
# Smart start


def test_pitch_and_note_length_are_estimated(known):
    _, target = known
    guess = estimate_start(target.audio, RATE)
    assert abs(guess.midi - 57.0) < 0.2 and abs(guess.f0_hz - 220.0) < 3.0
    assert abs(guess.note_s - 0.3) < 0.08  # note-on 0.3 s, release 50 ms
    assert guess.describe().startswith("pitch A3 (220 Hz), note length 0.")


def test_noise_has_no_pitch():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, RATE // 2).astype(np.float32)
    guess = estimate_start(noise, RATE)
    assert guess.midi is None and guess.describe().startswith("no steady pitch")


# ---------------------------------------------------------------------------------------------------------------
# The search


def test_known_preset_is_matched_much_closer_than_the_initial_population(known, matched):
    theta, target = known
    final = matched[-1]
    assert final.done and not final.cancelled
    objective = MatchObjective(target, SETTINGS)
    initial = match_losses(objective.params, render(np.random.default_rng(9).uniform(
        0, 1, (64, N_PARAMS)).astype(np.float32), SETTINGS), RATE)
    assert final.best_loss < 0.35 * float(np.median(initial))  # vs a typical initial candidate
    assert final.best_loss < 0.6 * final.first_loss  # vs the best of the first generation
    uniform = ScreenStrategy(SMALL.population, lambda seed: np.random.default_rng(seed).uniform(
        0.0, 1.0, N_PARAMS).astype(np.float32))
    random_best = run_to_end(generations(uniform, objective, final.evaluations // SMALL.population + 1, seed=1,
                                         limit=final.evaluations)).best_fitness
    assert final.best_loss < random_best  # and better than random search with as many renders
    # the streamed best only improves
    losses = [r.best_loss for r in matched[:-1]]
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    assert final.evaluations == 8 * SMALL.population + 2 * SMALL.evaluations  # the screen, then two restarts


def test_results_are_distinct_sorted_and_re_render_as_judged(known, matched):
    _, target = known
    results = matched[-1].results
    assert len(results) == 2  # keep=2 of four candidates (the screen's best, two restarts, the polish)
    assert [r.loss for r in results] == sorted(r.loss for r in results)
    embeddings = np.asarray(perceptual_embedding(render(np.stack([r.theta for r in results]), SETTINGS), RATE))
    assert np.linalg.norm(embeddings[0] - embeddings[1]) >= DISTINCT
    preset = to_preset(results[0], target, SETTINGS, budget="small", strategy="learned_es")
    assert preset.name == "match known" and preset.tags == ("match",) and "match of known.wav" in preset.description
    loss = match_losses(target_features(target.audio, RATE), preset_render(preset), RATE)[0]
    assert abs(loss - results[0].loss) < 1e-3  # the saved preset is the sound that was judged


def test_locks_hold(known):
    _, target = known
    guess = estimate_start(target.audio, RATE)
    current = default_theta()
    mask = lock_mask(["mixer"])
    final = run_to_end(match_sound(target, settings=SETTINGS, budget=Budget("small", 16, 6, 0.05, "learned_es"),
                                   restarts=2, seed=1, lock_pitch=True, lock_length=True, locked=mask,
                                   theta=current))
    assert final.results
    for result in final.results:
        assert result.theta[MIDI_F0] == np.float32(normalized("keyboard.midi_f0", guess.midi))
        assert result.theta[NOTE_LENGTH] == np.float32(normalized("keyboard.duration", guess.note_s))
        assert np.array_equal(result.theta[mask], current[mask])  # the studio's locks keep the current sound's
    assert abs(to_human(final.results[0].theta.astype(np.float64))[MIDI_F0] - 57.0) < 0.2


def test_cancel_stops_within_a_generation(known):
    _, target = known
    cancel = threading.Event()
    reports = []
    for report in match_sound(target, settings=SETTINGS, budget=SMALL, restarts=3, seed=2, cancel=cancel):
        reports.append(report)
        if len(reports) == 3:
            cancel.set()
    final = reports[-1]
    assert final.done and final.cancelled
    assert len(reports) == 4 and final.evaluations == 3 * SMALL.population  # three screened batches
    assert final.results and final.best_loss <= reports[2].best_loss


def test_distinct_matches_skip_a_sound_that_repeats_a_better_one(known):
    theta, target = known
    objective = MatchObjective(target, SETTINGS)
    other = np.random.default_rng(4).uniform(0.0, 1.0, N_PARAMS).astype(np.float32)
    same_sound = theta.copy()
    same_sound[PARAM_INDEX["adsr_1.sustain"]] -= np.float32(1e-3)  # a knob nudged: the same sound to the ear
    results = [MatchResult(other, 0.5, 0, 2, 16), MatchResult(same_sound, 0.2, 0, 1, 16),
               MatchResult(theta, 0.1, 0, 0, 16)]
    kept = distinct_matches(results, objective, keep=3)
    # the best first; the nudged copy is within DISTINCT of it, so it is skipped; the unrelated sound is kept
    assert [r.restart for r in kept] == [0, 2]
    assert [r.restart for r in distinct_matches(results, objective, keep=1)] == [0]


def test_sparse_polish_only_improves_moves_few_free_knobs_and_reproduces(known):
    theta, target = known
    objective = MatchObjective(target, SETTINGS)
    start = np.clip(theta + np.random.default_rng(3).normal(0.0, 0.05, N_PARAMS), 0.0, 1.0).astype(np.float32)
    start_loss = float(judge(objective, start[None])[0][0])
    mask = np.zeros(N_PARAMS, bool)
    mask[:40] = True  # the first 40 knobs are locked

    def polish(seed, cancelled=lambda: False):
        strategy = SparsePolish(16, start, start_loss, std=0.07, knobs=4, mask=mask)
        return list(generations(strategy, objective, 12, seed=seed, cancelled=cancelled, best=(start_loss, start)))

    steps = polish(8)
    assert [s.generation for s in steps] == list(range(1, 13))
    losses = [start_loss] + [s.best_fitness for s in steps]
    assert losses == sorted(losses, reverse=True) and losses[-1] < start_loss  # never worse, and it improved
    best_theta, best_loss = steps[-1].best_theta, steps[-1].best_fitness
    # the loss reported is the sound's (to float rounding: a batch of one reduces in another order than a shard)
    assert float(judge(objective, best_theta[None])[0][0]) == pytest.approx(best_loss, rel=1e-5)
    assert np.array_equal(best_theta[mask], start[mask])
    first_move = np.flatnonzero(steps[0].best_theta != start)
    assert first_move.size <= 4  # one generation's winner changes at most `knobs` knobs
    again = polish(8)
    assert all(np.array_equal(a.best_theta, b.best_theta) and a.best_fitness == b.best_fitness
               for a, b in zip(steps, again))
    calls = iter([False, False, True])
    cancelled = polish(8, cancelled=lambda: next(calls))
    assert [s.cancelled for s in cancelled] == [False, False, True]  # stopped before the third generation


def test_a_plan_with_polish_reports_it_and_counts_every_render(known):
    _, target = known
    plan = MatchPlan(SMALL, restarts=1, screen=16, polish=5)
    reports = list(match_sound(target, settings=SETTINGS, budget=plan, seed=3, keep=2))
    polishing = [r for r in reports if r.phase == "polish" and not r.done]
    assert [r.generation for r in polishing] == [1, 2, 3, 4, 5]
    before = [r for r in reports if r.phase == "search" and not r.done][-1]
    assert reports[-1].evaluations == plan.evaluations == 16 + SMALL.evaluations + 5 * 16
    assert reports[-1].best_loss <= before.best_loss


def test_same_seed_same_match(known, matched):
    _, target = known
    again = run_to_end(match_sound(target, settings=SETTINGS, budget=SMALL, restarts=2, seed=5, keep=2))
    assert np.array_equal(again.best_theta, matched[-1].best_theta) and again.best_loss == matched[-1].best_loss


# ---------------------------------------------------------------------------------------------------------------
# Mistakes


def test_pitch_lock_on_an_unpitched_target_says_so():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, SETTINGS.num_samples).astype(np.float32)
    target = prepare_audio(noise, RATE, RATE, SETTINGS.num_samples, source="hiss.wav")
    with pytest.raises(MatchError, match="the target has no steady pitch to lock: untick the pitch lock"):
        match_sound(target, settings=SETTINGS, lock_pitch=True)


def test_bad_requests(known):
    _, target = known
    for kwargs, field, message in [
            (dict(budget="huge"), "budget", "unknown budget 'huge': choose one of quick, standard, paper"),
            (dict(strategy="magic"), "strategy", "unknown strategy 'magic'"),
            (dict(restarts=0), "restarts", r"restarts must be a whole number from 1 to 16, got 0"),
            (dict(seed=2**32), "seed", r"the seed must be a whole number from 0 to 4294967295, got 4294967296"),
            (dict(locked=np.ones(N_PARAMS, bool), theta=default_theta()), "locked", "every parameter is locked")]:
        with pytest.raises(SettingsError, match=message) as error:
            match_sound(target, settings=SETTINGS, **kwargs)
        assert error.value.field == field
    with pytest.raises(MatchError, match=r"does not fit the synth's buffer \(96000 samples at 48000 Hz\)"):
        match_sound(target, settings=RenderSettings(duration=2.0))
