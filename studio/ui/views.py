"""What the panel shows for a sound: its audio (as Gradio wants it) and its pictures; plus the JIT warm-up.

No Gradio import here, so the warm-up can start compiling while Gradio itself is still being imported.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque

import numpy as np

from studio import plots
from studio.audio.io import to_int16
from concurrent.futures import Future

from studio.background import once, started
from studio.errors import StudioError
from studio.synth import RenderSettings, check_theta, default_theta, render

# Fixed for every sound (Gradio would peak-normalize float audio): a quiet sound stays quiet next to a loud one.
AUDIO_GAIN = 1.0

log = logging.getLogger(__name__)


# Knob renders skip Gradio's queue (for latency), so the queue's render concurrency no longer bounds them: this does.
_RENDER_SLOTS = threading.BoundedSemaphore(1)


def limit_renders(n: int) -> None:
    """At most ``n`` renders at a time in this process (the app sets its render concurrency at build time)."""
    global _RENDER_SLOTS
    _RENDER_SLOTS = threading.BoundedSemaphore(max(1, int(n)))


# Every new render shape (sample rate, buffer length, control rate) compiles a renderer in a render slot (seconds;
# 8–14 s at 192 kHz × 30 s) and keeps it in memory. A public studio accepts only the shapes it offers.
_ACCEPTED_SHAPES: frozenset | None = None  # (sample rate, duration, control rate); None: every valid shape


def shape_of(settings) -> tuple[int, float, float]:
    """The part of render settings that decides what is compiled (the noise seed is an input, not a shape)."""
    return int(settings.sample_rate), round(float(settings.duration), 6), float(settings.control_rate)


def accept_only(settings_list) -> None:
    """Render only these settings' shapes in this process from now on (None: any valid shape, the default)."""
    global _ACCEPTED_SHAPES
    _ACCEPTED_SHAPES = None if settings_list is None else frozenset(shape_of(s) for s in settings_list)


def check_render_shape(settings) -> None:
    """``StudioError`` naming what is accepted when ``settings`` ask for a shape this studio does not render
    (see :func:`accept_only`); nothing is compiled."""
    accepted = _ACCEPTED_SHAPES
    if accepted is None or shape_of(settings) in accepted:
        return
    rates = " or ".join(f"{r / 1000:g} kHz" for r in sorted({r for r, _, _ in accepted}))
    durations = ", ".join(f"{d:g}" for d in sorted({d for _, d, _ in accepted}))
    controls = " or ".join(f"{c:g} Hz" for c in sorted({c for _, _, c in accepted}))
    rate, duration, control = shape_of(settings)
    raise StudioError(f"this public studio renders at {rates} with a buffer length of {durations} s (control rate "
                      f"{controls}); this sound asks for {rate / 1000:g} kHz × {duration:g} s (control rate "
                      f"{control:g} Hz): change its settings to one of those and try again", "settings")


_RECENT: dict = {}  # (θ bytes, settings) → audio: a knob's release renders once, its pictures reuse the audio
_RECENT_SIZE = 16
_RECENT_LOCK = threading.Lock()  # renders run in many request threads at once


def render_audio(sound) -> np.ndarray:
    """The sound's audio ``[T]`` float32 in [−1, 1] (θ and settings of a Preset); the last few are remembered.
    Settings of a shape this studio does not render raise ``StudioError`` (:func:`check_render_shape`)."""
    check_render_shape(sound.settings)
    theta = np.asarray(sound.theta, np.float32)
    key = (theta.tobytes(), sound.settings)
    with _RECENT_LOCK:
        audio = _RECENT.get(key)
    if audio is None:
        wait_for_warm_up()
        batcher = _BATCHER
        if batcher is not None:  # one synth call for every render waiting now (a GPU: batch_renders)
            audio = batcher.render(theta, sound.settings)
        else:
            with _RENDER_SLOTS:
                audio = np.asarray(render(theta, sound.settings))
        audio.setflags(write=False)
        with _RECENT_LOCK:  # evicting while another thread inserts would break the iteration
            _RECENT[key] = audio
            while len(_RECENT) > _RECENT_SIZE:
                _RECENT.pop(next(iter(_RECENT)))
    return audio


# ---------------------------------------------------------------------------------------------------------------
# Batched renders (a GPU): concurrent renders of different sessions wait a moment and go out as one synth call.

