"""Match a sound: search the Voice's knobs for a preset that reproduces a target recording.

Flow Synthesizer (Esling et al. 2020), preset-gen-vae (Le Vaillant et al. 2021) and Neural Proxies (Combes et al.
2025) train networks that infer synth parameters from a sound. The studio instead *searches*: the evolution
strategy proposes θ, the synth renders, and a perceptual loss against the target judges (one compiled program, run
in a shard per CPU core). No training, and any target works: a synth sound, a voice, a noise.

The loss (lower is better, 0 for an identical sound; :func:`match_evaluation`) is gain-invariant: every candidate
is scaled to the target's RMS before it is measured (a recording's level says nothing about the knobs). It adds

- ``embedding``: the studio's perceptual distance (:mod:`studio.audio.embedding`, the winner of the ranking
  test: time-averaged 128-band log-mel + cumulative mel spectrum + level/brightness/noisiness). 1.0 = the median
  distance between two random Voice sounds.
- ``frames``: the log-mel spectrogram averaged over ``N_SEGMENTS`` equal stretches of time, so *when* the sound
  has which spectrum counts too (a pitch sweep and its reverse average alike). RMS dB difference, in units of
  its median between random sounds.
- ``envelope``: the 10 ms level envelope (dBFS, floored at −80 dB): attack, decay, note length, release.
  RMS dB difference, in units of its median between random sounds.
- optionally ``clap``: 1 − the cosine similarity of LAION-CLAP audio embeddings, when CLAP weights are at hand
  (judged on the host between the compiled render and strategy steps, so much slower).

The smart start (:func:`estimate_start`) reads the target's fundamental (YIN) and note length (from its level
envelope) and sets ``keyboard.midi_f0`` and ``keyboard.duration`` from them, either as the search's starting
point or locked. The match is three phases of the engine's one loop (:mod:`studio.search.engine`): a screen of
seeded random sounds picks where the restarts begin; each restart is a Learned ES run; then a sparse (1+λ) strategy
polishes the best sound so far, a few knobs at a time. The best few *distinct* matches are kept.

Learned starts (:func:`learned_starts`, on by default when the learned models of :mod:`studio.learn` are present
for the render settings): the screen's candidates are instead the inverse model's one-shot guess (as is, and with
the measured pitch and note length), then the ones the neural proxy places closest to the target among a cloud
around both guesses and as many seeded random sounds. Only those are rendered, so the match spends the same
renders; without the models (or with ``learned="off"``) the match is exactly the one above, and says why.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.embedding import loss_features
from studio.audio.features import power_spectrogram
from studio.audio.target import Target
from studio.checks import check_choice, check_whole, hz_to_midi, note_name
from studio.errors import StudioError
from studio.synth import N_PARAMS, PARAM_INDEX, RenderSettings, render, to_human, to_normalized

from .engine import (BUDGET_NAMES, MAX_RESTARTS, STRATEGY_LABELS, Budget, CandidateList, EvosaxStrategy, Evaluation,
                     ScreenStrategy, SparsePolish, cancel_check, check_search_request, free_and_base, generations,
                     run_seed)

N_SEGMENTS = 8  # time stretches of the ``frames`` term: 250 ms each for a 2 s sound
FRAMES_RANGE_DB = 60.0  # spectral detail more than 60 dB under the target's loudest band is not compared
ENVELOPE_RANGE_DB = 50.0  # level more than 50 dB under the target's loudest moment is silence to the loss
MIN_RMS = 1e-4  # −80 dBFS: quieter candidates are not amplified further (they are silence, and score so)
# Medians of each term's raw distance between two random audible Voice sounds (48 kHz, 2 s; 256 uniform θ peaking
# above −40 dBFS, seed 2025, both scaled to the same RMS; ``bench/match_quality.py --calibrate``): each term reads
# 1.0 for "as different as two random sounds".
FRAMES_SCALE = 16.9
ENVELOPE_SCALE = 10.7
MIDI_F0 = PARAM_INDEX["keyboard.midi_f0"]
NOTE_LENGTH = PARAM_INDEX["keyboard.duration"]
TUNINGS = (PARAM_INDEX["vco_1.tuning"], PARAM_INDEX["vco_2.tuning"])


class MatchError(StudioError):
    """A match that cannot be run as asked (a lock without a pitch, a target that does not fit…): ``str()`` says
    why, ``field`` names the setting at fault where there is one."""


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (see the module docstring); each term is ~1.0 for two random sounds, and the loss
    is their weighted mean, so it reads ~1.0 for two random sounds too (``clap`` is added on top)."""

    embedding: float = 1.0
    frames: float = 1.0
    envelope: float = 0.5
    clap: float = 0.0

    def as_array(self) -> np.ndarray:
        """The three compiled terms' weights ``[3]``, divided by their sum."""
        weights = np.array([self.embedding, self.frames, self.envelope], np.float64)
        if not (np.all(np.isfinite(weights)) and np.all(weights >= 0) and weights.sum() > 0):
            raise MatchError(f"loss weights must be ≥ 0 with a positive sum, got {weights.tolist()}", "weights")
        return (weights / weights.sum()).astype(np.float32)


