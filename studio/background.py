"""Background preparations that run once per process: ``once(key, fn)`` starts ``fn`` in a daemon thread the first
time ``key`` is asked for and hands every caller the same ``concurrent.futures.Future``.

The app prepares several things while the page is already served (the synth's compiled renderer, the prompt scorer
and its compiled quick search, UMAP's numba code); a caller waits for the result (``future.result(timeout)``, which
re-raises the preparation's error) or asks whether it is there (``future.done()``). A failure is logged once, with
its traceback, when it happens.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future

log = logging.getLogger(__name__)

_preparations: dict[str, Future] = {}
_lock = threading.Lock()


def _run(key: str, fn: Callable, future: Future) -> None:
    try:
        future.set_result(fn())
    except BaseException as error:  # kept for whoever waits; logged here, since nobody may ever wait
        log.exception("background preparation %r failed", key)
        future.set_exception(error)


def once(key: str, fn: Callable) -> Future:
    """Start ``fn()`` in a background thread the first time ``key`` is asked for; every call with the same key
    returns the same future (``fn`` of later calls is ignored)."""
    with _lock:
        future = _preparations.get(key)
        if future is None:
            future = _preparations[key] = Future()
            future.set_running_or_notify_cancel()
            threading.Thread(target=_run, args=(key, fn, future), name=f"prepare-{key}", daemon=True).start()
        return future


def started(key: str) -> Future | None:
    """The preparation for ``key`` if one was started, else None (nothing is started)."""
    with _lock:
        return _preparations.get(key)


FREEZE_KEY = "freeze-start-up"
READY_LINE = "start-up preparations done"  # what the app prints once they have ended (bench/load_test.py waits)


def freeze_after_preparations(timeout_s: float = 900.0) -> Future:
    """Once every preparation started so far (and any they start) has ended, collect garbage and move every object
    still alive into Python's permanent generation (``gc.freeze``), in a background thread; the future's result
    is whether it froze (False when the preparations outlasted ``timeout_s``).

    Why: a full garbage collection walks every tracked object and stops every thread meanwhile. After start-up the
    server holds ~580,000 (Gradio's page, JAX, torch), so each full collection took ~0.3 s of a 2-core server;
    frozen, later collections walk only what was made since (sessions, jobs). What is frozen lives for the
    process anyway (the app, compiled programs, models)."""

    def freeze() -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            with _lock:
                pending = [f for key, f in _preparations.items() if key != FREEZE_KEY and not f.done()]
            if not pending:
                break
            if time.monotonic() > deadline:
                return False
            futures.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        gc.collect()
        gc.freeze()
        return True

    return once(FREEZE_KEY, freeze)
