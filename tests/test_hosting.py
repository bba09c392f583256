"""Hosting (issue 18): ZeroGPU's ``@spaces.GPU`` is a no-op off ZeroGPU and sizes CLAP's device calls on it; JAX hands
audio to torch through DLPack; JAX and torch share a GPU; batched renders give every request exactly the sound a
single render gives; the Dockerfile's CUDA build. The GPU code paths run here under ``JAX_PLATFORMS=cpu``."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from studio import hosting
from studio.synth import RenderSettings, noise_seeds, render, renderer
from studio.ui import views

REPO = Path(__file__).resolve().parents[1]
SHORT = RenderSettings(duration=0.5)


def run_python(code: str, env: dict | None = None, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter at the repository root; its stdout (fails the test on an error)."""
    environ = {k: v for k, v in os.environ.items() if k != hosting.ZERO_GPU_ENV}
    environ.update({"PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", "HF_HUB_OFFLINE": "1", **(env or {})})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=environ, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


# ---------------------------------------------------------------------------------------------------------------
# ZeroGPU


def test_the_gpu_decorator_is_the_identity_off_zero_gpu(monkeypatch):
    monkeypatch.delenv(hosting.ZERO_GPU_ENV, raising=False)

    def judge(x):
        return x

    assert not hosting.zero_gpu()
    assert hosting.gpu(judge) is judge and hosting.gpu(duration=30)(judge) is judge
    import spaces  # the package itself agrees: without SPACES_ZERO_GPU its decorator hands the function back

    assert spaces.GPU(judge) is judge and spaces.GPU(duration=30)(judge) is judge
    assert hosting.zero_gpu({"SPACES_ZERO_GPU": "true"}) and not hosting.zero_gpu({"SPACES_ZERO_GPU": "0"})


def test_off_zero_gpu_the_studio_never_imports_spaces():
    # app.py's first step and the CLAP module: no `spaces` import (its import patches torch on ZeroGPU), and the
    # CLAP device calls are the plain functions.
    out = run_python("""
        import sys
        from studio.hosting import prepare_process
        prepare_process()
        import studio.scoring.clap as clap
        print('spaces' in sys.modules, clap._device_judgement.__module__, hasattr(clap._device_judgement, 'zerogpu'))
    """)
    assert out.split() == ["False", "studio.scoring.clap", "False"]


FAKE_SPACES = '''
"""A stand-in for the `spaces` package on ZeroGPU: GPU records each call and pickles its arguments and result, as
ZeroGPU does when it runs the function in its forked worker."""
import functools, pickle

calls = []


def GPU(task=None, *, duration=None, size=None):
    if task is None:
        return functools.partial(GPU, duration=duration, size=size)

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        calls.append((task.__name__, duration, [getattr(a, "shape", a) for a in args]))
        return pickle.loads(pickle.dumps(task(*args, **kwargs)))

    wrapper.zerogpu = None
    return wrapper
'''


@pytest.fixture(scope="module")
def tiny_clap_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from test_scoring import _tiny_clap

    return _tiny_clap(tmp_path_factory.mktemp("clap"))


def test_on_zero_gpu_clap_runs_in_gpu_calls_sized_for_the_time_limit(tmp_path, tiny_clap_dir):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "__init__.py").write_text(FAKE_SPACES)
    out = run_python(f"""
        import sys
        import numpy as np
        from studio.hosting import ZERO_GPU_CALL_S, ZERO_GPU_CLIPS_PER_CALL, prepare_process
        prepare_process()  # imports spaces (before torch) and registers the CLAP module's GPU functions
        import spaces
        assert 'studio.scoring.clap' in sys.modules and 'torch' not in sys.modules
        from studio.scoring.clap import load_clap
        scorer = load_clap({str(tiny_clap_dir)!r}, device="cpu", batch_size=2, precision="fp32")
        assert scorer.clips_per_call == ZERO_GPU_CLIPS_PER_CALL
        scorer.clips_per_call = 2  # five clips: three GPU calls
        t = np.arange(96_000) / 48_000
        audio = np.stack([np.sin(2 * np.pi * 110 * (k + 1) * t) * 0.5 for k in range(5)]).astype(np.float32)
        scores = scorer.score(audio, 48_000, "bees buzzing")
        embeddings = scorer.embed(audio, 48_000)
        direct = (scorer.audio_embeddings(audio, 48_000) @ scorer.text_embedding("bees buzzing")).numpy()
        assert np.allclose(scores, direct, atol=1e-5) and embeddings.shape == (5, 16)
        text = scorer.embed_text("bees buzzing")  # a device call of its own (the proxy-screened search's)
        assert np.allclose(text, scorer.text_embedding("bees buzzing").numpy())
        assert spaces.calls[-1][0] == "_device_text"
        del spaces.calls[-1]
        shapes = [shape for _, _, (key, shape, rate, text) in spaces.calls]
        assert [name for name, *_ in spaces.calls] == ["_device_judgement"] * 6
        assert shapes == [(2, 96_000), (2, 96_000), (1, 96_000)] * 2, shapes
        assert all(duration == ZERO_GPU_CALL_S for _, duration, _ in spaces.calls)
        print("ok", len(spaces.calls))
    """, env={hosting.ZERO_GPU_ENV: "true", "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"})
    assert out.split() == ["ok", "6"]


