"""Variations and strips as finished sounds (presets with names, notes, audio and distances): what the CLI writes
and the studio's grids show, made in one place so both give the same sounds for the same seed.

A variation or strip step is saved with its parent's render settings and heard with the same noise seed, so
what a grid plays is exactly what "save" stores and what ``vary``/``morph`` write.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.presets import Preset, utc_timestamp

from .doppelgangers import doppelgangers
from .interpolate import Strip, interpolate
from .locks import describe_locks, lock_mask
from .sounds import embed_audio, render_sounds


@dataclass(frozen=True)
class Variations:
    """Doppelgängers of one sound: ``presets`` (N), their ``audio [N, T]`` float32, their perceptual
    ``distances [N]`` to the original (1.0 = the median pair of random sounds) and the original's
    ``original_audio [T]``."""

    presets: tuple[Preset, ...]
    audio: np.ndarray
    distances: np.ndarray
    original_audio: np.ndarray


def variations_of(preset: Preset, delta: float, count: int, seed: int, locks=None) -> Variations:
    """``count`` doppelgängers of ``preset`` (θ + δ·z, locked groups kept), named and described for the library.

    Variant i (1-based) is named "NAME variation i (δ D, seed S)" and tagged "variation"; its description says how
    it was made, including the locks.
    """
    mask = lock_mask(locks)
    thetas = doppelgangers(preset.theta, delta, count, seed, mask)
    audio = render_sounds(np.concatenate([np.asarray(preset.theta, np.float32)[None], thetas]), preset.settings)
    embeddings = embed_audio(audio, preset.settings.sample_rate)  # row 0: the original
    distances = np.linalg.norm(embeddings[1:] - embeddings[:1], axis=-1).astype(np.float32)
    locked = describe_locks(mask)
    created = utc_timestamp()
    presets = tuple(
        Preset(name=f"{preset.name} variation {i} (δ {delta:g}, seed {seed})", theta=theta, settings=preset.settings,
               tags=tuple(dict.fromkeys(tuple(preset.tags) + ("variation",))), prompt=preset.prompt, created=created,
               description=(f"doppelgänger {i} of {count} of {preset.name}: θ + δ·z with δ {delta:g}, seed {seed}; "
                            f"locked: {locked}"))
        for i, theta in enumerate(thetas, start=1))
    return Variations(presets, audio[1:], distances, audio[0])


def strip_between(preset_a: Preset, preset_b: Preset, steps: int, mode: str = "linear",
                  locks=None) -> tuple[Strip, tuple[Preset, ...]]:
    """An interpolation strip from A to B rendered with A's settings, and its steps as presets.

    Step j (1-based) is named "A → B MODE step j of S" and tagged "morph" plus both parents' tags.
    """
    mask = lock_mask(locks)
    strip = interpolate(preset_a.theta, preset_b.theta, steps, mode, mask, preset_a.settings)
    locked = describe_locks(mask)
    created = utc_timestamp()
    tags = tuple(dict.fromkeys(("morph",) + tuple(preset_a.tags) + tuple(preset_b.tags)))
    presets = tuple(
        Preset(name=f"{preset_a.name} → {preset_b.name} {mode} step {j} of {steps}", theta=theta,
               settings=preset_a.settings, tags=tags, created=created,
               description=(f"step {j} of {steps} of a {mode} strip from {preset_a.name} to {preset_b.name} "
                            f"(t = {strip.positions[j - 1]:.3f} along the knobs; locked: {locked})"))
        for j, theta in enumerate(strip.thetas, start=1))
    return strip, presets