BATCH_WINDOW_S = 0.002  # how long the first render of a batch waits for others (a render on a GPU takes ~ms)


@dataclasses.dataclass(eq=False)  # compared by identity (the queue removes requests one by one)
class _Request:
    theta: np.ndarray  # [78] float32, checked
    settings: RenderSettings
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    audio: np.ndarray | None = None
    error: BaseException | None = None


class RenderBatcher:
    """Renders every sound asked for at about the same time in one synth call per render shape: one thread takes
    what waits (after ``window_s`` for more, up to ``max_batch`` sounds), renders it as a batch whose row i has
    request i's θ and noise seed, and hands each request its row. A batch row is the very sound a single render
    gives (bit for bit on a CPU: ``tests/test_synth.py``), so only the latency changes.

    Batch sizes are powers of two (and ``max_batch``), so a shape compiles a handful of programs, not one per size:
    padded up on a GPU, split into them on a CPU (:meth:`_size_for`); a size not compiled yet is compiled in the
    background while the batch goes out in sizes already compiled. Renders of another shape wait for the next
    round of the same thread.
    """

    def __init__(self, max_batch: int, window_s: float = BATCH_WINDOW_S, sounds_per_step: int | None = None):
        self.max_batch = max(1, int(max_batch))
        self.window_s = float(window_s)
        self.sounds_per_step = sounds_per_step  # the renderer's (None: the backend's default; 0: whole batch)
        self.buckets = tuple(sorted({*(2 ** k for k in range(self.max_batch.bit_length()) if 2 ** k <= self.max_batch),
                                     self.max_batch}))
        self._pending: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._compiled: set = set()  # (shape settings, bucket) compiled, or being compiled
        self._ready: set = set()  # … and finished compiling
        self._compile_lock = threading.Lock()  # one background compile at a time
        self._compilers: list[threading.Thread] = []
        self.calls = 0  # synth calls made and sounds rendered (benchmarks and tests read these)
        self.rendered = 0
        self._count_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="synth-render-batcher", daemon=True)
        self._thread.start()

    def render(self, theta, settings: RenderSettings) -> np.ndarray:
        """The sound's audio ``[T]`` float32 (as ``render(theta, settings)`` gives it), rendered in a batch with
        whatever else waits. Bad θ or settings raise here, before anything waits."""
        settings.validate()
        request = _Request(check_theta(theta)[0], settings)
        key = _shape_key(settings)
        if (key, 1) not in self._ready:  # a shape's first render compiles (seconds): here, not in the batching thread
            with _RENDER_SLOTS:
                audio = np.asarray(render(request.theta, settings))
            self._ready.add((key, 1))
            self._count(1)
            return audio
        with self._cond:
            if self._closed:
                raise RuntimeError("the render batcher was closed")
            self._pending.append(request)
            self._cond.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.audio

    def close(self) -> None:
        """Finish what waits and what compiles, then stop the threads (a compile cut off by the interpreter's exit
        would abort it)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=60)
        for thread in list(self._compilers):
            thread.join(timeout=300)

    # -- the batching thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            try:
                if not self._round():
                    return
            except BaseException:  # a defect here must not leave every later render waiting forever
                log.exception("the render batcher failed a round")
                with self._cond:
                    stranded, self._pending = list(self._pending), deque()
                for r in stranded:
                    r.error = RuntimeError("the render batcher failed; try again")
                    r.done.set()

    def _round(self) -> bool:
        """Take what waits and render it; False once closed and drained."""
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return False  # closed and drained
            deadline = time.monotonic() + self.window_s
            while len(self._pending) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            key = _shape_key(self._pending[0].settings)
            batch = [r for r in self._pending if _shape_key(r.settings) == key][:self.max_batch]
            for r in batch:
                self._pending.remove(r)
        self._render_batch(key, batch)
        return True

    def _render_batch(self, key: RenderSettings, batch: list[_Request]) -> None:
        start = 0
        while start < len(batch):
            size = self._size_for(key, len(batch) - start)
            part = batch[start:start + size]
            try:
                audio = self._render_rows(key, part, size)
                for i, r in enumerate(part):
                    r.audio = np.array(audio[i])  # its own buffer: a cached row must not keep the batch alive
            except BaseException as error:  # every request of the call hears of it; the thread goes on
                for r in part:
                    r.error = error
            finally:
                for r in part:
                    r.done.set()
            start += size

    def _render_rows(self, key: RenderSettings, part: list[_Request], size: int) -> np.ndarray:
        from studio.synth import renderer
        import jax.numpy as jnp

        theta = np.zeros((size, len(part[0].theta)), np.float32)  # padded rows: rendered and dropped
        seeds = np.zeros((size,), np.uint32)
        for i, r in enumerate(part):
            theta[i] = r.theta
            seeds[i] = np.uint32(r.settings.noise_seed)  # what render() gives a single sound: noise_seeds(s, 1)[0]
        out = np.asarray(renderer(key, sounds_per_step=self.sounds_per_step)(jnp.asarray(theta), jnp.asarray(seeds)))
        self._count(len(part))
        self._ready.add((key, size))
        return out

    def _count(self, sounds: int) -> None:
        with self._count_lock:
            self.calls += 1
            self.rendered += sounds

    def _size_for(self, key: RenderSettings, n: int) -> int:
        """The batch size for ``n`` waiting sounds of one shape. Where the renderer takes the batch in one program
        (a GPU), the smallest compiled bucket that holds them all (padded rows cost next to nothing), else the
        largest compiled one (the rest go in the next call) while the one they need compiles in the background.
        Where it renders sound by sound (a CPU), a padded row costs as much as a real one: the largest compiled
        bucket that they fill (20 go out as 16 + 4). Size 1 is compiled: a shape's first render compiles it in its
        caller's thread (:meth:`render`)."""
        ready = [b for b in self.buckets if b == 1 or (key, b) in self._ready]
        if not self._pads():
            want = max(b for b in self.buckets if b <= n)
            if want not in ready:
                self.compile_in_background(key, want)
            return max(b for b in ready if b <= n)
        want = next((b for b in self.buckets if b >= n), self.buckets[-1])
        if want in ready:
            return want
        self.compile_in_background(key, want)
        fits = [b for b in ready if b >= n]
        return fits[0] if fits else max(b for b in ready if b <= n)

    def _pads(self) -> bool:
        """Whether the renderer takes a batch in one program (padding is nearly free) rather than sound by sound."""
        step = self.sounds_per_step
        if step is None:
            import jax

            from studio.synth.voice import default_sounds_per_step

            step = default_sounds_per_step(jax.default_backend())
        return step != 1

    def compile_in_background(self, key: RenderSettings, size: int) -> None:
        """Compile the batch-``size`` renderer of ``key``'s shape in a background thread (once)."""
        with self._cond:
            if (key, size) in self._compiled:
                return
            self._compiled.add((key, size))

        def compile_size() -> None:
            from studio.synth import renderer
            import jax.numpy as jnp

            with self._compile_lock:
                if self._closed:  # a closed batcher compiles nothing more
                    return
                try:
                    renderer(key, sounds_per_step=self.sounds_per_step)(
                        jnp.zeros((size, len(default_theta())), jnp.float32),
                        jnp.zeros((size,), jnp.uint32)).block_until_ready()
                    self._ready.add((key, size))
                except Exception:  # the batch sizes already compiled keep serving
                    log.exception("compiling the batch-%d renderer failed", size)

        thread = threading.Thread(target=compile_size, name=f"synth-batch-compile-{size}", daemon=True)
        self._compilers.append(thread)
        thread.start()

    def warm_up(self, settings: RenderSettings = RenderSettings()) -> None:
        """Compile every batch size of ``settings``' shape in the background (the app does it at start-up)."""
        for size in self.buckets:
            if size > 1:
                self.compile_in_background(_shape_key(settings), size)

    def compiled_sizes(self, settings: RenderSettings) -> list[int]:
        """The batch sizes of ``settings``' shape compiled so far."""
        key = _shape_key(settings)
        return [b for b in self.buckets if (key, b) in self._ready]

    def wait_compiled(self, settings: RenderSettings, timeout: float = 300.0) -> bool:
        """Block until every batch size of ``settings``' shape (bar 1, which a first render compiles) is compiled;
        False on timeout. For benchmarks and tests: the app never waits for it."""
        deadline = time.monotonic() + timeout
        wanted = [b for b in self.buckets if b > 1]
        while not set(wanted) <= set(self.compiled_sizes(settings)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def _shape_key(settings: RenderSettings) -> RenderSettings:
    """Settings without their noise seed (which is a per-row input): renders with equal keys share a call."""
    return dataclasses.replace(settings, noise_seed=0)


_BATCHER: RenderBatcher | None = None


def batch_renders(max_batch: int, window_s: float = BATCH_WINDOW_S,
                  sounds_per_step: int | None = None) -> RenderBatcher | None:
    """Batch concurrent renders of this process into synth calls of up to ``max_batch`` sounds from now on (0: every
    render its own call, under :func:`limit_renders`; the CPU default). Returns the batcher (None when off).
    sounds_per_step: the renderer's (None: the backend's default, the whole batch on a GPU)."""
    global _BATCHER
    old, _BATCHER = _BATCHER, (RenderBatcher(max_batch, window_s, sounds_per_step) if max_batch and max_batch > 0
                               else None)
    if old is not None:
        old.close()
    return _BATCHER


def render_batcher() -> RenderBatcher | None:
    """The process's render batcher, None when renders are not batched."""
    return _BATCHER


def same_audio(a, b) -> bool:
    """Whether two sounds render to the same samples (bit for bit)."""
    return np.array_equal(render_audio(a), render_audio(b))


def picture_views(sound) -> tuple[np.ndarray, np.ndarray]:
    """The sound's spectrogram and waveform pictures (uint8 RGB), from its (remembered) audio."""
    audio = render_audio(sound)
    sr = sound.settings.sample_rate
    return plots.spectrogram_image(audio, sr), plots.waveform_image(audio, sr)


def to_player(audio: np.ndarray, sample_rate: int) -> tuple[int, np.ndarray]:
    """``(sample_rate, int16 [T])`` for ``gr.Audio``: fixed gain, so loudness differences stay audible."""
    return int(sample_rate), to_int16(audio, gain=AUDIO_GAIN)


def player_view(sound) -> tuple[int, np.ndarray]:
    """What the studio's players play for a sound: its (remembered) render with a 5 ms de-click fade where the
    buffer cut it (every sample as rendered otherwise), as :func:`to_player` values. The API's WAVs stay exact."""
    from studio.instrument.trim import declicked

    sr = sound.settings.sample_rate
    return to_player(declicked(render_audio(sound), sr), sr)


def sound_views(sound) -> tuple[tuple[int, np.ndarray], np.ndarray, np.ndarray]:
    """Render a sound and draw it: ``((sr, int16 [T]), spectrogram uint8 [H, W, 3], waveform uint8 [h, W, 3])``:
    the player's audio (:func:`player_view`) and pictures of the render itself."""
    return (player_view(sound), *picture_views(sound))


# ---------------------------------------------------------------------------------------------------------------
# Warm-up: compile the renderer (~3 s on a CPU) before the first visitor asks for a sound.

WARM_UP = "synth-warm-up"  # the background preparation of the default settings; others are keyed after it


def _warm_default() -> None:
    settings = RenderSettings()
    audio = np.asarray(render(default_theta(), settings))
    plots.spectrogram_image(audio, settings.sample_rate)  # also loads the colour table
    plots.waveform_image(audio, settings.sample_rate)


def _warm_other(settings: RenderSettings):
    def compile_settings() -> None:
        wait_for_warm_up(None)  # extra settings compile after the default ones, never competing with them
        np.asarray(render(default_theta(), settings))

    return compile_settings


def start_warm_up(settings_list=(RenderSettings(),)) -> Future:
    """Compile the renderer in the background: the default settings first (with the pictures), then each other
    settings in ``settings_list``, once per process each. Returns the default settings' preparation."""
    first = once(WARM_UP, _warm_default)
    for settings in dict.fromkeys(settings_list):
        if settings != RenderSettings():
            once(f"{WARM_UP} {settings!r}", _warm_other(settings))
    return first


def wait_for_warm_up(timeout: float | None = 120.0) -> None:
    """Block until the default renderer is compiled (returns at once when no warm-up was started). A warm-up that
    failed (logged where it ran) or is late does not block rendering: the first render compiles by itself."""
    settled(started(WARM_UP), timeout)


def settled(preparation, timeout: float | None) -> bool:
    """Wait up to ``timeout`` s for a background preparation that only makes things faster (a warm-up); True when
    it finished well. Its failure was logged where it ran and is not the caller's: the work just compiles itself."""
    if preparation is None:
        return False
    try:
        preparation.result(timeout)
    except Exception:  # already logged with its traceback by the preparation
        return False
    return True
