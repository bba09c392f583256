"""Judge a batch of candidates on every CPU core: the batch split into shards, one compiled call per thread.

XLA:CPU splits each operation of one program across the cores, which costs a synchronization per operation;
a search's render-and-judge program runs hundreds of small operations per sound, so two independent calls on
half a batch each, one per core, finish sooner than one call on the whole batch (``bench/prompt_search.py``
measures both in the same run). The outputs are the same to the bit: every sound is rendered and judged on
its own row. On a GPU one wide call is what the device wants, so there the batch stays whole.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from studio.errors import SettingsError

MIN_SHARD = 8  # sounds per thread below which the split costs more than it gains
THREADS_ENV = "SYNTH_STUDIO_THREADS"

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def evaluation_threads(batch: int, threads: int | None = None) -> int:
    """How many threads judge a batch of ``batch`` candidates.

    threads: asked for explicitly (≥ 1), else ``$SYNTH_STUDIO_THREADS``, else one per CPU core on a CPU backend
    and 1 on an accelerator. Never more than leaves ``MIN_SHARD`` candidates per thread. ``ValueError`` for a
    bad request.
    """
    if threads is None:
        from_env = os.environ.get(THREADS_ENV, "").strip()
        if from_env:
            try:
                threads = int(from_env)
            except ValueError:
                raise SettingsError(f"{THREADS_ENV}={from_env!r} is not a whole number of threads", "threads") from None
        else:
            threads = cpu_cores() if jax.default_backend() == "cpu" else 1
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise SettingsError(f"threads must be a whole number ≥ 1, got {threads!r}", "threads")
    return int(max(1, min(threads, batch // MIN_SHARD)))


def shard_bounds(batch: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous (start, stop) row ranges covering ``batch`` rows, sizes differing by at most one."""
    edges = np.linspace(0, batch, shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _pool(threads: int) -> ThreadPoolExecutor:
    with _pools_lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="synth-studio-judge")
        return _pools[threads]


def map_shards(fn: Callable, batched: tuple, shared: tuple = (), threads: int = 1):
    """``fn(*batched, *shared)`` computed shard by shard, one thread per shard; outputs as numpy arrays, concatenated
    on axis 0.

    batched: arrays whose first axis is the batch (split into ``threads`` shards); shared: arguments every shard
    gets whole. ``fn`` returns an array or a tuple of arrays, each with the batch first. With one thread it is
    a plain call. Each thread waits for its own result, so the shards run at once, one per core. Inputs are
    split and outputs joined on the host (free on a CPU, where the shards run), which spares a dispatch per slice.
    """
    if threads <= 1 or batched[0].shape[0] < 2:
        out = fn(*batched, *shared)
        return tuple(np.asarray(x) for x in out) if isinstance(out, tuple) else np.asarray(out)
    batched = tuple(np.asarray(x) for x in batched)

    def run(bounds):
        start, stop = bounds
        out = fn(*(x[start:stop] for x in batched), *shared)
        return tuple(np.asarray(x) for x in out) if isinstance(out, tuple) else np.asarray(out)

    parts = list(_pool(threads).map(run, shard_bounds(batched[0].shape[0], min(threads, batched[0].shape[0]))))
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(column) for column in zip(*parts))
    return np.concatenate(parts)