# ---------------------------------------------------------------------------------------------------------------
# A dedicated GPU: JAX and torch share it; audio goes from JAX to torch without a copy


def test_gpu_sharing_env_is_set_before_jax_and_keeps_what_is_given():
    env = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.3"}
    hosting.share_gpu_env(env)
    assert env == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.3", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                   "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    out = run_python("""
        import os
        import app  # the entry point's module-level set-up, as `python app.py` runs it
        import jax
        jax.numpy.zeros(1).block_until_ready()
        from studio.hosting import share_gpu_env
        print(os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"], os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"],
              share_gpu_env())
    """)
    assert out.split() == ["false", hosting.JAX_MEMORY_FRACTION, "False"]  # too late once JAX has started


def test_dlpack_hands_jax_audio_to_torch_without_a_copy():
    import torch

    from studio.scoring.clap import _to_torch, jax_to_torch

    audio = renderer(SHORT)(jnp.asarray(np.random.default_rng(0).random((3, 78), np.float32)),
                            jnp.asarray(noise_seeds(SHORT, 3)))
    tensor = jax_to_torch(audio)
    assert tensor.device.type == ("cuda" if jax.default_backend() == "gpu" else "cpu")
    assert tensor.data_ptr() == audio.unsafe_buffer_pointer()  # the same buffer: no copy, no host round trip
    assert torch.equal(tensor.cpu(), torch.as_tensor(np.array(audio)))
    assert _to_torch(audio, str(tensor.device)).data_ptr() == audio.unsafe_buffer_pointer()


def test_clap_judges_jax_audio_as_it_judges_host_audio(tiny_clap_dir):
    from studio.scoring.clap import load_clap

    clap = load_clap(str(tiny_clap_dir), device="cpu", batch_size=2, precision="fp32")
    assert clap.clips_per_call is None  # off ZeroGPU: the whole batch in one call
    audio = renderer(SHORT)(jnp.asarray(np.random.default_rng(1).random((3, 78), np.float32)),
                            jnp.asarray(noise_seeds(SHORT, 3)))
    np.testing.assert_allclose(clap.score(audio, SHORT.sample_rate, "laser zap"),
                               clap.score(np.asarray(audio), SHORT.sample_rate, "laser zap"), atol=1e-6)
    np.testing.assert_allclose(clap.embed(audio, SHORT.sample_rate),
                               clap.audio_embeddings(np.asarray(audio), SHORT.sample_rate).numpy(), atol=1e-6)


def test_the_whole_batch_path_is_the_default_off_the_cpu():
    from studio.synth.voice import default_sounds_per_step

    assert default_sounds_per_step("gpu") == 0 and default_sounds_per_step("cuda") == 0
    assert default_sounds_per_step("cpu") == 1
    assert hosting.render_batch_size("gpu", {}) == hosting.GPU_RENDER_BATCH
    assert hosting.render_batch_size("cpu", {}) == 0  # a CPU keeps rendering each sound in its own call
    assert hosting.render_batch_size("cpu", {hosting.RENDER_BATCH_ENV: "16"}) == 16
    assert hosting.render_batch_size("gpu", {hosting.RENDER_BATCH_ENV: "off"}) == 0
    with pytest.raises(ValueError, match="SYNTH_STUDIO_RENDER_BATCH"):
        hosting.render_batch_size("gpu", {hosting.RENDER_BATCH_ENV: "lots"})


# ---------------------------------------------------------------------------------------------------------------
# Many users: concurrent renders batched into one synth call


def concurrent_renders(sounds, threads: int | None = None) -> list[np.ndarray]:
    """``views.render_audio`` of every sound, all at once from their own threads (as sessions do)."""
    out = [None] * len(sounds)
    start = threading.Barrier(len(sounds))

    def one(i):
        start.wait()
        out[i] = views.render_audio(sounds[i])

    workers = [threading.Thread(target=one, args=(i,)) for i in range(len(sounds))]
    for w in workers:
        w.start()
    for w in workers:  # generous: under a loaded CI machine a shape's batch sizes still compile meanwhile
        w.join(600)
    assert not any(w.is_alive() for w in workers), "a render never returned"
    return out


