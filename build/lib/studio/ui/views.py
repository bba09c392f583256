"""What the panel shows for a sound: its audio (as Gradio wants it) and its pictures; plus the JIT warm-up.

No Gradio import here, so the warm-up can start compiling while Gradio itself is still being imported.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from studio import plots
from studio.audio.io import to_int16
from studio.synth import RenderSettings, default_theta, render

# Fixed for every sound (Gradio would peak-normalize float audio): a quiet sound stays quiet next to a loud one.
AUDIO_GAIN = 1.0

log = logging.getLogger(__name__)


def render_audio(sound) -> np.ndarray:
    """The sound's audio ``[T]`` float32 in [−1, 1] (θ and settings of a Preset)."""
    wait_for_warm_up()
    return np.asarray(render(np.asarray(sound.theta, np.float32), sound.settings))


def to_player(audio: np.ndarray, sample_rate: int) -> tuple[int, np.ndarray]:
    """``(sample_rate, int16 [T])`` for ``gr.Audio``: fixed gain, so loudness differences stay audible."""
    return int(sample_rate), to_int16(audio, gain=AUDIO_GAIN)


def sound_views(sound) -> tuple[tuple[int, np.ndarray], np.ndarray, np.ndarray]:
    """Render a sound and draw it: ``((sr, int16 [T]), spectrogram uint8 [H, W, 3], waveform uint8 [h, W, 3])``."""
    audio = render_audio(sound)
    sr = sound.settings.sample_rate
    return to_player(audio, sr), plots.spectrogram_image(audio, sr), plots.waveform_image(audio, sr)


# ---------------------------------------------------------------------------------------------------------------
# Warm-up: compile the renderer (~3 s on a CPU) before the first visitor asks for a sound.

_warm = threading.Event()
_warm_thread: threading.Thread | None = None
_warm_seconds: float | None = None
_requested: set = set()
_lock = threading.Lock()


def _warm_up(settings_list: tuple[RenderSettings, ...], first: bool) -> None:
    global _warm_seconds
    start = time.perf_counter()
    if not first:
        _warm.wait()  # extra settings compile after the default ones, never competing with them
    try:
        for settings in settings_list:
            audio = np.asarray(render(default_theta(), settings))
            if first and not _warm.is_set():
                plots.spectrogram_image(audio, settings.sample_rate)  # also loads the colour table
                plots.waveform_image(audio, settings.sample_rate)
                _warm.set()  # the default settings are ready; other settings compile on in the background
    except Exception:  # never let a warm-up failure block rendering: the first render will just be slow
        log.exception("warm-up render failed")
    finally:
        if first:
            _warm_seconds = time.perf_counter() - start
            _warm.set()


def start_warm_up(settings_list=(RenderSettings(),)) -> threading.Thread:
    """Compile the renderer for each settings in a background thread (the first call's first settings first).

    Later calls only add settings not asked for before, compiled after the first batch.
    """
    global _warm_thread
    with _lock:
        new = tuple(s for s in dict.fromkeys(settings_list) if s not in _requested)
        _requested.update(new)
        first = _warm_thread is None
        if not new and not first:
            return _warm_thread
        thread = threading.Thread(target=_warm_up, args=(new or (RenderSettings(),), first), name="synth-warm-up",
                                  daemon=True)
        thread.start()
        if first:
            _warm_thread = thread
        return thread


def wait_for_warm_up(timeout: float | None = 120.0) -> None:
    """Block until the default renderer is compiled (returns at once when no warm-up was started)."""
    if _warm_thread is not None:
        _warm.wait(timeout)


def warm_up_seconds() -> float | None:
    """How long the first warm-up batch took, once it finished (``None`` before)."""
    return _warm_seconds
