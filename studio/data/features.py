"""Rendering a dataset's samples and measuring the fields they hold, on every core, with bytes that never depend on
how the work was split.

A set of samples is rendered in chunks of exactly ``spec.chunk`` sounds (the last one padded by repeating its last
row), each through the studio's batch renderer (``studio.synth.renderer``: the path search uses), then the
embedding and log-mel frames of the same chunk. XLA's results depend on the batch shape (the embedding's differs in
its last bits between a batch of 32 and one of 8), never on the other rows of a batch, so with one chunk size every
sample's numbers are the same whichever engine, process or thread rendered it. The chunks are spread over the
cores with the studio's per-core sharding (``studio.search.parallel``: one thread per core, each running the same
compiled programs on its own chunks); FLAC encoding runs in those threads too (libsndfile releases the GIL).
"""
from __future__ import annotations

import io
import threading
from functools import lru_cache, partial

import numpy as np

from .spec import DatasetSpec

AUDIO_FIELDS = ("audio", "embedding", "logmel", "clap")  # the fields that need the sound rendered
FLAC_SUBTYPE = "PCM_16"
_clap_lock = threading.Lock()


def needs_render(spec: DatasetSpec) -> bool:
    return any(f in spec.fields for f in AUDIO_FIELDS)


@lru_cache(maxsize=4)
def _log_mel_program(sample_rate: int):
    import jax

    from studio.audio.embedding import analysis_config, log_mel_frames

    config = analysis_config(sample_rate)
    return jax.jit(lambda audio: log_mel_frames(audio, config))


@lru_cache(maxsize=2)
def clap_model(source: str | None):
    """The CLAP audio tower for the ``clap`` field, loaded once per process in float32 (bfloat16 would make the
    numbers depend on the CPU). :class:`~studio.scoring.ScorerUnavailable` (a StudioError) with the reason when
    the weights cannot be loaded here."""
    from studio.scoring.clap import load_clap

    return load_clap(source, device="cpu", precision="fp32")


def check_clap(spec: DatasetSpec) -> str | None:
    """Load CLAP when the spec asks for the clap field (before any work); its description, or None. A missing model
    raises :class:`~studio.scoring.ScorerUnavailable` saying what to do."""
    if "clap" not in spec.fields:
        return None
    from studio.scoring import ScorerUnavailable

    try:
        return clap_model(spec.clap_model).reason
    except ScorerUnavailable as err:
        raise ScorerUnavailable(f"the clap field needs CLAP weights: {err}", "clap") from None


def encode_flac(samples: np.ndarray, sample_rate: int) -> bytes:
    """int16 samples ``[T]`` → FLAC bytes (16-bit, libsndfile's default compression; lossless over the int16)."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, int(sample_rate), format="FLAC", subtype=FLAC_SUBTYPE)
    return buffer.getvalue()


def decode_flac(data: bytes) -> np.ndarray:
    """FLAC bytes → int16 samples ``[T]`` (exactly the samples that were encoded)."""
    import soundfile

    samples, _ = soundfile.read(io.BytesIO(bytes(data)), dtype="int16", always_2d=False)
    return samples


def _render_chunks(thetas, seeds, *, spec: DatasetSpec, flac: bool):
    """θ ``[k, C, 78]`` and noise seeds ``[k, C]`` → one array ``[k, C, …]`` per rendered field (in
    ``AUDIO_FIELDS`` order): audio (FLAC bytes as objects, int16 or float32 samples), embedding, logmel, clap."""
    import jax.numpy as jnp

    from studio.audio.embedding import perceptual_embedding
    from studio.audio.io import to_int16
    from studio.synth import renderer

    render = renderer(spec.render_settings())
    rate = spec.sample_rate
    wanted = [f for f in AUDIO_FIELDS if f in spec.fields]
    columns: dict[str, list] = {f: [] for f in wanted}
    for theta, seed in zip(thetas, seeds):
        audio = render(jnp.asarray(theta), jnp.asarray(seed))
        if "audio" in columns:
            host = np.asarray(audio)
            if spec.audio_format == "float32":
                columns["audio"].append(host)
            else:
                ints = to_int16(host)
                if spec.audio_format == "flac" and flac:
                    encoded = np.empty(len(ints), object)
                    encoded[:] = [encode_flac(row, rate) for row in ints]
                    columns["audio"].append(encoded)
                else:
                    columns["audio"].append(ints)
        if "embedding" in columns:
            columns["embedding"].append(np.asarray(perceptual_embedding(audio, rate), np.float32))
        if "logmel" in columns:
            columns["logmel"].append(np.asarray(_log_mel_program(rate)(audio), np.float32))
        if "clap" in columns:
            model = clap_model(spec.clap_model)
            with _clap_lock:  # one model, one call at a time
                columns["clap"].append(model.audio_embeddings(np.asarray(audio), rate).cpu().numpy().astype(np.float32))
    return tuple(np.stack(columns[f]) for f in wanted)


def compute_fields(spec: DatasetSpec, rows: dict[str, np.ndarray], threads: int | None = None, *,
                   flac: bool = True) -> dict[str, np.ndarray]:
    """The columns of samples ``rows`` (from :func:`~studio.data.samples.sample_rows`) with the spec's fields:
    ``index``, the kind's labels, then theta, settings (sample_rate, duration, control_rate, noise_seed), audio,
    embedding, logmel, clap as asked for.

    threads: CPU threads (default: one per core, ``$SYNTH_STUDIO_THREADS``; see
    ``studio.search.parallel.evaluation_threads``); the bytes are the same for any number. flac: False gives FLAC
    audio as its int16 samples (what a reader decodes) instead of encoding it.
    """
    from studio.search.parallel import evaluation_threads, map_shards

    n = len(rows["index"])
    fields = spec.fields
    out = {k: v for k, v in rows.items() if k not in ("theta", "noise_seed")}
    if "theta" in fields:
        out["theta"] = np.asarray(rows["theta"], np.float32)
    if "settings" in fields:
        out["sample_rate"] = np.full(n, spec.sample_rate, np.int32)
        out["duration"] = np.full(n, spec.duration, np.float32)
        out["control_rate"] = np.full(n, spec.control_rate, np.float32)
        out["noise_seed"] = np.asarray(rows["noise_seed"], np.uint32)
    if not needs_render(spec) or n == 0:
        return out
    size = spec.chunk
    chunks = -(-n // size)
    take = np.minimum(np.arange(chunks * size), n - 1)  # the last chunk padded with its last row
    thetas = np.asarray(rows["theta"], np.float32)[take].reshape(chunks, size, -1)
    seeds = np.asarray(rows["noise_seed"], np.uint32)[take].reshape(chunks, size)
    workers = min(evaluation_threads(n, threads), chunks)
    rendered = map_shards(partial(_render_chunks, spec=spec, flac=flac), (thetas, seeds), (), workers)
    for name, column in zip([f for f in AUDIO_FIELDS if f in fields], rendered):
        out[name] = column.reshape((chunks * size,) + column.shape[2:])[:n]
    return out