DEFAULT_WEIGHTS = LossWeights()


# ----------------------------------------------------------------------------------------------
# The loss: target features are arguments (a new target does not recompile)
# ----------------------------------------------------------------------------------------------
class TargetFeatures(NamedTuple):
    """What the loss compares against (a pytree of arrays): the target's features at the same gain scaling."""

    rms: jnp.ndarray  # [] the target's RMS (linear): candidates are scaled to it
    embedding: jnp.ndarray  # [259] perceptual embedding
    frames: jnp.ndarray  # [N_SEGMENTS, 128] segment-averaged log-mel, dBFS
    envelope: jnp.ndarray  # [N] 10 ms level envelope, dBFS
    weights: jnp.ndarray  # [3] embedding, frames, envelope
    frames_floor: jnp.ndarray  # [] dBFS: the target's loudest segment band − FRAMES_RANGE_DB
    envelope_floor: jnp.ndarray  # [] dBFS: the target's loudest envelope step − ENVELOPE_RANGE_DB


def _rms(audio):
    return jnp.sqrt(jnp.mean(audio ** 2, axis=-1))


def scaled_to(audio, rms):
    """Audio ``[B, T]`` scaled so each sound's RMS is ``rms`` (sounds under ``MIN_RMS`` are raised only as far as
    ``MIN_RMS`` would be)."""
    return audio * (rms / jnp.maximum(_rms(audio), MIN_RMS))[:, None]


def term_distances(target: TargetFeatures, embedding, frames, envelope):
    """Candidates' features (as :func:`~studio.audio.embedding.loss_features` gives them, ``[B, …]``) → the three
    raw distances ``[B, 3]``: embedding (Euclidean), frames and envelope (RMS dB difference). Levels under the
    target's floors count as the floor in both sounds: what is inaudible beside the target's loudest moment makes
    no difference."""
    floored = lambda x, floor: jnp.maximum(x, floor)  # noqa: E731
    d_embedding = jnp.sqrt(jnp.sum((embedding - target.embedding) ** 2, axis=-1))
    d_frames = jnp.sqrt(jnp.mean((floored(frames, target.frames_floor)
                                  - floored(target.frames, target.frames_floor)) ** 2, axis=(-2, -1)))
    d_envelope = jnp.sqrt(jnp.mean((floored(envelope, target.envelope_floor)
                                    - floored(target.envelope, target.envelope_floor)) ** 2, axis=-1))
    return jnp.stack([d_embedding, d_frames, d_envelope], axis=-1)


def loss_terms(target: TargetFeatures, audio, sample_rate: int):
    """The three loss terms of each candidate: ``[B, T]`` → ``[B, 3]`` (embedding, frames, envelope), each in units
    of its median between random sounds. Traceable."""
    distances = term_distances(target, *loss_features(scaled_to(audio, target.rms), sample_rate, N_SEGMENTS))
    return distances / jnp.array([1.0, FRAMES_SCALE, ENVELOPE_SCALE])


def match_evaluation(target: TargetFeatures, audio, sample_rate: int):
    """The search's evaluation: (target features, audio ``[B, T]``) → (fitness = loss, score = exp(−loss),
    penalty = 0), each ``[B]``. A module-level function, so the compiled search step is cached across targets."""
    loss = loss_terms(target, audio, sample_rate) @ target.weights
    loss = jnp.where(jnp.isfinite(loss), loss, jnp.inf)
    return loss, jnp.exp(-loss), jnp.zeros_like(loss)


@partial(jax.jit, static_argnums=1)
def _target_features(audio, sample_rate: int):
    embedding, frames, envelope = loss_features(audio, sample_rate, N_SEGMENTS)
    return _rms(audio), embedding, frames, envelope


def target_features(audio, sample_rate: int, weights: LossWeights = DEFAULT_WEIGHTS) -> TargetFeatures:
    """The loss's view of a target: audio ``[T]`` float32 at ``sample_rate`` Hz (the synth's buffer length)."""
    arr = jnp.asarray(np.asarray(audio, np.float32)[None])
    rms, embedding, frames, envelope = _target_features(arr, int(sample_rate))
    if not float(rms[0]) > 0.0:
        raise MatchError("the target is silent: nothing to match")
    return TargetFeatures(rms[0], embedding[0], frames[0], envelope[0], jnp.asarray(weights.as_array()),
                          jnp.max(frames[0]) - FRAMES_RANGE_DB, jnp.max(envelope[0]) - ENVELOPE_RANGE_DB)


