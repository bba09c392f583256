"""What the long-running panels (prompt search, match) share: the job runner (per-session stop flags, throttled
streaming, the results list) and their results row. Gradio-facing, but no layout."""
from __future__ import annotations

import contextlib
import dataclasses
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


def client_of(request) -> str | None:
    """The address a ``gr.Request`` came from, as the upload quota and the rate limit count it
    (:func:`studio.ui.disk.client_key`: behind trusted proxies the forwarded address); None without a request."""
    from studio.ui.disk import client_key

    scope = getattr(getattr(request, "request", None), "scope", None)
    return client_key(scope) if isinstance(scope, dict) else None


class JobRunner:
    """Runs one kind of long job (prompt searches, matches) for every session.

    It owns what every such job needs around its loop: one stop flag per session (a new job replaces the
    session's flag; :meth:`cancel` sets it and the job's loop, which checks it before each generation, stops
    within one generation), the release of that flag however the job ends (``finally``), streaming at most one
    update per ``update_interval_s``, and the session's results list (newest first, at most ``max_results``).
    """

    def __init__(self, max_results: int, update_interval_s: float, kind: str = "prompt",
                 gate: JobGate | None = None):
        self.max_results = max_results
        self.update_interval_s = update_interval_s
        self.kind = kind  # which of JOB_KINDS: the gate's limits and messages
        self._gate = gate
        self._tickets: dict[str, Ticket] = {}  # session → its job's admission (see JobGate)
        self._flags: dict[str, threading.Event] = {}
        self._what: dict[str, str] = {}  # session → what its job is about (a prompt), for "still running" messages
        self._claimed: set[str] = set()  # sessions whose next job is claimed but not started (waiting in the queue)
        self._lock = threading.Lock()

    @property
    def gate(self) -> JobGate:
        return self._gate or GATE

    def claim(self, session: str, what: str, client: str | None = None) -> str | None:
        """Reserve the session's next job (about ``what``) unless one is running or waiting: returns None when
        claimed, else what the job already there is about. The claimed job counts as running from now (a second
        claim is refused; :meth:`cancel` reaches it), and its :meth:`job` takes the claim over. The gate's
        refusal (the page or the server has enough long jobs) raises :class:`JobRefused`."""
        with self._lock:
            if session in self._flags:
                return self._what.get(session, "")
            self._tickets[session] = self.gate.admit(session, self.kind, claim=True, client=client)
            self._flags[session] = threading.Event()
            self._what[session] = what
            self._claimed.add(session)
            return None

    @contextlib.contextmanager
    def job(self, session: str, what: str = "", client: str | None = None) -> Iterator[threading.Event]:
        """The session's job, from its first step (checking its inputs, loading a model, compiling) to its end:
        yields its stop flag (the claim's when :meth:`claim` reserved it), released however the job ends (also
        when the browser closes the stream). Its turn to run comes from :meth:`wait_turn`.

        A session runs one job of a kind at a time: a second one (sent past the claim, straight to the API) is
        refused with :class:`JobRefused` before it does anything, as is a job the gate has no room for."""
        with self._lock:
            if session in self._claimed:
                self._claimed.discard(session)
                flag = self._flags[session]  # cancelled while waiting: set already, so it stops at once
                ticket = self._tickets[session]
                self.gate.take(ticket)
            else:
                ticket = self.gate.admit(session, self.kind, client=client)  # refuses a second job at once
                flag = self._flags[session] = threading.Event()
                self._tickets[session] = ticket
                self._what[session] = what
        try:
            yield flag
        finally:
            self.gate.release(ticket)
            with self._lock:
                if self._flags.get(session) is flag:  # a newer job of the session keeps its own flag
                    del self._flags[session]
                    self._what.pop(session, None)
                if self._tickets.get(session) is ticket:
                    del self._tickets[session]

    def check_room(self, session: str, client: str | None = None) -> None:
        """Refuse (:class:`JobRefused`) now what :meth:`job` would refuse, before a handler reads its inputs."""
        with self._lock:
            claimed = session in self._claimed
        if not claimed:
            self.gate.check_room(session, self.kind, client)

    def wait_turn(self, session: str, flag: threading.Event,
                  waiting: Callable[[str], dict]) -> Generator[dict, None, bool]:
        """Inside :meth:`job`: wait for the job's turn (the gate's limits), yielding ``waiting(line)`` with a
        line saying how many are ahead every so often. Returns True when it may run, False when it was cancelled
        while waiting. Use as ``if not (yield from runner.wait_turn(...)): return``."""
        with self._lock:
            ticket = self._tickets[session]
        last = None
        ahead_of = self.gate.wait_turn(ticket, flag)
        while True:
            try:
                ahead = next(ahead_of)
            except StopIteration as done:
                return done.value
            line = waiting_line(self.kind, ahead)
            if line != last:  # the browser hears of each change; in between the loop only checks for its turn
                last = line
                yield waiting(line)

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
        """The session's page was closed: a claimed job that never started gives its place back."""
        with self._lock:
            self._flags.pop(session, None)
            self._what.pop(session, None)
            if session in self._claimed:
                self._claimed.discard(session)
                self.gate.release(self._tickets.pop(session, None))

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


