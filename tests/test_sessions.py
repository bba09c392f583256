"""Issue 13 (memory back after an attack): the server forgets sessions that are gone.

Gradio keeps ~1 MB per session hash it has seen (a copy of the page's configuration) until 10,000 exist; the load
test's attacker, sending each long job from a fresh session, grew the server ~450 MB in 30 s. A session with no open
page (heartbeat), nothing waiting or running, and idle for the configured time is forgotten; an open page is kept
however long it is idle.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from studio import limits
from studio.ui import jobs
from studio.ui.app import make_config, serve_in_background


@pytest.fixture
def studio(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "SESSION_IDLE_S", 2.0)
    monkeypatch.setattr(limits, "SESSION_SWEEP_EVERY_S", 0.25)
    demo = serve_in_background(make_config(tmp_path / "library", public=False))
    try:
        yield demo
    finally:
        demo.close()
        jobs.GATE.configure(jobs.JobGate().limits)


def run_event(url: str, session: str, api_name: str, data: list, until: str = '"process_completed"') -> None:
    """Send ``session``'s event ``api_name`` through the queue, as a page does, and read its stream until a message
    holds ``until`` (then leave: the stream is closed, finished or not)."""
    fn = next(d["id"] for d in httpx.get(url + "config").json()["dependencies"] if d.get("api_name") == api_name)
    assert httpx.post(url + "gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": session,
                                                           "event_data": None, "trigger_id": None}).status_code == 200
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            if until in line:
                return
    raise AssertionError(f"no message with {until} came")


def test_sessions_without_an_open_page_are_forgotten_and_open_pages_kept(studio):
    url = studio.local_url
    page_open = threading.Event()
    leave = threading.Event()

    def open_page():  # a browser tab: its heartbeat connection stays open while the page does
        with httpx.stream("GET", url + "gradio_api/heartbeat/open-page", timeout=60) as stream:
            page_open.set()
            for _ in stream.iter_lines():
                if leave.is_set():
                    return

    heartbeat = threading.Thread(target=open_page, daemon=True)
    heartbeat.start()
    assert page_open.wait(30)
    held = studio.state_holder.session_data
    for session in ("open-page", "gone-1", "gone-2"):
        run_event(url, session, "list_presets", [])
        assert session in held  # Gradio keeps every session it has seen
    # A client that leaves in the middle of a long job: Gradio stops the job but keeps its event pending forever.
    with open(Path(__file__).parents[1] / "assets" / "targets" / "sox-pluck-a3.flac", "rb") as f:
        target = httpx.post(url + "gradio_api/upload", files={"files": f}).json()[0]
    run_event(url, "gone-3", "match_uploaded_sound",
              [{"path": target, "meta": {"_type": "gradio.FileData"}}, False, False, "paper", "learned_es", 0, 1, [],
               None, None], until='"process_generating"')
    assert "gone-3" in held

    deadline = time.monotonic() + 30
    while any(s in held for s in ("gone-1", "gone-2", "gone-3")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(s in held for s in ("gone-1", "gone-2", "gone-3")), "sessions that are gone were kept"
    time.sleep(3 * limits.SESSION_IDLE_S)
    assert "open-page" in held, "an open page, idle for a while, lost its state"
    leave.set()


def shipped_limits():
    """studio/limits.py as shipped (a fresh copy of the module, untouched by the test set-up)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("shipped_limits", limits.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_address_starts_few_new_sessions_a_minute(tmp_path, monkeypatch):
    """Gradio builds a new session's state (a ~1 MB copy of the page) on its event loop: an address joining from a
    fresh session for every long job, 10 a second, stalled every other visitor's events (renders waited 10–40 s).
    A public server lets an address start NEW_SESSION_BURST sessions at once, then NEW_SESSIONS_PER_MIN a minute."""
    REAL_NEW_SESSION_BURST = shipped_limits().NEW_SESSION_BURST  # tests/conftest.py raises it for every other test
    monkeypatch.setattr(limits, "NEW_SESSION_BURST", REAL_NEW_SESSION_BURST)
    monkeypatch.setenv(limits.TRUST_PROXY_ENV, "1")  # as in a Space: each visitor's address is forwarded
    demo = serve_in_background(make_config(tmp_path / "library", public=True))
    try:
        url = demo.local_url
        fn = next(d["id"] for d in httpx.get(url + "config").json()["dependencies"]
                  if d.get("api_name") == "list_presets")

        def join(session: str, address: str) -> httpx.Response:
            return httpx.post(url + "gradio_api/queue/join", headers={"X-Forwarded-For": address},
                              json={"data": [], "fn_index": fn, "session_hash": session, "event_data": None,
                                    "trigger_id": None})

        codes = [join(f"fresh-{i}", "203.0.113.9").status_code for i in range(REAL_NEW_SESSION_BURST + 2)]
        assert codes[:REAL_NEW_SESSION_BURST] == [200] * REAL_NEW_SESSION_BURST
        refused = join("fresh-last", "203.0.113.9")
        assert refused.status_code == 429
        assert refused.text.startswith(f"Too many new pages from this address: at most {REAL_NEW_SESSION_BURST} at "
                                       f"once and {limits.NEW_SESSIONS_PER_MIN:g} a minute. Try again in ")
        assert join("fresh-0", "203.0.113.9").status_code == 200  # a session it has already goes on
        assert join("fresh-other", "203.0.113.10").status_code == 200  # and other addresses are not held up
    finally:
        demo.close()
        jobs.GATE.configure(jobs.JobGate().limits)
        from studio.ui import views

        views.accept_only(None)


def test_the_memory_of_dropped_sessions_is_reclaimed_at_most_once_a_period(monkeypatch):
    """The load test's attacker opened a fresh session for every long job, so nearly every 5 s sweep dropped one,
    and each sweep's full garbage collection (~0.3 s, every thread stopped) took a quarter of the server's time.
    The sweeper now collects at most once per ``SESSION_RECLAIM_EVERY_S`` and only when it has dropped something."""
    import asyncio

    from studio.ui import sessions

    clock = {"now": 1000.0}
    monkeypatch.setattr(sessions.time, "monotonic", lambda: clock["now"])
    dropped = {"count": 0}
    monkeypatch.setattr(sessions, "sweep_sessions", lambda blocks, pages, idle_s: dropped["count"])
    reclaimed = []
    monkeypatch.setattr(sessions, "reclaim_memory", lambda: reclaimed.append(clock["now"]))
    sweep = sessions.session_sweeper(sessions.OpenPages(), idle_s=15.0, reclaim_every_s=30.0)

    def sweep_at(now: float, count: int) -> None:
        clock["now"], dropped["count"] = now, count
        asyncio.run(sweep(None))

    for second in range(1005, 1030, 5):  # sessions dropped on every sweep: nothing collected within the period
        sweep_at(second, 1)
    assert reclaimed == []
    sweep_at(1030, 1)
    assert reclaimed == [1030]  # once the period has passed
    sweep_at(1035, 1)
    sweep_at(1070, 0)  # nothing more dropped since the last … but one was owed from 1035
    assert reclaimed == [1030, 1070]
    sweep_at(1200, 0)  # nothing owed: no collection
    assert reclaimed == [1030, 1070]


def test_a_new_sessions_state_is_built_off_the_event_loop(tmp_path, monkeypatch):
    """Gradio builds a new session's state (a copy of the page's 560 components' configuration) when its first event
    joins the queue, on the event loop: each build stopped every other request (~0.3 s on two busy cores). In public
    mode the rate-limit middleware builds it in a worker thread first; the event then runs as usual."""
    import asyncio

    import gradio.state_holder

    built_on_loop = []
    original = gradio.state_holder.SessionState.__init__

    def recording_init(self, blocks):
        try:
            asyncio.get_running_loop()
            built_on_loop.append(True)
        except RuntimeError:
            built_on_loop.append(False)
        original(self, blocks)

    monkeypatch.setattr(gradio.state_holder.SessionState, "__init__", recording_init)
    demo = serve_in_background(make_config(tmp_path / "library", public=True))
    try:
        url = demo.local_url
        before = len(built_on_loop)
        run_event(url, "a-new-page", "list_presets", [])
        assert "a-new-page" in demo.state_holder.session_data
        assert built_on_loop[before:] == [False]  # built once, in a worker thread
    finally:
        demo.close()
        jobs.GATE.configure(jobs.JobGate().limits)
        from studio.ui import views

        views.accept_only(None)
