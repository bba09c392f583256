"""Locks: parameter groups a person pins so that variations, strips and searches leave them untouched.

A lock group is a set of θ indices with a name: every module of the Voice (``adsr_1``, ``mixer``, …) and,
separately, ``pitch`` (``keyboard.midi_f0``) and ``note_length`` (``keyboard.duration``), because "same note,
new timbre" is the most common wish. Any single parameter key (``vco_2.shape``) is accepted as a lock too.
Applying locks to candidates means: where the mask is set, take the reference sound's value.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np

from studio.errors import SettingsError
from studio.synth import MODULES, N_PARAMS, PARAM_INDEX, PARAM_KEYS, module_slices

_MODULE_LABELS = {
    "keyboard": "keyboard (pitch and note length)", "adsr_1": "envelope 1", "adsr_2": "envelope 2",
    "lfo_1": "LFO 1", "lfo_2": "LFO 2", "lfo_1_amp_adsr": "LFO 1 depth envelope",
    "lfo_2_amp_adsr": "LFO 2 depth envelope", "lfo_1_rate_adsr": "LFO 1 rate envelope",
    "lfo_2_rate_adsr": "LFO 2 rate envelope", "mod_matrix": "modulation matrix", "vco_1": "sine oscillator",
    "vco_2": "square-saw oscillator", "mixer": "mixer",
}


def _groups() -> dict[str, tuple[int, ...]]:
    groups = {"pitch": (PARAM_INDEX["keyboard.midi_f0"],), "note_length": (PARAM_INDEX["keyboard.duration"],)}
    for module, where in module_slices().items():
        groups[module] = tuple(range(where.start, where.stop))
    return groups


LOCK_GROUPS: dict[str, tuple[int, ...]] = _groups()
"""Lock name → θ indices, in the order a UI should list them: pitch, note_length, then the 13 modules."""

LOCK_LABELS: dict[str, str] = {"pitch": "pitch (keyboard.midi_f0)", "note_length": "note length (keyboard.duration)",
                               **{m: _MODULE_LABELS.get(m, m) for m in MODULES}}
"""Lock name → a label for people."""


def lock_mask(locks: Iterable[str] | np.ndarray | None) -> np.ndarray:
    """Lock names (groups or ``module.parameter`` keys), a mask, or None → a mask ``[78]`` bool (True = locked).

    A mask passes through after a shape check. Unknown names raise :class:`~studio.errors.SettingsError`
    (field ``"lock"``) naming them and the choices.
    """
    if locks is None:
        return np.zeros(N_PARAMS, bool)
    if isinstance(locks, np.ndarray) and locks.dtype == bool:
        if locks.shape != (N_PARAMS,):
            raise ValueError(f"a lock mask must have shape [{N_PARAMS}], got {list(locks.shape)}")
        return locks.copy()
    if isinstance(locks, str):  # one name, not an iterable of letters
        locks = [locks]
    mask = np.zeros(N_PARAMS, bool)
    for name in locks:
        if name in LOCK_GROUPS:
            mask[list(LOCK_GROUPS[name])] = True
        elif name in PARAM_INDEX:
            mask[PARAM_INDEX[name]] = True
        else:
            close = difflib.get_close_matches(str(name), list(LOCK_GROUPS) + list(PARAM_KEYS), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise SettingsError(f"unknown lock {name!r}: {hint}choose from {', '.join(LOCK_GROUPS)} "
                                f"or a parameter key such as vco_2.shape", "lock")
    return mask


def apply_locks(candidates, reference, mask):
    """Keep the reference's values where locked: candidates ``[..., 78]``, reference ``[78]``, mask ``[78]`` bool.

    Returns ``where(mask, reference, candidates)`` with the candidates' shape, as numpy or JAX like the
    candidates (so a jitted search loop can call it on device arrays).
    """
    if isinstance(candidates, np.ndarray):
        return np.where(mask, np.asarray(reference, candidates.dtype), candidates)
    import jax.numpy as jnp

    return jnp.where(jnp.asarray(mask), jnp.asarray(reference, candidates.dtype), candidates)


def locked_keys(mask: np.ndarray) -> list[str]:
    """The ``module.parameter`` keys a mask ``[78]`` locks, in canonical order."""
    return [PARAM_KEYS[i] for i in np.flatnonzero(mask)]


def describe_locks(mask: np.ndarray) -> str:
    """A short text for people: the lock groups a mask covers completely, then any further single keys."""
    remaining = np.asarray(mask, bool).copy()
    names = []
    for name, indices in LOCK_GROUPS.items():  # pitch and note_length first, so a locked keyboard reads as both
        if remaining[list(indices)].all():
            names.append(name)
            remaining[list(indices)] = False
    names += locked_keys(remaining)
    return ", ".join(names) if names else "nothing"
