"""What the long-running panels (prompt search, match) share: the job runner (per-session stop flags, throttled
streaming, the results list) and their results row. Gradio-facing, but no layout."""
from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator

import gradio as gr
import numpy as np

from studio import plots
from studio.errors import StudioError
from studio.ui import state as st
from studio.ui.common import sound_values
from studio.ui.views import render_audio, to_player


def session_id(request) -> str:
    """The browser session a ``gr.Request`` belongs to (direct calls in tests have none)."""
    return getattr(request, "session_hash", None) or "no-session"


class JobRunner:
    """Runs one kind of long job (prompt searches, matches) for every session.

    It owns what every such job needs around its loop: one stop flag per session (a new job replaces the
    session's flag; :meth:`cancel` sets it and the job's loop, which checks it before each generation, stops
    within one generation), the release of that flag however the job ends (``finally``), streaming at most one
    update per ``update_interval_s``, and the session's results list (newest first, at most ``max_results``).
    """

    def __init__(self, max_results: int, update_interval_s: float):
        self.max_results = max_results
        self.update_interval_s = update_interval_s
        self._flags: dict[str, threading.Event] = {}
        self._what: dict[str, str] = {}  # session → what its job is about (a prompt), for "still running" messages
        self._claimed: set[str] = set()  # sessions whose next job is claimed but not started (waiting in the queue)
        self._lock = threading.Lock()

    def claim(self, session: str, what: str) -> str | None:
        """Reserve the session's next job (about ``what``) unless one is running or waiting: returns None when
        claimed, else what the job already there is about. The claimed job counts as running from now (a second
        claim is refused; :meth:`cancel` reaches it), and its :meth:`job` takes the claim over."""
        with self._lock:
            if session in self._flags:
                return self._what.get(session, "")
            self._flags[session] = threading.Event()
            self._what[session] = what
            self._claimed.add(session)
            return None

    @contextlib.contextmanager
    def job(self, session: str, what: str = "") -> Iterator[threading.Event]:
        """The session's job, from its first step (checking its inputs, loading a model, compiling) to its end:
        yields its stop flag (the claim's when :meth:`claim` reserved it), released however the job ends (also
        when the browser closes the stream)."""
        with self._lock:
            if session in self._claimed:
                self._claimed.discard(session)
                flag = self._flags[session]  # cancelled while waiting: set already, so it stops at once
            else:
                flag = self._flags[session] = threading.Event()
                self._what[session] = what
        try:
            yield flag
        finally:
            with self._lock:
                if self._flags.get(session) is flag:  # a newer job of the session keeps its own flag
                    del self._flags[session]
                    self._what.pop(session, None)

    def stream(self, reports: Iterable, show: Callable[[object], dict],
               track: Callable[[object], None] | None = None) -> Generator[dict, None, object]:
        """Stream a job's progress reports (the last one has ``done`` set): every report before it goes to
        ``track`` (when given); at most one per update interval goes to ``show``, whose ``{component: value}``
        dict is yielded. Returns the final report (None when the loop ended without one)."""
        last = -math.inf
        for report in reports:
            if report.done:
                return report
            if track is not None:
                track(report)
            now = time.monotonic()
            if now - last >= self.update_interval_s:
                last = now
                yield show(report)
        return None

    def run(self, session: str, start: Callable[[threading.Event], Iterable], show: Callable[[object], dict],
            track: Callable[[object], None] | None = None) -> Generator[dict, None, object]:
        """:meth:`job` and :meth:`stream` together, for a job with nothing to prepare: ``start(stop_flag)`` gives
        its reports. Use as ``final = yield from runner.run(...)``."""
        with self.job(session) as flag:
            return (yield from self.stream(start(flag), show, track))

    def running(self, session: str) -> bool:
        """Whether a job of ``session`` is running."""
        with self._lock:
            return session in self._flags

    def cancel(self, session: str) -> bool:
        """Ask the session's running job to stop; False when none runs."""
        with self._lock:
            flag = self._flags.get(session)
        if flag is None:
            return False
        flag.set()
        return True

    def forget(self, session: str) -> None:
        """The session's page was closed."""
        with self._lock:
            self._flags.pop(session, None)
            self._what.pop(session, None)
            self._claimed.discard(session)

    def keep(self, new: Iterable, results) -> tuple:
        """The session's results list with ``new`` (best first) put in front, cut to ``max_results``."""
        return (tuple(new) + tuple(results or ()))[:self.max_results]



def results_update(results: tuple, value: str | None = None):
    """The results radio showing ``results`` (objects with ``label`` and ``key``), ``value`` chosen."""
    return gr.update(choices=[(r.label, r.key) for r in results], value=value)


def listed_results(c: dict, results: tuple, best) -> dict:
    """Outputs that show a new results list with ``best`` chosen and its name in the save box."""
    return {c["results"]: results, c["choice"]: results_update(results, best.key), c["name"]: best.preset.name}


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
    """The entry of a results list (objects with a ``key``) that a radio's ``choice`` names; ``StudioError`` saying
    ``nothing_yet`` when the list is empty, or asking to choose one."""
    for entry in results or ():
        if entry.key == choice:
            return entry
    if not results:
        raise StudioError(nothing_yet)
    raise StudioError("choose one of the results first")


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