@lru_cache(maxsize=8)
def _jitted_terms(sample_rate: int):
    return jax.jit(lambda target, audio: loss_terms(target, audio, sample_rate))


def match_losses(target: TargetFeatures, audio, sample_rate: int) -> np.ndarray:
    """Loss of each sound of ``audio [B, T]`` (or ``[T]``) against the target → ``[B]`` float (numpy)."""
    arr = jnp.asarray(np.atleast_2d(np.asarray(audio, np.float32)))
    return np.asarray(_jitted_terms(int(sample_rate))(target, arr) @ target.weights)


def spectral_convergence(target, match, n_fft: int = 2048, hop: int = 512) -> float:
    """Flow Synthesizer's measure: ``‖S_t − S_m‖_F / ‖S_t‖_F`` on linear STFT magnitudes (Hann, ``n_fft``,
    ``hop``) of two sounds ``[T]``; the match is first scaled to the target's RMS (the loss is gain-invariant).
    0 is a perfect match; Esling et al.'s best on a 16-parameter synth was 0.752."""

    t = np.asarray(target, np.float32)
    m = np.asarray(match, np.float32)
    m = m * (np.sqrt(np.mean(t ** 2)) / max(float(np.sqrt(np.mean(m ** 2))), MIN_RMS))
    s_t, s_m = (np.sqrt(np.asarray(power_spectrogram(jnp.asarray(x[None]), n_fft, hop))[0]) for x in (t, m))
    return float(np.linalg.norm(s_t - s_m) / max(float(np.linalg.norm(s_t)), 1e-12))


# ----------------------------------------------------------------------------------------------
# The objective handed to studio.search
# ----------------------------------------------------------------------------------------------
class MatchObjective:
    """What a match search minimizes: the loss against one target (see :func:`match_evaluation`).

    Without CLAP it is compiled into the search's judging program (``jittable``; ``params`` are the target's features,
    ``evaluation`` the traceable loss). With a CLAP scorer (``clap``: a loaded
    :class:`~studio.scoring.clap.ClapScorer` and ``weights.clap`` > 0) the host adds ``weights.clap · (1 − cos)``
    between CLAP audio embeddings of each candidate and the target.
    """

    perfect_fitness = None  # a loss of 0 needs the identical sound: never stop early on it

    def __init__(self, target: Target, settings: RenderSettings, weights: LossWeights = DEFAULT_WEIGHTS, clap=None):
        if target.sample_rate != settings.sample_rate or target.audio.size != settings.num_samples:
            raise MatchError(f"the target ({target.audio.size} samples at {target.sample_rate} Hz) does not fit the "
                             f"synth's buffer ({settings.num_samples} samples at {settings.sample_rate} Hz): prepare "
                             f"it with the same settings")
        self.target = target
        self.settings = settings
        self.weights = weights
        self.params = target_features(target.audio, settings.sample_rate, weights)
        self.clap = clap if (clap is not None and weights.clap > 0) else None
        self.evaluation = match_evaluation if self.clap is None else None  # CLAP judges on the host
        self._clap_target = None if self.clap is None else self.clap.embed(target.audio[None], settings.sample_rate)[0]

    def evaluate(self, audio) -> Evaluation:
        """Judge audio ``[B, T]`` on the host: (fitness, score, penalty) as an Evaluation, CLAP included."""
        loss = match_losses(self.params, audio, self.settings.sample_rate)
        if self.clap is not None:
            cosine = self.clap.embed(audio, self.settings.sample_rate) @ self._clap_target  # DLPack on a GPU
            loss = loss + self.weights.clap * (1.0 - cosine)
        loss = jnp.asarray(np.where(np.isfinite(loss), loss, np.inf), jnp.float32)
        return Evaluation(loss, jnp.exp(-loss), jnp.zeros_like(loss))


# ----------------------------------------------------------------------------------------------
# Smart start: pitch and note length from the target
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartGuess:
    """What the target suggests: MIDI note (float, None when no steady pitch), its Hz, and note length (s)."""

    midi: float | None
    f0_hz: float | None
    note_s: float

    def describe(self) -> str:
        if self.midi is None:
            return f"no steady pitch, note length {self.note_s:.2f} s"
        pitch = f"pitch {note_name(self.midi, cents=True)} ({self.f0_hz:.0f} Hz)"
        return f"{pitch}, note length {self.note_s:.2f} s"


