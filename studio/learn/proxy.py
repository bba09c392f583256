"""The neural proxy: θ ``[78]`` → the studio's perceptual embedding ``[259]`` of the sound (Neural Proxies, Combes
et al. 2025: a fast, differentiable stand-in for render + embed).

The target is the embedding the match loss compares (:func:`studio.audio.embedding.loss_features`, the sound at the
reference loudness of :mod:`.data`), so a proxy distance estimates the matcher's embedding term without rendering.
The network (:mod:`.nets`) reads θ standardized and predicts each embedding number standardized (per number: the
training set's mean and spread), and is trained on the squared *embedding* distance (each number's error weighted
by its spread², so the loss is what a distance between embeddings measures). The same trainer fits θ → any
embedding (``targets``): the CLAP proxy (:mod:`.clap_proxy`) is this with CLAP's audio embedding.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from studio.synth import N_PARAMS

from .nets import Architecture, Network, fit, init_network, standardization

THETA_MEAN, THETA_STD = 0.5, float(np.sqrt(1.0 / 12.0))  # a uniform θ's mean and spread: the input's scaling


@dataclass(frozen=True)
class ProxyRecipe:
    """How a proxy is trained: hidden widths, AdamW steps of ``batch`` sounds, peak learning rate, the seed of the
    initialization and of the minibatch draws."""

    hidden: tuple[int, ...] = (512, 512, 512)
    steps: int = 8000
    batch: int = 256
    learning_rate: float = 2e-3
    seed: int = 0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


def proxy_loss(params, stats, batch, step, architecture: Architecture):
    """Mean squared embedding distance between the proxy's prediction for ``batch["theta"]`` and
    ``batch["target"]`` (in the embedding's own units)."""
    from .nets import apply_network

    predicted = apply_network(architecture, params, stats, batch["theta"])
    return jnp.mean(jnp.sum((predicted - batch["target"]) ** 2, axis=-1))


def train_proxy(thetas: np.ndarray, targets: np.ndarray, recipe: ProxyRecipe = ProxyRecipe(),
                progress=None) -> tuple[Network, dict]:
    """Fit a proxy θ ``[N, 78]`` → targets ``[N, D]`` → (network, training record: recipe, seconds, loss per
    chunk of steps)."""
    from functools import partial

    thetas = np.asarray(thetas, np.float32)
    targets = np.asarray(targets, np.float32)
    if thetas.ndim != 2 or thetas.shape[1] != N_PARAMS or len(targets) != len(thetas):
        raise ValueError(f"thetas must be [N, {N_PARAMS}] and targets [N, D], got {thetas.shape}, {targets.shape}")
    out_mean, out_std = standardization(targets)
    architecture = Architecture(N_PARAMS, targets.shape[1], tuple(recipe.hidden), "linear")
    stats = {"in_mean": np.full(N_PARAMS, THETA_MEAN, np.float32), "in_std": np.full(N_PARAMS, THETA_STD, np.float32),
             "out_mean": out_mean, "out_std": out_std}
    network = init_network(architecture, stats, recipe.seed)
    started = time.perf_counter()
    network, history = fit(network, partial(proxy_loss, architecture=architecture),
                           {"theta": thetas, "target": targets}, recipe.steps, recipe.batch, recipe.learning_rate,
                           recipe.seed, progress)
    seconds = time.perf_counter() - started
    return network, {"recipe": recipe.as_dict(), "seconds": round(seconds, 1), "loss_first": history[0],
                     "loss_last": history[-1], "examples": int(len(thetas))}


PROXY_BLOCK = 2048  # rows per forward call and core on a CPU: bigger blocks spill the hidden layers out of the
# caches (an 8,192 batch in one 4,096-row shard per core ran at 0.84× the rate of 2,048-row blocks on the 2-core
# machine, 8,192-row shards at 0.7×; bench/learn_quality.py prints the first two)


def proxy_embeddings(proxy: Network, thetas, threads: int | None = None, block: int | None = None) -> np.ndarray:
    """The proxy's embedding of each θ ``[B, 78]`` → ``[B, D]`` numpy float32, in blocks of ``block`` rows per
    thread (default ``PROXY_BLOCK`` on a CPU, the whole batch on an accelerator), each block split over the cores
    (``threads``: see ``studio.search.parallel.evaluation_threads``; the studio's XLA runs each program on one
    core, so one shard per core doubles the rate on two)."""
    from studio.search.parallel import evaluation_threads, map_shards

    thetas = np.asarray(thetas, np.float32)
    threads = evaluation_threads(len(thetas), threads)
    if block is None:
        block = PROXY_BLOCK if jax.default_backend() == "cpu" else max(1, len(thetas))
    step = max(1, block) * max(1, threads)
    parts = [map_shards(proxy, (thetas[start:start + step],), (), threads) for start in range(0, len(thetas), step)]
    if not parts:
        return np.asarray(proxy(thetas), np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


__all__ = ["PROXY_BLOCK", "ProxyRecipe", "THETA_MEAN", "THETA_STD", "proxy_embeddings", "proxy_loss",
           "train_proxy"]
