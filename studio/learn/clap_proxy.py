"""A proxy for CLAP: θ ``[78]`` → LAION-CLAP's audio embedding of the sound (L2-normalized, ``[P]``), trained once
per CLAP model and kept in the user's cache, so prompt search with CLAP can run its generations on the proxy and
render only the top candidates for CLAP's real judgement (:mod:`studio.search.prompt`).

    python -m studio learn proxy --target clap [--clap-model ID_OR_DIR] [--count N] [--steps N]

The data: uniform random θ from a fixed seed, rendered (:mod:`.data`) and embedded by the CLAP scorer
(:class:`studio.scoring.clap.ClapScorer`, on the GPU when torch sees one). The checkpoint records the CLAP model
it learned (``compat["clap_model"]``, with the projection size) and whether its weights were real: a proxy of a
random-weight CLAP (tests, benchmarks) fits numbers that mean nothing, and says so.
"""
from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.synth import RenderSettings, render

from .checkpoint import ModelError, compat_record, load_network, save_network
from studio.data.spec import DatasetSpec

from .data import learn_spec, spec_settings
from .nets import Network
from .proxy import ProxyRecipe, proxy_embeddings, train_proxy

CLAP_DATA = learn_spec(seed=201, count=2_048)  # CLAP embeds ~27 sounds/s on a 2-core CPU: ~75 s of data
CLAP_BATCH = 32  # sounds per CLAP call
CLAP_PROXY = ProxyRecipe(hidden=(512, 512), steps=3_000, batch=128, learning_rate=2e-3, seed=0)


def clap_models_dir() -> Path:
    """Where CLAP proxies are kept: ``$SYNTH_STUDIO_CLAP_PROXIES``, else ``~/.cache/synth-studio/clap-proxies``."""
    chosen = os.environ.get("SYNTH_STUDIO_CLAP_PROXIES")
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synth-studio" / "clap-proxies"


def clap_identity(scorer) -> dict:
    """What a CLAP proxy is valid for: the CLAP model's source and its embedding size."""
    return {"clap_model": str(scorer.source), "clap_dim": int(scorer.model.config.projection_dim)}


def clap_proxy_file(scorer) -> str:
    """``clap-proxy-<the model's name as a slug>.msgpack``."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(scorer.source).lower()).strip("-")[-80:] or "clap"
    return f"clap-proxy-{slug}.msgpack"


def clap_embeddings_of_thetas(scorer, thetas: np.ndarray, settings: RenderSettings, batch: int = CLAP_BATCH,
                              seeds=None) -> np.ndarray:
    """CLAP's audio embedding ``[N, P]`` (float32, unit length) of each θ ``[N, 78]`` rendered with ``settings``
    and noise seeds ``seeds`` ``[N]`` (default: every sound with the settings' noise seed, as a search renders)."""
    seeds = np.full(len(thetas), settings.noise_seed, np.uint32) if seeds is None else np.asarray(seeds, np.uint32)
    out = []
    for start in range(0, len(thetas), batch):
        part = np.asarray(thetas[start:start + batch], np.float32)
        audio = np.asarray(render(part, settings, seeds=seeds[start:start + batch]))
        out.append(scorer.audio_embeddings(audio, settings.sample_rate).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def train_clap_proxy(folder: Path | None = None, clap_model: str | None = None, count: int | None = None,
                     steps: int | None = None, scorer=None, log: Callable[[str], None] = print,
                     spec: DatasetSpec | None = None) -> Path:
    """Embed the data with CLAP, fit the proxy, measure it on a held-out eighth, write it to ``folder`` (default
    :func:`clap_models_dir`) → the file's path. ``scorer``: an already loaded CLAP scorer (else loaded from
    ``clap_model``). ``spec``: the data's dataset spec (default :data:`CLAP_DATA`, ``count`` sounds: θ and noise
    seeds as ``python -m studio dataset`` draws them)."""
    from studio.data.samples import sample_rows
    from studio.scoring.clap import load_clap

    from .train import proxy_measures

    scorer = scorer or load_clap(clap_model)
    spec = spec or CLAP_DATA
    spec = (spec if count is None else dataclasses.replace(spec, count=int(count))).validated()
    settings = spec_settings(spec)
    recipe = CLAP_PROXY if steps is None else dataclasses.replace(CLAP_PROXY, steps=int(steps))
    if not scorer.semantic:
        log(f"{scorer.reason}: the proxy will fit it, but its numbers mean nothing")
    started = time.perf_counter()
    rows = sample_rows(spec, np.arange(spec.count))
    thetas = rows["theta"]
    log(f"data: {spec.count} sounds (seed {spec.seed}) embedded by {scorer.label}")
    embeddings = clap_embeddings_of_thetas(scorer, thetas, settings, seeds=rows["noise_seed"])
    embed_s = time.perf_counter() - started
    held = max(1, spec.count // 8)
    network, record = train_proxy(thetas[:-held], embeddings[:-held], recipe)
    metrics = proxy_measures(network, thetas[-held:], embeddings[-held:])
    predicted = proxy_embeddings(network, thetas[-held:])
    cosine = np.sum(predicted * embeddings[-held:], axis=-1) / np.maximum(np.linalg.norm(predicted, axis=-1), 1e-9)
    metrics["cosine_to_true_mean"] = round(float(cosine.mean()), 4)
    record.update(embed_seconds=round(embed_s, 1), total_seconds=round(time.perf_counter() - started, 1))
    folder = Path(folder) if folder is not None else clap_models_dir()
    path = save_network(folder / clap_proxy_file(scorer), network, "clap-proxy", {
        "compat": compat_record(settings, clap_identity(scorer)), "data": spec.to_dict(), "training": record,
        "metrics": metrics, "clap_semantic": bool(scorer.semantic),
        "target": f"CLAP audio embedding (L2-normalized) of {scorer.source}"})
    log(f"CLAP proxy: {metrics}; {record['seconds']} s training, {embed_s:.0f} s embedding")
    log(f"wrote {path}" + ("" if scorer.semantic else " (random CLAP weights: not semantic)"))
    return path


def load_clap_proxy(scorer, settings: RenderSettings, folder: Path | None = None) -> tuple[Network | None, str]:
    """(the CLAP proxy for this scorer and settings, a sentence), or (None, why not)."""
    folder = Path(folder) if folder is not None else clap_models_dir()
    path = folder / clap_proxy_file(scorer)
    if not path.is_file():
        return None, (f"no CLAP proxy for {scorer.source} in {folder} (train one with `python -m studio learn proxy "
                      f"--target clap --clap-model {scorer.source}`): every candidate is judged by CLAP")
    try:
        network, header = load_network(path, "clap-proxy", settings, clap_identity(scorer))
    except ModelError as err:
        return None, f"CLAP proxy not used: {err}"
    return network, f"candidates screened by the CLAP proxy {path.name}, the best verified by CLAP"


__all__ = ["CLAP_BATCH", "CLAP_DATA", "CLAP_PROXY", "clap_embeddings_of_thetas", "clap_identity", "clap_models_dir",
           "clap_proxy_file", "load_clap_proxy", "train_clap_proxy"]
