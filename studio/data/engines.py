"""Making a dataset's shards: ``local`` (this process, every core) or ``ray`` (shards as Ray tasks, on a Ray started
for the run or an existing cluster). Both call :func:`make_shard`, so a shard has the same bytes on either.

The driver alone writes: a Ray task returns its shard's bytes, and the driver writes the file, hashes it and
records it in the manifest (``studio.data.manifest``), so workers need no shared file system and a worker killed
mid-shard leaves nothing behind; Ray runs the task again (``max_retries``), to the same bytes.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.errors import SettingsError, StudioError

from . import features, samples, writers
from .manifest import DatasetFolder
from .spec import DatasetSpec, made_with

ENGINES = ("local", "ray")
RAY_RETRIES = 3  # a shard's task is run again this often when its worker dies
CRASH_TEST_ENV = "SYNTH_STUDIO_DATASET_CRASH_TEST"  # tests only: "SHARD:MARKER" kills the first Ray worker of SHARD


@dataclass
class RunSummary:
    """What a run did: shards made now and found finished, samples and bytes made now, seconds, the engine."""

    path: Path
    spec: DatasetSpec
    engine: str
    shards_made: int = 0
    shards_skipped: int = 0
    samples_made: int = 0
    bytes_made: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def samples_per_second(self) -> float:
        return self.samples_made / self.seconds if self.seconds > 0 else float("nan")

    @property
    def bytes_per_sample(self) -> float:
        return self.bytes_made / self.samples_made if self.samples_made else float("nan")


def prepare(spec: DatasetSpec, engine: str = "local"):
    """Everything checked before any work: the libraries the format and engine need, the spec, the presets it reads,
    CLAP when asked for. Returns the resolved spec and its sources (``samples.resolve``)."""
    needed = {"parquet": "pyarrow", "webdataset": "webdataset"}.get(spec.format, "pyarrow"), "tqdm"
    for module in needed + (("ray",) if engine == "ray" else ()):
        if importlib.util.find_spec(module) is None:
            raise StudioError(f"datasets need the {module} package here: install the studio's requirements.txt "
                              "(or pip install \"synth-sketch-studio[data]\")", module)
    spec, sources = samples.resolve(spec)
    features.check_clap(spec)
    return spec, sources


def make_shard(spec: DatasetSpec, shard: int, sources=None, threads: int | None = None) -> bytes:
    """Shard ``shard``'s file bytes: its samples drawn, rendered, measured and encoded."""
    rows = spec.shard_rows(shard)
    columns = features.compute_fields(spec, samples.sample_rows(spec, np.arange(rows.start, rows.stop), sources),
                                      threads)
    return writers.encode_shard(spec, shard, columns)


def make_dataset(spec: DatasetSpec, path, *, engine: str = "local", address: str | None = None,
                 num_cpus: int | None = None, threads: int | None = None, progress: bool = True,
                 echo: Callable[[str], None] | None = None) -> RunSummary:
    """Make (or finish) the dataset ``spec`` in the folder ``path``; return what this run did.

    engine: ``local`` (this process; ``threads`` CPU threads, default one per core) or ``ray`` (``address``: an
    existing cluster, ``auto`` or ``ray://host:port``; else a Ray started for this run with ``num_cpus`` CPUs, default
    all). progress: a progress bar with rate and ETA on stderr. echo: where notes go (resume state, version
    changes). Every check happens before any work: see :func:`prepare` and ``DatasetFolder.open``.
    """
    from studio.checks import check_choice, check_whole

    engine = check_choice(engine, ENGINES, "engine")
    if address and engine != "ray":
        raise SettingsError("--address applies to --engine ray only", "address")
    if num_cpus is not None:
        num_cpus = check_whole(num_cpus, 1, None, "num_cpus")
    if threads is not None:
        threads = check_whole(threads, 1, None, "threads")
    echo = echo or (lambda line: None)
    spec, sources = prepare(spec, engine)
    ray_started = start_ray(address, num_cpus) if engine == "ray" else False  # an unreachable cluster: before work
    try:
        return _make(spec, sources, Path(path), engine, address, num_cpus, threads, progress, echo)
    finally:
        if ray_started:
            import ray

            ray.shutdown()


