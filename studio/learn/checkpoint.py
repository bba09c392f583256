"""The learned models' file format: one msgpack file per model (``flax.serialization``), versioned.

A checkpoint is a msgpack map with three entries:

- ``header``: a JSON text (readable with any msgpack reader) holding ``format`` (``"synth-studio-model"``),
  ``format_version`` (:data:`FORMAT_VERSION`), ``kind`` (``proxy``, ``inverse`` or ``clap-proxy``), the
  ``architecture`` (input/output sizes, hidden widths, output head), ``compat`` (what the model is only valid for:
  the synth's parameter table and the features' fingerprints, and the render settings: sample rate, duration,
  control rate, noise seed), the training ``data`` spec (a ``studio.data`` dataset spec,
  :func:`~studio.learn.data.learn_spec`), the ``training`` record (steps, batch, learning rate, seeds, schedule,
  seconds, final loss) and any ``metrics``;
- ``params``: the flax parameters (a nested map of float32 arrays);
- ``stats``: the standardization arrays (``in_mean``, ``in_std``, ``out_mean``, ``out_std``).

:func:`load_network` refuses a file whose format version, kind, synth table, features or render settings differ
from what the studio asks for, with a :class:`ModelMismatchError` that says what differs and how to retrain; the
studio then works without that model (:mod:`.models`).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from flax import serialization

from studio.errors import StudioError
from studio.synth import PARAMS, RenderSettings

from .nets import Architecture, Network

FORMAT = "synth-studio-model"
FORMAT_VERSION = 1
KINDS = ("proxy", "inverse", "clap-proxy")
MAX_FILE_BYTES = 64 * 2**20  # a shipped model is a few MB; a bigger file is not one of ours


class ModelError(StudioError):
    """A model file that cannot be used: missing, unreadable, not a studio model."""


class ModelMismatchError(ModelError):
    """A model trained for another synth, other features or other render settings than those asked for."""


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def synth_fingerprint() -> str:
    """A digest of the synth's parameter table (keys, ranges, curves, in order): a model maps θ of this table."""
    return _digest([[p.key, p.lo, p.hi, p.curve, p.symmetric] for p in PARAMS])


def features_fingerprint() -> str:
    """A digest of what the models measure: the embedding's size, block scales and floor, the analysis, the
    reference loudness and the inverse input's segments. A change to any of them makes old models wrong."""
    from studio.audio.embedding import BLOCK_SCALES, EMBEDDING_DIM, FLOOR_DB, WINNER

    from .data import MIN_RMS, REFERENCE_RMS, SEGMENTS

    return _digest({"embedding": [WINNER, EMBEDDING_DIM, BLOCK_SCALES, FLOOR_DB], "reference_rms": REFERENCE_RMS,
                    "min_rms": MIN_RMS, "segments": SEGMENTS})


def settings_dict(settings: RenderSettings) -> dict:
    return {"sample_rate": int(settings.sample_rate), "duration": float(settings.duration),
            "control_rate": float(settings.control_rate), "noise_seed": int(settings.noise_seed)}


def compat_record(settings: RenderSettings, extra: dict | None = None) -> dict:
    """What a model is valid for: this synth table, these features, these render settings (+ ``extra``, e.g. the
    CLAP model a CLAP proxy learned)."""
    return {"synth": synth_fingerprint(), "features": features_fingerprint(), "settings": settings_dict(settings),
            **(extra or {})}


def save_network(path, network: Network, kind: str, header: dict) -> Path:
    """Write ``network`` to ``path`` (atomically: a temporary file renamed into place); ``header`` holds
    ``compat``, ``data``, ``training`` and ``metrics`` (see the module docstring). Returns the path."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "architecture": network.architecture.as_dict(), **header}
    blob = serialization.msgpack_serialize({
        "header": json.dumps(full, sort_keys=True),
        "params": _to_numpy(network.params),
        "stats": {k: np.asarray(v, np.float32) for k, v in network.stats.items()}})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
        os.chmod(temporary, 0o644)  # model files are shipped and shared: readable like any other asset
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return np.asarray(tree, np.float32)


def read_header(path) -> dict:
    """The header of a model file (no check beyond its being a studio model)."""
    return _read(path)[0]


def _read(path) -> tuple[dict, dict]:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no model file at {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelError(f"{path} is {path.stat().st_size / 2**20:.0f} MB: not a studio model (at most "
                         f"{MAX_FILE_BYTES // 2**20} MB)")
    try:
        blob = serialization.msgpack_restore(path.read_bytes())
        header = json.loads(blob["header"])
    except Exception as err:  # a truncated or foreign file: say so, whatever the parser's complaint
        raise ModelError(f"{path} is not a readable studio model ({type(err).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelError(f"{path} is not a studio model file (format {header.get('format')!r})")
    return header, blob


def check_compat(header: dict, kind: str, settings: RenderSettings | None, source: str,
                 extra: dict | None = None) -> None:
    """Raise :class:`ModelMismatchError` unless ``header`` is a ``kind`` model of this format version, this synth
    table and these features, trained for ``settings`` (None: any settings) and ``extra`` (e.g. the CLAP model)."""
    retrain = f"retrain it with `python -m studio learn {'proxy' if kind != 'inverse' else 'inverse'}`"
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelMismatchError(f"{source} is model format version {header.get('format_version')}, this studio "
                                 f"reads version {FORMAT_VERSION}: {retrain}")
    if header.get("kind") != kind:
        raise ModelMismatchError(f"{source} is a {header.get('kind')} model, not a {kind} model")
    compat = header.get("compat", {})
    if compat.get("synth") != synth_fingerprint():
        raise ModelMismatchError(f"{source} was trained on another version of the synth (parameter table "
                                 f"{compat.get('synth')}, this studio's is {synth_fingerprint()}): {retrain}")
    if compat.get("features") != features_fingerprint():
        raise ModelMismatchError(f"{source} was trained on other features (fingerprint {compat.get('features')}, "
                                 f"this studio's is {features_fingerprint()}): {retrain}")
    if settings is not None and compat.get("settings") != settings_dict(settings):
        want, have = settings_dict(settings), compat.get("settings") or {}
        differ = ", ".join(f"{k} {have.get(k)} (asked: {want[k]})" for k in want if have.get(k) != want[k])
        raise ModelMismatchError(f"{source} was trained for other render settings: {differ}; it only fits the "
                                 f"settings it was trained on: {retrain} with those settings")
    for key, value in (extra or {}).items():
        if compat.get(key) != value:
            raise ModelMismatchError(f"{source} was trained for {key} {compat.get(key)!r}, not {value!r}: {retrain}")


def load_network(path, kind: str, settings: RenderSettings | None = None,
                 extra: dict | None = None) -> tuple[Network, dict]:
    """Read a model file → (network, header), after :func:`check_compat`. Raises :class:`ModelError` (unreadable)
    or :class:`ModelMismatchError` (another format version, kind, synth, features or settings)."""
    header, blob = _read(path)
    check_compat(header, kind, settings, Path(path).name, extra)
    architecture = Architecture.from_dict(header["architecture"])
    stats = {k: np.asarray(v, np.float32) for k, v in blob["stats"].items()}
    return Network(architecture, _to_numpy(blob["params"]), stats), header


__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "ModelError", "ModelMismatchError", "check_compat", "compat_record",
           "features_fingerprint", "load_network", "read_header", "save_network", "settings_dict",
           "synth_fingerprint"]
