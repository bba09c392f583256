"""The studio's learned models (the proxy and the inverse model), loaded lazily, and what the matcher asks of them.

The shipped models live in ``assets/models/`` (or ``$SYNTH_STUDIO_MODELS``): ``proxy.msgpack`` and
``inverse-<schedule>.msgpack`` (:mod:`.checkpoint`), trained by ``python -m studio learn proxy|inverse``
(:mod:`.train`). :func:`learned_models` loads them the first time a tool asks for a given set of render settings
and answers None, with a sentence saying why, when they are absent, unreadable, or made for another synth,
other features or other settings: every tool then works as it does without them.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from studio.synth import N_PARAMS, RenderSettings

from .checkpoint import ModelError, load_network
from .data import measure_audio
from .nets import Network, apply_network
from .proxy import proxy_embeddings

DEFAULT_SCHEDULE = "param"  # the inverse model the matcher starts from: the best matches of the three (README)
PROXY_FILE = "proxy.msgpack"
REPO_MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"
CLOUD_SPREADS = (0.02, 0.05, 0.1, 0.2)  # the cloud around the inverse model's guess, normalized knob units
CLOUD_PER_SPREAD = 768
UNIFORM_CANDIDATES = 2048  # seeded random candidates screened beside the cloud (what the guess may miss)
REFINED = 64  # the proxy's best candidates moved down its distance's gradient (Neural Proxies' gradient matching)
REFINE_STEPS = 100  # Adam steps of that descent (0.14 s for 64 candidates here; compiled once per process, 0.7 s)
REFINE_RATE = 0.01  # its learning rate, normalized knob units (chosen on the tuning seed 777 with REFINED)


def models_dir() -> Path:
    """Where the studio looks for its models: ``$SYNTH_STUDIO_MODELS``, else the checkout's ``assets/models``."""
    chosen = os.environ.get("SYNTH_STUDIO_MODELS")
    return Path(chosen) if chosen else REPO_MODELS


def inverse_file(schedule: str) -> str:
    return f"inverse-{schedule}.msgpack"


@dataclass(frozen=True)
class LearnedModels:
    """A proxy and an inverse model for one set of render settings, with their file headers."""

    proxy: Network = field(repr=False)
    inverse: Network = field(repr=False)
    settings: RenderSettings
    proxy_header: dict = field(repr=False, default_factory=dict)
    inverse_header: dict = field(repr=False, default_factory=dict)
    source: str = ""

    def describe(self) -> str:
        schedule = self.inverse_header.get("training", {}).get("recipe", {}).get("schedule", "?")
        return (f"learned starts on: the inverse model's guess ({schedule} schedule) and a cloud around it, screened "
                f"and refined through the neural proxy ({self.source})")

    def read(self, audio) -> tuple[np.ndarray, np.ndarray]:
        """A target ``[T]`` at these settings → (its embedding at the reference loudness ``[259]``, the inverse
        model's θ ``[78]``), from one measurement."""
        embedding, inputs = measure_audio(audio, self.settings.sample_rate)
        return embedding[0], np.asarray(self.inverse(inputs))[0]

    def guess(self, audio) -> np.ndarray:
        """The inverse model's θ ``[78]`` for a target ``[T]`` at these settings."""
        return np.asarray(self.inverse(measure_audio(audio, self.settings.sample_rate)[1]))[0]


_CACHE: dict[tuple, tuple[LearnedModels | None, str]] = {}
_LOCK = threading.Lock()


def learned_models(settings: RenderSettings, folder: Path | None = None,
                   schedule: str = DEFAULT_SCHEDULE) -> tuple[LearnedModels | None, str]:
    """(the models for ``settings``, a sentence for the user), or (None, why not). Loaded once per (folder,
    settings, schedule, the files' modification times) and kept: a file written or replaced since is read again."""
    folder = Path(folder) if folder is not None else models_dir()
    key = (str(folder), settings, schedule, _stamp(folder / PROXY_FILE), _stamp(folder / inverse_file(schedule)))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(folder, settings, schedule)
        return _CACHE[key]


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _load(folder: Path, settings: RenderSettings, schedule: str) -> tuple[LearnedModels | None, str]:
    proxy_path, inverse_path = folder / PROXY_FILE, folder / inverse_file(schedule)
    missing = [p.name for p in (proxy_path, inverse_path) if not p.is_file()]
    if missing:
        return None, (f"learned starts off: no {' or '.join(missing)} in {folder} (train them with `python -m studio "
                      f"learn proxy` and `python -m studio learn inverse`); starting from random sounds")
    try:
        proxy, proxy_header = load_network(proxy_path, "proxy", settings)
        inverse, inverse_header = load_network(inverse_path, "inverse", settings)
    except ModelError as err:
        return None, f"learned starts off: {err}; starting from random sounds"
    if proxy.architecture.in_dim != N_PARAMS or inverse.architecture.out_dim != N_PARAMS:
        return None, "learned starts off: the model files do not map the synth's 78 knobs; starting from random sounds"
    models = LearnedModels(proxy, inverse, settings, proxy_header, inverse_header, str(folder))
    return models, models.describe()


