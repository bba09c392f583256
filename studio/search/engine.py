"""The one search engine: strategies propose θ, one compiled program renders and judges them, one loop drives it.

Strategies have evosax's shape (``algorithms/base.py``): ``init(seed) → state``, ``ask(state, generation) → (state,
θ [P, 78])``, ``tell(state, θ, fitness) → state``, state immutable. :func:`generations` is the only loop: it judges
each generation (:func:`judge`: render and evaluation compiled into one program, run in one shard per CPU core;
or rendered, then judged on the host, for CLAP), keeps the best, stops on cancel or when nothing can beat the best.

- :class:`EvosaxStrategy`: evosax's Learned ES, CMA-ES, SNES or random search over the free knobs (CTAG's clipping).
- :class:`ScreenStrategy`: candidate i is a caller's draw from seed + i, whatever the batch size (evosax's
  ``RandomSearch`` draws one key per generation instead).
- :class:`CandidateList`: candidates chosen beforehand (the matcher's learned starts, screened by the proxy).
- :class:`SparsePolish`: a (1+λ) strategy moving 1 to k knobs per candidate (evosax's ``HillClimbing`` moves every
  knob, which polished matches worse: ``studio.search.match``).

Prompt search (:mod:`.prompt`) and matching (:mod:`.match`) are objectives, budgets and start guesses on top.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from studio.checks import check_choice, check_seed, check_whole
from studio.errors import SettingsError
from studio.search.parallel import evaluation_threads, map_shards
from studio.synth import N_PARAMS, RenderSettings, renderer

STRATEGIES = ("learned_es", "cma_es", "snes", "random")
STRATEGY_LABELS = {"learned_es": "Learned ES", "cma_es": "CMA-ES", "snes": "SNES", "random": "random search"}
BUDGET_NAMES = ("quick", "standard", "paper")
PAPER_STD = 0.2693  # CTAG's initial standard deviation
BAD_FITNESS = 1e6  # stands in for a NaN fitness, so one broken candidate cannot poison the strategy
MAX_RESTARTS = 16


class Evaluation(NamedTuple):
    """A batch judged: fitness (lower better), the objective's score and its penalty, each ``[B]``."""

    fitness: Any
    score: Any
    penalty: Any


@runtime_checkable
class Objective(Protocol):
    """What a search minimizes.

    settings: how candidates are rendered (every candidate uses ``settings.noise_seed``, the saved sound's noise).
    evaluation: a traceable module-level function ``(params, audio [B, T], sample_rate) → (fitness, score,
    penalty)`` each ``[B]``, compiled with the renderer into one program (part of its cache key), or None when the
    objective judges on the host (:meth:`evaluate`, e.g. a torch model).
    params: the evaluation's array arguments (a pytree; a new prompt or target does not recompile).
    perfect_fitness: a fitness nothing can beat (stop there), or None.
    """

    settings: RenderSettings
    evaluation: Callable | None
    params: Any
    perfect_fitness: float | None

    def evaluate(self, audio) -> Evaluation:
        """Judge audio ``[B, T]`` on the host."""
        ...


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


# ----------------------------------------------------------------------------------------------
# Judging: one compiled render-and-judge program
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def judge_program(settings: RenderSettings, evaluation: Callable) -> Callable:
    """Compiled ``(θ [B, 78], seeds [B] uint32, params) → (fitness, score, penalty)`` each ``[B]``."""
    render = renderer(settings)
    return jax.jit(lambda thetas, seeds, params: evaluation(params, render(thetas, seeds), settings.sample_rate))


