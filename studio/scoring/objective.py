"""A prompt search's objective: a scorer, a prompt and optional constraints folded into one fitness (lower better).

``fitness = −max(score, floor) + penalty``: CTAG's fitness is the negated cosine similarity with similarities
below 0 counted as 0 (the CLAP scorer's ``score_floor``); the descriptor scorer has no floor. ``penalty`` is
the weighted sum of constraint violations (:mod:`studio.scoring.constraints`), 0 when every constraint holds.
With the descriptor scorer, a constraint replaces the prompt's own targets on the same descriptor.

With the descriptor scorer the whole objective is a pure JAX function of (terms, audio), so a search can
compile render → profile → fitness → strategy update into one program; its targets are arguments, so a new
prompt reuses the compiled program. The CLAP objective runs torch on the host side of each generation.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.sound_profile import DESCRIPTOR_INDEX, profiler
from studio.synth import RenderSettings

from .base import Scorer, Terms, check_prompt, total_violation
from .constraints import Constraints
from .descriptors import DescriptorScorer, descriptor_scores


@dataclass(frozen=True)
class Evaluation:
    """A batch judged: fitness (lower better), the scorer's score and the constraint penalty, each ``[B]``."""

    fitness: jnp.ndarray
    score: jnp.ndarray
    penalty: jnp.ndarray


def combine(score, penalty, floor: float | None):
    """Fitness ``[B]`` = −max(score, floor) + penalty (``floor`` None: no flooring)."""
    return -(score if floor is None else jnp.maximum(score, floor)) + penalty


def descriptor_evaluation(terms: tuple[Terms, Terms], audio, sample_rate: int):
    """(prompt terms, constraint terms), audio ``[B, T]`` → (fitness, score, penalty) ``[B]`` each. Traceable."""
    prompt_terms, constraint_terms = terms
    profile = profiler(sample_rate, audio.shape[-1])(audio)
    score = descriptor_scores(profile, prompt_terms)
    penalty = total_violation(profile, constraint_terms)
    return combine(score, penalty, None), score, penalty


@lru_cache(maxsize=16)
def _penalty_fn(sample_rate: int, num_samples: int):
    profile_of = profiler(sample_rate, num_samples)
    return jax.jit(lambda audio, terms: total_violation(profile_of(audio), terms))


class Objective:
    """What a search minimizes for one (scorer, prompt, settings, constraints).

    ``jittable``: True for the descriptor scorer, whose evaluation inside ``jax.jit`` is
    ``descriptor_evaluation(params, audio, settings.sample_rate)`` with ``params`` (prompt terms, constraint
    terms) as array arguments. :meth:`evaluate` works for every scorer.
    """

    def __init__(self, scorer: Scorer, prompt: str, settings: RenderSettings = RenderSettings(),
                 constraints: Constraints | None = None):
        self.scorer = scorer
        self.prompt = check_prompt(prompt)
        self.settings = settings
        self.constraints = constraints or Constraints()
        self.constraint_terms = self.constraints.terms()
        self.jittable = isinstance(scorer, DescriptorScorer)
        # The lowest fitness there is: every descriptor target and constraint met (fit 1, no penalty). A cosine
        # similarity has no reachable maximum, so CLAP searches never stop early.
        self.perfect_fitness = -1.0 if self.jittable else None
        # Read the prompt now, so a bad one fails before any search starts.
        self.params = (self._prompt_terms(), self.constraint_terms) if self.jittable else None

    def _prompt_terms(self) -> Terms:
        """The descriptor prompt's terms, minus those on constrained descriptors: "long drone" with a 0.5 s
        length constraint keeps "drone"'s pitch and steadiness, and the constraint alone decides the length."""
        terms = self.scorer.terms(self.prompt, self.settings)
        constrained = [DESCRIPTOR_INDEX[name] for name in self.constraints.descriptors]
        weight = np.where(np.isin(terms.index, constrained), 0.0, terms.weight).astype(np.float32)
        return Terms(terms.index, terms.lo, terms.hi, weight)

    def evaluate(self, audio) -> Evaluation:
        """Judge audio ``[B, T]`` (JAX or numpy) at the objective's sample rate."""
        audio = jnp.asarray(audio, jnp.float32)
        if self.jittable:
            fitness, score, penalty = _jitted_descriptor_evaluation(self.settings.sample_rate)(self.params, audio)
            return Evaluation(fitness, score, penalty)
        score = jnp.asarray(self.scorer.score(audio, self.settings.sample_rate, self.prompt), jnp.float32)
        if self.constraints.active:
            penalty = _penalty_fn(self.settings.sample_rate, audio.shape[-1])(audio, self.constraint_terms)
        else:
            penalty = jnp.zeros_like(score)
        return Evaluation(combine(score, penalty, self.scorer.score_floor), score, penalty)


@lru_cache(maxsize=8)
def _jitted_descriptor_evaluation(sample_rate: int):
    return jax.jit(lambda params, audio: descriptor_evaluation(params, audio, sample_rate))

