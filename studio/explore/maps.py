"""2-D maps of a set of sounds: UMAP (as in CTAG's figure) of θ or of the perceptual embedding, PCA for few sounds.

UMAP (umap-learn) is imported only when a map needs it: importing takes 3–6 s and the first fit in a process
compiles numba code for ~10 s more. :func:`warm_up_umap` does both in a background thread at start-up
(``bench/map_warmup.py`` on a 2-core CPU: the first map of 36 sounds takes 13.3 s cold, the warm-up 12.7 s, a map
after it 0.05 s). While the warm-up still runs, an "auto" map is a PCA map (at once, and its note says why)
rather than a wait. UMAP needs neighbours to learn from: below
``MIN_UMAP_SOUNDS`` sounds the map falls back to PCA too, and says so in ``SoundMap.method``/``note``.
Coordinates are centred and scaled into [−1, 1] (the larger axis spans it), and are deterministic for a seed.
"""
from __future__ import annotations

import warnings
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from studio.background import once, started
from studio.checks import check_choice, check_seed
from studio.synth import RenderSettings, check_theta

SPACES = ("theta", "perceptual")
METHODS = ("auto", "umap", "pca")
MIN_UMAP_SOUNDS = 10
DEFAULT_NEIGHBOURS = 15  # umap-learn's default: local enough for clusters of ~10 similar sounds


@dataclass(frozen=True)
class SoundMap:
    """Where each sound sits: coords ``[N, 2]`` float32 in [−1, 1]; method "umap", "pca" or "single" (N = 1);
    space "theta" or "perceptual" (or "features" for :func:`map_coordinates` called directly); note: one line
    for people saying how the map was made."""

    coords: np.ndarray
    method: str
    space: str
    note: str


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------
def map_features(thetas, space: str = "theta", settings: RenderSettings = RenderSettings()) -> np.ndarray:
    """The points to map: θ ``[N, 78]`` → ``[N, 78]`` (θ itself) or ``[N, 259]`` (perceptual embeddings of the
    sounds rendered with ``settings``, one noise seed for all so seeds do not separate equal patches)."""
    check_choice(space, SPACES, "space")
    arr = check_theta(thetas)
    if space == "theta":
        return np.clip(arr, 0.0, 1.0)
    from .sounds import embed_sounds

    return embed_sounds(arr, settings)


# ----------------------------------------------------------------------------------------------
# Projections
# ----------------------------------------------------------------------------------------------
def _fit_to_unit_box(coords: np.ndarray) -> np.ndarray:
    """Centre ``[N, 2]`` on its bounding box and scale so the larger extent spans [−1, 1] (aspect kept)."""
    coords = np.asarray(coords, np.float64)
    centre = (coords.max(axis=0) + coords.min(axis=0)) / 2.0
    half = float(np.max(coords.max(axis=0) - coords.min(axis=0))) / 2.0
    return ((coords - centre) / (half if half > 0 else 1.0)).astype(np.float32)


def pca_coordinates(features: np.ndarray) -> np.ndarray:
    """The first two principal components of ``[N, D]`` → ``[N, 2]`` float64 (zeros where there is no variance).

    Each component's sign is fixed (its largest-magnitude loading is positive), so the result is deterministic.
    """
    x = np.asarray(features, np.float64)
    centred = x - x.mean(axis=0)
    out = np.zeros((x.shape[0], 2))
    if x.shape[0] < 2 or not np.any(centred):
        return out
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    for k in range(min(2, components.shape[0])):
        if singular[k] <= 1e-12 * singular[0]:
            break
        component = components[k] * np.sign(components[k][np.argmax(np.abs(components[k]))])
        out[:, k] = centred @ component
    return out


