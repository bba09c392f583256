"""What the long-running panels (prompt search, match) share: per-session stop flags, streamed error handling and
the checks of their number fields. Gradio-facing, but no layout."""
from __future__ import annotations

import functools
import math
import threading

import gradio as gr
import numpy as np

from studio import plots
from studio.scoring.base import ScorerUnavailable
from studio.ui import state as st
from studio.ui.common import sound_values, user_errors
from studio.ui.views import render_audio, to_player


def session_id(request) -> str:
    """The browser session a ``gr.Request`` belongs to (direct calls in tests have none)."""
    return getattr(request, "session_hash", None) or "no-session"


class CancelFlags:
    """One stop flag per session for one kind of job: a new job replaces the session's flag, Cancel sets it, and
    the job's loop (``studio.search`` checks it before each generation) stops within one generation."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        """A fresh flag for a job starting in ``session``."""
        with self._lock:
            flag = self._flags[session] = threading.Event()
        return flag

    def request(self, session: str) -> bool:
        """Ask the session's running job to stop; False when none runs."""
        with self._lock:
            flag = self._flags.get(session)
        if flag is None:
            return False
        flag.set()
        return True

    def finish(self, session: str, flag: threading.Event) -> None:
        """The job holding ``flag`` ended (a newer job of the session keeps its own flag)."""
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]

    def forget(self, session: str) -> None:
        """The session's page was closed."""
        with self._lock:
            self._flags.pop(session, None)


def streamed_user_errors(fn):
    """:func:`~studio.ui.common.user_errors` for a generator handler: a mistake raised while it runs reaches the
    browser as a readable ``gr.Error``; closing the stream (a cancelled event) closes the inner generator."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        iterator = fn(*args, **kwargs)
        step = user_errors(lambda: next(iterator))
        try:
            while True:
                try:
                    value = step()
                except StopIteration:
                    return
                except ScorerUnavailable as err:
                    raise gr.Error(str(err), title="Scorer unavailable", print_exception=False) from None
                yield value
        finally:
            iterator.close()

    return wrapper


def whole_number(name: str, value, lo: int, hi: int | None = None) -> int:
    """A whole number in [lo, hi] (no upper bound when ``hi`` is None) from loose input (a float from a number box,
    a string); ``ValueError`` naming the field otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number) or number < lo or (hi is not None and number > hi):
        allowed = f"from {lo} to {hi}" if hi is not None else f"{lo} or more"
        raise ValueError(f"{name} must be a whole number {allowed}; got {value!r}")
    return int(number)


def preview(theta, settings) -> tuple:
    """(player audio, spectrogram image) of θ ``[78]`` rendered with ``settings``: a streamed best-so-far."""
    from studio.presets import Preset

    audio = render_audio(Preset(name="preview", theta=np.asarray(theta, np.float32), settings=settings))
    return to_player(audio, settings.sample_rate), plots.spectrogram_image(audio, settings.sample_rate)


def preview_entry(entry) -> tuple:
    """A result picked in a list: (player audio, spectrogram image, name for the save box)."""
    audio, image = preview(entry.preset.theta, entry.preset.settings)
    return audio, image, entry.preset.name


def chosen_entry(choice, results, nothing_yet: str):
    """The entry of a results list (objects with a ``key``) that a radio's ``choice`` names; ``ValueError`` saying
    ``nothing_yet`` when the list is empty, or asking to choose one."""
    for entry in results or ():
        if entry.key == choice:
            return entry
    if not results:
        raise ValueError(nothing_yet)
    raise ValueError("choose one of the results first")


def open_in_synth(preset, state: st.StudioState) -> tuple:
    """Load a found sound into the player and every knob (an undoable change); values for ``sound_outputs``."""
    return sound_values(st.change(state, preset))


def save_named(studio, state: st.StudioState, preset, name, version) -> tuple:
    """Save a found sound to the session's library under ``name`` (its own name when empty); values for
    ``library_panel.saved_outputs``."""
    import dataclasses

    from studio.library import clean_name
    from studio.ui.library_panel import save_to_library

    preset = dataclasses.replace(preset, name=clean_name(name if name not in (None, "") else preset.name))
    return save_to_library(studio, state, preset, version)


def result_controls(c: dict, prefix: str, list_label: str) -> None:
    """Add a panel's results list and its *Save as* / *Open in synth* / *Save to library* row to ``c`` (keys
    results, choice, name, open, save; element ids ``{prefix}-results``, ``-name``, ``-open``, ``-save``)."""
    c["results"] = gr.State(())
    c["choice"] = gr.Radio([], value=None, label=list_label, elem_id=f"{prefix}-results")
    with gr.Row(equal_height=True):
        c["name"] = gr.Textbox("", label="Save as", max_length=80, elem_id=f"{prefix}-name", scale=3)
        c["open"] = gr.Button("Open in synth", elem_id=f"{prefix}-open", scale=1)
        c["save"] = gr.Button("Save to library", elem_id=f"{prefix}-save", scale=1)
