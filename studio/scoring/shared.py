"""The process-wide prompt scorer: made once, in the background, and shared by everything in the process that
judges prompts (the UI's prompt panel; the CLI makes its own per command).

``make_scorer("auto")`` picks CLAP when its weights load here, else the offline descriptor scorer, and sets the
scorer's ``reason``; loading CLAP takes seconds to a minute, so callers start it early and wait for it only when a
prompt arrives.
"""
from __future__ import annotations

from concurrent.futures import Future

from studio.background import once

SCORER = "scorer"  # the background preparation's key


def shared_scorer() -> Future:
    """The process's prompt scorer as a ``concurrent.futures.Future``: the first call starts
    ``make_scorer("auto")`` in a background thread, every call returns the same future. ``.result(timeout)``
    gives the scorer (or re-raises what stopped it being made); ``.done()`` says whether it is there yet."""

    def make():
        from studio.scoring import make_scorer

        return make_scorer("auto")

    return once(SCORER, make)
