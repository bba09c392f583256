"""Judging in threads (studio/search/parallel.py): shards cover the batch, results equal one call's to the bit, and bad
thread counts are refused with a message."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from studio.scoring import DescriptorScorer
from studio.search import parallel
from studio.search.parallel import THREADS_ENV, evaluation_threads, map_shards, shard_bounds
from studio.search.prompt import PromptObjective, descriptor_evaluation
from studio.synth import RenderSettings, renderer
from studio.synth.cpu import has_avx512

SETTINGS = RenderSettings(duration=0.5)


def test_shards_cover_the_batch_in_order_with_sizes_one_apart():
    for batch, shards in [(32, 2), (33, 2), (50, 4), (7, 7)]:
        bounds = shard_bounds(batch, shards)
        assert len(bounds) == shards and bounds[0][0] == 0 and bounds[-1][1] == batch
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        sizes = [stop - start for start, stop in bounds]
        assert max(sizes) - min(sizes) <= 1


def test_threads_asked_for_are_capped_by_the_shard_size(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert evaluation_threads(32, 2) == 2
    assert evaluation_threads(32, 16) == 4  # at least 8 sounds per thread
    assert evaluation_threads(8, 4) == 1
    monkeypatch.setattr(parallel, "cpu_cores", lambda: 3)  # by default: one thread per core …
    assert evaluation_threads(64) == 3
    monkeypatch.setattr(parallel, "cpu_cores", lambda: 16)  # … still at least 8 sounds per thread
    assert evaluation_threads(64) == 8
    monkeypatch.setenv(THREADS_ENV, "3")
    assert evaluation_threads(64) == 3
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ValueError, match="SYNTH_STUDIO_THREADS='many' is not a whole number"):
        evaluation_threads(64)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a whole number ≥ 1"):
            evaluation_threads(64, bad)


def test_rendering_and_judging_in_threads_equals_one_call_bit_for_bit():
    render = renderer(SETTINGS)
    params = PromptObjective(DescriptorScorer(), "bright buzzing pluck", SETTINGS).params
    judge = jax.jit(lambda theta, seeds, p: descriptor_evaluation(p, render(theta, seeds), SETTINGS.sample_rate))
    theta = jnp.asarray(np.random.default_rng(0).random((27, 78), dtype=np.float32))
    seeds = jnp.arange(27, dtype=jnp.uint32)
    whole = judge(theta, seeds, params)
    for threads in (2, 3):
        sharded = map_shards(judge, (theta, seeds), (params,), threads)
        assert len(sharded) == 3
        for a, b in zip(whole, sharded):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    audio = map_shards(render, (theta, seeds), (), 2)  # a single output is concatenated too
    np.testing.assert_array_equal(np.asarray(audio), np.asarray(render(theta, seeds)))


def test_cpu_tuning_adds_xla_flags_before_jax_starts_and_keeps_the_users():
    """In a fresh process: the flags join XLA_FLAGS (a flag the user set keeps its value); once JAX has computed,
    tuning reports that it is too late."""
    code = ("import os, json; from studio.synth.cpu import tune_xla_cpu; first = tune_xla_cpu(); "
            "flags = os.environ['XLA_FLAGS']; import jax.numpy as jnp; jnp.ones(2).block_until_ready(); "
            "print(json.dumps([first, flags, tune_xla_cpu()]))")
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, flags, later = json.loads(out.stdout.strip().splitlines()[-1])
    assert first is True and later is False
    assert flags.split().count("--xla_cpu_multi_thread_eigen=true") == 1
    assert "--xla_cpu_multi_thread_eigen=false" not in flags
    assert ("--xla_cpu_prefer_vector_width=512" in flags) == has_avx512()
