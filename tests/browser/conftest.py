"""Browser tests: Debian's Chromium driven by Playwright against the studio served on 127.0.0.1.

They skip, saying why, where no Chromium is installed (``apt-get install -y chromium`` provides
/usr/bin/chromium; ``SYNTH_STUDIO_CHROMIUM`` points elsewhere). Screenshots go to ``artifacts/browser/``.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("SYNTH_STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(config, items):
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) to run browser tests"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -r requirements-dev.txt)"
    if reason:
        for item in items:
            if Path(str(item.fspath)).parent == Path(__file__).parent:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def browser():  # per module: Playwright's sync API holds an event loop on this thread while it lives
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def studio_server(tmp_path_factory):
    """The studio served on 127.0.0.1 for one test module, with its own empty library: (url, library folder)."""
    library = tmp_path_factory.mktemp("library")
    demo = serve(library, public=False)
    try:
        yield demo.local_url, library
    finally:
        demo.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page (its own context: no shared storage). A test module may set ``TIMEOUT`` (ms) and
    ``VIEWPORT`` (width, height)."""
    width, height = getattr(request.module, "VIEWPORT", (1400, 1000))
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(getattr(request.module, "TIMEOUT", 30_000))
    yield page
    context.close()


def serve(library_root: Path, public: bool):
    from studio.ui.app import make_config, serve_in_background
    from studio.ui.views import start_warm_up, wait_for_warm_up

    start_warm_up()
    wait_for_warm_up()
    return serve_in_background(make_config(library_root, public=public))


def read_wav_bytes(data: bytes) -> np.ndarray:
    """Samples of a WAV file's bytes as int16 ``[T]``."""
    import soundfile

    audio, _ = soundfile.read(io.BytesIO(data), dtype="int16")
    return audio