NOTE_OFF_BELOW_PEAK_DB = 10.0  # the note is taken to end where the level last is within 10 dB of its peak


def estimate_start(audio, sample_rate: int) -> StartGuess:
    """The target's fundamental (YIN median over periodic audible frames, 40 Hz–4 kHz) as a MIDI note, and its
    note length: from the start to the end of the last 10 ms frame within 10 dB of the loudest one, clipped to the
    knob's range (0.01–4 s). A sustained sound's level holds until its release, so this lands near note-off; a
    pluck that decays while the key is held reads shorter, which sounds the same."""
    from studio.audio.features import sound_features
    from studio.audio.target import frame_levels_db

    arr = np.asarray(audio, np.float32)
    f0 = float(sound_features(arr[None], int(sample_rate)).f0_hz[0])
    midi = hz_to_midi(f0) if math.isfinite(f0) and f0 > 0 else None
    levels = frame_levels_db(arr, int(sample_rate))
    last = int(np.flatnonzero(levels >= levels.max() - NOTE_OFF_BELOW_PEAK_DB)[-1])
    note_s = float(np.clip((last + 1) * 0.010, 0.01, 4.0))
    return StartGuess(midi if midi is None else float(np.clip(midi, 0.0, 127.0)),
                      f0 if midi is not None else None, note_s)


def normalized(key: str, human_value: float) -> float:
    """One knob's human value → its normalized value in [0, 1]."""
    human = to_human(np.full(N_PARAMS, 0.5))
    human[PARAM_INDEX[key]] = human_value
    return float(np.clip(to_normalized(human)[PARAM_INDEX[key]], 0.0, 1.0))


def start_theta(guess: StartGuess, seed: int, base: np.ndarray | None = None,
                locked: np.ndarray | None = None) -> np.ndarray:
    """Where restart ``seed`` begins: θ ``[78]`` uniform from ``seed`` (numpy's PCG64), then pitch and note length
    from the guess and both oscillators' tuning at 0 semitones (so the note sounds at the guessed pitch); locked
    parameters take ``base``'s values."""
    theta = np.random.default_rng(seed).uniform(0.0, 1.0, N_PARAMS).astype(np.float32)
    if guess.midi is not None:
        theta[MIDI_F0] = normalized("keyboard.midi_f0", guess.midi)
        for index in TUNINGS:
            theta[index] = 0.5  # tuning is symmetric around 0 semitones
    theta[NOTE_LENGTH] = normalized("keyboard.duration", guess.note_s)
    if locked is not None and locked.any():
        theta[locked] = np.asarray(base, np.float32)[locked]
    return theta


# ----------------------------------------------------------------------------------------------
# The search
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchPlan:
    """How much searching: ``screen`` seeded random candidates first (a random search over the whole space), then
    ``restarts`` evolution-strategy runs of ``budget`` (per restart), each started from one of the best screened
    candidates, then ``polish`` generations of :class:`~studio.search.engine.SparsePolish` from the best sound so
    far (a population of ``budget.population``, each candidate changing 1 to ``polish_knobs`` knobs, initial spread
    ``polish_std``). ``evaluations`` counts every render."""

    budget: Budget
    restarts: int
    screen: int
    polish: int = 0
    polish_std: float = 0.07
    polish_knobs: int = 4

    @property
    def evaluations(self) -> int:
        return self.screen + self.restarts * self.budget.evaluations + self.polish * self.budget.population


# Sized for a 2-core CPU (one render + loss ≈ 0.5 ms for 1 s of sound, 1 ms for 2 s): quick = 3,712 renders.
# Tuned on random-preset targets from seed 7 (bench/match_quality.py measures on seed 2026), as median loss ÷
# random search's at equal renders: from random starts (3 × 32 × 40, spread 0.2) Learned ES 0.69, SNES 0.76,
# CMA-ES 0.79; screening 256 random candidates for the starts helped all (spread 0.08: SNES 0.60, Learned ES 0.64,
# CMA-ES 0.66, within the noise of six targets); with Learned ES a population of 16 over more generations (0.50)
# beat 8 (0.60) and 32 (0.57); a spread of 0.05 beat 0.03, 0.08 and 0.15 (a screened start is already near a good
# sound); spending half the restarts' renders on polishing the best with a spread of 0.03 gave 0.42.
# Then, on 24 targets, as mean loss ÷ random search's mean: polishing with Learned ES (spread 0.03) 0.463; with
# the sparse (1+λ) strategy changing 1–4 knobs per candidate (spread 0.07) 0.404, 1–8 knobs (0.05) 0.414, 1–3
# (0.1) 0.412, every knob (0.03) 0.450: changing a few knobs at a time is what helps, not the strategy. With
# the sparse polish, 2 restarts (0.431) or none (0.470) did worse than 3; 3 half-length restarts tied (0.404).
MATCH_PLANS: dict[str, MatchPlan] = {
    "quick": MatchPlan(Budget("quick", 16, 36, 0.05, "learned_es"), 3, 256, 108),
    "standard": MatchPlan(Budget("standard", 16, 120, 0.05, "learned_es"), 4, 1024, 360),
    "paper": MatchPlan(Budget("paper", 32, 200, 0.05, "learned_es"), 4, 2048, 400),
}
CLAP_PLANS: dict[str, MatchPlan] = {  # CLAP costs ~0.15 s per candidate on a CPU
    "quick": MatchPlan(Budget("quick", 8, 8, 0.05, "learned_es"), 1, 32),
    "standard": MatchPlan(Budget("standard", 16, 20, 0.05, "learned_es"), 2, 64),
    "paper": MatchPlan(Budget("paper", 32, 100, 0.05, "learned_es"), 4, 512),
}
KEEP = 3  # distinct matches returned
DISTINCT = 0.05  # matches closer than this (perceptual distance) to a better one count as the same sound