# ---------------------------------------------------------------------------------------------------------------
# Admission of long jobs. Gradio's queue is one pool of ``max_size`` waiting events shared by every event, so a
# long job waiting there holds a slot that a knob render or a page load needs (one client holding 64 matches
# locked everyone out). Long jobs therefore skip Gradio's queue (``concurrency_limit=None``: they start at once)
# and this gate admits, orders and refuses them instead, before they do any work.

# What a page sees each kind of long job called (its messages start "A match is already running…"), and whether
# it has a Cancel button.
JOB_KINDS = {"prompt": ("a prompt search", True), "match": ("a match", True),
             "variations": ("a set of variations", False), "morph": ("a morph strip", False),
             "map": ("a map", False)}
CLAIM_TTL_S = 60.0  # a claim whose job never starts (its page went away between the two steps) is dropped


class JobRefused(StudioError):
    """A long job the gate will not take now (its page or the server has enough running); nothing ran."""


@dataclasses.dataclass(frozen=True)
class JobLimits:
    """How many long jobs run and wait. ``running``: per kind, how many run at once in this process; ``waiting``:
    per kind, how many more may wait for their turn; ``total``: running and waiting together, every kind (each
    holds one of Gradio's worker threads, 40 by default); ``session_running``: how many of one page's jobs run at
    once (None: no page limit); ``session_total``: how many one page may have running or waiting;
    ``running_total``: how many run at once whatever their kind (None: only the per-kind limits); ``client_total``:
    how many one address may have running or waiting, whatever its pages (None: no address limit; fresh sessions
    from one address would otherwise each get a page's share)."""
    running: dict
    waiting: int = 4
    total: int = 16
    session_running: int | None = None
    session_total: int = len(JOB_KINDS)
    running_total: int | None = None
    client_total: int | None = None


class Ticket:
    """One admitted long job: its session, kind and place (waiting, then running)."""

    def __init__(self, session: str, kind: str, claim: bool, client: str | None = None):
        self.session, self.kind, self.client = session, kind, client
        self.running = False
        self.expires = time.monotonic() + CLAIM_TTL_S if claim else None

    @property
    def owner(self) -> str:
        """Whose job it is, for taking turns: its address, or its page when it came without one."""
        return f"address {self.client}" if self.client is not None else f"page {self.session}"


