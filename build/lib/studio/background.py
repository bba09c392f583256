"""Background preparations that run once per process: ``once(key, fn)`` starts ``fn`` in a daemon thread the
first time ``key`` is asked for and hands every caller the same :class:`Preparation`.

The app prepares several things while the page is already served (the synth's compiled renderer, the prompt
scorer and its compiled quick search, UMAP's numba code); each caller either waits for the result or asks
whether it is ready, and a failure is kept and re-raised to whoever waits, logged once with its traceback.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Preparation:
    """One background job: ``ready()``, ``wait(timeout)`` → its result (re-raising its error), ``seconds``."""

    def __init__(self, key: str, fn: Callable[[], Any]):
        self.key = key
        self._fn = fn
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"prepare-{key}", daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self._result = self._fn()
        except BaseException as error:  # kept for whoever waits; the thread itself must not die silently
            self._error = error
            log.exception("background preparation %r failed", self.key)
        finally:
            self.seconds = time.perf_counter() - started
            self._done.set()

    def ready(self) -> bool:
        """True once the job has finished (successfully or not)."""
        return self._done.is_set()

    def failed(self) -> bool:
        """True once the job has finished with an error."""
        return self._done.is_set() and self._error is not None

    def wait(self, timeout: float | None = None) -> Any:
        """The job's result, waiting up to ``timeout`` seconds (None: as long as it takes); ``TimeoutError`` when
        it is not done by then; the job's own exception when it failed."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.key} is still being prepared")
        if self._error is not None:
            raise self._error
        return self._result


_preparations: dict[str, Preparation] = {}
_lock = threading.Lock()


def once(key: str, fn: Callable[[], Any]) -> Preparation:
    """Start ``fn()`` in a background thread the first time ``key`` is asked for; every call with the same key
    returns the same :class:`Preparation` (``fn`` of later calls is ignored)."""
    with _lock:
        preparation = _preparations.get(key)
        if preparation is None:
            preparation = _preparations[key] = Preparation(key, fn)
            preparation._thread.start()
        return preparation


def started(key: str) -> Preparation | None:
    """The preparation for ``key`` if one was started, else None (nothing is started)."""
    with _lock:
        return _preparations.get(key)