def match_plan(name: str | Budget | MatchPlan, with_clap: bool = False, restarts: int | None = None) -> MatchPlan:
    """The plan for a name (quick, standard, paper), a :class:`MatchPlan`, or a per-restart :class:`Budget`
    (3 restarts, 8 generations' worth of screening); ``restarts`` overrides the plan's."""
    if isinstance(name, MatchPlan):
        plan = name
    elif isinstance(name, Budget):
        plan = MatchPlan(name, 3, 8 * name.population)
    else:
        plan = (CLAP_PLANS if with_clap else MATCH_PLANS)[check_choice(name, BUDGET_NAMES, "budget")]
    if restarts is not None:
        plan = dataclasses.replace(plan, restarts=check_whole(restarts, 1, MAX_RESTARTS, "restarts"))
    return dataclasses.replace(plan, screen=max(plan.screen, plan.restarts))  # one screened start per restart


@dataclass(frozen=True)
class MatchResult:
    """One distinct match: θ ``[78]`` and its loss (lower better), from restart ``restart`` (seed ``seed``; restart
    −1: the best screened candidate)."""

    theta: np.ndarray
    loss: float
    seed: int
    restart: int
    evaluations: int


@dataclass(frozen=True)
class MatchProgress:
    """A report of a running match (after every screened batch and every generation, and a last one, ``done``).

    ``phase``: "screen" (random candidates), "search" (restart ``restart`` of ``restarts``, ``generation`` of
    ``generations``) or "polish" (the last run, from the best so far). ``best_*``: the best sound so far.
    ``evaluations``: renders so far, of ``total_evaluations``.
    ``results``: the best distinct matches, best first (in the last report; before, the finished restarts').
    ``first_loss``: the best loss of the first batch of random candidates (how far the search came).
    """

    phase: str
    restart: int
    restarts: int
    generation: int
    generations: int
    evaluations: int
    total_evaluations: int
    best_loss: float
    best_theta: np.ndarray
    elapsed_s: float
    guess: StartGuess
    best_restart: int = 0  # the restart that found best_theta (0 while screening)
    done: bool = False
    cancelled: bool = False
    results: tuple[MatchResult, ...] = field(default=())
    first_loss: float = float("nan")
    learned: str = ""  # whether the learned models chose the screened candidates, and why (not), in a sentence


def resolve_learned(learned, settings: RenderSettings):
    """(the learned models to start from, or None; a sentence saying which and why). ``learned``: "auto" (the
    shipped models when present and made for ``settings``), "off"/None/False, or a loaded
    :class:`~studio.learn.models.LearnedModels` (its settings must be ``settings``)."""
    if learned is None or learned is False or learned == "off":
        return None, "learned starts off (asked): starting from random sounds"
    if isinstance(learned, str):
        if learned != "auto":
            raise MatchError(f"learned must be 'auto' or 'off', got {learned!r}", "learned")
        try:
            from studio.learn.models import learned_models
        except ImportError as err:  # flax or optax missing: the studio matches without them
            return None, (f"learned starts off: the learned models need flax and optax ({err}); starting from "
                          "random sounds")
        return learned_models(settings)
    if getattr(learned, "settings", None) != settings:
        raise MatchError(f"the learned models were made for {getattr(learned, 'settings', None)}, not for the "
                         f"match's settings {settings}", "learned")
    return learned, learned.describe()


LEARNED_FIRST_PER_SPREAD = 32  # cloud candidates per spread and guess the proxy screens for the first generation


