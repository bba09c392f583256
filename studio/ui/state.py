"""The studio's per-session state as plain immutable data, with pure transitions (no Gradio here).

A *sound* is a :class:`~studio.presets.Preset`: θ ``[78]`` float32 in [0, 1] plus render settings and metadata.
:class:`StudioState` holds the sound on the panel (A), the sound "reset" returns to, the undo/redo stacks,
the pinned sound of the A/B compare (B) and, in public mode, the session's secret library token.
Every transition returns a new state, so a handler can never half-update a session, and Gradio's per-session
``gr.State`` copies stay independent.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from studio.synth import N_PARAMS, PARAMS, RenderSettings, to_human, to_normalized

HISTORY_LIMIT = 100  # undo steps kept per session (the issue asks for at least 50)

# Randomize amounts, from "nudge" to "anything": the std δ of the Gaussian step θ' = clip(θ + δ·z, 0, 1) over all
# normalized knobs (audio doppelgängers, Cherep & Singh 2024: δ = 0.25 keeps a recognizable relative), or
# ``None`` for a fresh uniform draw of every knob.
RANDOM_AMOUNTS: dict[str, float | None] = {
    "nudge": 0.03,
    "vary": 0.1,
    "doppelgänger": 0.25,
    "wild": 0.5,
    "anything": None,
}


class NothingToUndo(LookupError):
    """Undo (or redo) was asked for with an empty stack."""


@dataclass(frozen=True)
class StudioState:
    """One browser session's studio. ``past``/``future`` are the undo/redo stacks, most recent last."""

    sound: object  # Preset: the current sound (A)
    base: object  # Preset: what "reset" returns to (the last loaded preset)
    past: tuple = ()
    future: tuple = ()
    pinned: object | None = None  # Preset: B of the A/B compare
    token: str | None = None  # public mode: this browser's secret library token


def same_sound(a, b) -> bool:
    """Whether two sounds render identically: equal θ (exactly) and equal render settings."""
    return a.settings == b.settings and np.array_equal(np.asarray(a.theta), np.asarray(b.theta))


def initial_state(sound, token: str | None = None) -> StudioState:
    return StudioState(sound=sound, base=sound, token=token)


def change(state: StudioState, new_sound) -> StudioState:
    """Make ``new_sound`` current, remembering the old one for undo (unless nothing audible changed).

    Metadata-only changes (name, tags) replace the sound without an undo step. Clears the redo stack.
    """
    if same_sound(state.sound, new_sound):
        return dataclasses.replace(state, sound=new_sound)
    past = (state.past + (state.sound,))[-HISTORY_LIMIT:]
    return dataclasses.replace(state, sound=new_sound, past=past, future=())


def change_inaudible(state: StudioState, new_sound) -> StudioState:
    """Make ``new_sound`` current without an undo step: for an edit that changed no sample (a knob with no effect)."""
    return dataclasses.replace(state, sound=new_sound)


def audibly_modified(state: StudioState) -> bool:
    """Whether the sound differs from its preset in a way that can be heard: different settings, or different
    knobs (not all idle, see :mod:`studio.synth.inert`) that change at least one sample."""
    from studio.synth.inert import inert_knobs

    a, b = state.sound, state.base
    if a.settings != b.settings:
        return True
    differ = np.flatnonzero(np.asarray(a.theta) != np.asarray(b.theta))
    if differ.size == 0:
        return False
    idle = inert_knobs(a.theta) & inert_knobs(b.theta)
    if all(int(i) in idle for i in differ):
        return False
    from studio.ui.views import same_audio  # the rule is conservative: the samples decide (renders are remembered)

    return not same_audio(a, b)


def load(state: StudioState, preset) -> StudioState:
    """Open a preset (factory, library or imported): an undoable change that also becomes the reset point."""
    return dataclasses.replace(change(state, preset), base=preset)


def undo(state: StudioState) -> StudioState:
    """Step back one change; raises :class:`NothingToUndo` at the start of the history."""
    if not state.past:
        raise NothingToUndo("nothing to undo")
    return dataclasses.replace(state, sound=state.past[-1], past=state.past[:-1],
                               future=(state.future + (state.sound,))[-HISTORY_LIMIT:])


def redo(state: StudioState) -> StudioState:
    """Step forward one undone change; raises :class:`NothingToUndo` when nothing was undone."""
    if not state.future:
        raise NothingToUndo("nothing to redo")
    return dataclasses.replace(state, sound=state.future[-1], future=state.future[:-1],
                               past=(state.past + (state.sound,))[-HISTORY_LIMIT:])


def pin(state: StudioState) -> StudioState:
    """Pin the current sound as B of the A/B compare."""
    return dataclasses.replace(state, pinned=state.sound)


def swap(state: StudioState) -> StudioState:
    """Swap A and B: the pinned sound becomes current (undoable) and the current one is pinned."""
    if state.pinned is None:
        raise NothingToUndo("pin a sound as B first")
    old = state.sound
    return dataclasses.replace(change(state, state.pinned), pinned=old)


# ---------------------------------------------------------------------------------------------------------------
# Knob edits on θ


def human_values(theta: np.ndarray) -> np.ndarray:
    """θ ``[78]`` in [0, 1] → the sliders' human values ``[78]`` float64."""
    return to_human(np.asarray(theta, np.float64))


def with_human_value(theta: np.ndarray, index: int, value: float) -> np.ndarray:
    """θ ``[78]`` with knob ``index`` set to the human ``value`` (clipped to its range); other knobs untouched.

    Only the one knob is converted back, so knobs set with more precision than a slider step (a loaded preset,
    a search result) keep their exact values.
    """
    if not 0 <= index < N_PARAMS:
        raise IndexError(f"parameter index {index} is outside 0…{N_PARAMS - 1}")
    spec = PARAMS[index]
    value = float(np.clip(float(value), spec.lo, spec.hi))
    human = human_values(theta)
    human[index] = value
    out = np.asarray(theta, np.float32).copy()
    out[index] = np.float32(np.clip(to_normalized(human)[index], 0.0, 1.0))
    return out


def with_human_values(theta: np.ndarray, updates: dict[int, float]) -> np.ndarray:
    """θ with several knobs set at once (index → human value)."""
    for index, value in updates.items():
        theta = with_human_value(theta, index, value)
    return theta


def randomized(theta: np.ndarray, amount: str, seed: int) -> np.ndarray:
    """A random variation of θ ``[78]``, reproducible from ``seed`` (see :data:`RANDOM_AMOUNTS`)."""
    if amount not in RANDOM_AMOUNTS:
        raise ValueError(f"unknown randomize amount {amount!r}: choose one of {', '.join(RANDOM_AMOUNTS)}")
    rng = np.random.default_rng(int(seed))
    delta = RANDOM_AMOUNTS[amount]
    if delta is None:
        return rng.uniform(0.0, 1.0, N_PARAMS).astype(np.float32)
    z = rng.standard_normal(N_PARAMS)
    return np.clip(np.asarray(theta, np.float64) + delta * z, 0.0, 1.0).astype(np.float32)


def with_theta(sound, theta: np.ndarray):
    return dataclasses.replace(sound, theta=np.asarray(theta, np.float32))


def with_settings(sound, settings: RenderSettings):
    return dataclasses.replace(sound, settings=settings.validate())
