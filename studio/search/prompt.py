"""Prompt search (CTAG, Cherep, Singh & Shand, ICML 2024): the prompt's objective, budgets and start, on the engine.

An evosax strategy (Learned ES by default, CTAG's choice; CMA-ES, SNES, random search) proposes θ, the synth
renders, a scorer judges how well each sound fits the prompt, the strategy learns (:mod:`studio.search.engine`).
The objective (:class:`PromptObjective`) folds a scorer, a prompt and optional hard constraints into one fitness,
lower better: ``fitness = −max(score, floor) + penalty``. CTAG's fitness is the negated cosine similarity with
similarities below 0 counted as 0 (the CLAP scorer's ``score_floor``); ``penalty`` is the weighted sum of
constraint violations (:mod:`studio.scoring.constraints`), 0 when every constraint holds. With a scorer that
explains prompts (descriptors), a constraint replaces the prompt's own target on the same quality.

A jittable scorer (descriptors) is compiled into the engine's render-and-judge program with the prompt's targets
as arguments, so a new prompt does not recompile; with CLAP, torch judges the rendered audio on the host.
"""
from __future__ import annotations

import dataclasses

import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.sound_profile import QUALITY_INDEX, profiler
from studio.checks import check_choice
from studio.scoring.base import Scorer, Terms, check_prompt, total_violation
from studio.scoring.constraints import Constraints
from studio.scoring.descriptors import descriptor_scores
from studio.synth import RenderSettings

from .engine import BUDGET_NAMES, STRATEGY_LABELS, Budget, Evaluation, Progress, SearchResult, run_to_end, search

# Sized for a 2-core CPU: descriptor candidates cost ~0.6 ms each there (render + profile), CLAP ones ~120 ms.
# "quick" answers in about a second with descriptors; "paper" is CTAG's setting for either scorer. Hard
# constraints need more generations than a prompt alone (quick searches met pitch + length constraints in 18
# of 20 cases at 40 generations, 20 of 20 at 70), hence "fast_constrained". Keyed by budget name, then by the
# scorer's budget family ("fast": milliseconds a sound; "slow": a model's inference).
BUDGETS: dict[str, dict[str, Budget]] = {
    "quick": {"fast": Budget("quick", 32, 40), "fast_constrained": Budget("quick", 32, 72),
              "slow": Budget("quick", 8, 8)},
    "standard": {"fast": Budget("standard", 50, 120), "fast_constrained": Budget("standard", 50, 120),
                 "slow": Budget("standard", 24, 25)},
    "paper": {"fast": Budget("paper", 50, 300), "fast_constrained": Budget("paper", 50, 300),
              "slow": Budget("paper", 50, 300)},
}


def budget_for(name: str, scorer: Scorer, constrained: bool = False) -> Budget:
    """The named budget (quick, standard, paper) sized for the scorer's budget family and for whether hard
    constraints are set; :class:`~studio.errors.SettingsError` for other names."""
    table = BUDGETS[check_choice(name, BUDGET_NAMES, "budget")]
    family = scorer.budget_family
    return table.get(f"{family}_constrained", table[family]) if constrained else table[family]


# ----------------------------------------------------------------------------------------------
# The objective
# ----------------------------------------------------------------------------------------------
def combine(score, penalty, floor: float | None):
    """Fitness ``[B]`` = −max(score, floor) + penalty (``floor`` None: no flooring)."""
    return -(score if floor is None else jnp.maximum(score, floor)) + penalty


# A constraint on a quality also replaces the prompt's targets on the qualities it decides: a length constraint
# decides how long the level holds (decay) and whether the sound is still on at the buffer's end.
COVERS = {"length": ("length", "decay", "end_level")}


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


@lru_cache(maxsize=8)
def _jitted_descriptor_evaluation(sample_rate: int):
    return jax.jit(lambda params, audio: descriptor_evaluation(params, audio, sample_rate))


