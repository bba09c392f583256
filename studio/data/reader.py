"""Reading datasets back as numpy, and making any batch on the fly without storing anything.

``open_dataset(path)`` reads a folder made by ``python -m studio dataset`` (either format): ``len(ds)``, ``ds[i]``
(one sample: a dict of numpy values, what a PyTorch ``DataLoader`` collates), ``ds.batches(n)`` (dicts of stacked
numpy arrays, ``jnp.asarray`` away from JAX), ``ds.shard(s)``. ``batch(spec, index)`` makes batch ``index`` of a
spec (the samples ``index · size`` … , default size the shard size) from scratch: the same arrays a reader gives
for those samples, every time, like torchsynth's synth1B1.

Columns: ``index`` and the kind's labels, then the fields (see ``studio.data.writers``). Audio comes back as it was
stored: int16 samples for FLAC and int16 (float = int16 / 32767, the studio's scale), float32 for float32.
"""
from __future__ import annotations

import io
import json
import tarfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from studio.errors import StudioError

from .manifest import read_manifest, read_spec
from .spec import SPEC_FILE, DatasetSpec
from .writers import JSON_COLUMNS

SHARDS_KEPT = 2  # decoded shards a reader keeps in memory


def read_shard_file(path, spec: DatasetSpec) -> dict[str, np.ndarray]:
    """A shard file's columns as numpy arrays (FLAC decoded to int16)."""
    if spec.format == "parquet":
        return _read_parquet(Path(path), spec)
    return _read_tar(Path(path), spec)


def _arrow_to_numpy(column) -> np.ndarray:
    import pyarrow as pa

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    if pa.types.is_fixed_size_list(kind):
        shape = []
        values = column
        while pa.types.is_fixed_size_list(values.type):
            shape.append(values.type.list_size)
            values = values.flatten()
        return _writable(values.to_numpy(zero_copy_only=False)).reshape([len(column)] + shape)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        from .features import decode_flac

        return np.stack([decode_flac(x) for x in column.to_pylist()]) if len(column) else np.zeros((0, 0), np.int16)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return np.array(column.to_pylist(), dtype=str)
    return _writable(column.to_numpy(zero_copy_only=False))


def _writable(array: np.ndarray) -> np.ndarray:
    """Arrow's zero-copy arrays are read-only; PyTorch warns about those, so readers get their own copy."""
    return array if array.flags.writeable else array.copy()


def _read_parquet(path: Path, spec: DatasetSpec) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = {}
    for name in table.column_names:
        if name == "audio" and spec.audio_format != "flac":  # raw little-endian samples
            dtype = np.dtype("<i2" if spec.audio_format == "int16" else "<f4")
            blobs = table.column(name).to_pylist()
            columns[name] = np.stack([np.frombuffer(b, dtype) for b in blobs]).astype(dtype.newbyteorder("="))
        else:
            columns[name] = _arrow_to_numpy(table.column(name))
    return columns


def _read_tar(path: Path, spec: DatasetSpec) -> dict[str, np.ndarray]:
    from .features import decode_flac

    rows: list[dict] = []
    current = None
    with tarfile.open(path, "r") as tar:
        for member in tar:
            key, _, name = member.name.partition(".")
            if current is None or current["__key__"] != key:
                current = {"__key__": key}
                rows.append(current)
            data = tar.extractfile(member).read()
            if name == "json":
                current.update(json.loads(data))
            elif name.endswith(".npy"):
                current[name[:-4]] = np.load(io.BytesIO(data), allow_pickle=False)
            elif name == "audio.flac":
                current["audio"] = decode_flac(data)
    if not rows:
        return {}
    dtypes = {"index": np.int64, "group": np.int64, "member": np.int32, "delta": np.float32, "value": np.float32,
              "sample_rate": np.int32, "duration": np.float32, "control_rate": np.float32, "noise_seed": np.uint32}
    columns = {}
    for name in [n for n in rows[0] if n != "__key__"]:
        values = [row[name] for row in rows]
        if name in JSON_COLUMNS:
            columns[name] = np.array(values, dtype=dtypes.get(name, str))
        else:
            columns[name] = np.stack(values)
    return _ordered(columns)


def _ordered(columns: dict) -> dict:
    """Columns in the writers' order (index, labels, theta, settings, audio, features), whichever format."""
    order = ("index", "group", "member", "delta", "attribute", "value", "preset", "theta", "sample_rate", "duration",
             "control_rate", "noise_seed", "audio", "embedding", "logmel", "clap")
    return {name: columns[name] for name in sorted(columns, key=lambda n: order.index(n) if n in order else 99)}


