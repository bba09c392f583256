"""Training data for the learned models: the dataset tool's sounds → (the proxy's target, the inverse model's input).

The models learn from sounds named by a dataset spec of ``studio.data`` (:func:`learn_spec`: kind ``random``, θ
uniform, each sample with its own noise seed, sample ``i`` a pure function of the spec and ``i``), so a model's
training set is exactly the one ``python -m studio dataset --kind random --seed S --count N …`` makes. The sounds
are rendered on the fly (:func:`render_dataset`: θ and noise seeds from ``studio.data.samples.sample_rows``, the
synth's batched renderer) or read from a finished dataset folder holding the theta and audio fields
(:func:`read_dataset`, ``python -m studio learn … --data FOLDER``); either way every sound is measured by the
studio's one front end (:func:`studio.audio.embedding.loss_features`). The spec is saved in every checkpoint, so
a model says what it was trained on.

Every sound is first scaled to ``REFERENCE_RMS`` (−20 dBFS RMS over the buffer): the matcher's distances are
gain-invariant (it scales each candidate to the target's RMS), so the models learn the sound at one loudness and a
target is compared at that loudness too (:func:`sound_features`). Near-silent sounds are raised no further than a
sound at ``MIN_RMS`` would be, as the matcher does.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.embedding import loss_features
from studio.data.spec import DatasetSpec
from studio.errors import SettingsError, StudioError
from studio.synth import RenderSettings, renderer

REFERENCE_RMS = 0.1  # −20 dBFS: where the studio normalizes targets (studio.audio.target.TARGET_RMS_DB)
MIN_RMS = 1e-4  # −80 dBFS: quieter sounds are silence and are not amplified beyond this
SEGMENTS = 16  # the inverse model hears the log-mel spectrogram as 16 stretches of time (125 ms each for 2 s)
AUDIBLE_PEAK_DB = -40.0  # the inverse model learns from sounds that peak above this (what a target sounds like)


LEARN_CHUNK = 64  # sounds per render and measurement call


def learn_spec(seed: int, count: int, sample_rate: int = 48_000, duration: float = 2.0,
               control_rate: float = 480.0) -> DatasetSpec:
    """The dataset spec of a training set: ``count`` uniform random sounds of ``seed`` at these settings, θ and
    noise seed only (the models measure the sounds themselves), rendered in chunks of ``LEARN_CHUNK``."""
    return DatasetSpec(kind="random", count=count, seed=seed, fields=("theta", "settings"), sample_rate=sample_rate,
                       duration=duration, control_rate=control_rate, chunk=LEARN_CHUNK).validated()


def spec_settings(spec: DatasetSpec) -> RenderSettings:
    """The render settings the models of ``spec``'s sounds are made for (the matcher's: noise seed 0)."""
    return spec.render_settings()


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


def peak_db(audio):
    """Peak level ``[B]`` dBFS of sounds ``[B, T]``. Traceable."""
    return 20.0 * jnp.log10(jnp.maximum(jnp.max(jnp.abs(audio), axis=-1), 1e-10))


@lru_cache(maxsize=8)
def _measure_program(settings: RenderSettings):
    render = renderer(settings)

    def measure(thetas, seeds):
        audio = render(thetas, seeds)
        embedding, inputs = features_from_audio(audio, settings.sample_rate)
        return embedding, inputs, peak_db(audio)

    return jax.jit(measure)


def measure_thetas(thetas, settings: RenderSettings, seeds=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render θ ``[B, 78]`` (with noise seeds ``seeds`` ``[B]``, default ``settings.noise_seed`` for every sound,
    as the matcher renders candidates) and measure them → (embedding ``[B, 259]``, inverse input ``[B, D]``, peak
    level ``[B]`` dBFS), numpy float32."""
    thetas = np.asarray(thetas, np.float32)
    seeds = np.full(len(thetas), settings.noise_seed, np.uint32) if seeds is None else np.asarray(seeds, np.uint32)
    return tuple(np.asarray(x) for x in _measure_program(settings)(jnp.asarray(thetas), jnp.asarray(seeds)))


