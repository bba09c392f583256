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
    mask = lock_mask(locks)
    steps = doppelganger_noise(seed, count, base.size)
    variants = np.clip(base + np.float32(delta) * steps, 0.0, 1.0).astype(np.float32)
    return apply_locks(variants, base, mask)