def learned_starts(models, target_audio, guess: StartGuess, base: np.ndarray, mask: np.ndarray, seed: int,
                   count: int, first: int) -> tuple[np.ndarray, Callable[[], np.ndarray]]:
    """The screen's candidates from the learned models, in two parts: (the first ``first`` θ ``[first, 78]``, a
    function giving the other ``count − first`` ``[count − first, 78]``).

    The candidates: the inverse model's guess, the guess with the measured pitch (tunings at 0) and note length,
    then those the proxy places closest to the target among a pool: a cloud around both guesses
    (:func:`~studio.learn.models.cloud_around`, seeds ``seed`` and ``seed + 1``) and ``UNIFORM_CANDIDATES``
    uniform random sounds (PCG64 seeded ``seed``, with the guessed pitch and note length, as :func:`start_theta`
    draws them). The first part's picks come from ``LEARNED_FIRST_PER_SPREAD`` of each cloud's spreads only, so the
    first generation is judged ~20 ms after the target is read; the rest, chosen when they are asked for, begin with
    the proxy's ``REFINED`` best of everything (guesses and pool) moved down the gradient of the proxy distance
    (:func:`~studio.learn.models.refined_by_proxy`), then the proxy's best of the pool (those already picked
    excepted). Locked knobs keep ``base``'s values."""
    from studio.learn.models import (CLOUD_PER_SPREAD, CLOUD_SPREADS, REFINED, UNIFORM_CANDIDATES, cloud_around,
                                     proxy_distances, refined_by_proxy)

    target_embedding, as_heard = models.read(target_audio)  # one measurement of the target for both
    measured = as_heard.copy()
    uniform = np.random.default_rng(seed).uniform(0.0, 1.0, (UNIFORM_CANDIDATES, N_PARAMS)).astype(np.float32)
    for theta in (measured, uniform):
        if guess.midi is not None:
            theta[..., MIDI_F0] = normalized("keyboard.midi_f0", guess.midi)
            theta[..., list(TUNINGS)] = 0.5
        theta[..., NOTE_LENGTH] = normalized("keyboard.duration", guess.note_s)
    guesses = np.stack([as_heard, measured])
    guesses[:, mask] = base[mask]
    uniform[:, mask] = base[mask]
    pool = np.concatenate([cloud_around(guesses[0], seed, locked=mask), cloud_around(guesses[1], seed + 1,
                                                                                    locked=mask), uniform])
    # the first rows of every spread of both clouds
    blocks = np.arange(2 * len(CLOUD_SPREADS))[:, None] * CLOUD_PER_SPREAD
    early = (blocks + np.arange(min(LEARNED_FIRST_PER_SPREAD, CLOUD_PER_SPREAD))[None]).reshape(-1)
    n_first = max(min(first, count) - len(guesses), 0)
    early_order = np.argsort(proxy_distances(models, target_embedding, pool[early]), kind="stable")
    picked_first = early[early_order[:n_first]]

    def rest() -> np.ndarray:
        wanted = max(count - len(guesses) - len(picked_first), 0)
        candidates = np.concatenate([guesses, pool])
        everything = np.argsort(proxy_distances(models, target_embedding, candidates), kind="stable")
        best = candidates[everything[:min(REFINED, wanted)]]
        refined = refined_by_proxy(models, target_embedding, best, locked=mask) if len(best) else best
        order = everything[everything >= len(guesses)] - len(guesses)  # the pool's own order
        order = order[~np.isin(order, picked_first)]
        return np.concatenate([refined, pool[order]])[:wanted]

    return np.concatenate([guesses, pool[picked_first]])[:count].astype(np.float32), rest