class JobGate:
    """Admits every long job of the process: per page, one job of a kind at a time (a second is refused at
    once, with a message naming it) and at most ``session_total`` running or waiting; per kind ``running`` at
    once and ``waiting`` more; ``total`` in all. A refused job gets :class:`JobRefused` before it does anything."""

    def __init__(self, limits: JobLimits | None = None):
        self._cond = threading.Condition()
        self._tickets: list[Ticket] = []  # admission order
        self._last_start: dict[str, float] = {}  # owner → when a job of theirs last started (for taking turns)
        # Until the app sets its limits (direct calls, tests): generous, so no job waits on another.
        self.limits = limits or JobLimits(running={kind: 8 for kind in JOB_KINDS}, total=64)

    def configure(self, limits: JobLimits) -> None:
        with self._cond:
            self.limits = limits
            self._cond.notify_all()

    def admit(self, session: str, kind: str, claim: bool = False, client: str | None = None) -> Ticket:
        """A ticket for ``session``'s job of ``kind`` (``claim``: reserved now, started by a later step within
        ``CLAIM_TTL_S``); :class:`JobRefused` saying why when the page or the server has enough."""
        with self._cond:
            self._refuse(session, kind, client)
            ticket = Ticket(session, kind, claim, client)
            self._tickets.append(ticket)
            return ticket

    def check_room(self, session: str, kind: str, client: str | None = None) -> None:
        """:class:`JobRefused` now when :meth:`admit` would refuse (so a handler can refuse before reading its
        inputs); the room is not reserved."""
        with self._cond:
            self._refuse(session, kind, client)

    def _refuse(self, session: str, kind: str, client: str | None = None) -> None:
        label, stoppable = JOB_KINDS[kind]
        limits = self.limits  # the caller holds the lock
        self._drop_stale()
        mine = [t for t in self._tickets if t.session == session]
        if any(t.kind == kind for t in mine):
            then = "stop it or wait for it to finish" if stoppable else "wait for it to finish"
            raise JobRefused(f"{label[0].upper()}{label[1:]} is already running for this page — {then}, "
                             f"then try again.", kind)
        if len(mine) >= limits.session_total:
            names = ", ".join(JOB_KINDS[t.kind][0] for t in mine)
            raise JobRefused(f"This page already has {len(mine)} long jobs running or waiting ({names}): "
                             f"wait for one to finish, then try again.", kind)
        if limits.client_total is not None and client is not None:
            theirs = sum(1 for t in self._tickets if t.client == client)
            if theirs >= limits.client_total:
                raise JobRefused(f"Your address already has {theirs} long jobs running or waiting (at most "
                                 f"{limits.client_total} from one address, across all its pages): wait for one "
                                 f"to finish, then try again.", kind)
        same = [t for t in self._tickets if t.kind == kind]
        if len(same) >= limits.running.get(kind, 1) + limits.waiting or len(self._tickets) >= limits.total:
            raise JobRefused(f"The studio is busy: {len(self._tickets)} long jobs are running or waiting "
                             f"({len(same)} like this one), so {label} was not started. Try again in a "
                             f"minute; knobs and renders keep working meanwhile.", kind)

    def take(self, ticket: Ticket) -> None:
        """The claimed job has started: its ticket no longer expires."""
        with self._cond:
            ticket.expires = None

    def _drop_stale(self) -> None:
        now = time.monotonic()
        stale = [t for t in self._tickets if t.expires is not None and t.expires < now]
        for t in stale:
            self._tickets.remove(t)
        if stale:
            self._cond.notify_all()

    def _may_run(self, ticket: Ticket) -> bool:
        """Whether ``ticket`` (waiting) may start now: its kind, the server and its page have a free running slot,
        and no other waiting job that could take that slot comes first. Turns go round the visitors: first the
        visitor (address, or page where there is none) with the fewest jobs running, then the one who started a
        job longest ago, then first come, first served. Otherwise one address that rejoins as soon as its job ends
        holds every slot while other visitors' jobs wait forever (the load test's attacker did)."""
        if not self._eligible(ticket):
            return False
        shared_pool = self.limits.running_total is not None  # every kind competes for the same slots
        rivals = [t for t in self._tickets
                  if not t.running and (shared_pool or t.kind == ticket.kind) and self._eligible(t)]
        return min(rivals, key=self._turn_order) is ticket

    def _eligible(self, ticket: Ticket) -> bool:
        """Whether the running limits leave ``ticket`` a slot (its kind's, the server's, its page's)."""
        limits = self.limits
        if sum(t.running for t in self._tickets if t.kind == ticket.kind) >= limits.running.get(ticket.kind, 1):
            return False
        if limits.running_total is not None and sum(t.running for t in self._tickets) >= limits.running_total:
            return False
        return limits.session_running is None or \
            sum(t.running for t in self._tickets if t.session == ticket.session) < limits.session_running

    def _turn_order(self, ticket: Ticket) -> tuple:
        owner = ticket.owner
        running = sum(t.running for t in self._tickets if t.owner == owner)
        return running, self._last_start.get(owner, -math.inf), self._tickets.index(ticket)

    def wait_turn(self, ticket: Ticket, stop: threading.Event | None = None,
                  tick_s: float = 0.5) -> Generator[int, None, bool]:
        """Wait until the ticket's job may run, yielding how many jobs of its kind wait before it every ``tick_s``
        s meanwhile (nothing when it may run at once). Returns True when it runs, False when ``stop`` was set
        first. Use as ``started = yield from gate.wait_turn(ticket, flag)``."""
        while True:
            with self._cond:
                if ticket not in self._tickets:
                    raise JobRefused("this job waited too long for its turn and was dropped: try again",
                                     ticket.kind)
                if self._may_run(ticket):
                    self._start(ticket)
                    return True
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(tick_s)
                if ticket in self._tickets and self._may_run(ticket):
                    self._start(ticket)
                    return True
                ahead = self._ahead(ticket)
            yield ahead

    def _start(self, ticket: Ticket) -> None:
        now = time.monotonic()
        ticket.running = True
        self._last_start[ticket.owner] = now
        if len(self._last_start) > 4 * self.limits.total:  # forget visitors who have not started a job lately
            oldest = sorted(self._last_start, key=self._last_start.get)[:len(self._last_start) // 2]
            for owner in oldest:
                del self._last_start[owner]

    def _ahead(self, ticket: Ticket) -> int:
        place = self._tickets.index(ticket) if ticket in self._tickets else 0
        return sum(1 for t in self._tickets[:place] if t.kind == ticket.kind and not t.running)

    def release(self, ticket: Ticket | None) -> None:
        """The job ended (however): its place goes to the next."""
        if ticket is None:
            return
        with self._cond:
            if ticket in self._tickets:
                self._tickets.remove(ticket)
            self._cond.notify_all()

    @contextlib.contextmanager
    def turn(self, session: str, kind: str, stop: threading.Event | None = None,
             client: str | None = None) -> Iterator[Ticket]:
        """Admit a short long job (variations, a strip, a map) and block until its turn: for handlers that do not
        stream (refusal raises :class:`JobRefused` at once)."""
        ticket = self.admit(session, kind, client=client)
        try:
            waiting = self.wait_turn(ticket, stop)
            while True:
                try:
                    next(waiting)
                except StopIteration:
                    break
            yield ticket
        finally:
            self.release(ticket)

    def count(self, kind: str | None = None) -> int:
        """How many long jobs (of ``kind``) are running or waiting."""
        with self._cond:
            return sum(1 for t in self._tickets if kind is None or t.kind == kind)


GATE = JobGate()  # every long job of this process; the app sets its limits (:func:`configure_long_jobs`)


def long_job_limits(render_concurrency: int, public: bool) -> JobLimits:
    """The app's limits: searches run as many at once as renders may (matches one: each holds every core), a few
    more wait; a public page runs one long job at a time with at most two more waiting, and a public server runs
    no more long jobs at once, of any kind, than renders may: each long job keeps the cores busy between its
    generations, and five at once (one per kind, from five visitors) made every knob render wait ~20× longer on
    two cores (``bench/load_test.py``); the others wait their turn in the gate, costing nothing. One address has
    at most ``PUBLIC_CLIENT_LONG_JOBS`` running or waiting, however many fresh pages (sessions) it opens."""
    from studio import limits as studio_limits

    running = {kind: max(1, int(render_concurrency)) for kind in JOB_KINDS}
    running["match"] = 1
    if public:
        return JobLimits(running=running, waiting=4, total=16, session_running=1, session_total=3,
                         running_total=max(1, int(render_concurrency)),
                         client_total=studio_limits.PUBLIC_CLIENT_LONG_JOBS)
    return JobLimits(running=running, waiting=4, total=16)


def waiting_line(kind: str, ahead: int) -> str:
    """A long job's progress line while it waits for its turn (``ahead``: jobs of its kind before it)."""
    label = JOB_KINDS[kind][0]
    if ahead:
        return f"Waiting for a free slot: {ahead} job{'s' if ahead != 1 else ''} before {label}…"
    return f"Waiting for a free slot (this page's other long job, or the server's) before {label} starts…"
