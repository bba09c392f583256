"""A dataset's folder: ``spec.json`` (written first), the shards, and ``manifest.json``, the list of finished shards
with their sizes and SHA-256 hashes.

A shard's file is written to a hidden temporary file, flushed to disk and moved into place; only then is the
manifest, itself replaced atomically, told about it. A run killed at any moment therefore leaves finished shards
listed with their hashes and nothing else trusted: a rerun checks every listed shard against its hash, skips
those that match and makes the rest (a shard file that made it to disk but not into the manifest is made again,
to the same bytes). One run at a time holds the folder's lock (``.lock``).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError

from .spec import SPEC_FILE, DatasetSpec, load_spec_text

MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ShardRecord:
    """A finished shard: its number, file name, samples, size in bytes and SHA-256 of the file's bytes."""

    shard: int
    file: str
    samples: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return {"shard": self.shard, "file": self.file, "samples": self.samples, "bytes": self.bytes,
                "sha256": self.sha256}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    from studio.audio.io import atomic_file

    with atomic_file(path) as f:
        f.write(data)


def read_manifest(folder: Path, spec: DatasetSpec) -> dict[int, ShardRecord]:
    """The shards ``manifest.json`` lists as finished (empty when there is none); a manifest of another spec or
    that is not one is refused with a StudioError."""
    path = Path(folder) / MANIFEST_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if data.get("spec_sha256") != spec.sha256():
            raise StudioError(f"{path} belongs to another spec than {Path(folder) / SPEC_FILE}: move the folder's "
                              "files away or choose another folder")
        records = [ShardRecord(**entry) for entry in data["shards"]]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise StudioError(f"{path} is not a dataset manifest ({type(err).__name__}: {err}); remove it to make "
                          "every shard again") from None
    return {r.shard: r for r in records}


def read_spec(folder) -> tuple[DatasetSpec, dict]:
    """(spec, made_with) from a dataset folder's ``spec.json``; StudioError when there is none."""
    path = Path(folder) / SPEC_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StudioError(f"{folder} is not a dataset: it holds no {SPEC_FILE}") from None
    except OSError as err:
        raise StudioError(f"cannot read {path}: {err.strerror or err}") from None
    return load_spec_text(text, str(path))


class DatasetFolder:
    """The folder a run writes: checked, locked and holding the spec; :meth:`add` records each finished shard.

    Use :meth:`open` (a context manager that releases the lock on exit).
    """

    def __init__(self, path: Path, spec: DatasetSpec, finished: dict[int, ShardRecord], lock_fd: int,
                 notes: list[str]):
        self.path, self.spec, self.finished, self._lock_fd, self.notes = path, spec, finished, lock_fd, notes

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path, spec: DatasetSpec, made_with: dict | None = None, verify: bool = True) -> DatasetFolder:
        """Make or resume the dataset ``spec`` in ``path``: create the folder, check it can be written, take its lock,
        write ``spec.json`` (or check the one there is the same spec), read the manifest and check every finished
        shard against its hash (dropping those that do not match: they are made again). StudioError, before any
        work, for a folder that cannot be written, holds another dataset or other files, or is in use."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise StudioError(f"cannot write a dataset into {path}: it is a file, not a folder", "output")
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise StudioError(f"cannot write into {path}: {err.strerror or err}", "output") from None
        cls._check_foreign_files(path)  # before the lock file: refuse a folder without leaving anything in it
        lock_fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise StudioError(f"another run is writing the dataset in {path}: wait for it to finish or stop "
                                  "it", "output") from None
            notes = cls._check_spec(path, spec, made_with or {})
            finished = read_manifest(path, spec)
            for stale in path.glob(".shard-*.tmp"):
                stale.unlink(missing_ok=True)
            for stale in path.glob(f".{MANIFEST_FILE}.*.tmp"):
                stale.unlink(missing_ok=True)
            folder = cls(path, spec, finished, lock_fd, notes)
            if verify:
                folder.verify()
            return folder
        except BaseException:
            os.close(lock_fd)
            raise

    @staticmethod
    def _check_spec(path: Path, spec: DatasetSpec, made_with: dict) -> list[str]:
        spec_path = path / SPEC_FILE
        if spec_path.exists():
            theirs, their_made_with = read_spec(path)
            differences = spec.differences(theirs)
            if differences:
                hint = (" (the presets it reads have changed)" if any(d.startswith("sources_sha256") for d in
                                                                      differences) else "")
                raise StudioError(f"{path} holds another dataset{hint}: its {SPEC_FILE} differs in "
                                  + "; ".join(differences) + ". Resume it with the same options, or choose an empty "
                                  "or new folder", "output")
            changed = sorted(k for k in made_with if their_made_with.get(k) not in (None, made_with[k]))
            if changed:
                return [f"note: this dataset was started with {', '.join(f'{k} {their_made_with[k]}' for k in changed)}"
                        f"; this run has {', '.join(f'{k} {made_with[k]}' for k in changed)}: shards made now may "
                        "differ in bytes from what the first run would have made"]
            return []
        DatasetFolder._check_foreign_files(path)
        _write_atomically(spec_path, spec.to_json(made_with).encode())
        return []

    @staticmethod
    def _check_foreign_files(path: Path) -> None:
        """A folder without ``spec.json`` must hold nothing but this module's own files (the lock)."""
        if (path / SPEC_FILE).exists():
            return
        others = sorted(p.name for p in path.iterdir() if p.name != LOCK_FILE and not p.name.startswith(".write-test-"))
        if others:
            shown = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
            raise StudioError(f"{path} is not empty ({shown}) and holds no dataset ({SPEC_FILE}): choose an empty or "
                              "new folder", "output")

    # -- shards ------------------------------------------------------------------------------
    def verify(self) -> list[int]:
        """Check every finished shard's file against its size and hash; forget those that differ (a note each).
        Returns the shards forgotten."""
        bad = []
        for shard, record in sorted(self.finished.items()):
            file = self.path / record.file
            ok = file.is_file() and file.stat().st_size == record.bytes and sha256_file(file) == record.sha256
            if not ok:
                bad.append(shard)
                self.notes.append(f"note: shard {shard} ({record.file}) is missing or does not match its hash: "
                                  "making it again")
        for shard in bad:
            del self.finished[shard]
        if bad:
            self._write_manifest()
        return bad

    def pending(self) -> list[int]:
        """Shards still to make, in order."""
        return [s for s in range(self.spec.shard_count) if s not in self.finished]

    def add(self, shard: int, data: bytes, samples: int) -> ShardRecord:
        """Write a finished shard's bytes (atomically) and record it in the manifest."""
        name = self.spec.shard_name(shard)
        target = self.path / name
        temporary = self.path / f".shard-{shard:06d}.{os.getpid()}.tmp"
        try:
            with open(temporary, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        record = ShardRecord(shard, name, int(samples), len(data), hashlib.sha256(data).hexdigest())
        self.finished[shard] = record
        self._write_manifest()
        return record

    def _write_manifest(self) -> None:
        records = [self.finished[s].to_dict() for s in sorted(self.finished)]
        data = {"version": MANIFEST_VERSION, "spec_sha256": self.spec.sha256(), "shards_total": self.spec.shard_count,
                "shards_done": len(records), "samples_done": sum(r["samples"] for r in records), "shards": records}
        _write_atomically(self.path / MANIFEST_FILE, (json.dumps(data, indent=1) + "\n").encode())

    @property
    def complete(self) -> bool:
        return len(self.finished) == self.spec.shard_count

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    def __enter__(self) -> DatasetFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