def match_sound(target: Target, *, settings: RenderSettings | None = None, budget: str | Budget | MatchPlan = "quick",
                strategy: str | None = None, seed: int = 0, restarts: int | None = None, lock_pitch: bool = False,
                lock_length: bool = False, locked=None, theta=None, keep: int = KEEP,
                weights: LossWeights = DEFAULT_WEIGHTS, clap=None,
                cancel: threading.Event | Callable[[], bool] | None = None,
                guess: StartGuess | None = None, learned="auto") -> Iterator[MatchProgress]:
    """Search for presets that sound like ``target``; yields :class:`MatchProgress` as it goes, then a final
    report (``done``) whose ``results`` are the best ``keep`` distinct matches.

    settings: the synth's render settings (default: the target's rate and length, CTAG's control rate, noise seed
    0); the target must fit them. budget: quick, standard, paper, a :class:`MatchPlan` or a per-restart
    :class:`Budget`. restarts: default the plan's. The screen draws candidates with :func:`start_theta` from seeds
    ``seed``, ``seed + 1``, …; restart r runs the strategy with seed ``seed + r`` from the r-th best of them.
    lock_pitch / lock_length: hold ``keyboard.midi_f0`` / ``keyboard.duration`` at the estimates (a pitch lock needs
    a pitched target). locked ``[78]`` bool and theta ``[78]``: further parameters held at ``theta``'s values (the
    studio's lock groups on the current sound). cancel: an Event or callable, checked every batch/generation.
    learned: "auto" (default: the learned starts of :func:`learned_starts` when the models for ``settings`` are
    present), "off", or loaded :class:`~studio.learn.models.LearnedModels`; every report's ``learned`` says which.
    Raises :class:`MatchError` for a request that cannot run; nothing runs until the first report is asked for.
    """
    settings = settings or RenderSettings(sample_rate=target.sample_rate, duration=target.duration)
    objective = MatchObjective(target, settings, weights, clap)
    plan = match_plan(budget, objective.clap is not None, restarts)
    strategy, seed, _ = check_search_request(strategy or plan.budget.strategy, seed, plan.restarts)
    guess = guess or estimate_start(target.audio, target.sample_rate)
    mask = np.zeros(N_PARAMS, bool) if locked is None else np.asarray(locked, bool).copy()
    base = np.asarray(theta if theta is not None else np.full(N_PARAMS, 0.5), np.float32).reshape(-1).copy()
    if lock_pitch:
        if guess.midi is None:
            raise MatchError("the target has no steady pitch to lock: untick the pitch lock (the search will find "
                             "a pitch itself)", "lock_pitch")
        base[MIDI_F0], mask[MIDI_F0] = normalized("keyboard.midi_f0", guess.midi), True
    if lock_length:
        base[NOTE_LENGTH], mask[NOTE_LENGTH] = normalized("keyboard.duration", guess.note_s), True
    free_and_base(mask, base)  # the lock mask and θ checked as every search checks them
    models, learned_note = resolve_learned(learned, settings)
    return _match_loop(objective, plan, strategy, seed, mask, base, guess, int(keep), cancel_check(cancel), models,
                       learned_note)


