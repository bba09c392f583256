"""The inverse model: a target sound → θ ``[78]`` in one pass (after Flow Synthesizer, Esling et al. 2020, and
preset-gen-vae, Le Vaillant et al. 2021, which infer synth parameters from audio).

Input: what the studio's front end measures of the sound at the reference loudness (:func:`.data.features_from_
audio`): the perceptual embedding, the log-mel spectrogram averaged over 16 stretches of time and the 10 ms level
envelope, standardized. Output: θ through a sigmoid (in (0, 1)).

Many θ sound alike, so matching knobs is not the goal; three training schedules after Neural Proxies (Combes et
al. 2025), where the perceptual loss is the squared embedding distance between the proxy's embedding of the guess
and the target's true embedding (gradients flow through the frozen proxy):

- ``param``: the parameter loss (mean squared error of θ) only;
- ``mix``: the parameter loss plus the perceptual loss, whose weight rises linearly from 0 to 1 over the first
  half of training and stays at 1;
- ``switch``: the parameter loss for the first half, then the perceptual loss alone.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import partial

import jax.numpy as jnp
import numpy as np

from studio.errors import SettingsError
from studio.synth import N_PARAMS

from .data import measure_audio
from .nets import Architecture, Network, apply_network, fit, init_network, standardization

SCHEDULES = ("param", "mix", "switch")


@dataclass(frozen=True)
class InverseRecipe:
    """How an inverse model is trained: hidden widths, schedule (:data:`SCHEDULES`), AdamW steps of ``batch``
    sounds, peak learning rate, seed of the initialization and of the minibatch draws."""

    hidden: tuple[int, ...] = (256, 256)
    schedule: str = "mix"
    steps: int = 4000
    batch: int = 256
    learning_rate: float = 1e-3
    seed: int = 0

    def check(self) -> InverseRecipe:
        if self.schedule not in SCHEDULES:
            raise SettingsError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}", "schedule")
        return self

    def as_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


def perceptual_weight(schedule: str, step, steps: int):
    """(parameter-loss weight, perceptual-loss weight) at ``step`` of ``steps`` for a schedule. Traceable."""
    half = steps / 2.0
    if schedule == "param":
        return 1.0, 0.0
    if schedule == "mix":
        return 1.0, jnp.minimum(step / half, 1.0)
    late = (step >= half).astype(jnp.float32)
    return 1.0 - late, late


def inverse_loss(params, stats, batch, step, architecture: Architecture, proxy: Network | None, schedule: str,
                 steps: int):
    """The schedule's loss at ``step``: weighted parameter MSE + squared proxy-embedding distance to
    ``batch["embedding"]`` (see the module docstring)."""
    guess = apply_network(architecture, params, stats, batch["inputs"])
    param_loss = jnp.mean((guess - batch["theta"]) ** 2)
    if proxy is None or schedule == "param":
        return param_loss
    w_param, w_perceptual = perceptual_weight(schedule, step, steps)
    heard = apply_network(proxy.architecture, proxy.params, proxy.stats, guess)
    perceptual = jnp.mean(jnp.sum((heard - batch["embedding"]) ** 2, axis=-1))
    return w_param * param_loss + w_perceptual * perceptual


def train_inverse(inputs: np.ndarray, thetas: np.ndarray, embeddings: np.ndarray, proxy: Network | None,
                  recipe: InverseRecipe = InverseRecipe(), progress=None) -> tuple[Network, dict]:
    """Fit the inverse model on sounds' features ``[N, D]`` → their θ ``[N, 78]`` (and, for ``mix``/``switch``,
    their embeddings ``[N, 259]`` through ``proxy``) → (network, training record)."""
    recipe.check()
    if recipe.schedule != "param" and proxy is None:
        raise SettingsError(f"the {recipe.schedule} schedule needs a proxy (the perceptual loss runs through it)",
                            "proxy")
    inputs = np.asarray(inputs, np.float32)
    in_mean, in_std = standardization(inputs)
    architecture = Architecture(inputs.shape[1], N_PARAMS, tuple(recipe.hidden), "sigmoid")
    stats = {"in_mean": in_mean, "in_std": in_std, "out_mean": np.zeros(N_PARAMS, np.float32),
             "out_std": np.ones(N_PARAMS, np.float32)}
    network = init_network(architecture, stats, recipe.seed)
    frozen = None if proxy is None else proxy.replace(params=_device(proxy.params), stats=_device(proxy.stats))
    loss = partial(inverse_loss, architecture=architecture, proxy=frozen, schedule=recipe.schedule,
                   steps=recipe.steps)
    started = time.perf_counter()
    network, history = fit(network, loss, {"inputs": inputs, "theta": np.asarray(thetas, np.float32),
                                           "embedding": np.asarray(embeddings, np.float32)},
                           recipe.steps, recipe.batch, recipe.learning_rate, recipe.seed, progress)
    return network, {"recipe": recipe.as_dict(), "seconds": round(time.perf_counter() - started, 1),
                     "loss_first": history[0], "loss_last": history[-1], "examples": int(len(inputs))}


def _device(tree):
    if isinstance(tree, dict):
        return {k: _device(v) for k, v in tree.items()}
    return jnp.asarray(tree)


def guess_thetas(inverse: Network, audio, sample_rate: int) -> np.ndarray:
    """The inverse model's θ for each sound of ``audio [B, T]`` (any level; at the model's settings) →
    ``[B, 78]`` numpy float32 in (0, 1)."""
    _, inputs = measure_audio(audio, sample_rate)
    return np.asarray(inverse(inputs))


__all__ = ["InverseRecipe", "SCHEDULES", "guess_thetas", "inverse_loss", "perceptual_weight", "train_inverse"]