def _make(spec: DatasetSpec, sources, path: Path, engine: str, address: str | None, num_cpus: int | None,
          threads: int | None, progress: bool, echo: Callable[[str], None]) -> RunSummary:
    summary = RunSummary(path, spec, engine)
    with DatasetFolder.open(path, spec, made_with()) as folder:
        echo(describe(spec, path, engine, address, num_cpus, threads))
        for note in folder.notes:
            echo(note)
        summary.notes = list(folder.notes)
        todo = folder.pending()
        summary.shards_skipped = spec.shard_count - len(todo)
        if summary.shards_skipped:
            echo(f"resuming: {summary.shards_skipped} of {spec.shard_count} shards are done (checked against "
                 f"their hashes); {len(todo)} to make")
        if not todo:
            return summary
        bar = _progress(spec, sum(r.samples for r in folder.finished.values()), engine, progress)
        started = time.perf_counter()

        def finished(shard: int, data: bytes) -> None:
            record = folder.add(shard, data, len(spec.shard_rows(shard)))
            summary.shards_made += 1
            summary.samples_made += record.samples
            summary.bytes_made += record.bytes
            bar.update(record.samples)

        try:
            if engine == "local":
                run_local(spec, sources, todo, finished, threads)
            else:
                run_ray(spec, sources, todo, finished)
        finally:
            summary.seconds = time.perf_counter() - started
            bar.close()
    return summary


def describe(spec: DatasetSpec, path, engine: str, address: str | None = None, num_cpus: int | None = None,
             threads: int | None = None) -> str:
    """One line for people: what the run makes, where and how."""
    from studio.search.parallel import cpu_cores

    shards = spec.shard_count
    fields = ", ".join(f"audio ({spec.audio_format})" if f == "audio" else f for f in spec.fields)
    options = {"doppelgangers": f"; {spec.variants} variants per anchor at δ {', '.join(f'{d:g}' for d in spec.deltas)}"
                                + (f", locked: {', '.join(spec.locks)}" if spec.locks else ""),
               "sweeps": f"; attributes: {', '.join(spec.attributes) or 'all 13'}",
               "presets": f" from {spec.presets}"}.get(spec.kind, "")
    if spec.around:
        options += f"; around {len(spec.around)} preset source(s)" + (f", spread {spec.spread:g}"
                                                                      if spec.kind == "random" else "")
    if engine == "local":
        count = threads or os.environ.get("SYNTH_STUDIO_THREADS") or cpu_cores()
        how = f"engine local ({_count(count, 'thread')})"
    else:
        how = f"engine ray ({'cluster ' + address if address else f'local Ray, {num_cpus or cpu_cores()} CPUs'})"
    return (f"dataset {path}: {spec.count:,} {spec.kind} samples in {shards:,} shard{'s' * (shards != 1)} of "
            f"{spec.shard_size:,} ({spec.format}: {fields}){options}; seed {spec.seed}, "
            f"{spec.sample_rate} Hz, {spec.duration:g} s; {how}")


