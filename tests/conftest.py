"""Test-suite set-up: the same process tuning as the app and the CLI (``studio.synth.cpu.tune_cpu``), applied
before any test runs a computation, so tests exercise the configuration users run."""
import asyncio
import threading

import pytest

from studio import limits
from studio.synth.cpu import tune_cpu

tune_cpu()

# Test servers open hundreds of fresh sessions from one address (127.0.0.1), one per case; a public server allows an
# address 10 new sessions at once and 30 a minute. tests/test_sessions.py checks that limit with the real numbers.
REAL_NEW_SESSION_BURST = limits.NEW_SESSION_BURST
limits.NEW_SESSION_BURST = 100_000


@pytest.fixture(scope="module")
def loop():
    """An event loop of our own in a thread, as a server has (the thread running the tests may already have one
    running, Playwright's): ``app_session.Session`` runs a built app's events on it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()