def judge(objective: Objective, thetas, threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fitness, score, penalty), each ``[B]`` numpy, of θ ``[B, 78]`` rendered with the objective's settings and
    noise seed. A compiled evaluation runs in one shard per CPU core (``threads``: see
    :func:`~studio.search.parallel.evaluation_threads`); a host objective judges the whole batch; an objective with
    a ``judge_thetas(θ [B, 78]) → (fitness, score, penalty)`` method (proxy screening) judges the θ itself."""
    thetas = np.asarray(thetas, np.float32)
    if hasattr(objective, "judge_thetas"):  # an objective that decides itself which candidates to render
        return tuple(np.asarray(x) for x in objective.judge_thetas(thetas))
    seeds = np.full((len(thetas),), objective.settings.noise_seed, np.uint32)
    if objective.evaluation is not None:
        judged = map_shards(judge_program(objective.settings, objective.evaluation), (thetas, seeds),
                            (objective.params,), evaluation_threads(len(thetas), threads))
    else:
        judged = objective.evaluate(renderer(objective.settings)(jnp.asarray(thetas), jnp.asarray(seeds)))
    return tuple(np.asarray(x) for x in judged)


# ----------------------------------------------------------------------------------------------
# Strategies (evosax's shape: init / ask / tell over immutable state)
# ----------------------------------------------------------------------------------------------
def make_evosax(name: str, population: int, n_dims: int):
    """An evosax strategy over ``n_dims`` normalized parameters."""
    from evosax.algorithms import CMA_ES, SNES, LearnedES, RandomSearch

    check_choice(name, STRATEGIES, "strategy")
    solution = jnp.zeros(n_dims, jnp.float32)
    if name == "random":
        return RandomSearch(population, solution, sampling_fn=lambda key: jax.random.uniform(key, (n_dims,)))
    return {"learned_es": LearnedES, "cma_es": CMA_ES, "snes": SNES}[name](population, solution)


@dataclass(frozen=True)
class _EvosaxProgram:
    """Compiled init/ask/tell of one (strategy, population, free-knob count). They stay separate programs: fused
    with the judging, XLA rounds the strategy's arithmetic differently per shard size, and a seed would find other
    sounds on a machine with another number of cores."""

    strategy: Any
    init: Callable  # (key, mean [F], params) → state
    ask: Callable  # (state, loop key, generation, params) → (state, candidates clipped to [0, 1] [P, F], tell key)
    tell: Callable  # (state, key, params, candidates, fitness) → state


@lru_cache(maxsize=32)
def _evosax_program(name: str, population: int, n_free: int) -> _EvosaxProgram:
    strategy = make_evosax(name, population, n_free)

    def init(key, mean, params):
        # Strong dtypes: evosax initializes some fields from Python scalars (weakly typed), and tell's output
        # is strongly typed, so without this the second generation would compile ask and tell again.
        state = strategy.init(key, jnp.clip(mean, 0.0, 1.0).astype(jnp.float32), params)
        return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), state)

    def ask(state, loop_key, generation, params):
        # The generation's keys are made here, inside the compiled call: a few dispatches less per generation.
        ask_key, tell_key = jax.random.split(jax.random.fold_in(loop_key, generation))
        candidates, state = strategy.ask(ask_key, state, params)
        return state, jnp.clip(candidates, 0.0, 1.0), tell_key  # CTAG: clip before rendering and tell

    def tell(state, key, params, candidates, fitness):
        fitness = jnp.where(jnp.isfinite(fitness), fitness, BAD_FITNESS)
        state, _ = strategy.tell(key, candidates, fitness, state, params)
        return state.replace(mean=jnp.clip(state.mean, 0.0, 1.0))  # CTAG: the mean is clipped too

    return _EvosaxProgram(strategy, jax.jit(init), jax.jit(ask), jax.jit(tell))


@dataclass(frozen=True)
class EvosaxState:
    """An evosax strategy's state plus the loop key and what ``tell`` needs from the last ``ask``."""

    strategy_state: Any
    loop_key: Any
    tell_key: Any = None
    candidates: Any = None  # the last ask's free values [P, F], clipped