def run_local(spec: DatasetSpec, sources, shards: list[int], finished: Callable[[int, bytes], None],
              threads: int | None = None) -> None:
    """Make ``shards`` in this process, two at a time: while one shard's sounds render on every core (the studio's
    per-core threads), the other's file is encoded, so no core waits for the single-threaded encoder. ``finished``
    gets them in order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2, thread_name_prefix="synth-studio-shard") as pool:
        running: deque = deque()
        try:
            for shard in shards:
                running.append((shard, pool.submit(make_shard, spec, shard, sources, threads)))
                if len(running) == 2:
                    done, future = running.popleft()
                    finished(done, future.result())
            while running:
                done, future = running.popleft()
                finished(done, future.result())
        finally:
            for _, future in running:
                future.cancel()


def _progress(spec: DatasetSpec, done: int, engine: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=spec.count, initial=done, unit=" samples", smoothing=0.1, file=sys.stderr,
                disable=not enabled, desc=f"{spec.kind} ({engine})", dynamic_ncols=True)


# ----------------------------------------------------------------------------------------------
# Ray
# ----------------------------------------------------------------------------------------------
def ray_runtime_env() -> dict:
    """The runtime environment Ray workers get: this studio's package (so a cluster's workers import the same code
    as the driver) and one render thread per task (Ray runs one task per CPU)."""
    import studio

    return {"py_modules": [str(Path(studio.__file__).resolve().parent)], "excludes": ["__pycache__", "*.pyc"],
            "env_vars": {"SYNTH_STUDIO_THREADS": "1"}}


def start_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray: ``address`` (``auto``, ``ray://host:port``, ``host:port``) or a local Ray with ``num_cpus``
    (default: this machine's cores). Returns True when this call started or connected it (the caller shuts it down);
    False when this process was connected already."""
    import logging

    import ray

    if ray.is_initialized():
        return False
    options = {"runtime_env": ray_runtime_env(), "logging_level": logging.WARNING, "log_to_driver": False}
    with warnings.catch_warnings():  # JAX warns of os.fork when Ray starts its processes (fork + exec: nothing shared)
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        _init_ray(ray, address, num_cpus, options)
    return True


def _init_ray(ray, address: str | None, num_cpus: int | None, options: dict) -> None:
    try:
        if address:
            ray.init(address=address, **options)
        else:
            from studio.search.parallel import cpu_cores

            ray.init(num_cpus=num_cpus or cpu_cores(), include_dashboard=False, **options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise StudioError(f"cannot start or reach {where}: {err}", "address") from None


def _ray_shard(spec_json: str, shard: int, sources) -> bytes:
    """A Ray task: tune this worker like any studio process, then make one shard."""
    from studio.search.engine import use_compilation_cache
    from studio.synth.cpu import tune_cpu

    tune_cpu()
    use_compilation_cache()  # a worker compiles the render programs once per machine, not once per process
    _crash_for_test(shard)
    spec = DatasetSpec.from_dict(json.loads(spec_json))
    return make_shard(spec, shard, sources, threads=1)


def _crash_for_test(shard: int) -> None:
    """Tests of Ray's retries: with ``$SYNTH_STUDIO_DATASET_CRASH_TEST`` = ``SHARD:MARKER``, the first worker to run
    SHARD creates MARKER and dies at once (as if killed), so Ray must run the shard again."""
    target = os.environ.get(CRASH_TEST_ENV, "")
    if not target:
        return
    number, _, marker = target.partition(":")
    if number.strip() == str(shard) and marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(137)


def run_ray(spec: DatasetSpec, sources, shards: list[int], finished: Callable[[int, bytes], None]) -> None:
    """Make ``shards`` as Ray tasks (one CPU each, ``RAY_RETRIES`` retries when a worker dies), calling
    ``finished(shard, bytes)`` in the driver as each completes. At most two tasks per CPU of the cluster are in
    flight, so the object store holds a few shards at a time. Ray must be connected (:func:`start_ray`)."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(_ray_shard)
    spec_json = spec.to_json()
    sources_ref = ray.put(sources)
    window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    queue, running = list(shards), {}
    while queue or running:
        while queue and len(running) < window:
            shard = queue.pop(0)
            running[task.remote(spec_json, shard, sources_ref)] = shard
        ready, _ = ray.wait(list(running), num_returns=1)
        for ref in ready:
            shard = running.pop(ref)
            try:
                data = ray.get(ref)
            except RayTaskError as err:
                cause = getattr(err, "cause", None)
                if isinstance(cause, StudioError):
                    raise cause from None
                raise RuntimeError(f"shard {shard} failed in a Ray task: {cause or err}") from None
            except RayError as err:
                raise StudioError(f"shard {shard} failed on Ray after {RAY_RETRIES} retries: "
                                  f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
            finished(shard, data)


def _count(n, noun: str) -> str:
    return f"{n} {noun}" + ("" if str(n) == "1" else "s")