def _match_loop(objective: MatchObjective, plan: MatchPlan, strategy: str, seed: int, mask: np.ndarray,
                base: np.ndarray, guess: StartGuess, keep: int, cancelled: Callable[[], bool], models=None,
                learned_note: str = "") -> Iterator[MatchProgress]:
    started = time.perf_counter()
    budget, n_restarts = plan.budget, plan.restarts
    best_loss, best_theta, best_restart, first_loss = math.inf, base.copy(), 0, math.nan
    evaluations, stopped = 0, False
    report = partial(MatchProgress, restarts=n_restarts, generations=budget.generations,
                     total_evaluations=plan.evaluations, guess=guess, learned=learned_note)

    # 1. Screen: a random search over the whole space finds where each restart begins (or, with the learned
    # models, the inverse model's guesses and the candidates the proxy picked).
    if models is not None:
        screen = CandidateList(budget.population, *learned_starts(models, objective.target.audio, guess, base, mask,
                                                                  seed, plan.screen, budget.population))
    else:
        screen = ScreenStrategy(budget.population, partial(start_theta, guess, base=base, locked=mask))
    screened_thetas, screened_losses = [], []
    for step in generations(screen, objective, -(-plan.screen // budget.population), seed=seed, cancelled=cancelled,
                            limit=plan.screen):
        if step.cancelled:
            stopped = True
            break
        screened_thetas.append(step.thetas)
        screened_losses.append(np.where(np.isfinite(step.fitness), step.fitness, np.inf))
        evaluations = step.evaluations
        if math.isnan(first_loss):
            first_loss = float(np.min(screened_losses[0]))
        if step.best_fitness < best_loss:
            best_loss, best_theta = step.best_fitness, step.best_theta
        yield report(phase="screen", restart=0, generation=step.generation, evaluations=evaluations,
                     best_loss=best_loss, best_theta=best_theta, elapsed_s=time.perf_counter() - started,
                     first_loss=first_loss)
    finished: list[MatchResult] = []
    starts = []
    if screened_losses:
        all_thetas, all_losses = np.concatenate(screened_thetas), np.concatenate(screened_losses)
        order = np.argsort(all_losses, kind="stable")
        # the screen's best is a result too (restart −1), so the match is never worse than random search's
        finished.append(MatchResult(all_thetas[order[0]], float(all_losses[order[0]]), seed, -1, evaluations))
        starts = [all_thetas[i] for i in order[:n_restarts]]

    # 2. Restarts: the evolution strategy refines each start.
    done_evaluations, free = evaluations, np.flatnonzero(~mask)
    for restart, theta0 in enumerate(starts if not stopped else []):
        seed_r, step = run_seed(seed, restart), None
        es = EvosaxStrategy(strategy, budget.population, free, theta0, budget.std_init, start="theta")
        for step in generations(es, objective, budget.generations, seed=seed_r, cancelled=cancelled):
            if step.cancelled:
                break
            if step.best_fitness < best_loss:
                best_loss, best_theta, best_restart = step.best_fitness, step.best_theta, restart
            yield report(phase="search", restart=restart, generation=step.generation,
                         evaluations=done_evaluations + step.evaluations, best_loss=best_loss, best_theta=best_theta,
                         elapsed_s=time.perf_counter() - started, best_restart=best_restart,
                         results=tuple(finished), first_loss=first_loss)
        if step is not None and step.generation:
            finished.append(MatchResult(step.best_theta, step.best_fitness, seed_r, restart, step.evaluations))
            done_evaluations += step.evaluations
        if step is None or step.cancelled:
            stopped = True
            break

    # 3. Polish: a few knobs at a time from the best sound so far.
    if plan.polish and finished and not stopped:
        polish_seed, population, generation = run_seed(seed, n_restarts), budget.population, 0
        polish = SparsePolish(population, best_theta, best_loss, plan.polish_std, plan.polish_knobs, mask)
        polished_theta, polished_loss = best_theta, best_loss
        for step in generations(polish, objective, plan.polish, seed=polish_seed, cancelled=cancelled,
                                best=(best_loss, best_theta)):
            if step.cancelled:
                break
            generation, polished_theta, polished_loss = step.generation, step.best_theta, step.best_fitness
            if polished_loss < best_loss:
                best_loss, best_theta = polished_loss, polished_theta
            yield report(phase="polish", restart=best_restart, generation=generation, generations=plan.polish,
                         evaluations=done_evaluations + generation * population, best_loss=best_loss,
                         best_theta=best_theta, elapsed_s=time.perf_counter() - started, best_restart=best_restart,
                         results=tuple(finished), first_loss=first_loss)
        if generation:
            finished.append(MatchResult(polished_theta, polished_loss, polish_seed, best_restart,
                                        generation * population))
            done_evaluations += generation * population
        stopped = generation < plan.polish
    results = distinct_matches(finished, objective, keep)
    top = results[0] if results else None
    yield report(phase="search", restart=top.restart if top else 0, generation=budget.generations,
                 evaluations=done_evaluations, best_loss=top.loss if top else math.inf,
                 best_theta=top.theta if top else base.copy(), elapsed_s=time.perf_counter() - started,
                 best_restart=top.restart if top else 0, done=True, cancelled=stopped, results=tuple(results),
                 first_loss=first_loss)


def distinct_matches(results: list[MatchResult], objective: MatchObjective, keep: int) -> list[MatchResult]:
    """The best ``keep`` results, skipping any within ``DISTINCT`` perceptual distance of a better one kept."""
    from studio.audio.embedding import perceptual_embedding

    ordered = sorted(results, key=lambda r: r.loss)
    if not ordered:
        return []
    audio = render(np.stack([r.theta for r in ordered]), objective.settings)
    embeddings = np.asarray(perceptual_embedding(audio, objective.settings.sample_rate))
    kept: list[int] = []
    for i in range(len(ordered)):
        if all(np.linalg.norm(embeddings[i] - embeddings[j]) >= DISTINCT for j in kept):
            kept.append(i)
        if len(kept) == keep:
            break
    return [ordered[i] for i in kept]


def to_preset(result: MatchResult, target: Target, settings: RenderSettings, *, budget: str, strategy: str,
              name: str | None = None):
    """A match as a :class:`~studio.presets.Preset` (tags ``match``), describing the target and the loss."""
    from studio.presets import Preset, utc_timestamp

    stem = target.source.rsplit(".", 1)[0] if "." in target.source else target.source
    description = (f"match of {target.source}: loss {result.loss:.3f} after {result.evaluations} renders "
                   f"({STRATEGY_LABELS.get(strategy, strategy)}, {budget} budget, seed {result.seed})")
    return Preset(name=name or f"match {stem}", theta=result.theta, settings=settings, tags=("match",),
                  created=utc_timestamp(), description=description)


__all__ = ["CLAP_PLANS", "DEFAULT_WEIGHTS", "distinct_matches", "estimate_start", "KEEP", "loss_terms",
           "learned_starts", "LossWeights", "match_evaluation", "match_losses", "match_plan", "MATCH_PLANS",
           "match_sound", "resolve_learned",
           "MatchError", "MatchObjective", "MatchPlan", "MatchProgress", "MatchResult", "spectral_convergence",
           "start_theta", "StartGuess", "target_features", "TargetFeatures", "term_distances", "to_preset"]