class PromptObjective:
    """What a prompt search minimizes for one (scorer, prompt, settings, constraints); an engine
    :class:`~studio.search.engine.Objective`.

    A jittable scorer's evaluation inside the compiled program is :func:`descriptor_evaluation` with ``params``
    (prompt terms, constraint terms) as array arguments; :meth:`evaluate` works for every scorer.
    """

    def __init__(self, scorer: Scorer, prompt: str, settings: RenderSettings = RenderSettings(),
                 constraints: Constraints | None = None):
        self.scorer = scorer
        self.prompt = check_prompt(prompt)
        self.settings = settings
        self.constraints = constraints or Constraints()
        self.constraint_terms = self.constraints.terms()
        self.evaluation = descriptor_evaluation if scorer.jittable else None
        # The lowest fitness there is: every descriptor target and constraint met (fit 1, no penalty). A cosine
        # similarity has no reachable maximum, so CLAP searches never stop early.
        self.perfect_fitness = -1.0 if scorer.jittable else None
        # Read the prompt now, so a bad one fails before any search starts.
        self.params = (self._prompt_terms(), self.constraint_terms) if scorer.jittable else None

    def _prompt_terms(self) -> Terms:
        """The prompt's terms, minus those on constrained descriptors: "long drone" with a 0.5 s length
        constraint keeps "drone"'s pitch and steadiness, and the constraint alone decides the length (and with it
        how long the level holds and whether the sound still sounds at the buffer's end: :data:`COVERS`)."""
        terms = self.scorer.terms(self.prompt, self.settings)
        constrained = [QUALITY_INDEX[covered] for name in self.constraints.descriptors
                       for covered in COVERS.get(name, (name,))]
        weight = np.where(np.isin(terms.index, constrained), 0.0, terms.weight).astype(np.float32)
        return dataclasses.replace(terms, weight=weight)

    def evaluate(self, audio) -> Evaluation:
        """Judge audio ``[B, T]`` (JAX or numpy) at the objective's sample rate."""
        audio = jnp.asarray(audio, jnp.float32)
        if self.evaluation is not None:
            fitness, score, penalty = _jitted_descriptor_evaluation(self.settings.sample_rate)(self.params, audio)
            return Evaluation(fitness, score, penalty)
        score = jnp.asarray(self.scorer.score(audio, self.settings.sample_rate, self.prompt), jnp.float32)
        if self.constraints.active:
            penalty = _penalty_fn(self.settings.sample_rate, audio.shape[-1])(audio, self.constraint_terms)
        else:
            penalty = jnp.zeros_like(score)
        return Evaluation(combine(score, penalty, self.scorer.score_floor), score, penalty)


