"""Background preparations that run once per process: ``once(key, fn)`` starts ``fn`` in a daemon thread the first
time ``key`` is asked for and hands every caller the same ``concurrent.futures.Future``.

The app prepares several things while the page is already served (the synth's compiled renderer, the prompt scorer
and its compiled quick search, UMAP's numba code); a caller waits for the result (``future.result(timeout)``, which
re-raises the preparation's error) or asks whether it is there (``future.done()``). A failure is logged once, with
its traceback, when it happens.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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
