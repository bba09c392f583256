"""What the panel shows for a sound: its audio (as Gradio wants it) and its pictures; plus the JIT warm-up.

No Gradio import here, so the warm-up can start compiling while Gradio itself is still being imported.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from studio import plots
from studio.audio.io import to_int16
from concurrent.futures import Future

from studio.background import once, started
from studio.errors import StudioError
from studio.synth import RenderSettings, default_theta, render

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
        with _RENDER_SLOTS:
            audio = np.asarray(render(theta, sound.settings))
        audio.setflags(write=False)
        with _RECENT_LOCK:  # evicting while another thread inserts would break the iteration
            _RECENT[key] = audio
            while len(_RECENT) > _RECENT_SIZE:
                _RECENT.pop(next(iter(_RECENT)))
    return audio


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
