"""The reproducible recipes of the shipped models, and their held-out measures.

    python -m studio learn proxy                    # assets/models/proxy.msgpack
    python -m studio learn inverse                  # assets/models/inverse-{param,mix,switch}.msgpack

Both render the same training set (:data:`SHIPPED_DATA`, a ``studio.data`` spec: the sounds ``python -m studio
dataset --kind random --seed 101 …`` makes; cached on disk after the first render so the second command does not
render it again), or read a dataset folder (``--data FOLDER``), measure themselves on a held-out set
(:data:`HELD_OUT`, another seed) and write the measures into the checkpoint's header. Every seed is fixed, so the
same command gives the same models on the same machine (XLA may round differently on another CPU).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from .checkpoint import compat_record, features_fingerprint, save_network, synth_fingerprint
from studio.data.spec import DatasetSpec

from .data import Dataset, learn_spec, measure_thetas, read_dataset, render_dataset, spec_settings
from .inverse import SCHEDULES, InverseRecipe, train_inverse
from .models import PROXY_FILE, inverse_file, models_dir
from .nets import Network
from .proxy import ProxyRecipe, proxy_embeddings, train_proxy

SHIPPED_DATA = learn_spec(seed=101, count=262_144)  # seeds 101/102: never used by the benches' targets
HELD_OUT = learn_spec(seed=102, count=1_024)
SHIPPED_PROXY = ProxyRecipe(hidden=(512, 512, 512), steps=32_000, batch=512, learning_rate=2e-3, seed=0)
SHIPPED_INVERSE = InverseRecipe(hidden=(256, 256), steps=6_000, batch=256, learning_rate=1e-3, seed=0)
PAIRS = 4_000  # held-out pairs for the distance correlation
LOG = partial(print, flush=True)


def data_cache_dir() -> Path:
    """Rendered training sets are kept in ``$SYNTH_STUDIO_LEARN_CACHE``, else ``~/.cache/synth-studio/learn``."""
    chosen = os.environ.get("SYNTH_STUDIO_LEARN_CACHE")
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synth-studio" / "learn"


def cached_dataset(spec: DatasetSpec, log: Callable[[str], None] = LOG, cache: Path | None = None) -> Dataset:
    """:func:`~.data.render_dataset` of ``spec``, read from the cache when an identical render (same spec, synth
    and features) was kept there, else rendered and kept."""
    key = hashlib.sha256(json.dumps([spec.to_dict(), synth_fingerprint(), features_fingerprint()],
                                    sort_keys=True).encode()).hexdigest()[:16]
    folder = cache if cache is not None else data_cache_dir()
    path = folder / f"data-{spec.seed}-{spec.count}-{key}.npz"
    if path.is_file():
        with np.load(path) as f:
            log(f"data: {spec.count} sounds from the cache ({path})")
            return Dataset(spec, f["thetas"], f["embeddings"], f["inputs"], f["peak_db"], 0.0)
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 10.0 or done == total:
            last[0] = time.perf_counter()
            log(f"  rendering: {done}/{spec.count} sounds ({last[0] - started:.0f} s)")

    log(f"data: rendering {spec.count} sounds (seed {spec.seed}, {spec.sample_rate} Hz, {spec.duration} s)")
    data = render_dataset(spec, progress)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, thetas=data.thetas, embeddings=data.embeddings, inputs=data.inputs, peak_db=data.peak_db)
        os.replace(temporary, path)
    except OSError as err:  # a read-only cache costs the next command a render, nothing more
        log(f"  (not cached: {err})")
    return data


def random_pairs(count: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` index pairs (i ≠ j) of ``count`` items, numpy PCG64 seeded ``seed``."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, count, pairs)
    j = (i + rng.integers(1, count, pairs)) % count
    return i, j


def spearman(x, y) -> float:
    """Spearman's rank correlation of two ``[n]`` sequences (ranks by sorting; continuous data has no ties)."""
    rx = np.argsort(np.argsort(x)).astype(np.float64)
    ry = np.argsort(np.argsort(y)).astype(np.float64)
    return float(np.corrcoef(rx, ry)[0, 1])


def proxy_measures(proxy: Network, thetas: np.ndarray, embeddings: np.ndarray, seed: int = 0) -> dict:
    """On held-out sounds (θ ``[N, 78]`` and true embeddings ``[N, D]``): the mean and median distance between
    the proxy's and the true embedding divided by the median distance of two random held-out sounds, and
    Spearman's ρ between proxy and true distances over random pairs."""
    predicted = proxy_embeddings(proxy, thetas)
    i, j = random_pairs(len(thetas), PAIRS, seed)
    true_pairs = np.linalg.norm(embeddings[i] - embeddings[j], axis=-1)
    proxy_pairs = np.linalg.norm(predicted[i] - predicted[j], axis=-1)
    scale = float(np.median(true_pairs))
    error = np.linalg.norm(predicted - embeddings, axis=-1) / scale
    return {"normalized_distance_mean": round(float(error.mean()), 4),
            "normalized_distance_median": round(float(np.median(error)), 4),
            "spearman_pairs": round(spearman(proxy_pairs, true_pairs), 4), "median_random_distance": round(scale, 4),
            "held_out": int(len(thetas))}


