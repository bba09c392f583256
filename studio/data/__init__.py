"""Datasets of the synth's sounds at scale: (θ, sound) samples, doppelgänger groups, sweeps and presets, as Parquet
or WebDataset shards, made on this machine or on a Ray cluster with the same bytes (``python -m studio dataset``).

- :mod:`.spec`: what a dataset is (:class:`DatasetSpec`, ``spec.json``);
- :mod:`.samples`: θ, noise seed and labels of sample i, a pure function of the spec and i (counter-based keys);
- :mod:`.features`: rendering in fixed-size chunks on every core, audio encodings, embedding, log-mel, CLAP;
- :mod:`.writers`: byte-deterministic Parquet and tar shards; :mod:`.manifest`: the folder, its lock and the
  manifest of finished shards with their hashes (resume);
- :mod:`.engines`: ``local`` and ``ray``; :mod:`.reader`: ``open_dataset`` and on-the-fly ``batch``.

Heavy libraries (JAX, pyarrow, webdataset, Ray) are imported where they are used.
"""
from .engines import ENGINES, RunSummary, make_dataset, make_shard
from .reader import Dataset, batch, open_dataset
from .spec import AUDIO_FORMATS, DEFAULT_FIELDS, FIELDS, FORMATS, KINDS, DatasetSpec

__all__ = ["AUDIO_FORMATS", "DEFAULT_FIELDS", "ENGINES", "FIELDS", "FORMATS", "KINDS", "Dataset", "DatasetSpec",
           "RunSummary", "batch", "make_dataset", "make_shard", "open_dataset"]