@dataclass(frozen=True)
class Dataset:
    """A measured training set: θ ``[N, 78]``, embedding ``[N, 259]`` at the reference loudness, inverse input
    ``[N, D]``, peak level ``[N]`` dBFS, and the dataset spec of its sounds."""

    spec: DatasetSpec
    thetas: np.ndarray
    embeddings: np.ndarray
    inputs: np.ndarray
    peak_db: np.ndarray
    seconds: float

    @property
    def audible(self) -> np.ndarray:
        """``[N]`` bool: the sounds that peak above ``AUDIBLE_PEAK_DB``."""
        return self.peak_db > AUDIBLE_PEAK_DB


def render_dataset(spec: DatasetSpec, progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Render and measure every sample of ``spec`` (kind random, from :func:`learn_spec`), ``spec.chunk`` at a
    time (deterministic: sample i's θ and noise seed are the dataset tool's); ``progress(done, total)`` after each
    chunk."""
    from studio.data.samples import sample_rows

    spec = spec.validated()
    started = time.perf_counter()
    settings, parts = spec_settings(spec), []
    for start in range(0, spec.count, spec.chunk):
        rows = sample_rows(spec, np.arange(start, min(start + spec.chunk, spec.count)))
        n = len(rows["theta"])
        measured = measure_thetas(_padded(rows["theta"], spec.chunk), settings, _padded(rows["noise_seed"], spec.chunk))
        parts.append((rows["theta"], *(x[:n] for x in measured)))
        if progress is not None:
            progress(min(start + spec.chunk, spec.count), spec.count)
    return _joined(spec, parts, started)


def read_dataset(folder, progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Measure the sounds of a finished dataset folder made by ``python -m studio dataset`` with the theta and
    audio fields (any kind; its θ and audio as stored). :class:`StudioError` naming what is missing otherwise."""
    from studio.data.reader import open_dataset

    data = open_dataset(Path(folder))
    spec = data.spec
    missing = [f for f in ("theta", "audio") if f not in spec.fields]
    if missing:
        raise StudioError(f"the dataset in {folder} has no {' or '.join(missing)} field: the learned models need "
                          f"each sound's knobs and audio (make it with --fields theta,settings,audio)", "data")
    started = time.perf_counter()
    rate, parts, done = spec.sample_rate, [], 0
    for batch in data.batches(LEARN_CHUNK):
        audio = np.asarray(batch["audio"])
        audio = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
        embedding, inputs = measure_audio(_padded(audio, LEARN_CHUNK), rate)
        n = len(audio)
        parts.append((np.asarray(batch["theta"], np.float32), embedding[:n], inputs[:n],
                      np.asarray(peak_db(audio), np.float32)))
        done += n
        if progress is not None:
            progress(done, len(data))
    return _joined(spec, parts, started)


def _padded(rows: np.ndarray, size: int) -> np.ndarray:
    """``rows`` ``[n ≤ size, …]`` padded to ``size`` by repeating the last (one compiled shape for every chunk)."""
    rows = np.asarray(rows)
    return rows if len(rows) == size else np.concatenate([rows, np.repeat(rows[-1:], size - len(rows), axis=0)])


def _joined(spec: DatasetSpec, parts: list[tuple], started: float) -> Dataset:
    if not parts:
        raise SettingsError("the training set holds no sounds", "count")
    thetas, embeddings, inputs, peaks = (np.concatenate(column) for column in zip(*parts))
    return Dataset(spec, thetas, embeddings, inputs, peaks, time.perf_counter() - started)


__all__ = ["AUDIBLE_PEAK_DB", "Dataset", "LEARN_CHUNK", "MIN_RMS", "REFERENCE_RMS", "SEGMENTS",
           "at_reference_loudness", "features_from_audio", "input_dim", "learn_spec", "measure_audio", "measure_thetas",
           "peak_db", "read_dataset", "render_dataset", "spec_settings"]