def inverse_measures(inverse: Network, held_out: Dataset, scale: float) -> dict:
    """On held-out audible sounds: mean squared knob error of the one-shot guess, and the embedding distance
    between the rendered guess and the target (divided by ``scale``, the median random-pair distance)."""
    audible = held_out.audible
    guesses = np.asarray(inverse(held_out.inputs[audible]))
    heard = np.concatenate([measure_thetas(guesses[k:k + 64], spec_settings(held_out.spec))[0]
                            for k in range(0, len(guesses), 64)])
    distance = np.linalg.norm(heard - held_out.embeddings[audible], axis=-1) / scale
    return {"theta_mse": round(float(np.mean((guesses - held_out.thetas[audible]) ** 2)), 5),
            "guess_distance_mean": round(float(distance.mean()), 4),
            "guess_distance_median": round(float(np.median(distance)), 4), "held_out": int(audible.sum())}


def training_data(data: DatasetSpec | str | Path, log: Callable[[str], None] = LOG,
                  cache: Path | None = None) -> Dataset:
    """The training set: a spec rendered (or read from the cache: :func:`cached_dataset`), or a dataset folder
    made by ``python -m studio dataset`` (:func:`~.data.read_dataset`)."""
    if isinstance(data, DatasetSpec):
        return cached_dataset(data, log, cache)
    log(f"data: measuring the sounds of the dataset in {data}")
    return read_dataset(data)


def held_out_for(data: Dataset, held_out: DatasetSpec) -> DatasetSpec:
    """The held-out spec at the training data's render settings."""
    spec = data.spec
    return learn_spec(held_out.seed, held_out.count, spec.sample_rate, spec.duration, spec.control_rate)


def train_shipped_proxy(folder: Path | None = None, data_spec: DatasetSpec | str | Path = SHIPPED_DATA,
                        recipe: ProxyRecipe = SHIPPED_PROXY, held_out: DatasetSpec = HELD_OUT,
                        log: Callable[[str], None] = LOG, cache: Path | None = None) -> Path:
    """Render (or read) the data (a spec, or a dataset folder), train the proxy, measure it on ``held_out``, write
    ``proxy.msgpack``."""
    folder = Path(folder) if folder is not None else models_dir()
    started = time.perf_counter()
    data = training_data(data_spec, log, cache)
    held_out = held_out_for(data, held_out)
    test = cached_dataset(held_out, log, cache)
    log(f"proxy: {recipe.steps} steps of {recipe.batch} sounds, hidden {list(recipe.hidden)}")
    network, record = train_proxy(data.thetas, data.embeddings, recipe, _step_logger(log, recipe.steps))
    measures = proxy_measures(network, test.thetas, test.embeddings)
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    path = save_network(folder / PROXY_FILE, network, "proxy", {
        "compat": compat_record(spec_settings(data.spec)), "data": data.spec.to_dict(), "held_out": held_out.to_dict(),
        "training": record, "metrics": measures,
        "target": "perceptual embedding (studio.audio.embedding.loss_features) at -20 dBFS RMS"})
    log(f"proxy: {json.dumps(measures)}; {record['seconds']} s training, {record['total_seconds']} s in all")
    log(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
    return path


def train_shipped_inverse(folder: Path | None = None, schedules=SCHEDULES,
                          data_spec: DatasetSpec | str | Path = SHIPPED_DATA,
                          recipe: InverseRecipe = SHIPPED_INVERSE, held_out: DatasetSpec = HELD_OUT,
                          log: Callable[[str], None] = LOG, cache: Path | None = None) -> list[Path]:
    """Train one inverse model per schedule on the audible sounds of the data (the perceptual loss through the
    proxy in ``folder``), measure each on ``held_out``, write ``inverse-<schedule>.msgpack``."""
    import dataclasses

    from .checkpoint import load_network

    folder = Path(folder) if folder is not None else models_dir()
    data = training_data(data_spec, log, cache)
    proxy, proxy_header = load_network(folder / PROXY_FILE, "proxy", spec_settings(data.spec))
    held_out = held_out_for(data, held_out)
    test = cached_dataset(held_out, log, cache)
    scale = float(proxy_header.get("metrics", {}).get("median_random_distance") or 1.0)
    audible = data.audible
    paths = []
    for schedule in schedules:
        started = time.perf_counter()
        chosen = dataclasses.replace(recipe, schedule=schedule)
        log(f"inverse ({schedule}): {chosen.steps} steps of {chosen.batch} sounds, hidden {list(chosen.hidden)}, "
            f"{int(audible.sum())} audible sounds")
        network, record = train_inverse(data.inputs[audible], data.thetas[audible], data.embeddings[audible],
                                        proxy, chosen, _step_logger(log, chosen.steps))
        measures = inverse_measures(network, test, scale)
        record["total_seconds"] = round(time.perf_counter() - started, 1)
        path = save_network(folder / inverse_file(schedule), network, "inverse", {
            "compat": compat_record(spec_settings(data.spec)), "data": data.spec.to_dict(),
            "held_out": held_out.to_dict(), "training": record, "metrics": measures,
            "proxy": proxy_header.get("training", {})})
        log(f"inverse ({schedule}): {json.dumps(measures)}; {record['seconds']} s")
        log(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB)")
        paths.append(path)
    return paths


def _step_logger(log: Callable[[str], None], steps: int):
    started, last = time.perf_counter(), [0.0]

    def progress(done: int, loss: float) -> None:
        now = time.perf_counter() - started
        if now - last[0] >= 15.0 or done == steps:
            last[0] = now
            log(f"  step {done}/{steps}: loss {loss:.4f} ({now:.0f} s, {done / max(now, 1e-9):.1f} steps/s)")

    return progress


__all__ = ["HELD_OUT", "SHIPPED_DATA", "SHIPPED_INVERSE", "SHIPPED_PROXY", "cached_dataset", "data_cache_dir",
           "held_out_for", "inverse_measures", "proxy_measures", "random_pairs", "spearman", "train_shipped_inverse",
           "train_shipped_proxy", "training_data"]
