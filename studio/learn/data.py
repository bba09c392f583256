"""Training data for the learned models, rendered on the fly: θ → (the proxy's target, the inverse model's input).

A :class:`DataSpec` names a data set completely (render settings, seed, size, batch), so the same spec always
gives the same sounds: batch ``i`` holds θ drawn uniformly from numpy's PCG64 seeded ``(seed, i)``, rendered with
the synth's batched renderer (every sound with the spec's noise seed, as the matcher renders candidates) and
measured by the studio's one front end (:func:`studio.audio.embedding.loss_features`). The spec is saved in every
checkpoint, so a model says what it was trained on.

Every sound is first scaled to ``REFERENCE_RMS`` (−20 dBFS RMS over the buffer): the matcher's distances are
gain-invariant (it scales each candidate to the target's RMS), so the models learn the sound at one loudness and a
target is compared at that loudness too (:func:`sound_features`). Near-silent sounds are raised no further than a
sound at ``MIN_RMS`` would be, as the matcher does.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.embedding import EMBEDDING_DIM, loss_features
from studio.errors import SettingsError
from studio.synth import N_PARAMS, RenderSettings, renderer

REFERENCE_RMS = 0.1  # −20 dBFS: where the studio normalizes targets (studio.audio.target.TARGET_RMS_DB)
MIN_RMS = 1e-4  # −80 dBFS: quieter sounds are silence and are not amplified beyond this
SEGMENTS = 16  # the inverse model hears the log-mel spectrogram as 16 stretches of time (125 ms each for 2 s)
AUDIBLE_PEAK_DB = -40.0  # the inverse model learns from sounds that peak above this (what a target sounds like)


@dataclass(frozen=True)
class DataSpec:
    """A reproducible training set: ``count`` uniform random θ in batches of ``batch``, batch ``i`` from numpy's
    PCG64 seeded ``(seed, i)``, rendered at ``sample_rate`` Hz for ``duration`` s (control rate ``control_rate``,
    every sound with noise seed ``noise_seed``)."""

    seed: int = 0
    count: int = 32_768
    batch: int = 64
    sample_rate: int = 48_000
    duration: float = 2.0
    control_rate: float = 480.0
    noise_seed: int = 0

    @property
    def settings(self) -> RenderSettings:
        return RenderSettings(self.sample_rate, self.duration, self.control_rate, self.noise_seed)

    @property
    def batches(self) -> int:
        return -(-self.count // self.batch)

    def check(self) -> DataSpec:
        """Raise :class:`SettingsError` naming a bad field; return self."""
        for name, value, lo, hi in (("seed", self.seed, 0, 2**32 - 1), ("count", self.count, 1, 10_000_000),
                                    ("batch", self.batch, 1, 4096)):
            if not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
                raise SettingsError(f"data {name} must be a whole number from {lo} to {hi}, got {value!r}", name)
        try:
            self.settings.validate()
        except ValueError as err:
            raise SettingsError(str(err), "settings") from None
        return self

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def batch_thetas(spec: DataSpec, index: int) -> np.ndarray:
    """θ ``[batch, 78]`` float32 of batch ``index`` (uniform in [0, 1], PCG64 seeded ``(spec.seed, index)``)."""
    rng = np.random.default_rng([spec.seed, index])
    return rng.uniform(0.0, 1.0, (spec.batch, N_PARAMS)).astype(np.float32)


def at_reference_loudness(audio):
    """Audio ``[B, T]`` scaled so each sound's RMS is ``REFERENCE_RMS`` (quieter than ``MIN_RMS``: raised only as
    far as ``MIN_RMS`` would be). Traceable."""
    rms = jnp.sqrt(jnp.mean(audio ** 2, axis=-1))
    return audio * (REFERENCE_RMS / jnp.maximum(rms, MIN_RMS))[:, None]


def features_from_audio(audio, sample_rate: int):
    """What the models see of sounds ``[B, T]`` at ``sample_rate`` Hz, at the reference loudness → (embedding
    ``[B, 259]``, the inverse model's input ``[B, INPUT_DIM]``: the embedding, the log-mel spectrogram averaged
    over ``SEGMENTS`` stretches of time (dBFS, ``[SEGMENTS × 128]`` flattened) and the 10 ms level envelope
    (dBFS)), all from :func:`~studio.audio.embedding.loss_features`. Traceable."""
    embedding, segments, envelope = loss_features(at_reference_loudness(audio), sample_rate, SEGMENTS)
    inputs = jnp.concatenate([embedding, segments.reshape(segments.shape[0], -1), envelope], axis=-1)
    return embedding, inputs


@lru_cache(maxsize=8)
def _features_program(sample_rate: int):
    return jax.jit(lambda audio: features_from_audio(audio, sample_rate))


def measure_audio(audio, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`features_from_audio` of sounds ``[B, T]`` (or ``[T]``), compiled → (embedding ``[B, 259]``, inverse
    input ``[B, D]``) numpy float32."""
    batch = jnp.asarray(np.atleast_2d(np.asarray(audio, np.float32)))
    return tuple(np.asarray(x) for x in _features_program(int(sample_rate))(batch))