class EvosaxStrategy:
    """An evosax algorithm over the free knobs ``free`` (indices into θ); locked knobs keep ``base [78]``.

    start: "random" (a uniform initial mean, CTAG) or "theta" (the mean starts at ``base``). The seed's key is
    split into (init, mean, loop) keys; generation g's ask and tell keys fold g into the loop key.
    """

    def __init__(self, name: str, population: int, free: np.ndarray, base: np.ndarray, std_init: float,
                 start: str = "random"):
        self.population = population
        self.free = np.asarray(free)
        self.base = np.asarray(base, np.float32)
        self.start = start
        self.program = _evosax_program(name, population, int(self.free.size))
        params = self.program.strategy.default_params
        # The initial spread (random search has none).
        self.params = params.replace(std_init=jnp.asarray(std_init, jnp.float32)) if hasattr(params, "std_init") \
            else params

    def init(self, seed: int) -> EvosaxState:
        init_key, mean_key, loop_key = jax.random.split(jax.random.key(seed), 3)
        if self.start == "random":
            mean = jax.random.uniform(mean_key, (self.free.size,))
        else:
            mean = jnp.asarray(self.base)[self.free]
        return EvosaxState(self.program.init(init_key, mean, self.params), loop_key)

    def ask(self, state: EvosaxState, generation: int) -> tuple[EvosaxState, np.ndarray]:
        strategy_state, candidates, tell_key = self.program.ask(state.strategy_state, state.loop_key, generation,
                                                                self.params)
        thetas = np.repeat(self.base[None], self.population, axis=0)
        thetas[:, self.free] = np.asarray(candidates)
        return EvosaxState(strategy_state, state.loop_key, tell_key, candidates), thetas

    def tell(self, state: EvosaxState, thetas: np.ndarray, fitness: np.ndarray) -> EvosaxState:
        strategy_state = self.program.tell(state.strategy_state, state.tell_key, self.params, state.candidates,
                                           fitness)
        return EvosaxState(strategy_state, state.loop_key)


class ScreenStrategy:
    """Seeded random candidates: candidate i of a run with seed s is ``draw(s + i)`` (θ ``[78]``), so a candidate
    does not depend on the batch size. ``tell`` learns nothing: the caller keeps the best ones."""

    def __init__(self, population: int, draw: Callable[[int], np.ndarray]):
        self.population = population
        self.draw = draw

    def init(self, seed: int) -> int:
        return seed  # the next candidate's seed

    def ask(self, state: int, generation: int) -> tuple[int, np.ndarray]:
        return state + self.population, np.stack([self.draw(state + i) for i in range(self.population)])

    def tell(self, state: int, thetas: np.ndarray, fitness: np.ndarray) -> int:
        return state


class CandidateList:
    """Candidates given in order (``[N, 78]``, e.g. the matcher's learned starts): each generation asks for the next
    ``population`` of them; the last batch is padded by repeating the first rows (run it with ``generations(…,
    limit=N)`` so the padding is judged but not counted). ``more``: a function giving the candidates that follow
    (``[M, 78]``), called once when the first ``N`` are used up, so slow choices (the proxy's screen) wait until
    the first generation has been judged. ``tell`` learns nothing."""

    def __init__(self, population: int, candidates: np.ndarray, more: Callable[[], np.ndarray] | None = None):
        self.population = population
        self.candidates = _candidate_rows(candidates)
        self._more = more

    def init(self, seed: int) -> int:
        return 0  # the next candidate's row

    def ask(self, state: int, generation: int) -> tuple[int, np.ndarray]:
        if self._more is not None and state + self.population > len(self.candidates):
            more = np.asarray(self._more(), np.float32).reshape(-1, N_PARAMS)  # may be none (a screen this short)
            self.candidates, self._more = np.concatenate([self.candidates, more]), None
        rows = np.arange(state, state + self.population) % len(self.candidates)
        return state + self.population, self.candidates[rows]

    def tell(self, state: int, thetas: np.ndarray, fitness: np.ndarray) -> int:
        return state


def _candidate_rows(candidates) -> np.ndarray:
    rows = np.asarray(candidates, np.float32)
    if rows.ndim != 2 or rows.shape[1] != N_PARAMS or not len(rows):
        raise ValueError(f"candidates must be [N ≥ 1, {N_PARAMS}], got {list(rows.shape)}")
    return rows


SPARSE_GROW, SPARSE_SHRINK = 1.3, 0.85  # spread × after a generation that improved / did not
SPARSE_STD_RANGE = (0.002, 0.3)


