"""Rendering and measuring sets of θ for the explore tools: every θ is one sound with the same settings.

A variation or a strip step is saved with its parent's render settings, so it must be heard with the same noise
seed: here every sound of a batch uses ``settings.noise_seed`` (not ``noise_seed + b`` as ``render`` does for a
batch of independent sounds), so what the grid plays is exactly what "save" stores.
"""
from __future__ import annotations

import numpy as np

from studio.synth import PARAM_KEYS, RenderSettings, check_theta, renderer

CHUNK = 64  # most sounds per render call: bounds memory (64 × 2 s × 48 kHz × 4 B = 25 MB)


def check_unit_theta(theta, what: str = "theta") -> np.ndarray:
    """A single sound's θ ``[78]``, finite and within [0, 1], as float32; ``ValueError`` naming the problem."""
    if np.ndim(theta) != 1:
        raise ValueError(f"{what} must be one sound of shape [78], got shape {list(np.shape(theta))}")
    try:
        arr = check_theta(theta)
    except ValueError as err:  # say which sound: "sound B: parameter … is not finite"
        raise ValueError(f"{what}: {str(err).replace(' of sound 0', '')}") from None
    if arr.shape[0] != 1:
        raise ValueError(f"{what} must be one sound of shape [78], got shape {list(np.shape(theta))}")
    bad = np.flatnonzero((arr[0] < 0.0) | (arr[0] > 1.0))
    if bad.size:
        raise ValueError(f"{what}: {PARAM_KEYS[bad[0]]} = {arr[0, bad[0]]} is outside [0, 1]")
    return arr[0]


def batch_size_for(n: int) -> int:
    """The padded batch size for n sounds: the next power of two, at most :data:`CHUNK`.

    Every new batch shape costs a compilation (~1–3 s on a CPU); padding to powers of two keeps it to seven
    shapes per render settings, whatever the counts and step numbers people pick.
    """
    return min(CHUNK, 1 << max(0, int(n) - 1).bit_length())


def _padded_chunks(array: np.ndarray):
    """Yield (start, count, chunk) over the first axis; each chunk padded (repeating its last row) to one size."""
    size = batch_size_for(array.shape[0])
    for start in range(0, array.shape[0], size):
        chunk = array[start:start + size]
        pad = size - len(chunk)
        yield start, len(chunk), np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)]) if pad else chunk


def render_sounds(thetas, settings: RenderSettings = RenderSettings()) -> np.ndarray:
    """θ ``[N, 78]`` → float32 audio ``[N, T]``, every sound rendered with ``settings`` (one noise seed for all)."""
    import jax.numpy as jnp

    arr = check_theta(thetas)
    render = renderer(settings)
    out = np.empty((arr.shape[0], settings.num_samples), np.float32)
    for start, count, chunk in _padded_chunks(arr):
        seeds = jnp.full((chunk.shape[0],), settings.noise_seed, jnp.uint32)
        out[start:start + count] = np.asarray(render(jnp.asarray(chunk), seeds))[:count]
    return out


def embed_sounds(thetas, settings: RenderSettings = RenderSettings()) -> np.ndarray:
    """θ ``[N, 78]`` → perceptual embeddings ``[N, D]`` float32 (rendered with :func:`render_sounds`)."""
    return embed_audio(render_sounds(thetas, settings), settings.sample_rate)


def embed_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Audio ``[N, T]`` → perceptual embeddings ``[N, D]`` float32 (``studio.audio.embedding``)."""
    from studio.audio.embedding import perceptual_embedding

    audio = np.asarray(audio, np.float32)
    if audio.ndim != 2 or audio.shape[0] == 0:
        raise ValueError(f"audio must have shape [N ≥ 1, T], got {list(audio.shape)}")
    return np.concatenate([np.asarray(perceptual_embedding(chunk, sample_rate))[:count]
                           for _, count, chunk in _padded_chunks(audio)])


def distances_to(reference_theta, thetas, settings: RenderSettings = RenderSettings()) -> np.ndarray:
    """Perceptual distance of each θ ``[N, 78]`` to one reference θ ``[78]`` → ``[N]`` float32 (1.0 = the
    median pair of random sounds; see ``studio.audio.embedding``)."""
    reference = check_theta(reference_theta)
    embeddings = embed_sounds(np.concatenate([reference, check_theta(thetas)]), settings)
    return np.sqrt(np.sum((embeddings[1:] - embeddings[:1]) ** 2, axis=-1))
