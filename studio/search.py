"""Prompt search: an evolution strategy proposes θ, the synth renders, an objective judges, the strategy learns.

CTAG's loop (Cherep, Singh & Shand, ICML 2024) behind one interface for four strategies from evosax: Learned
ES (the default, CTAG's choice), CMA-ES, SNES and a random-search baseline. Following CTAG, candidates are
clipped to [0, 1] before they are rendered and before they are told to the strategy, and the strategy's mean
is clipped too. :func:`search` is a generator: after every generation it yields a :class:`Progress` (generation,
evaluations, best score, best θ, elapsed time); it stops within one generation of a cancel request; restarts
with different seeds give several distinct results; locked parameters never move. Every random choice comes
from the explicit ``seed``.

With the descriptor scorer a generation's render → profile → fitness is one compiled program, with the prompt's
targets as arguments, so a new prompt does not recompile; on a CPU the population is judged in one shard per
core, each in its own thread (:mod:`studio.parallel`). With CLAP, rendering and the strategy stay compiled and
torch judges the audio in between.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from studio.parallel import evaluation_threads, map_shards
from studio.scoring.base import Scorer
from studio.scoring.constraints import Constraints
from studio.scoring.objective import Objective, descriptor_evaluation
from studio.synth import N_PARAMS, RenderSettings, renderer

STRATEGIES = ("learned_es", "cma_es", "snes", "random")
STRATEGY_LABELS = {"learned_es": "Learned ES", "cma_es": "CMA-ES", "snes": "SNES", "random": "random search"}
PAPER_STD = 0.2693  # CTAG's initial standard deviation
BAD_FITNESS = 1e6  # stands in for a NaN fitness, so one broken candidate cannot poison the strategy


@dataclass(frozen=True)
class Budget:
    """How much searching: population × generations per restart, the initial spread and the default strategy."""

    name: str
    population: int
    generations: int
    std_init: float = PAPER_STD
    strategy: str = "learned_es"

    @property
    def evaluations(self) -> int:
        return self.population * self.generations


# Sized for a 2-core CPU: descriptor candidates cost ~0.6 ms each there (render + profile), CLAP ones ~120 ms.
# "quick" answers in about a second with descriptors; "paper" is CTAG's setting for either scorer. Hard
# constraints need more generations than a prompt alone (quick searches met pitch + length constraints in 18
# of 20 cases at 40 generations, 20 of 20 at 70), hence "fast_constrained".
BUDGETS: dict[str, dict[str, Budget]] = {
    "quick": {"fast": Budget("quick", 32, 40), "fast_constrained": Budget("quick", 32, 72),
              "slow": Budget("quick", 8, 8)},
    "standard": {"fast": Budget("standard", 50, 120), "fast_constrained": Budget("standard", 50, 120),
                 "slow": Budget("standard", 24, 25)},
    "paper": {"fast": Budget("paper", 50, 300), "fast_constrained": Budget("paper", 50, 300),
              "slow": Budget("paper", 50, 300)},
}


def budget_for(name: str, scorer: Scorer, constrained: bool = False) -> Budget:
    """The named budget (quick, standard, paper) sized for this scorer's speed and for whether hard constraints
    are set; ``ValueError`` for other names."""
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}: choose one of {', '.join(BUDGETS)}")
    if scorer.name != "descriptors":
        return BUDGETS[name]["slow"]
    return BUDGETS[name]["fast_constrained" if constrained else "fast"]


@dataclass(frozen=True)
class SearchResult:
    """The best sound of one restart: θ ``[78]`` float32 in [0, 1] and how it scored."""

    theta: np.ndarray
    score: float  # the scorer's score (higher better)
    fitness: float  # what the strategy minimized: −max(score, floor) + penalty
    penalty: float  # constraint penalty (0: every constraint met)
    seed: int
    restart: int
    generations: int
    evaluations: int


@dataclass(frozen=True)
class Progress:
    """One report of a running search (yielded after every generation, and once more at the end).

    ``best_*`` describe the best sound so far of the current restart; ``results`` holds the finished restarts'
    bests, best first. ``done`` marks the last report; ``cancelled`` that the search stopped early.
    """

    restart: int
    restarts: int
    generation: int
    generations: int
    evaluations: int
    best_score: float
    best_fitness: float
    best_penalty: float
    best_theta: np.ndarray
    elapsed_s: float
    done: bool = False
    cancelled: bool = False
    results: tuple[SearchResult, ...] = field(default=())


# ----------------------------------------------------------------------------------------------
# Strategies and compiled programs
# ----------------------------------------------------------------------------------------------
def make_strategy(name: str, population: int, n_dims: int):
    """An evosax strategy over ``n_dims`` normalized parameters; ``ValueError`` for an unknown name."""
    from evosax.algorithms import CMA_ES, SNES, LearnedES, RandomSearch

    solution = jnp.zeros(n_dims, jnp.float32)
    if name == "learned_es":
        return LearnedES(population, solution)
    if name == "cma_es":
        return CMA_ES(population, solution)
    if name == "snes":
        return SNES(population, solution)
    if name == "random":
        return RandomSearch(population, solution, sampling_fn=lambda key: jax.random.uniform(key, (n_dims,)))
    raise ValueError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")


def strategy_params(strategy, std_init: float):
    """The strategy's default hyper-parameters with CTAG's initial spread (random search has none)."""
    params = strategy.default_params
    return params.replace(std_init=jnp.asarray(std_init, jnp.float32)) if hasattr(params, "std_init") else params


def embed(free_values, base_theta, free_index: np.ndarray):
    """Candidates over the free parameters ``[P, F]`` → full θ ``[P, 78]``: locked ones keep ``base_theta [78]``."""
    full = jnp.broadcast_to(base_theta, (free_values.shape[0], N_PARAMS))
    return full.at[:, free_index].set(free_values)


@dataclass(frozen=True)
class _Program:
    """Compiled pieces of one search configuration (cached: shapes and strategy fixed, values are arguments).

    One generation: ``ask``, then ``judge`` over shards of the population in threads (:mod:`studio.parallel`) or
    ``render`` and the host's objective (CLAP), then ``tell``. They stay separate programs even for one thread:
    fused into one, XLA rounds the strategy's arithmetic differently, and a seed would find other sounds on a
    machine with another number of cores.
    """

    strategy: object
    init: Callable  # (key, mean, params) → state
    ask: Callable  # (state, loop key, generation, params) → (state, population clipped to [0, 1], tell key)
    render: Callable  # (population, base, seeds) → audio [P, T]
    judge: Callable | None  # (population, seeds, base, objective params) → (fitness, score, penalty)
    tell: Callable  # (state, key, params, population, fitness) → state


def _tell_clipped(strategy, key, population, fitness, state, params):
    fitness = jnp.where(jnp.isfinite(fitness), fitness, BAD_FITNESS)
    state, _ = strategy.tell(key, population, fitness, state, params)
    return state.replace(mean=jnp.clip(state.mean, 0.0, 1.0))  # CTAG: the mean is clipped too


def fused_evaluation(objective) -> Callable | None:
    """The traceable ``(objective.params, audio [B, T], sample_rate) → (fitness, score, penalty)`` each ``[B]`` that
    a search compiles into its judging program, or None when the objective judges on the host (CLAP).

    An objective names it in an ``evaluation`` attribute (a module-level function: it is part of the compiled
    program's cache key); a jittable prompt objective without one uses :func:`descriptor_evaluation`.
    """
    if not objective.jittable:
        return None
    return getattr(objective, "evaluation", None) or descriptor_evaluation


@lru_cache(maxsize=32)
def _program(strategy_name: str, population: int, free_index: tuple[int, ...], settings: RenderSettings,
             evaluation: Callable | None) -> _Program:
    """The compiled pieces; ``evaluation`` (see :func:`fused_evaluation`) None: the host judges."""
    strategy = make_strategy(strategy_name, population, len(free_index))
    free = np.asarray(free_index)
    render = renderer(settings)

    def ask(state, loop_key, generation, params):
        # The generation's keys are made here, inside the compiled call: a few dispatches less per generation.
        ask_key, tell_key = jax.random.split(jax.random.fold_in(loop_key, generation))
        population_values, state = strategy.ask(ask_key, state, params)
        return state, jnp.clip(population_values, 0.0, 1.0), tell_key  # CTAG: clip before rendering and tell

    def render_population(clipped, base, seeds):
        return render(embed(clipped, base, free), seeds)

    def judge(clipped, seeds, base, objective_params):
        return evaluation(objective_params, render_population(clipped, base, seeds), settings.sample_rate)

    def init_state(key, mean, params):
        # Strong dtypes: evosax initializes some fields from Python scalars (weakly typed), and tell's output
        # is strongly typed, so without this the second generation would compile ask and tell again.
        state = strategy.init(key, jnp.clip(mean, 0.0, 1.0).astype(jnp.float32), params)
        return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), state)

    def tell(state, key, params, clipped, fitness):
        return _tell_clipped(strategy, key, clipped, fitness, state, params)

    return _Program(strategy, jax.jit(init_state), jax.jit(ask), jax.jit(render_population),
                    jax.jit(judge) if evaluation is not None else None, jax.jit(tell))


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------
def _cancel_check(cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError("cancel must be a threading.Event, a callable returning bool, or None")


def _lock_mask(locked, theta) -> tuple[np.ndarray, np.ndarray]:
    """(free parameter indices, base θ ``[78]``) from a lock mask ``[78]`` bool and the current θ."""
    base = np.full(N_PARAMS, 0.5, np.float32) if theta is None else np.asarray(theta, np.float32).reshape(-1)
    if base.shape != (N_PARAMS,) or not np.all(np.isfinite(base)):
        raise ValueError(f"theta must be {N_PARAMS} finite values, got shape {list(np.shape(theta))}")
    base = np.clip(base, 0.0, 1.0)
    mask = np.zeros(N_PARAMS, bool) if locked is None else np.asarray(locked)
    if mask.shape != (N_PARAMS,) or mask.dtype != bool:
        raise ValueError(f"locked must be a boolean mask of {N_PARAMS} parameters, got {mask.dtype} "
                         f"{list(mask.shape)}")
    if mask.any() and theta is None:
        raise ValueError("locked parameters keep the current sound's values: pass theta along with locked")
    free = np.flatnonzero(~mask)
    if free.size == 0:
        raise ValueError("every parameter is locked: unlock at least one to search")
    return free, base


def search(objective: Objective, *, budget: str | Budget = "quick", strategy: str | None = None, seed: int = 0,
           restarts: int = 1, locked=None, theta=None, start: str = "random",
           cancel: threading.Event | Callable[[], bool] | None = None,
           stop_when_perfect: bool = True, threads: int | None = None) -> Iterator[Progress]:
    """Search θ for an objective; yields :class:`Progress` after every generation and a final one (``done``).

    budget: a :class:`Budget` or a name (quick, standard, paper; sized by :func:`budget_for`). strategy: one of
    :data:`STRATEGIES` (default: the budget's, Learned ES). seed: every random choice (initial means, samples)
    derives from it; restart r uses ``seed + r``. locked: ``[78]`` bool mask of parameters that keep ``theta``'s
    values. start: "random" (uniform initial mean, CTAG) or "theta" (start from ``theta``). cancel: an Event or
    a callable; checked before each generation, so a search stops within one generation of the request and
    still reports its best so far. Closing the generator also stops it. stop_when_perfect: end a restart as soon
    as nothing can improve on its best (descriptor scorer: every target and constraint met). threads: how many
    threads judge each generation (default :func:`studio.parallel.evaluation_threads`: one per CPU core on a
    CPU); with the descriptor scorer the sounds found do not depend on it (its judgement of a sound is the same
    to the bit in any batch; a loss built on matrix products may round differently per shard size).
    """
    if isinstance(budget, str):  # named budgets are sized for prompt objectives; others pass a Budget
        budget = budget_for(budget, objective.scorer, objective.constraints.active)
    strategy = strategy or budget.strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if start not in ("random", "theta"):
        raise ValueError(f"start must be 'random' or 'theta', got {start!r}")
    if start == "theta" and theta is None:
        raise ValueError("start='theta' needs theta")
    if not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise ValueError(f"restarts must be a whole number ≥ 1, got {restarts!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number ≥ 0, got {seed!r}")
    free, base = _lock_mask(locked, theta)
    evaluation = fused_evaluation(objective)
    threads = evaluation_threads(budget.population, threads) if evaluation is not None else 1
    program = _program(strategy, budget.population, tuple(int(i) for i in free), objective.settings, evaluation)
    # Validation above runs now; the loop below runs as the caller iterates.
    perfect = objective.perfect_fitness if stop_when_perfect else None
    return _search_loop(objective, program, budget, int(seed), int(restarts), free, base, start,
                        _cancel_check(cancel), perfect, threads)


def _search_loop(objective: Objective, program: _Program, budget: Budget, seed: int, restarts: int,
                 free: np.ndarray, base: np.ndarray, start: str, cancelled: Callable[[], bool],
                 perfect: float | None, threads: int) -> Iterator[Progress]:
    params = strategy_params(program.strategy, budget.std_init)
    base_j = jnp.asarray(base)
    # Every candidate uses the settings' own noise seed: the sound judged is the sound that will be saved.
    seeds = jnp.full((budget.population,), objective.settings.noise_seed, jnp.uint32)
    started = time.perf_counter()
    results: list[SearchResult] = []
    evaluations = 0
    stopped = False
    for restart in range(restarts):
        run_seed = seed + restart
        init_key, mean_key, loop_key = jax.random.split(jax.random.key(run_seed), 3)
        mean = jax.random.uniform(mean_key, (free.size,)) if start == "random" else base_j[free]
        state = program.init(init_key, mean, params)
        best = (np.inf, np.nan, np.nan, base[free].copy())  # fitness, score, penalty, free values
        generation = 0
        while generation < budget.generations:
            if perfect is not None and best[0] <= perfect + 1e-7:
                break  # every target met: later generations cannot do better
            if cancelled():
                stopped = True
                break
            state, population, tell_key = program.ask(state, loop_key, generation, params)
            if program.judge is not None:
                judged = map_shards(program.judge, (population, seeds), (base_j, objective.params), threads)
            else:
                judged = objective.evaluate(program.render(population, base_j, seeds))
                judged = (judged.fitness, judged.score, judged.penalty)
            state = program.tell(state, tell_key, params, population, judged[0])
            fitness, scores, penalties = (np.asarray(x) for x in judged)  # host arrays (the generation's sync)
            i = int(np.argmin(np.where(np.isfinite(fitness), fitness, BAD_FITNESS)))
            fit, score, penalty = fitness[i], scores[i], penalties[i]
            generation += 1
            evaluations += budget.population
            if float(fit) < best[0]:
                best = (float(fit), float(score), float(penalty), np.asarray(population, np.float32)[i])
            yield Progress(restart, restarts, generation, budget.generations, evaluations, best[1], best[0], best[2],
                           _full_theta(best[3], base, free), time.perf_counter() - started, results=tuple(results))
        if generation > 0:
            results.append(SearchResult(_full_theta(best[3], base, free), best[1], best[0], best[2], run_seed,
                                        restart, generation, generation * budget.population))
            results.sort(key=lambda r: r.fitness)
        if stopped:
            break
    top = results[0] if results else None
    yield Progress(restart=top.restart if top else 0, restarts=restarts, generation=top.generations if top else 0,
                   generations=budget.generations, evaluations=evaluations,
                   best_score=top.score if top else float("nan"), best_fitness=top.fitness if top else float("inf"),
                   best_penalty=top.penalty if top else float("nan"), best_theta=top.theta if top else base.copy(),
                   elapsed_s=time.perf_counter() - started, done=True, cancelled=stopped, results=tuple(results))


def _full_theta(free_values, base: np.ndarray, free: np.ndarray) -> np.ndarray:
    theta = base.copy()
    theta[free] = np.clip(np.asarray(free_values, np.float32), 0.0, 1.0)
    return theta


def prompt_search(prompt: str, scorer: Scorer, *, settings: RenderSettings = RenderSettings(),
                  constraints: Constraints | None = None, **kwargs) -> Iterator[Progress]:
    """:func:`search` for a prompt: builds the :class:`~studio.scoring.objective.Objective` (which checks the
    prompt and constraints before anything runs) and passes the other keyword arguments on."""
    return search(Objective(scorer, prompt, settings, constraints), **kwargs)


def run_to_end(progress: Iterator[Progress]) -> Progress:
    """Drain a search; return its final report."""
    last = None
    for last in progress:
        pass
    return last


def warm_up(scorer: Scorer, settings: RenderSettings = RenderSettings(), budget: str = "quick",
            strategy: str | None = None) -> float:
    """Compile the search program for this configuration (one generation on a throwaway prompt); seconds taken.

    The app can call it in a background thread at start-up so the first prompt answers at once.
    """
    started = time.perf_counter()
    plan = budget_for(budget, scorer)
    warm_budget = Budget(plan.name, plan.population, 1, plan.std_init, plan.strategy)
    prompt = "bright" if scorer.name == "descriptors" else "a sound"
    run_to_end(prompt_search(prompt, scorer, settings=settings, budget=warm_budget, strategy=strategy))
    return time.perf_counter() - started


def to_preset(result: SearchResult, objective: Objective, *, strategy: str, budget: str, name: str | None = None):
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


def use_compilation_cache(folder: str | None = None) -> str | None:
    """Keep compiled search programs on disk, so a fresh process's first search skips most compilation
    (measured: first result 7.6 s → 2.9 s on a 2-core CPU). A process-wide JAX setting: entry points call it.

    folder: default ``$SYNTH_STUDIO_JAX_CACHE``, else ``$XDG_CACHE_HOME/synth-studio/jax`` (``~/.cache/…``);
    ``off`` disables it. Returns the folder in use, or None when disabled or not writable.
    """
    import os
    from pathlib import Path

    chosen = folder or os.environ.get("SYNTH_STUDIO_JAX_CACHE")
    if chosen is None:
        chosen = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synth-studio" / "jax")
    if chosen.lower() == "off":
        return None
    try:
        Path(chosen).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", chosen)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)  # only programs worth keeping
    return chosen
