"""Which sounds a dataset holds: θ, noise seed and labels of every sample, each a pure function of the spec and the
sample's index (shard s, row i: index ``s · shard_size + i``).

Every random draw comes from a counter-based JAX key (threefry), never from a generator's running state:

    key(seed) → fold_in(kind tag) → fold_in(counter, as two 32-bit words) → fold_in(slot) → uniform / normal / bits

The counter is the sample's index (``random``) or its group's (``doppelgangers``, ``sweeps``: one anchor or base
sound per group), and the slot says what the draw is for (θ, the noise seed, a step). A sample therefore has the
same θ and noise seed whichever shard size, engine, machine or core count made it, and reading sample 10⁹ costs no
more than reading sample 0. Draws are made on the CPU in blocks of the spec's ``chunk`` (padded), so even the
floating-point rounding of ``normal`` is that of one fixed program.

The kinds reuse the studio's own pieces: doppelgängers are ``studio.explore.doppelgangers``' clip(θ + δ·z) with
locks (variant v of anchor group g equals ``doppelgangers(anchor, δ, variants, seed=variant_seed(spec, g, d),
locks)[v]``), sweeps are ``studio.explore.sweeps``' (the embedding ranking test's), presets are read with
``studio.presets``.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from studio.errors import SettingsError

from .spec import DatasetSpec

KIND_TAGS = {"random": 1, "doppelgangers": 2, "sweeps": 3, "presets": 4}
# What each draw of a counter is for (the last fold_in).
SLOT_THETA, SLOT_NOISE, SLOT_STEP = 0, 1, 2  # doppelgängers: the step seed of δ number d is slot SLOT_STEP + d
PRESET_SUFFIXES = (".yaml", ".yml", ".json")
META_COLUMNS = {"random": (), "doppelgangers": ("group", "member", "delta"), "sweeps": ("group", "member", "attribute",
                                                                                     "value"),
                "presets": ("preset",)}


@dataclass(frozen=True)
class Sources:
    """Presets a spec reads (``around`` or the ``presets`` folder): θ ``[P, 78]`` float32, their noise seeds ``[P]``
    uint32 and names (a factory name, a file's absolute path, or for ``presets`` its path in the folder), with a hash
    of all three (``spec.sources_sha256``)."""

    thetas: np.ndarray
    seeds: np.ndarray
    names: tuple[str, ...]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.thetas, np.float32).tobytes())
        digest.update(np.ascontiguousarray(self.seeds, np.uint32).tobytes())
        digest.update("\n".join(self.names).encode())
        return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Presets a spec reads
# ----------------------------------------------------------------------------------------------
def _preset_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.suffix.lower() in PRESET_SUFFIXES and p.is_file()),
                  key=lambda p: p.relative_to(folder).as_posix())


def load_sources(spec: DatasetSpec) -> Sources | None:
    """The presets ``spec`` reads, or None when it reads none. ``around`` entries are factory preset names, preset
    files or folders of them; ``presets`` is a folder (every .yaml/.yml/.json below it, sorted by path). A missing
    or invalid preset raises its :class:`~studio.presets.PresetError` (a StudioError naming the file)."""
    from studio.presets import factory_preset, load_preset

    if spec.kind == "presets":
        folder = Path(spec.presets)
        if not folder.is_dir():
            raise SettingsError(f"--presets {spec.presets}: no such folder", "presets")
        files = _preset_files(folder)
        if not files:
            raise SettingsError(f"--presets {spec.presets}: the folder holds no preset files "
                                f"({', '.join(PRESET_SUFFIXES)})", "presets")
        presets = [(p.relative_to(folder).as_posix(), load_preset(p)) for p in files]
    elif spec.around:
        presets = []
        for entry in spec.around:
            path = Path(entry)
            if path.is_dir():
                files = _preset_files(path)
                if not files:
                    raise SettingsError(f"--around {entry}: the folder holds no preset files", "around")
                presets += [(f.resolve().as_posix(), load_preset(f)) for f in files]
            elif path.suffix.lower() in PRESET_SUFFIXES or path.exists():
                presets.append((path.resolve().as_posix(), load_preset(path)))
            else:
                presets.append((entry, factory_preset(entry)))
    else:
        return None
    return Sources(np.stack([p.theta for _, p in presets]).astype(np.float32),
                   np.array([p.settings.noise_seed for _, p in presets], np.uint32),
                   tuple(name for name, _ in presets))


_resolved: dict[str, tuple[DatasetSpec, Sources | None]] = {}
_resolved_lock = threading.Lock()


def resolve(spec: DatasetSpec) -> tuple[DatasetSpec, Sources | None]:
    """The spec checked, with what depends on files filled in, and the presets it reads.

    Paths in ``around`` and ``presets`` become absolute (a run resumed from another folder reads the same files);
    ``presets``' count defaults to the number of files; ``sources_sha256`` is set to the presets' hash, and a spec
    that already carries another one (the files changed since it was written) is refused.
    """
    spec = spec.validated()
    key = spec.to_json()
    with _resolved_lock:
        if key in _resolved:
            return _resolved[key]
    sources = load_sources(spec)  # with the paths as given, so a message names what was typed
    if spec.presets is not None:
        spec = replace(spec, presets=str(Path(spec.presets).resolve()))
    if spec.around:
        spec = replace(spec, around=tuple(str(Path(a).resolve()) if Path(a).exists() else a for a in spec.around))
    if sources is not None:
        if spec.sources_sha256 is not None and spec.sources_sha256 != sources.sha256:
            raise SettingsError("the presets this dataset reads have changed since its spec was written "
                                f"({', '.join(spec.around) or spec.presets})", "sources_sha256")
        spec = replace(spec, sources_sha256=sources.sha256)
    if spec.kind == "presets":
        available = len(sources.names)
        if spec.count is None:
            spec = replace(spec, count=available)
        elif spec.count > available:
            raise SettingsError(f"--count {spec.count}: the folder {spec.presets} holds only {available} presets",
                                "count")
    spec = spec.validated()
    with _resolved_lock:
        if len(_resolved) > 64:  # a long-lived process making many specs on the fly keeps the recent ones
            _resolved.clear()
        _resolved[key] = _resolved[spec.to_json()] = (spec, sources)
    return spec, sources


# ----------------------------------------------------------------------------------------------
# Counter-based draws
# ----------------------------------------------------------------------------------------------
def _draw_program(what: str, size: int):
    import jax
    import jax.numpy as jnp

    def one(seed, tag, hi, lo, slot):
        key = jax.random.fold_in(jax.random.key(seed), tag)
        key = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, hi), lo), slot)
        if what == "uniform":
            return jax.random.uniform(key, (size,), jnp.float32)
        if what == "normal":
            return jax.random.normal(key, (size,), jnp.float32)
        return jax.random.bits(key, (), jnp.uint32)

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0, None)))


_programs: dict = {}


def draw(spec: DatasetSpec, counters, slot: int, what: str, size: int = 78) -> np.ndarray:
    """The draws of ``counters`` ``[N]`` (sample or group indices) for one slot: ``uniform`` or ``normal``
    ``[N, size]`` float32, or ``bits`` ``[N]`` uint32. Made on the CPU in padded blocks of ``spec.chunk``."""
    import jax
    import jax.numpy as jnp

    counters = np.asarray(counters, np.uint64)
    program = _programs.get((what, size))
    if program is None:
        program = _programs[(what, size)] = _draw_program(what, size)
    block = spec.chunk
    padded = np.concatenate([counters, np.zeros((-len(counters)) % block, np.uint64)])
    hi = (padded >> np.uint64(32)).astype(np.uint32)
    lo = (padded & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    seed, tag = np.uint32(spec.seed), np.uint32(KIND_TAGS[spec.kind])
    with jax.default_device(jax.devices("cpu")[0]):
        parts = [np.asarray(program(seed, tag, jnp.asarray(hi[i:i + block]), jnp.asarray(lo[i:i + block]),
                                    np.uint32(slot)))
                 for i in range(0, len(padded), block)]
    out = np.concatenate(parts) if parts else np.zeros((0,) if what == "bits" else (0, size))
    return out[:len(counters)]


def variant_seed(spec: DatasetSpec, groups, delta_index: int) -> np.ndarray:
    """The doppelgänger step seeds ``[N]`` uint32 of anchor groups ``groups`` ``[N]`` at δ number ``delta_index``:
    variant v of group g at that δ is ``studio.explore.doppelgangers(anchor, δ, variants, seed, locks)[v]``."""
    return draw(spec, groups, SLOT_STEP + int(delta_index), "bits")


def _steps(spec: DatasetSpec, seeds: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``studio.explore.doppelganger_steps`` in padded blocks of ``spec.chunk`` (one program shape)."""
    import jax

    from studio.explore.doppelgangers import doppelganger_steps

    block, count = spec.chunk, len(seeds)
    pad = (-count) % block
    seeds = np.concatenate([seeds, np.zeros(pad, np.uint32)])
    indices = np.concatenate([indices, np.zeros(pad, np.int64)])
    with jax.default_device(jax.devices("cpu")[0]):
        parts = [doppelganger_steps(seeds[i:i + block], indices[i:i + block]) for i in range(0, len(seeds), block)]
    return np.concatenate(parts)[:count]


# ----------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------
def sample_rows(spec: DatasetSpec, indices, sources: Sources | None = None) -> dict[str, np.ndarray]:
    """What samples ``indices`` ``[N]`` hold before rendering: ``index`` int64, ``theta`` ``[N, 78]`` float32,
    ``noise_seed`` uint32 and the kind's labels (``META_COLUMNS``):

    - doppelgangers: ``group`` (anchor number), ``member`` (0 the anchor, then variants δ by δ), ``delta`` (0 for the
      anchor); every member of a group shares the anchor's noise seed, so only θ differs;
    - sweeps: ``group`` (sweep number), ``member`` (step 0–19), ``attribute``, ``value`` (the step's value in the
      attribute's unit); the steps of a sweep share one noise seed;
    - presets: ``preset`` (the file's path in the folder).

    ``sources``: the presets ``spec`` reads (:func:`resolve`); loaded here when not given.
    """
    indices = np.asarray(indices, np.int64)
    if indices.ndim != 1 or (indices.size and (indices.min() < 0 or indices.max() >= spec.count)):
        raise IndexError(f"sample indices must lie in [0, {spec.count})")
    if sources is None and (spec.kind == "presets" or spec.around):
        spec, sources = resolve(spec)
    kind = spec.kind
    if kind == "random":
        rows = _random_rows(spec, indices, sources)
    elif kind == "doppelgangers":
        rows = _doppelganger_rows(spec, indices, sources)
    elif kind == "sweeps":
        rows = _sweep_rows(spec, indices)
    else:
        rows = {"theta": sources.thetas[indices], "noise_seed": sources.seeds[indices],
                "preset": np.array([sources.names[i] for i in indices], dtype=str)}
    return {"index": indices, **rows}


def _lock_mask(spec: DatasetSpec) -> np.ndarray:
    from studio.explore.locks import lock_mask

    return lock_mask(list(spec.locks) or None)


def _random_rows(spec: DatasetSpec, indices: np.ndarray, sources: Sources | None) -> dict:
    noise = draw(spec, indices, SLOT_NOISE, "bits")
    if sources is None:
        return {"theta": draw(spec, indices, SLOT_THETA, "uniform"), "noise_seed": noise}
    from studio.explore.doppelgangers import step_from

    bases = sources.thetas[indices % len(sources.thetas)]
    steps = draw(spec, indices, SLOT_THETA, "normal")
    return {"theta": step_from(bases, steps, np.float32(spec.spread), _lock_mask(spec)), "noise_seed": noise}


def _doppelganger_rows(spec: DatasetSpec, indices: np.ndarray, sources: Sources | None) -> dict:
    from studio.explore.doppelgangers import step_from

    size = spec.group_size
    groups, members = indices // size, (indices % size).astype(np.int32)
    unique, where = np.unique(groups, return_inverse=True)
    if sources is None:
        anchors = draw(spec, unique, SLOT_THETA, "uniform")
    else:
        anchors = sources.thetas[unique % len(sources.thetas)]
    noise = draw(spec, unique, SLOT_NOISE, "bits")[where]
    theta = anchors[where].copy()
    delta = np.zeros(len(indices), np.float32)
    variant = members > 0
    if variant.any():
        which = np.flatnonzero(variant)
        d_index = (members[which] - 1) // spec.variants
        v_index = (members[which] - 1) % spec.variants
        seeds = np.empty(len(which), np.uint32)
        for d in np.unique(d_index):  # one draw of step seeds per δ over the groups present
            seeds[d_index == d] = variant_seed(spec, unique, int(d))[where[which][d_index == d]]
        deltas = np.asarray(spec.deltas, np.float32)[d_index]
        theta[which] = step_from(anchors[where[which]], _steps(spec, seeds, v_index), deltas, _lock_mask(spec))
        delta[which] = deltas
    return {"theta": theta, "noise_seed": noise, "group": groups, "member": members, "delta": delta}


def _sweep_rows(spec: DatasetSpec, indices: np.ndarray) -> dict:
    from studio.explore.sweeps import ATTRIBUTE_NAMES, attribute_named, sweep

    size = spec.group_size
    groups, members = indices // size, (indices % size).astype(np.int32)
    unique, where = np.unique(groups, return_inverse=True)
    names = spec.attributes or ATTRIBUTE_NAMES
    thetas = np.empty((len(unique), size, 78), np.float32)
    values = np.empty((len(unique), size), np.float64)
    for k, group in enumerate(unique):  # a base sound from a generator seeded by (seed, kind, group) alone
        rng = np.random.default_rng([spec.seed, KIND_TAGS["sweeps"], int(group)])
        thetas[k], values[k] = sweep(attribute_named(names[int(group) % len(names)]), rng)
    noise = draw(spec, unique, SLOT_NOISE, "bits")[where]
    return {"theta": thetas[where, members], "noise_seed": noise, "group": groups, "member": members,
            "attribute": np.array([names[int(g) % len(names)] for g in groups], dtype=str),
            "value": values[where, members].astype(np.float32)}