def random_sounds(n: int, seed: int, settings_list) -> list:
    """``n`` random sounds, each with its own noise seed, their settings taken in turn from ``settings_list``."""
    from studio.presets import Preset

    rng = np.random.default_rng(seed)
    return [Preset(name=f"s{i}", theta=rng.random(78).astype(np.float32),
                   settings=dataclasses.replace(settings_list[i % len(settings_list)],
                                                noise_seed=int(rng.integers(2**32))))
            for i in range(n)]


@pytest.fixture
def batched():
    views.accept_only(None)  # any shape (a public server started by an earlier test may have limited them)
    batcher = views.batch_renders(8, window_s=0.05)
    try:
        yield batcher
    finally:
        views.batch_renders(0)


def test_batched_renders_give_each_request_exactly_its_single_render(batched):
    other = RenderSettings(duration=0.25)
    batched.warm_up(SHORT)
    for settings in (SHORT, other):  # a shape's first render compiles it, in its caller's thread: not batched
        batched.render(np.full(78, 0.5, np.float32), settings)
    assert batched.wait_compiled(SHORT)
    calls, rendered = batched.calls, batched.rendered
    sounds = random_sounds(14, 3, [SHORT, SHORT, SHORT, other])
    views._RECENT.clear()
    heard = concurrent_renders(sounds)
    for sound, audio in zip(sounds, heard):
        assert np.array_equal(audio, np.asarray(render(sound.theta, sound.settings))), sound.name  # bit for bit
    assert batched.rendered - rendered == 14 and batched.calls - calls < 14  # renders shared synth calls
    assert not heard[0].flags.writeable


def test_the_gpu_batch_path_runs_on_the_cpu_too():
    # The batcher as a GPU runs it (the whole batch in one wide program), here on the CPU: every request gets its
    # own sound, equal to a single render to float rounding (XLA may fuse a batch differently).
    batcher = views.RenderBatcher(4, window_s=0.05, sounds_per_step=0)
    try:
        batcher.warm_up(SHORT)
        batcher.render(np.full(78, 0.5, np.float32), SHORT)
        assert batcher.wait_compiled(SHORT)
        calls = batcher.calls
        sounds = random_sounds(6, 4, [SHORT])
        out = [None] * 6

        def one(i):
            out[i] = batcher.render(sounds[i].theta, sounds[i].settings)

        workers = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        for sound, audio in zip(sounds, out):
            single = np.asarray(render(sound.theta, sound.settings))
            assert np.corrcoef(audio, single)[0, 1] > 0.99999 and np.abs(audio - single).max() < 1e-2
        assert batcher.calls - calls < 6
    finally:
        batcher.close()


def test_a_bad_request_fails_alone(batched):
    from studio.presets import Preset

    with pytest.raises(ValueError, match="not finite"):
        batched.render(np.full(78, np.nan, np.float32), SHORT)
    good = random_sounds(1, 5, [SHORT])[0]
    assert np.array_equal(views.render_audio(Preset(name="x", theta=good.theta, settings=good.settings)),
                          np.asarray(render(good.theta, good.settings)))


def test_the_app_batches_renders_on_a_gpu_and_not_on_a_cpu(tmp_path, monkeypatch):
    from studio.ui.app import build_app, make_config

    monkeypatch.delenv(hosting.RENDER_BATCH_ENV, raising=False)
    config = make_config(tmp_path / "lib", public=False)
    assert config.render_batch == (0 if jax.default_backend() == "cpu" else hosting.GPU_RENDER_BATCH)
    monkeypatch.setenv(hosting.RENDER_BATCH_ENV, "2")
    config = make_config(tmp_path / "lib", public=False)
    try:
        demo = build_app(config)
        assert views.render_batcher() is not None and views.render_batcher().max_batch == 2
        limits = {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == "render"}
        assert limits == {max(config.render_concurrency, 2)}  # the render events admit a batch's worth
    finally:
        views.batch_renders(0)
        views.limit_renders(1)


# ---------------------------------------------------------------------------------------------------------------
# The Dockerfile's CUDA build (docker does not run on these machines: its instructions are checked instead)


def test_the_dockerfile_documents_and_parameterizes_the_cuda_build():
    text = (REPO / "Dockerfile").read_text()
    args = dict(line.split(None, 1)[1].split("=", 1) for line in text.splitlines() if line.startswith("ARG "))
    assert args["JAX_EXTRA"] == '""' and args["TORCH_INDEX"].endswith("/whl/cpu")
    assert "--build-arg JAX_EXTRA=cuda12" in text and "--build-arg TORCH_INDEX=https://pypi.org/simple" in text
    assert 'jax[$JAX_EXTRA]==$(sed -n \'s/^jax==//p\' requirements.txt)' in text  # the pinned JAX, with CUDA
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in text  # and app.py sets the rest (studio.hosting)
    jax_pin = next(line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("jax=="))
    assert jax_pin == f"jax=={jax.__version__}"