@dataclass(frozen=True)
class SparseState:
    """The polish's state: numpy PCG64's state, the best θ ``[78]`` and its fitness, the current spread."""

    rng: dict
    best: np.ndarray
    best_fitness: float
    std: float


class SparsePolish:
    """A sparse (1+λ) evolution strategy from θ ``[78]`` (whose fitness is ``fitness``).

    Each generation, each of ``population`` candidates is the best sound with 1 to ``knobs`` free knobs (not in
    ``mask``), picked at random, moved by N(0, σ²) and clipped to [0, 1]; the best candidate replaces the best
    sound when its fitness is lower. σ starts at ``std``, grows ×``SPARSE_GROW`` after a generation that improved
    and shrinks ×``SPARSE_SHRINK`` after one that did not (within ``SPARSE_STD_RANGE``). Near a good match most
    knobs are already right and a few are off; a dense step moves the right ones too, a sparse one can fix the
    few. Every random choice comes from numpy's PCG64 seeded with the run's seed.
    """

    def __init__(self, population: int, theta: np.ndarray, fitness: float, std: float, knobs: int,
                 mask: np.ndarray):
        self.population = population
        self.theta = np.asarray(theta, np.float32).copy()
        self.fitness = float(fitness)
        self.std = float(std)
        self.free = np.flatnonzero(~np.asarray(mask, bool))  # not empty: free_and_base checked the mask
        self.knobs = min(int(knobs), int(self.free.size))

    def init(self, seed: int) -> SparseState:
        return SparseState(np.random.default_rng(seed).bit_generator.state, self.theta, self.fitness, self.std)

    def ask(self, state: SparseState, generation: int) -> tuple[SparseState, np.ndarray]:
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng
        candidates = np.repeat(state.best[None], self.population, axis=0)
        for row in candidates:
            chosen = rng.choice(self.free, int(rng.integers(1, self.knobs + 1)), replace=False)
            row[chosen] = np.clip(row[chosen] + rng.normal(0.0, state.std, chosen.size), 0.0, 1.0)
        return SparseState(rng.bit_generator.state, state.best, state.best_fitness, state.std), candidates

    def tell(self, state: SparseState, thetas: np.ndarray, fitness: np.ndarray) -> SparseState:
        fitness = np.where(np.isfinite(fitness), fitness, np.inf)
        i = int(np.argmin(fitness))
        if fitness[i] < state.best_fitness:
            return SparseState(state.rng, thetas[i].copy(), float(fitness[i]),
                               min(state.std * SPARSE_GROW, SPARSE_STD_RANGE[1]))
        return SparseState(state.rng, state.best, state.best_fitness, max(state.std * SPARSE_SHRINK,
                                                                          SPARSE_STD_RANGE[0]))


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One generation of :func:`generations`: the best sound so far and this generation's judged candidates.

    ``cancelled`` marks a last step reported because cancellation was asked for (nothing new was judged).
    """

    generation: int  # generations done
    evaluations: int  # candidates judged so far in this run
    best_fitness: float
    best_score: float
    best_penalty: float
    best_theta: np.ndarray  # [78]
    thetas: np.ndarray = field(repr=False)  # [n, 78] this generation's counted candidates
    fitness: np.ndarray = field(repr=False)  # [n]
    cancelled: bool = False


def generations(strategy, objective: Objective, count: int, *, seed: int,
                cancelled: Callable[[], bool] = lambda: False, perfect: float | None = None,
                threads: int | None = None, best: tuple[float, np.ndarray] | None = None,
                limit: int | None = None) -> Iterator[Step]:
    """Run ``strategy`` for up to ``count`` generations on ``objective``; yield a :class:`Step` after each.

    Before each generation: stop when the best fitness reaches ``perfect`` (nothing can beat it), or yield one last
    step with ``cancelled=True`` when ``cancelled()``. best: the starting best (fitness, θ ``[78]``), else none.
    limit: count at most this many candidates in all (the last generation's extra rows are judged, not counted).
    """
    state = strategy.init(seed)
    best_fitness, best_score, best_penalty = (np.inf, np.nan, np.nan) if best is None else (best[0], np.nan, 0.0)
    best_theta = None if best is None else np.asarray(best[1], np.float32)
    evaluations = 0
    empty = np.zeros((0, N_PARAMS), np.float32)
    for generation in range(count):
        if perfect is not None and best_fitness <= perfect + 1e-7:
            return
        if limit is not None and evaluations >= limit:
            return
        if cancelled():
            yield Step(generation, evaluations, best_fitness, best_score, best_penalty, best_theta, empty,
                       np.zeros(0), cancelled=True)
            return
        state, thetas = strategy.ask(state, generation)
        fitness, score, penalty = judge(objective, thetas, threads)
        state = strategy.tell(state, thetas, fitness)
        counted = len(thetas) if limit is None else min(len(thetas), limit - evaluations)
        thetas, fitness, score, penalty = thetas[:counted], fitness[:counted], score[:counted], penalty[:counted]
        evaluations += counted
        i = int(np.argmin(np.where(np.isfinite(fitness), fitness, BAD_FITNESS)))
        if fitness[i] < best_fitness:
            best_fitness, best_score, best_penalty = float(fitness[i]), float(score[i]), float(penalty[i])
            best_theta = np.asarray(thetas[i], np.float32).copy()
        yield Step(generation + 1, evaluations, best_fitness, best_score, best_penalty, best_theta, thetas, fitness)


def run_to_end(progress: Iterator):
    """Drain a search (prompt or match); return its final report."""
    last = None
    for last in progress:  # noqa: B007 (the last report is the point)
        pass
    return last


# ----------------------------------------------------------------------------------------------
# Checks shared by every search
# ----------------------------------------------------------------------------------------------
def cancel_check(cancel) -> Callable[[], bool]:
    """A ``threading.Event``, a callable returning bool, or None → a function that says whether to stop."""
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError("cancel must be a threading.Event, a callable returning bool, or None")


def free_and_base(locked, theta) -> tuple[np.ndarray, np.ndarray]:
    """(free parameter indices, base θ ``[78]`` clipped to [0, 1]) from a lock mask ``[78]`` bool and the current θ
    (None: 0.5 everywhere, allowed only with nothing locked)."""
    base = np.full(N_PARAMS, 0.5, np.float32) if theta is None else np.asarray(theta, np.float32).reshape(-1)
    if base.shape != (N_PARAMS,) or not np.all(np.isfinite(base)):
        raise SettingsError(f"theta must be {N_PARAMS} finite values, got shape {list(np.shape(theta))}", "theta")
    mask = np.zeros(N_PARAMS, bool) if locked is None else np.asarray(locked)
    if mask.shape != (N_PARAMS,) or mask.dtype != bool:
        raise SettingsError(f"locked must be a boolean mask of {N_PARAMS} parameters, got {mask.dtype} "
                            f"{list(mask.shape)}", "locked")
    if mask.any() and theta is None:
        raise SettingsError("locked parameters keep the current sound's values: pass theta along with locked",
                            "locked")
    free = np.flatnonzero(~mask)
    if free.size == 0:
        raise SettingsError("every parameter is locked: unlock at least one to search", "locked")
    return free, np.clip(base, 0.0, 1.0)


def check_search_request(strategy: str, seed, restarts) -> tuple[str, int, int]:
    """(strategy, seed, restarts) checked with the studio's one rule for each."""
    return (check_choice(strategy, STRATEGIES, "strategy"), check_seed(seed),
            check_whole(restarts, 1, MAX_RESTARTS, "restarts"))


def run_seed(seed: int, offset: int) -> int:
    """The seed of restart (or phase) ``offset`` of a search seeded ``seed``, wrapping within the seed range."""
    return (seed + offset) % 2**32


# ----------------------------------------------------------------------------------------------
# Restarts of one evosax strategy (what prompt search runs, and each of a match's restarts)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    """The best sound of one restart: θ ``[78]`` float32 in [0, 1] and how it scored."""

    theta: np.ndarray
    score: float  # the objective's score (higher better)
    fitness: float  # what the strategy minimized
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


def search(objective: Objective, budget: Budget, *, strategy: str | None = None, seed: int = 0, restarts: int = 1,
           locked=None, theta=None, start: str = "random",
           cancel: threading.Event | Callable[[], bool] | None = None,
           stop_when_perfect: bool = True, threads: int | None = None) -> Iterator[Progress]:
    """Search θ for an objective with restarts of one evosax strategy; yields :class:`Progress` after every
    generation and a final one (``done``).

    budget: population, generations per restart, initial spread, default strategy. strategy: one of
    :data:`STRATEGIES`. seed: every random choice derives from it; restart r uses ``seed + r``. locked: ``[78]``
    bool mask of parameters that keep ``theta``'s values. start: "random" (uniform initial mean, CTAG) or "theta"
    (start from ``theta``). cancel: an Event or a callable, checked before each generation. stop_when_perfect: end a
    restart once nothing can improve on its best (the objective's ``perfect_fitness``). threads: how many threads
    judge each generation (default one per CPU core on a CPU); with a compiled evaluation whose judgement of a
    sound does not depend on the batch (the descriptor scorer's), the sounds found do not depend on it.
    Checks run now (:class:`~studio.errors.SettingsError`); the search runs as the caller iterates.
    """
    strategy, seed, restarts = check_search_request(strategy or budget.strategy, seed, restarts)
    if start not in ("random", "theta"):
        raise SettingsError(f"start must be 'random' or 'theta', got {start!r}", "start")
    if start == "theta" and theta is None:
        raise SettingsError("start='theta' needs theta", "theta")
    free, base = free_and_base(locked, theta)
    if objective.evaluation is None:
        threads = 1
    elif threads is not None:
        evaluation_threads(budget.population, threads)  # a bad thread count fails now, not mid-search
    perfect = objective.perfect_fitness if stop_when_perfect else None
    return _restarts(objective, budget, strategy, seed, restarts, free, base, start, cancel_check(cancel), perfect,
                     threads)


def _restarts(objective: Objective, budget: Budget, strategy: str, seed: int, restarts: int, free: np.ndarray,
              base: np.ndarray, start: str, cancelled: Callable[[], bool], perfect: float | None,
              threads: int | None) -> Iterator[Progress]:
    started = time.perf_counter()
    results: list[SearchResult] = []
    evaluations, stopped, restart = 0, False, 0
    for restart in range(restarts):
        seed_r = run_seed(seed, restart)
        es = EvosaxStrategy(strategy, budget.population, free, base, budget.std_init, start)
        step = None
        for step in generations(es, objective, budget.generations, seed=seed_r, cancelled=cancelled,
                                perfect=perfect, threads=threads):
            if step.cancelled:
                stopped = True
                break
            evaluations += len(step.fitness)
            best_theta = step.best_theta if step.best_theta is not None else base.copy()  # every sound was broken
            yield Progress(restart, restarts, step.generation, budget.generations, evaluations, step.best_score,
                           step.best_fitness, step.best_penalty, best_theta, time.perf_counter() - started,
                           results=tuple(results))
        if step is not None and step.generation > 0:
            best_theta = step.best_theta if step.best_theta is not None else base.copy()
            results.append(SearchResult(best_theta, step.best_score, step.best_fitness, step.best_penalty,
                                        seed_r, restart, step.generation, step.evaluations))
            results.sort(key=lambda r: r.fitness)
        if stopped:
            break
    top = results[0] if results else None
    yield Progress(restart=top.restart if top else 0, restarts=restarts, generation=top.generations if top else 0,
                   generations=budget.generations, evaluations=evaluations,
                   best_score=top.score if top else float("nan"), best_fitness=top.fitness if top else float("inf"),
                   best_penalty=top.penalty if top else float("nan"), best_theta=top.theta if top else base.copy(),
                   elapsed_s=time.perf_counter() - started, done=True, cancelled=stopped, results=tuple(results))


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
