"""Keeping the server's memory bounded by sessions that are gone.

Gradio keeps one ``SessionState`` per session hash it has seen: a copy of the whole page's configuration (~1 MB for
the studio's 560 components) plus the session's ``gr.State`` values. It drops them only when more than
``state_session_capacity`` (10,000) sessions exist, so a visitor who sends events from fresh session hashes (the
load test's attacker: one per long job, ~340 in 30 s) grows the server by ~1 MB each, ~10 GB before the first is
dropped; a closed page's state is only marked closed. This module forgets a session once nothing can still use it:

- :class:`OpenPagesMiddleware` counts each session's open heartbeat connections (:class:`OpenPages`): a page in a
  browser holds one for as long as it is open (``GET /gradio_api/heartbeat/{session_hash}``);
- :func:`sweep_sessions` drops the state of every session with no open page, no event waiting or running (a
  client that left mid-job leaves its event pending for ever: it does not count), and no use for ``idle_s``
  seconds (a raw API caller that pauses longer starts again from the defaults, as a new page).
"""
from __future__ import annotations

import contextlib
import gc
import logging
import re
import threading
import time

from studio.synth.voice import return_freed_memory

log = logging.getLogger(__name__)

_HEARTBEAT = re.compile(r"/heartbeat/([^/?]+)/?$")


class OpenPages:
    """How many heartbeat connections each session has open right now, counted by :class:`OpenPagesMiddleware`."""

    def __init__(self):
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def is_open(self, session: str) -> bool:
        with self._lock:
            return session in self._open

    def opened(self, session: str) -> None:
        with self._lock:
            self._open[session] = self._open.get(session, 0) + 1

    def closed(self, session: str) -> None:
        with self._lock:
            left = self._open.get(session, 1) - 1
            if left > 0:
                self._open[session] = left
            else:
                self._open.pop(session, None)


class OpenPagesMiddleware:
    """ASGI middleware counting heartbeat connections into ``pages`` (a streamed response's ASGI call lasts as long
    as its connection)."""

    def __init__(self, app, pages: OpenPages):
        self.app, self.pages = app, pages

    async def __call__(self, scope, receive, send):
        match = _HEARTBEAT.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            return await self.app(scope, receive, send)
        self.pages.opened(match.group(1))
        try:
            await self.app(scope, receive, send)
        finally:
            self.pages.closed(match.group(1))


def session_sweeper(pages: OpenPages, idle_s: float, reclaim_every_s: float | None = None):
    """The chore (``chore(blocks)``, see :func:`studio.ui.disk.lifespan`) that runs :func:`sweep_sessions`. It runs
    on the server's event loop, where Gradio adds sessions and events, so none is added while it looks. The memory
    of dropped sessions is reclaimed (:func:`reclaim_memory`) at most every ``reclaim_every_s`` seconds (default
    ``studio.limits.SESSION_RECLAIM_EVERY_S``): a full garbage collection stops every thread, and after each sweep
    of an attacker's fresh sessions (every 5 s) it took a quarter of the server's time (``bench/load_test.py``)."""
    from studio import limits

    every_s = limits.SESSION_RECLAIM_EVERY_S if reclaim_every_s is None else reclaim_every_s
    owed = {"sessions": 0, "last": time.monotonic()}

    async def sweep_gone_sessions(blocks) -> None:
        dropped = sweep_sessions(blocks, pages, idle_s)
        if dropped:
            log.info("forgot %d gone sessions", dropped)
        owed["sessions"] += dropped
        if owed["sessions"] and time.monotonic() - owed["last"] >= every_s:
            reclaim_memory()
            owed["sessions"], owed["last"] = 0, time.monotonic()

    return sweep_gone_sessions


def reclaim_memory() -> None:
    """Collect the dropped sessions' cyclic garbage (a page's component tree refers to itself) and hand the freed
    memory back to the system."""
    gc.collect()
    return_freed_memory()


def sweep_sessions(blocks, open_pages: OpenPages | None, idle_s: float, now: float | None = None) -> int:
    """Forget the Gradio state of every session of ``blocks`` that has no open page (``open_pages``; None: no page
    counts as open), no event waiting or running, and was last used more than ``idle_s`` seconds ago. Returns how
    many were dropped; their memory is free once :func:`reclaim_memory` (or Python's own collector) has run."""
    holder = getattr(blocks, "state_holder", None)
    queue = getattr(blocks, "_queue", None)
    if holder is None or queue is None:
        return 0
    now_dt = time.time() if now is None else now
    pending = getattr(queue, "pending_event_ids_session", None) or {}
    live = live_event_ids(queue)
    busy = {session for session, events in list(pending.items())
            if events and (live is None or not live.isdisjoint(events))}
    dropped = 0
    with holder.lock:
        sessions = list(holder.session_data)
    for session in sessions:
        last = holder.time_last_used.get(session)
        if last is not None and now_dt - last.timestamp() < idle_s:
            continue
        if session in busy or (open_pages is not None and open_pages.is_open(session)):
            continue
        try:
            holder.delete_state(session)  # the states' delete callbacks run, as Gradio's own expiry does
        except Exception:  # a callback that fails must not keep the rest
            log.exception("deleting the state of a gone session failed")
        with holder.lock:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
        pending.pop(session, None)  # ids of events that ended without a word (their client left)
        with contextlib.suppress(Exception):  # undelivered messages of those events (a bounded LRU in Gradio)
            queue.pending_messages_per_session.pop(session, None)
        dropped += 1
    return dropped


def live_event_ids(queue) -> set | None:
    """Ids of the events Gradio's ``queue`` still works on: waiting, or running and not abandoned. Gradio keeps an
    event's id pending for its session when its client closed the stream mid-run (it stops the event, but never
    clears the id), so a pending id alone does not make a session busy. None when the queue's internals are not
    as expected (then every pending id counts)."""
    try:
        waiting = {event._id for line in queue.event_queue_per_concurrency_id.values() for event in list(line.queue)}
        running = {event._id for job in list(queue.active_jobs) if job for event in job
                   if getattr(event, "alive", True)}
    except (AttributeError, TypeError):
        return None
    return waiting | running

