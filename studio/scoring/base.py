"""What every scorer shares: the interface, and targets on a sound's profile ("terms") with their violations.

A scorer judges a batch of sounds against a text prompt: audio ``[B, T]`` + prompt → scores ``[B]``, higher is
better. It carries a ``name`` (``"clap"`` or ``"descriptors"``: for files and messages only), a ``label`` for the
UI badge, a ``reason`` in plain words (why this scorer is the one in use) and its *capabilities*, which is what
code outside ``studio.scoring`` asks instead of comparing names: ``jittable``, ``score_range``,
``explains_prompt``, ``budget_family`` (see :class:`Scorer`). Scores of different scorers are not comparable:
CLAP's is a cosine similarity in [−1, 1], the descriptor scorer's a fit in (0, 1].

Targets on descriptors (``studio.audio.sound_profile``) are :class:`Terms`: for term k, descriptor
``index[k]`` should lie in ``[lo[k], hi[k]]`` (natural units: MIDI, Hz, s, dB…; ±inf for one-sided targets),
with importance ``weight[k]``. The descriptor scorer's prompt and every hard constraint are Terms, so both are
judged by one jittable function, :func:`term_violations`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from studio.audio.sound_profile import N_QUALITIES, QUALITIES, QUALITY_INDEX
from studio.errors import StudioError


class ScorerUnavailable(StudioError):
    """A scorer that cannot be used here (no weights, no torch, …); the message says why and what to do.

    Fixing it is the user's to do (install, download or point at weights), so it is a :class:`StudioError`;
    its ``field`` is ``"scorer"``.
    """

    def __init__(self, message: str, field: str | None = "scorer"):
        super().__init__(message, field)


class PromptError(StudioError):
    """A prompt a scorer cannot work with (empty, too long, nothing understood); the message says what to do.
    Its ``field`` is ``"prompt"``."""

    def __init__(self, message: str, field: str | None = "prompt"):
        super().__init__(message, field)


MAX_PROMPT_CHARS = 500


def check_prompt(prompt) -> str:
    """The prompt stripped of surrounding whitespace; :class:`PromptError` when it is not usable text."""
    if not isinstance(prompt, str):
        raise PromptError(f"the prompt must be text, got {type(prompt).__name__}")
    text = " ".join(prompt.split())
    if not text:
        raise PromptError("the prompt is empty: describe a sound, e.g. 'short bright pluck' or 'low dark hum'")
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(f"the prompt is {len(text)} characters long; keep it under {MAX_PROMPT_CHARS}")
    return text


def cut_prompt(prompt) -> tuple[str, int]:
    """:func:`check_prompt`'s text, but a prompt longer than ``MAX_PROMPT_CHARS`` is cut (at the last word that
    fits) instead of refused: (text, how many characters the prompt had before the cut; 0 when it was not cut).
    For a box people paste descriptions into: the caller says that it was cut."""
    if not isinstance(prompt, str):
        return check_prompt(prompt), 0  # raises
    text = " ".join(prompt.split())
    if len(text) <= MAX_PROMPT_CHARS:
        return check_prompt(text), 0
    cut = text[:MAX_PROMPT_CHARS + 1]
    cut = cut[:cut.rfind(" ")] if " " in cut else cut[:MAX_PROMPT_CHARS]
    return check_prompt(cut.rstrip(" ,;.")), len(text)


@runtime_checkable
class Scorer(Protocol):
    """Judges sounds against a prompt. ``score(audio [B, T], sample_rate, prompt) → [B]`` float, higher better.

    ``score_floor``: scores below it count as the floor in a search's fitness (CTAG: cosine below 0 counts as
    0), or None. ``semantic``: False when the scores do not mean anything about the prompt (CLAP with random
    weights, as in tests and benchmarks).

    Capabilities (ask these, never ``name`` or the class, outside ``studio.scoring``):

    - ``jittable``: its judgement is a pure JAX function of a sound's profile and the prompt's :class:`Terms`,
      compiled into the search program; such a scorer also provides ``terms(prompt, settings) -> Terms``
      (descriptors: True; CLAP, a torch model judged on the host: False).
    - ``score_range``: ``(lo, hi)``, the scores it can give (descriptors (0.0, 1.0), CLAP (−1.0, 1.0)).
    - ``explains_prompt``: it can say what it understood of a prompt, ``explain(prompt, duration) -> str``, and
      hard constraints replace its own targets on the same quality (descriptors: True, CLAP: False).
    - ``budget_family``: ``"fast"`` for scorers that take milliseconds per sound, ``"slow"`` for model
      inference; search budgets are sized per family.
    """

    name: str
    label: str
    reason: str
    semantic: bool
    score_floor: float | None
    jittable: bool
    score_range: tuple[float, float]
    explains_prompt: bool
    budget_family: str

    def score(self, audio, sample_rate: int, prompt: str) -> np.ndarray: ...


BUDGET_FAMILIES = ("fast", "slow")


# ----------------------------------------------------------------------------------------------
# Terms: targets on descriptors
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DescriptorScale:
    """How distances along one descriptor are measured: on a log2 axis (above ``floor``) or linearly, in ``unit``s.

    One unit of violation is "clearly off" for that quality: an octave of pitch or brightness, a doubling of
    a time, 0.15 of flatness, 3 dB of roughness.
    """

    log: bool
    unit: float
    floor: float = 0.0


SCALES: dict[str, DescriptorScale] = {
    "pitch": DescriptorScale(False, 12.0),
    "pitch_range": DescriptorScale(False, 6.0),
    "glide": DescriptorScale(False, 6.0),
    "vibrato_rate": DescriptorScale(True, 1.0, 0.25),
    "vibrato_depth": DescriptorScale(True, 1.0, 0.05),
    "brightness": DescriptorScale(True, 1.0, 20.0),
    "noisiness": DescriptorScale(False, 0.15),
    "roughness": DescriptorScale(False, 3.0),
    "attack": DescriptorScale(True, 1.0, 0.004),
    "decay": DescriptorScale(True, 1.0, 0.005),
    "length": DescriptorScale(True, 1.0, 0.005),
    "tremolo_rate": DescriptorScale(True, 1.0, 0.25),
    "tremolo_depth": DescriptorScale(False, 4.0),
    "loudness": DescriptorScale(False, 6.0),
    "richness": DescriptorScale(True, 1.0, 1.0),
    "inharmonicity": DescriptorScale(False, 0.1),
    "brightness_motion": DescriptorScale(False, 0.5),
    "end_level": DescriptorScale(False, 12.0),
}
if set(SCALES) != set(QUALITY_INDEX) or len(SCALES) != N_QUALITIES:
    raise RuntimeError("every descriptor of studio.audio.sound_profile needs a scale in studio.scoring.base.SCALES; "
                       f"missing: {sorted(set(QUALITY_INDEX) - set(SCALES))}, "
                       f"unknown: {sorted(set(SCALES) - set(QUALITY_INDEX))}")
_LOG = np.array([SCALES[d.name].log for d in QUALITIES])
_UNIT = np.array([SCALES[d.name].unit for d in QUALITIES], np.float32)
_FLOOR = np.array([SCALES[d.name].floor for d in QUALITIES], np.float32)
MISSING_PENALTY = 1.5  # violation (units) of a target on a descriptor the sound lacks (pitch of noise, …)


@partial(jax.tree_util.register_dataclass, data_fields=["index", "lo", "hi", "weight", "group"], meta_fields=[])
@dataclass(frozen=True)
class Terms:
    """K targets on profile descriptors, as arrays of fixed length (jit arguments, so a new prompt never
    recompiles). Unused slots have weight 0.

    ``group``: terms sharing a group are alternatives ("inharmonic *or* sparse partials"): the group counts as met
    by its best member, with the weight of its first member (the others carry weight 0). By default every term is
    its own group."""

    index: np.ndarray  # [K] int32, descriptor columns
    lo: np.ndarray  # [K] float32, natural units, -inf for no lower bound
    hi: np.ndarray  # [K] float32, natural units, +inf for no upper bound
    weight: np.ndarray  # [K] float32 ≥ 0
    group: np.ndarray = None  # [K] int32; None: arange(K)

    def __post_init__(self):
        if self.group is None:
            object.__setattr__(self, "group", np.arange(len(self.index), dtype=np.int32))

    @property
    def count(self) -> int:
        return int(np.sum(self.weight > 0))


def make_terms(targets: list[tuple], capacity: int) -> Terms:
    """Terms from ``(descriptor name, lo, hi, weight)`` tuples, padded to ``capacity`` slots. A fifth element, a
    group key, makes alternatives: consecutive targets with the same key form one group (see :class:`Terms`).

    ``ValueError`` for an unknown descriptor, lo > hi, a negative weight or more targets than slots.
    """
    if len(targets) > capacity:
        raise ValueError(f"{len(targets)} targets do not fit in {capacity} slots")
    index = np.zeros(capacity, np.int32)
    lo = np.full(capacity, -np.inf, np.float32)
    hi = np.full(capacity, np.inf, np.float32)
    weight = np.zeros(capacity, np.float32)
    group = np.arange(capacity, dtype=np.int32)
    previous_key = object()
    for k, target in enumerate(targets):
        name, low, high, w = target[:4]
        if name not in QUALITY_INDEX:
            raise ValueError(f"unknown descriptor {name!r}; known: {', '.join(QUALITY_INDEX)}")
        if not low <= high or not w >= 0:
            raise ValueError(f"bad target on {name}: [{low}, {high}] with weight {w}")
        index[k], lo[k], hi[k], weight[k] = QUALITY_INDEX[name], low, high, w
        key = target[4] if len(target) > 4 else None
        if key is not None and key == previous_key:
            group[k], weight[k] = group[k - 1], 0.0  # an alternative of the term before: its first's weight counts
        previous_key = key if key is not None else object()
    return Terms(index, lo, hi, weight, group)


def _to_units(x, index):
    """Descriptor values ``x [..., K]`` of columns ``index [K]`` on their scoring axes (log2 or linear), in units."""
    log, unit, floor = jnp.asarray(_LOG)[index], jnp.asarray(_UNIT)[index], jnp.asarray(_FLOOR)[index]
    return jnp.where(log, jnp.log2(jnp.maximum(x, floor)), x) / unit


def term_violations(profile, terms: Terms):
    """How far each sound misses each target: profile ``[B, D]`` → violations ``[B, K]`` ≥ 0, in units.

    0 inside ``[lo, hi]``; outside, the distance to the nearer bound on the descriptor's scale
    (:data:`SCALES`). A NaN descriptor (the pitch of noise) misses any bounded target by ``MISSING_PENALTY``;
    a target with both bounds infinite only asks for the descriptor to exist (e.g. "pitched").
    Traceable: ``terms`` fields may be jnp arrays.
    """
    index = jnp.asarray(terms.index)
    x = profile[:, index]
    position = _to_units(x, index)
    # ±inf bounds survive the transform as ±inf, and jnp.maximum(−inf − v, 0) is 0: no special cases needed.
    lo = _to_units(jnp.asarray(terms.lo), index)
    hi = _to_units(jnp.asarray(terms.hi), index)
    violation = jnp.maximum(lo - position, 0.0) + jnp.maximum(position - hi, 0.0)
    return jnp.where(jnp.isnan(x), MISSING_PENALTY, violation)


def group_violations(profile, terms: Terms):
    """Violations ``[B, K]`` with each term's replaced by the least of its group's (alternatives: one met is enough).
    Traceable."""
    violations = term_violations(profile, terms)
    group = jnp.asarray(terms.group)
    same = group[:, None] == group[None, :]  # [K, K]
    return jnp.min(jnp.where(same[None], violations[:, None, :], jnp.inf), axis=-1)


def weighted_mean_violation(profile, terms: Terms):
    """Mean violation ``[B]`` of a prompt's terms, weighted by importance (0 when every target is met)."""
    weight = jnp.asarray(terms.weight)
    return jnp.sum(group_violations(profile, terms) * weight, axis=-1) / jnp.maximum(jnp.sum(weight), 1e-9)


AUDIBLE_FLOOR_DB = -40.0  # loudest short-time level (dBFS) below which a sound counts as not there


def inaudibility(profile):
    """How far below ``AUDIBLE_FLOOR_DB`` each sound's loudness lies ``[B]``, in units of 6 dB (0 when audible).

    Without it silence would be an attractor: every target on a silent sound misses by only MISSING_PENALTY,
    less than a 2 s drone misses "click" by.
    """
    loudness = profile[:, QUALITY_INDEX["loudness"]]
    return jnp.maximum(AUDIBLE_FLOOR_DB - loudness, 0.0) / SCALES["loudness"].unit


def total_violation(profile, terms: Terms):
    """Weighted sum of violations ``[B]`` (constraints: each adds its own penalty, none dilutes another)."""
    return jnp.sum(group_violations(profile, terms) * jnp.asarray(terms.weight), axis=-1)