def forget_loaded_models() -> None:
    """Drop the loaded models (the next request reads the files again)."""
    with _LOCK:
        _CACHE.clear()


def cloud_around(theta: np.ndarray, seed: int, spreads=CLOUD_SPREADS, per_spread: int = CLOUD_PER_SPREAD,
                 locked: np.ndarray | None = None) -> np.ndarray:
    """θ ``[78]`` moved by N(0, σ²) for each σ of ``spreads``, ``per_spread`` each, clipped to [0, 1] → ``[len ×
    per_spread, 78]`` (numpy PCG64 seeded ``seed``); locked knobs keep ``theta``'s values."""
    rng = np.random.default_rng(seed)
    theta = np.asarray(theta, np.float32)
    cloud = np.concatenate([theta[None] + rng.normal(0.0, s, (per_spread, N_PARAMS)).astype(np.float32)
                            for s in spreads])
    if locked is not None:
        cloud[:, np.asarray(locked, bool)] = theta[np.asarray(locked, bool)]
    return np.clip(cloud, 0.0, 1.0).astype(np.float32)


def proxy_distances(models: LearnedModels, target_embedding, candidates: np.ndarray) -> np.ndarray:
    """Distance ``[N]`` between the proxy's embedding of each candidate θ ``[N, 78]`` and the target's ``[259]``."""
    predicted = proxy_embeddings(models.proxy, candidates)
    return np.linalg.norm(predicted - np.asarray(target_embedding, np.float32)[None], axis=-1)


def refined_by_proxy(models: LearnedModels, target_embedding, starts: np.ndarray, locked: np.ndarray | None = None,
                     steps: int = REFINE_STEPS, learning_rate: float = REFINE_RATE) -> np.ndarray:
    """Candidates θ ``[K, 78]`` moved down the gradient of their proxy distance to ``target_embedding`` ``[259]``:
    ``steps`` Adam steps (``learning_rate`` in normalized knob units), θ clipped to [0, 1] after each; locked knobs
    ``[78]`` bool keep their values → ``[K, 78]`` float32. Deterministic (no random draw)."""
    proxy = models.proxy
    free = np.ones(N_PARAMS, np.float32) if locked is None else (~np.asarray(locked, bool)).astype(np.float32)
    descend = _descent_program(proxy.architecture, int(steps), float(learning_rate))
    return np.asarray(descend(proxy.params, proxy.stats, np.asarray(target_embedding, np.float32),
                              np.asarray(starts, np.float32), free), np.float32)


@lru_cache(maxsize=8)
def _descent_program(architecture, steps: int, learning_rate: float):
    """The compiled descent of :func:`refined_by_proxy` for one proxy architecture."""
    adam = optax.adam(learning_rate)

    def descend(params, stats, target, thetas, free):
        def distance(th):  # the sum of the candidates' distances: each candidate's gradient is its own
            return jnp.sum(jnp.linalg.norm(apply_network(architecture, params, stats, th) - target[None], axis=-1))

        def step(carry, _):
            th, state = carry
            updates, state = adam.update(jax.grad(distance)(th) * free[None], state, th)
            return (jnp.clip(optax.apply_updates(th, updates), 0.0, 1.0), state), None

        (thetas, _), _ = jax.lax.scan(step, (thetas, adam.init(thetas)), None, length=steps)
        return thetas

    return jax.jit(descend)


__all__ = ["CLOUD_PER_SPREAD", "CLOUD_SPREADS", "DEFAULT_SCHEDULE", "LearnedModels", "PROXY_FILE", "REFINED",
           "REFINE_RATE", "REFINE_STEPS", "UNIFORM_CANDIDATES", "cloud_around", "forget_loaded_models", "inverse_file",
           "learned_models", "models_dir", "proxy_distances", "refined_by_proxy"]