def input_dim(settings: RenderSettings) -> int:
    """Size of the inverse model's input for sounds of these settings."""
    shapes = jax.eval_shape(lambda a: features_from_audio(a, settings.sample_rate),
                            jax.ShapeDtypeStruct((1, settings.num_samples), jnp.float32))
    return int(shapes[1].shape[-1])


@lru_cache(maxsize=8)
def _measure_program(settings: RenderSettings):
    render = renderer(settings)

    def measure(thetas, seeds):
        audio = render(thetas, seeds)
        embedding, inputs = features_from_audio(audio, settings.sample_rate)
        peak_db = 20.0 * jnp.log10(jnp.maximum(jnp.max(jnp.abs(audio), axis=-1), 1e-10))
        return embedding, inputs, peak_db

    return jax.jit(measure)


def measure_thetas(thetas, settings: RenderSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render θ ``[B, 78]`` (every sound with ``settings.noise_seed``) and measure them → (embedding ``[B, 259]``,
    inverse input ``[B, D]``, peak level ``[B]`` dBFS), numpy float32."""
    thetas = np.asarray(thetas, np.float32)
    seeds = np.full(len(thetas), settings.noise_seed, np.uint32)
    return tuple(np.asarray(x) for x in _measure_program(settings)(jnp.asarray(thetas), jnp.asarray(seeds)))


@dataclass(frozen=True)
class Dataset:
    """A rendered data set: θ ``[N, 78]``, embedding ``[N, 259]`` at the reference loudness, inverse input
    ``[N, D]``, peak level ``[N]`` dBFS, and the spec that made it."""

    spec: DataSpec
    thetas: np.ndarray
    embeddings: np.ndarray
    inputs: np.ndarray
    peak_db: np.ndarray
    seconds: float

    @property
    def audible(self) -> np.ndarray:
        """``[N]`` bool: the sounds that peak above ``AUDIBLE_PEAK_DB``."""
        return self.peak_db > AUDIBLE_PEAK_DB


def render_dataset(spec: DataSpec, progress: Callable[[int, int], None] | None = None,
                   with_inputs: bool = True) -> Dataset:
    """Render and measure every batch of ``spec`` (deterministic); ``progress(done, total)`` after each batch.
    ``with_inputs=False`` keeps only θ and embeddings (the proxy needs no more)."""
    spec.check()
    started = time.perf_counter()
    thetas, embeddings, inputs, peaks = [], [], [], []
    for index in range(spec.batches):
        theta = batch_thetas(spec, index)
        embedding, features, peak = measure_thetas(theta, spec.settings)
        thetas.append(theta)
        embeddings.append(embedding)
        if with_inputs:
            inputs.append(features)
        peaks.append(peak)
        if progress is not None:
            progress(index + 1, spec.batches)
    cut = lambda parts, width: (np.concatenate(parts)[:spec.count] if parts  # noqa: E731
                                else np.zeros((spec.count, width), np.float32))
    return Dataset(spec, cut(thetas, N_PARAMS), cut(embeddings, EMBEDDING_DIM),
                   cut(inputs, 0), np.concatenate(peaks)[:spec.count], time.perf_counter() - started)


__all__ = ["AUDIBLE_PEAK_DB", "DataSpec", "Dataset", "MIN_RMS", "REFERENCE_RMS", "SEGMENTS", "at_reference_loudness",
           "batch_thetas", "features_from_audio", "input_dim", "measure_audio", "measure_thetas", "render_dataset"]
