"""Shard files: Parquet (pyarrow) and WebDataset tar (``webdataset``), byte for byte the same for the same columns.

Nothing in a shard depends on when or where it was written: tar members carry mtime 0, owner ``studio``, mode
0444 and are ordered by sample, then by name; Parquet files carry no timestamps (pyarrow writes none; the file's
``created_by`` names the pyarrow version, recorded in ``spec.json``'s ``made_with``).

Columns (a reader gets the same names back, :mod:`studio.data.reader`):

==============  ============================================  ========================================
column          Parquet                                       WebDataset member
==============  ============================================  ========================================
index           int64                                         the key (``%012d``) and ``json``
labels          group int64, member int32, delta / value      ``json``
                float32, attribute / preset string
theta           fixed_size_list<float32>[78]                  ``theta.npy``
settings        sample_rate int32, duration float32,          ``json``
                control_rate float32, noise_seed uint32
audio           binary: FLAC, or the int16 / float32 samples  ``audio.flac`` / ``audio.npy``
                as little-endian bytes
embedding       fixed_size_list<float32>[259]                 ``embedding.npy``
logmel          fixed_size_list<fixed_size_list<float32>      ``logmel.npy``
                [128]>[F]
clap            fixed_size_list<float32>[512]                 ``clap.npy``
==============  ============================================  ========================================
"""
from __future__ import annotations

import io
import json

import numpy as np

from .spec import DatasetSpec

ARRAY_FIELDS = ("theta", "audio", "embedding", "logmel", "clap")  # stored as arrays (.npy / fixed-size lists)
JSON_COLUMNS = ("index", "group", "member", "delta", "attribute", "value", "preset", "sample_rate", "duration",
                "control_rate", "noise_seed")
ROW_GROUP = 256  # Parquet rows per row group
TAR_OWNER = "studio"
TAR_MODE = 0o444


def sample_key(index: int) -> str:
    """A sample's WebDataset key: its index, 12 digits (``000000001234``)."""
    return f"{int(index):012d}"


def encode_shard(spec: DatasetSpec, shard: int, columns: dict[str, np.ndarray]) -> bytes:
    """One shard's file bytes in the spec's format."""
    if spec.format == "parquet":
        return parquet_bytes(spec, shard, columns)
    return tar_bytes(spec, columns)


# ----------------------------------------------------------------------------------------------
# Parquet
# ----------------------------------------------------------------------------------------------
def _fixed_list(array: np.ndarray):
    """An array ``[N, d1, d2, …]`` → nested fixed-size lists (the innermost over d_last)."""
    import pyarrow as pa

    values = pa.array(np.ascontiguousarray(array).reshape(-1))
    for size in reversed(array.shape[1:]):
        values = pa.FixedSizeListArray.from_arrays(values, int(size))
    return values


def _arrow_column(name: str, column: np.ndarray):
    import pyarrow as pa

    if column.dtype == object:  # FLAC bytes
        return pa.array(list(column), pa.binary())
    if name == "audio":  # samples as raw little-endian bytes: Parquet's nested lists cost a level per sample
        rows = np.ascontiguousarray(column, column.dtype.newbyteorder("<"))
        return pa.array([row.tobytes() for row in rows], pa.binary())
    if column.dtype.kind == "U":
        return pa.array(column.tolist(), pa.string())
    if column.ndim > 1:
        return _fixed_list(column)
    return pa.array(column)


def parquet_bytes(spec: DatasetSpec, shard: int, columns: dict[str, np.ndarray]) -> bytes:
    """A Parquet file of the columns (zstd, row groups of ``ROW_GROUP``); the spec and the shard number are in the
    schema's metadata (``studio.dataset.spec``, ``studio.dataset.shard``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: _arrow_column(name, column) for name, column in columns.items()})
    table = table.replace_schema_metadata({"studio.dataset.spec": json.dumps(spec.to_dict(), sort_keys=True),
                                           "studio.dataset.shard": str(int(shard))})
    scalars = [name for name, column in columns.items() if column.ndim == 1 and name != "audio"]
    texts = [name for name, column in columns.items() if column.dtype.kind == "U"]
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=ROW_GROUP, use_dictionary=texts,
                   write_statistics=scalars)
    return sink.getvalue()


# ----------------------------------------------------------------------------------------------
# WebDataset
# ----------------------------------------------------------------------------------------------
def npy_bytes(array: np.ndarray) -> bytes:
    """``np.save``'s bytes (a fixed header: dtype, order, shape; no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def json_value(value):
    """A numpy scalar as JSON: ints as ints, floats as the shortest decimal of their value, text as text."""
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return str(value)


def tar_bytes(spec: DatasetSpec, columns: dict[str, np.ndarray]) -> bytes:
    """A WebDataset tar shard: per sample (in index order) its members, sorted by name, written by
    ``webdataset.TarWriter`` with a fixed mtime, owner and mode."""
    import webdataset

    sink = io.BytesIO()
    writer = webdataset.TarWriter(sink, user=TAR_OWNER, group=TAR_OWNER, mode=TAR_MODE, mtime=0.0, encoder=False)
    flac = "audio" in columns and columns["audio"].dtype == object
    for row in range(len(columns["index"])):
        sample = {"__key__": sample_key(columns["index"][row])}
        meta = {name: json_value(columns[name][row]) for name in JSON_COLUMNS if name in columns}
        sample["json"] = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        for name in ARRAY_FIELDS:
            if name not in columns:
                continue
            if name == "audio" and flac:
                sample["audio.flac"] = bytes(columns["audio"][row])
            else:
                sample[f"{name}.npy"] = npy_bytes(columns[name][row])
        writer.write(sample)
    writer.close()
    return sink.getvalue()
