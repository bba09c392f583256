"""Background preparations (studio/background.py): each key runs once, in its own thread, for every caller; the
result or the error reaches whoever waits, and an error is logged with its traceback when it happens."""
from __future__ import annotations

import logging
import threading

import pytest

from studio.background import once, started


def test_a_key_runs_once_in_the_background_and_every_caller_gets_its_result():
    release, calls = threading.Event(), []

    def prepare():
        calls.append(threading.current_thread().name)
        release.wait(10)
        return 42

    first = once("test-once", prepare)
    assert once("test-once", lambda: calls.append("never")) is first and started("test-once") is first
    assert not first.done()  # still preparing: the caller was not blocked
    with pytest.raises(TimeoutError):
        first.result(timeout=0.01)
    release.set()
    assert first.result(timeout=10) == 42 and first.done()
    assert calls == ["prepare-test-once"]  # one run, on its own thread
    assert started("test-never-started") is None


def test_a_failure_is_logged_and_re_raised_to_whoever_waits(caplog):
    def broken():
        raise KeyError("no such model")

    with caplog.at_level(logging.ERROR, logger="studio.background"):
        future = once("test-broken", broken)
        with pytest.raises(KeyError, match="no such model"):
            future.result(timeout=10)
    record = next(r for r in caplog.records if "test-broken" in r.getMessage())
    assert record.exc_info and record.exc_info[0] is KeyError  # the traceback is in the log


def test_the_start_up_freeze_waits_for_every_preparation_then_freezes(monkeypatch):
    """Objects alive once start-up work has ended go into Python's permanent generation, so later full
    collections (every thread stopped) walk only what was made since; not before the preparations end."""
    import gc

    from studio import background

    monkeypatch.setattr(background, "_preparations", {})  # as in a fresh process (a served studio froze this one)
    release = threading.Event()
    preparing = once("test-slow-preparation", lambda: release.wait(10))
    frozen_before = gc.get_freeze_count()
    try:
        freeze = background.freeze_after_preparations(timeout_s=60)
        with pytest.raises(TimeoutError):
            freeze.result(timeout=0.3)  # a preparation is still running
        assert gc.get_freeze_count() == frozen_before
        release.set()
        assert preparing.result(timeout=10) is True
        assert freeze.result(timeout=30) is True
        assert gc.get_freeze_count() > frozen_before
        assert background.freeze_after_preparations() is freeze  # once per process
    finally:
        release.set()
        gc.unfreeze()  # the rest of the test session collects as before