def umap_available() -> bool:
    """Whether umap-learn can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def _umap_model(n_points: int, seed: int, n_neighbours: int):
    import umap  # lazy: 3–6 s to import, numba compiles on the first fit

    return umap.UMAP(n_components=2, n_neighbors=max(2, min(n_neighbours, n_points - 1)), random_state=seed,
                     init="spectral", metric="euclidean", n_jobs=1, low_memory=True)


def umap_coordinates(features: np.ndarray, seed: int = 0, n_neighbours: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
    """UMAP of ``[N, D]`` (N ≥ 3) → ``[N, 2]`` float32; the same seed and input give the same coordinates.

    A fixed ``random_state`` makes umap-learn run single-threaded and deterministically.
    """
    x = np.ascontiguousarray(features, np.float32)
    with warnings.catch_warnings():  # "n_jobs overridden by random_state", spectral-init fallbacks on tiny graphs
        warnings.simplefilter("ignore")
        return _umap_model(x.shape[0], seed, n_neighbours).fit_transform(x).astype(np.float32)


def map_coordinates(features, seed: int = 0, method: str = "auto", min_umap_sounds: int = MIN_UMAP_SOUNDS,
                    n_neighbours: int = DEFAULT_NEIGHBOURS, space: str = "features") -> SoundMap:
    """2-D coordinates of N points ``[N, D]`` → :class:`SoundMap`.

    method "umap": UMAP (waits for a running warm-up). "pca": PCA. "auto": UMAP with at least ``min_umap_sounds``
    points, unless a warm-up is still running or umap-learn is missing; PCA otherwise, with the reason in the note.
    """
    x = np.asarray(features, np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"features must have shape [N ≥ 1, D], got {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or infinite values")
    check_choice(method, METHODS, "method")
    seed = check_seed(seed)
    n = x.shape[0]
    if n == 1:
        return SoundMap(np.zeros((1, 2), np.float32), "single", space, "one sound: nothing to map yet")
    use_umap = n >= max(min_umap_sounds, 3) if method == "auto" else method == "umap"
    if method == "umap" and n < 3:
        raise ValueError(f"UMAP needs at least 3 sounds, got {n}")
    if use_umap and not umap_available():
        if method == "umap":
            raise ValueError("UMAP is not available: install umap-learn (pip install umap-learn)")
        use_umap, reason = False, "umap-learn is not installed, so "
    elif use_umap and method == "auto" and umap_warming():
        # Never make a person wait ~15 s for numba: show PCA now, UMAP once the warm-up has finished.
        use_umap, reason = False, "UMAP is still warming up (compiling), so for now "
    else:
        reason = f"fewer than {min_umap_sounds} sounds, so " if method == "auto" else ""
    if use_umap:
        coords = umap_coordinates(x, seed, n_neighbours)
        note = f"UMAP of {n} sounds ({space}), seed {seed}"
        return SoundMap(_fit_to_unit_box(coords), "umap", space, note)
    note = f"{reason}PCA of {n} sounds ({space}) instead of UMAP"
    return SoundMap(_fit_to_unit_box(pca_coordinates(x)), "pca", space, note)


def sound_map(thetas, space: str = "theta", seed: int = 0, method: str = "auto",
              settings: RenderSettings = RenderSettings()) -> SoundMap:
    """Map a set of sounds θ ``[N, 78]`` in θ space or in the perceptual embedding (rendered with ``settings``)."""
    return map_coordinates(map_features(thetas, space, settings), seed=seed, method=method, space=space)


# ----------------------------------------------------------------------------------------------
# Warm-up
# ----------------------------------------------------------------------------------------------
WARM_UP_KEY = "umap-warm-up"  # the studio.background key of the warm-up


def _warm_up() -> None:
    if not umap_available():
        return
    # The same dtype, metric and code path (< 4096 points: exact neighbours, spectral init, layout
    # optimization) as a real map, so numba compiles every function a real fit calls.
    points = np.random.default_rng(0).random((48, 12), dtype=np.float32)
    umap_coordinates(points, seed=0)


def warm_up_umap(background: bool = True) -> Future:
    """Import umap-learn and compile its numba code once per process (~13 s on 2 cores), so later maps are fast.

    Starts the warm-up in the background the first time (:func:`studio.background.once`) and returns its
    future (later calls return the same one); ``background=False`` waits for
    it to finish. A missing umap-learn only ends the warm-up (maps then use PCA); a failed one is logged.
    """
    preparation = once(WARM_UP_KEY, _warm_up)
    if not background:
        preparation.result()
    return preparation


def umap_warm() -> bool:
    """True once :func:`warm_up_umap` has finished (the next UMAP map will not compile)."""
    preparation = started(WARM_UP_KEY)
    return preparation is not None and preparation.done()


def umap_warming() -> bool:
    """True while a warm-up started by :func:`warm_up_umap` is still running."""
    preparation = started(WARM_UP_KEY)
    return preparation is not None and not preparation.done()


# ----------------------------------------------------------------------------------------------
# Colouring
# ----------------------------------------------------------------------------------------------
COLOUR_BY = ("tag", "prompt", "source")


def colour_groups(tags, prompts, sources, by: str = "tag") -> list[str]:
    """The group each sound is coloured by: per sound its first tag ("untagged" without one), its prompt ("no
    prompt" without one) or its source ("factory", "library"). Inputs are sequences of equal length N."""
    check_choice(by, COLOUR_BY, "colour_by")
    if by == "tag":
        return [t[0] if t else "untagged" for t in tags]
    if by == "prompt":
        return [p.strip() if p and p.strip() else "no prompt" for p in prompts]
    return [str(s) for s in sources]
