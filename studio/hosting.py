"""Where the studio runs and what that changes: a ZeroGPU Space, a dedicated GPU (JAX and torch sharing it), a CPU.

Two hosting forms (README, "Hugging Face Spaces and Docker"):

* **ZeroGPU** (a Gradio-SDK Space; ``SPACES_ZERO_GPU`` set by the platform): the synth (JAX) stays on the Space's
  CPU, since ZeroGPU serves PyTorch only; CLAP's audio and text towers run on the GPU a ``@spaces.GPU`` call
  borrows (:func:`gpu`). Every CLAP call is cut into calls of at most ``ZERO_GPU_CLIPS_PER_CALL`` clips, each
  asking for ``ZERO_GPU_CALL_S`` seconds of the device (:mod:`studio.scoring.clap`).
* **A dedicated GPU** (a Docker Space with GPU hardware, any CUDA machine): JAX and torch share the device in one
  process. JAX must not take 75 % of it at its first computation (:func:`share_gpu_env`, applied by ``app.py``
  before JAX starts), audio passes from JAX to torch through DLPack on the device, the synth renders a batch in
  one wide program (``studio.synth.voice.default_sounds_per_step``) and concurrent renders of different visitors
  are batched into one synth call (:func:`render_batch_size`; ``studio.ui.views``).

Importing this module imports nothing heavy (no JAX, torch or ``spaces``): ``spaces`` is imported only on ZeroGPU,
so that off Spaces the decorator is the identity and the package's import side effects never happen.
"""
from __future__ import annotations

import os
from collections.abc import Callable

ZERO_GPU_ENV = "SPACES_ZERO_GPU"  # what the ``spaces`` package reads (spaces.config: "1", "t" or "true")
# One @spaces.GPU call asks for this many seconds of the device (a short request waits less in ZeroGPU's queue) and
# judges at most this many clips: CLAP's HTSAT-tiny tower scores ≥ 1,000 clips/s on an H200 slice in bf16 and a few
# hundred in fp32, so 256 clips (plus the text tower and the first call's weight transfer) fit with a wide margin.
ZERO_GPU_CALL_S = 30
ZERO_GPU_CLIPS_PER_CALL = 256

# The device's memory JAX may take at most (XLA_PYTHON_CLIENT_MEM_FRACTION) when it shares a GPU with torch: the
# synth's large batches grow into it on demand (no preallocation), the rest stays for CLAP and torch's cache.
JAX_MEMORY_FRACTION = "0.6"

RENDER_BATCH_ENV = "SYNTH_STUDIO_RENDER_BATCH"  # "auto" (default), "off"/"0", or the largest batch (e.g. 32)
GPU_RENDER_BATCH = 32  # sounds one synth call takes from concurrent renders on a GPU ("auto")


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "t", "true")


def zero_gpu(environ: dict | None = None) -> bool:
    """Whether this process runs on a ZeroGPU Space (the platform sets ``SPACES_ZERO_GPU``; ``spaces`` reads it the
    same way)."""
    return _truthy((os.environ if environ is None else environ).get(ZERO_GPU_ENV))


def gpu(fn: Callable | None = None, *, duration: float | Callable | None = None):
    """``@spaces.GPU`` on ZeroGPU, the identity everywhere else (the function itself is returned, untouched).

    Use as ``@gpu`` or ``@gpu(duration=30)``. Decorate at import time (module level): ZeroGPU registers the
    decorated functions when the app launches. On ZeroGPU the call runs in a forked worker that holds the GPU, so
    its arguments and result must pickle (numpy arrays and strings, not models; see :mod:`studio.scoring.clap`).
    """
    def wrap(task: Callable) -> Callable:
        if not zero_gpu():
            return task
        import spaces  # only here: off ZeroGPU the package is never imported by the studio

        return spaces.GPU(task, duration=duration)

    return wrap if fn is None else wrap(fn)


def share_gpu_env(environ: dict | None = None) -> bool:
    """Let JAX and torch share one GPU: JAX allocates on demand (``XLA_PYTHON_CLIENT_PREALLOCATE=false``) and up to
    ``JAX_MEMORY_FRACTION`` of the device; torch's allocator may give back what it cached
    (``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True``). Values already set are kept. Must run before JAX starts
    its backends (XLA reads them once): returns False when they came too late, True otherwise. Harmless on a CPU."""
    env = os.environ if environ is None else environ
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", JAX_MEMORY_FRACTION)
    env.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    from studio.synth.cpu import _jax_backends_started

    return not _jax_backends_started()


def prepare_process() -> None:
    """What the app's entry point does first, before JAX, torch or Gradio start: :func:`share_gpu_env`; on ZeroGPU,
    import ``spaces`` before torch touches CUDA (it refuses otherwise) and the CLAP module, whose ``@spaces.GPU``
    functions must be registered before the app launches."""
    share_gpu_env()
    if zero_gpu():
        import spaces  # noqa: F401

        import studio.scoring.clap  # noqa: F401


def render_batch_size(backend: str | None = None, environ: dict | None = None) -> int:
    """How many concurrent renders one synth call takes (0: every render its own call, the CPU default).

    ``$SYNTH_STUDIO_RENDER_BATCH``: "auto" (default: ``GPU_RENDER_BATCH`` on an accelerator, 0 on a CPU, where
    XLA spreads one render over the cores and the studio renders sound by sound), "off" or "0", or a number.
    backend: JAX's default backend (asked of JAX when None)."""
    value = ((os.environ if environ is None else environ).get(RENDER_BATCH_ENV) or "auto").strip().lower()
    if value in ("off", "no", "false", "none"):
        return 0
    if value != "auto":
        try:
            size = int(value)
        except ValueError:
            raise ValueError(f"{RENDER_BATCH_ENV}={value!r}: use auto, off or a whole number of sounds") from None
        return max(0, size)
    if backend is None:
        import jax

        backend = jax.default_backend()
    return GPU_RENDER_BATCH if backend != "cpu" else 0


def describe(backend: str | None = None) -> str:
    """One line saying how this process is hosted (for the app's start-up log)."""
    if backend is None:
        import jax

        backend = jax.default_backend()
    where = "ZeroGPU Space (CLAP on the borrowed GPU, synth on the CPU)" if zero_gpu() else (
        f"synth on {backend}")
    batch = render_batch_size(backend)
    renders = f"concurrent renders batched up to {batch} a call" if batch else "one render per call"
    return f"{where}; {renders}"