class Dataset:
    """A dataset folder opened for reading: the finished shards listed in its manifest, verified by size.

    ``len(ds)`` samples (all of them when the dataset is complete; with ``partial=True``, those of the finished
    shards, in shard order); ``ds[i]`` one sample as {column: numpy value}; ``ds.batches(n)`` dicts of arrays;
    ``ds.shard(s)`` a whole shard. Usable as a PyTorch map-style dataset as it is.
    """

    def __init__(self, path, partial: bool = False):
        self.path = Path(path)
        self.spec, self.made_with = read_spec(self.path)
        records = read_manifest(self.path, self.spec)
        missing = [s for s in range(self.spec.shard_count) if s not in records]
        if missing and not partial:
            raise StudioError(f"the dataset in {self.path} is not finished: {len(missing)} of "
                              f"{self.spec.shard_count} shards are missing (first: {missing[0]}); finish it by running "
                              "the same command again, or open it with partial=True")
        self.records = [records[s] for s in sorted(records)]
        for record in self.records:
            file = self.path / record.file
            if not file.is_file() or file.stat().st_size != record.bytes:
                raise StudioError(f"{file} is missing or not the size its manifest says ({record.bytes} bytes)")
        self._starts = np.cumsum([0] + [r.samples for r in self.records])
        self._cache: OrderedDict[int, dict] = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # DataLoader workers started by spawn get a copy without the cache and lock
        state = dict(self.__dict__)
        state["_cache"], state["_lock"] = OrderedDict(), None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def shards(self) -> list[int]:
        """The shard numbers this reader serves, in order."""
        return [r.shard for r in self.records]

    @property
    def files(self) -> list[Path]:
        return [self.path / r.file for r in self.records]

    def shard(self, shard: int) -> dict[str, np.ndarray]:
        """All columns of one shard (kept in a small cache)."""
        with self._lock:
            if shard in self._cache:
                self._cache.move_to_end(shard)
                return self._cache[shard]
        record = next((r for r in self.records if r.shard == shard), None)
        if record is None:
            raise IndexError(f"shard {shard} is not among this reader's shards")
        columns = read_shard_file(self.path / record.file, self.spec)
        with self._lock:
            self._cache[shard] = columns
            while len(self._cache) > SHARDS_KEPT:
                self._cache.popitem(last=False)
        return columns

    def __getitem__(self, i: int) -> dict:
        if isinstance(i, slice):
            raise TypeError("index a Dataset with one integer; use batches() for many samples at once")
        n = len(self)
        i = int(i) + (n if int(i) < 0 else 0)
        if not 0 <= i < n:
            raise IndexError(f"sample {i} is out of range: this dataset holds {n}")
        position = int(np.searchsorted(self._starts, i, side="right")) - 1
        columns = self.shard(self.records[position].shard)
        row = i - int(self._starts[position])
        return {name: column[row] for name, column in columns.items()}

    def batches(self, batch_size: int, *, shuffle_shards: bool = False, seed: int = 0, drop_last: bool = False):
        """Dicts of stacked numpy arrays, ``batch_size`` samples each, reading shard by shard (in order, or in a
        seeded random order of shards with ``shuffle_shards``)."""
        order = list(range(len(self.records)))
        if shuffle_shards:
            np.random.default_rng(seed).shuffle(order)
        pending: list[dict] = []
        held = 0
        for position in order:
            columns = self.shard(self.records[position].shard)
            pending.append(columns)
            held += len(columns["index"])
            while held >= batch_size:
                joined = {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}
                yield {k: v[:batch_size] for k, v in joined.items()}
                rest = {k: v[batch_size:] for k, v in joined.items()}
                held -= batch_size
                pending = [rest] if held else []
        if pending and held and not drop_last:
            yield {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (f"Dataset({str(self.path)!r}: {len(self)} {self.spec.kind} samples in {len(self.records)} "
                f"{self.spec.format} shards; columns from fields {', '.join(self.spec.fields)})")


def open_dataset(path, partial: bool = False) -> Dataset:
    """Open a dataset folder for reading (see :class:`Dataset`). ``partial``: serve the finished shards of an
    unfinished dataset instead of refusing it."""
    return Dataset(path, partial)


def _as_spec(spec) -> DatasetSpec:
    if isinstance(spec, DatasetSpec):
        return spec
    if isinstance(spec, dict):
        return DatasetSpec.from_dict(spec)
    path = Path(spec)
    if path.is_dir():
        path = path / SPEC_FILE
    from .spec import load_spec_text

    return load_spec_text(path.read_text(), str(path))[0]


def batch(spec, index: int, batch_size: int | None = None, *, threads: int | None = None) -> dict[str, np.ndarray]:
    """Batch ``index`` of a dataset made on the fly: samples ``index · size`` to ``(index + 1) · size − 1`` (the last
    batch may be shorter), with ``size`` = ``batch_size`` or the spec's shard size.

    spec: a :class:`DatasetSpec`, its dict, a ``spec.json`` path or a dataset folder. Returns the same columns and
    values a reader gives for those samples (audio as int16 for FLAC: FLAC is lossless over them); nothing is
    stored, and the same index gives the same batch every time.
    """
    from . import features, samples

    spec, sources = samples.resolve(_as_spec(spec))
    size = spec.shard_size if batch_size is None else int(batch_size)
    if size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    batches = -(-spec.count // size)
    if not 0 <= int(index) < batches:
        raise IndexError(f"batch {index} is out of range: this spec has {batches} batches of {size}")
    start = int(index) * size
    rows = samples.sample_rows(spec, np.arange(start, min(start + size, spec.count)), sources)
    if "clap" in spec.fields:
        features.check_clap(spec)
    return _ordered(features.compute_fields(spec, rows, threads, flac=False))