class ProxyScreenedObjective:
    """A prompt objective whose scorer judges an embedding a proxy predicts (CLAP: the cosine between the sound's
    audio embedding and the prompt's text embedding), run on the proxy: each generation, every candidate's score is
    first estimated from the proxy's embedding of its θ (no render), then the ``verify`` most promising are rendered
    and judged by the scorer itself. The others rank below every verified one, in the proxy's order, so the
    strategy still learns from the whole population and the best sound a search reports is always one the real
    scorer judged. ``proxy``: a network θ ``[B, 78]`` → embedding ``[B, P]`` (:mod:`studio.learn.clap_proxy`).
    """

    perfect_fitness = None
    evaluation = None
    params = None

    def __init__(self, objective: PromptObjective, proxy, verify: int):
        if objective.scorer.jittable or not hasattr(objective.scorer, "text_embedding"):
            raise ValueError("proxy screening needs a scorer that judges an embedding (CLAP)")
        self.objective = objective
        self.settings = objective.settings
        self.proxy = proxy
        self.verify = int(verify)
        scorer = objective.scorer  # embed_text: in a device call of its own (what works on ZeroGPU)
        text = scorer.embed_text(objective.prompt) if hasattr(scorer, "embed_text") else \
            scorer.text_embedding(objective.prompt).float().cpu().numpy()
        self.text = np.asarray(text, np.float32)
        self.rendered = 0  # candidates rendered and judged by the scorer so far

    def estimate(self, thetas) -> np.ndarray:
        """The proxy's estimate of the score ``[B]`` (cosine of the predicted audio embedding with the prompt's)."""
        from studio.learn.proxy import proxy_embeddings

        predicted = proxy_embeddings(self.proxy, thetas)
        return predicted @ self.text / np.maximum(np.linalg.norm(predicted, axis=-1), 1e-9)

    def evaluate(self, audio) -> Evaluation:
        return self.objective.evaluate(audio)

    def judge_thetas(self, thetas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fitness, score, penalty) ``[B]``: the real judgement for the ``verify`` candidates the proxy ranks
        best, proxy estimates ranked below them for the rest (see the class docstring)."""
        from studio.synth import renderer

        thetas = np.asarray(thetas, np.float32)
        floor = self.objective.scorer.score_floor
        estimate = self.estimate(thetas)
        order = np.argsort(-estimate, kind="stable")
        top, rest = order[:self.verify], order[self.verify:]
        seeds = jnp.full((len(top),), self.settings.noise_seed, jnp.uint32)
        real = self.objective.evaluate(renderer(self.settings)(jnp.asarray(thetas[top]), seeds))
        self.rendered += len(top)
        fitness, score, penalty = (np.zeros(len(thetas), np.float32) for _ in range(3))
        fitness[top], score[top], penalty[top] = (np.asarray(x) for x in real)
        estimated = -np.maximum(estimate[rest], floor if floor is not None else -np.inf)
        fitness[rest] = np.max(fitness[top]) + 1e-3 + (estimated - (estimated.min() if len(rest) else 0.0))
        score[rest] = estimate[rest]
        return fitness, score, penalty


PROXY_SCREENING = 4  # a proxy-screened generation proposes this many times the budget's population


def proxy_screened(objective: PromptObjective, budget: Budget, folder=None):
    """The search to run for ``objective`` and ``budget``: on the CLAP proxy when the scorer is CLAP and a proxy was
    trained for its weights and the objective's render settings (:func:`studio.learn.clap_proxy.load_clap_proxy`,
    looking in ``folder``, default its cache folder) → (objective, budget, note).

    With a proxy: a :class:`ProxyScreenedObjective` and the budget with :data:`PROXY_SCREENING` times its population;
    each generation the proxy ranks every candidate (no render) and only the budget's own population, the proxy's
    best, is rendered and judged by CLAP (the same CLAP time a generation, four times the candidates). Otherwise
    the objective and budget unchanged. note: ``load_clap_proxy``'s sentence (the proxy used, or why none is and how
    to train one); None when the scorer is not CLAP. The CLI and the prompt panel both search through this.
    """
    if objective.scorer.name != "clap":
        return objective, budget, None
    from studio.learn.clap_proxy import load_clap_proxy

    proxy, note = load_clap_proxy(objective.scorer, objective.settings, folder)
    if proxy is None:
        return objective, budget, note
    return (ProxyScreenedObjective(objective, proxy, verify=budget.population),
            dataclasses.replace(budget, population=PROXY_SCREENING * budget.population), note)


# ----------------------------------------------------------------------------------------------
# Searching a prompt
# ----------------------------------------------------------------------------------------------
def prompt_search(prompt: str, scorer: Scorer, *, settings: RenderSettings = RenderSettings(),
                  constraints: Constraints | None = None, budget: str | Budget = "quick",
                  strategy: str | None = None, seed: int = 0, restarts: int = 1, locked=None, theta=None,
                  start: str = "random", cancel: threading.Event | Callable[[], bool] | None = None,
                  stop_when_perfect: bool = True, threads: int | None = None, proxy=None,
                  verify: int | None = None) -> Iterator[Progress]:
    """Search the knobs for a prompt; yields :class:`~studio.search.engine.Progress` after every generation and a
    final one (``done``) whose ``results`` hold each restart's best, best first.

    The objective (which checks the prompt and constraints) is built first, so a bad request fails before anything
    runs. budget: a name (quick, standard, paper; sized by :func:`budget_for` for the scorer and constraints) or a
    :class:`~studio.search.engine.Budget`. The other arguments are :func:`~studio.search.engine.search`'s: strategy
    (default the budget's, Learned ES), seed (restart r uses seed + r), restarts, locked ``[78]`` bool with theta
    (locked knobs keep theta's values), start ("random" or "theta"), cancel (Event or callable), stop_when_perfect,
    threads. proxy: a proxy of the scorer's embedding (:class:`ProxyScreenedObjective`; CLAP only): each
    generation of the budget's population runs on the proxy and only ``verify`` candidates (default a quarter) are
    rendered and judged.
    """
    objective = PromptObjective(scorer, prompt, settings, constraints)
    if isinstance(budget, str):
        budget = budget_for(budget, scorer, objective.constraints.active)
    if proxy is not None:
        objective = ProxyScreenedObjective(objective, proxy, verify or max(1, budget.population // 4))
    return search(objective, budget, strategy=strategy, seed=seed, restarts=restarts, locked=locked, theta=theta,
                  start=start, cancel=cancel, stop_when_perfect=stop_when_perfect, threads=threads)


WARM_UP_PROMPT = "bright"  # any prompt every scorer reads: the warm-up only compiles


def warm_up(scorer: Scorer, settings: RenderSettings = RenderSettings(), budget: str = "quick",
            strategy: str | None = None) -> float:
    """Compile the search program for this configuration (one generation on a throwaway prompt); seconds taken.

    The app calls it in a background thread at start-up so the first prompt answers at once. With CLAP and a proxy
    trained for it, the generation runs on the proxy as the studio's searches do (:func:`proxy_screened`).
    """
    started = time.perf_counter()
    objective = PromptObjective(scorer, WARM_UP_PROMPT, settings)
    searched, plan, _ = proxy_screened(objective, budget_for(budget, scorer))  # the population a search will use
    run_to_end(search(searched, dataclasses.replace(plan, generations=1), strategy=strategy))
    return time.perf_counter() - started


def to_preset(result: SearchResult, objective: PromptObjective, *, strategy: str, budget: str,
              name: str | None = None):
    """A search result as a :class:`~studio.presets.Preset` carrying its prompt (for the library and files).

    The preset's θ re-renders exactly the judged sound: the search used the settings' own noise seed.
    """
    from studio.presets import Preset, utc_timestamp

    scorer = objective.scorer
    description = (f"{STRATEGY_LABELS.get(strategy, strategy)} search ({budget} budget, seed {result.seed}) judged by "
                   f"{scorer.label}: score {result.score:.3f}")
    if objective.constraints.active:
        description += f"; constraints {objective.constraints.describe()}"
    return Preset(name=name or objective.prompt, theta=result.theta, settings=objective.settings,
                  tags=("prompt", scorer.name), prompt=objective.prompt, created=utc_timestamp(),
                  description=description)
