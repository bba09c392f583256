"""Audio doppelgängers (Cherep & Singh 2024): variations of a sound by Gaussian steps in θ.

θ'_i = clip(θ + δ·z_i, 0, 1) with z_i ~ N(0, I) over all 78 normalized parameters; δ = 0.25 was the paper's
sweet spot (clearly a relative, clearly different). Locked parameters keep θ's values.
"""
from __future__ import annotations

import math

import numpy as np

from studio.checks import check_number, check_seed, check_whole

from .locks import apply_locks, lock_mask
from .sounds import check_unit_theta

DEFAULT_DELTA = 0.25


def doppelganger_noise(seed: int, count: int, size: int = 78) -> np.ndarray:
    """The standard-normal steps z ``[count, size]`` float32 for a seed.

    Variant i draws from ``fold_in(key(seed), i)``: it depends only on (seed, i), so asking for more variants
    keeps the first ones, and locking or unlocking parameters never changes the steps of the others.
    """
    import jax

    key = jax.random.key(check_seed(seed))
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jax.numpy.arange(count))
    return np.asarray(jax.vmap(lambda k: jax.random.normal(k, (size,), jax.numpy.float32))(keys))


def doppelgangers(theta, delta: float = DEFAULT_DELTA, count: int = 8, seed: int = 0, locks=None) -> np.ndarray:
    """``count`` variations of one sound: θ ``[78]`` in [0, 1] → ``[count, 78]`` float32 in [0, 1].

    delta: the step size δ ≥ 0 in normalized units (0 returns θ itself, exactly, ``count`` times).
    seed: picks the steps (see :func:`doppelganger_noise`). locks: names of lock groups / parameter keys, or a
    mask ``[78]`` bool (see ``locks.lock_mask``); locked parameters equal θ's in every variant.
    """
    base = check_unit_theta(theta)
    delta = check_number(delta, 0.0, math.inf, "delta")
    count = check_whole(count, 1, None, "count")
    steps = doppelganger_noise(seed, count, base.size)
    return step_from(base, steps, delta, lock_mask(locks))


def doppelganger_steps(seeds, indices, size: int = 78) -> np.ndarray:
    """Step z of variant ``indices[r]`` for seed ``seeds[r]``, row by row: ``[N]`` each → ``[N, size]`` float32.

    Row r equals ``doppelganger_noise(seeds[r], indices[r] + 1)[indices[r]]`` (the same ``fold_in`` draw), so sets
    of variants with many seeds (a dataset's anchors) are made in one call.
    """
    import jax
    import jax.numpy as jnp

    seeds = np.asarray(seeds, np.uint32)
    indices = np.asarray(indices, np.int32)
    if seeds.shape != indices.shape or seeds.ndim != 1:
        raise ValueError(f"seeds and indices must be [N] each, got {list(seeds.shape)} and {list(indices.shape)}")
    return np.asarray(jax.vmap(lambda s, i: jax.random.normal(jax.random.fold_in(jax.random.key(s), i), (size,),
                                                               jnp.float32))(jnp.asarray(seeds), jnp.asarray(indices)))


def step_from(base, steps, delta, mask) -> np.ndarray:
    """clip(θ + δ·z, 0, 1) with locked parameters kept at θ's: base ``[78]`` or ``[N, 78]``, steps ``[N, 78]``,
    delta a number or ``[N]``, mask ``[78]`` bool → ``[N, 78]`` float32."""
    base = np.asarray(base, np.float32)
    delta = np.asarray(delta, np.float32)
    variants = np.clip(base + (delta[..., None] if delta.ndim else delta) * np.asarray(steps, np.float32), 0.0, 1.0)
    return apply_locks(variants.astype(np.float32), base, mask)
