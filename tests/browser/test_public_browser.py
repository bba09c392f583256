"""A public studio in a real browser against hostile text: markup in preset files, file names, sound names, tags and
prompts shows as text in toasts and Markdown lines (no element from it, no request to a beacon), and the
library token keeps working across a reload while the key that signs it appears nowhere in the page."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading

import numpy as np
import pytest

from studio.library import open_library
from studio.presets import dumps_preset, factory_preset

LEGACY_SECRET, LEGACY_TOKEN = "an-older-studios-secret-" + "0" * 40, "AbCdEfGhIjKlMnOpQrStUvWxYz012345"

TIMEOUT = 30_000

# Elements that must never come from what a user typed or a file held (Gradio's own page has none of them).
FOREIGN = "img[src*='beacon'], img[src='x'], form, input[type=password], a[href^='javascript'], svg[onload]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def beacon():
    """A server that records every request it gets: nothing in the page may ever call it."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def public_server(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.delenv("SYNTH_STUDIO_SECRET", raising=False)
    library = tmp_path_factory.mktemp("public-library")
    # What an older studio left: its secret, and a library kept for a browser under an unsigned token.
    (library / ".browser-secret").write_text(LEGACY_SECRET)
    open_library(library, True, LEGACY_TOKEN).save(factory_preset("bell"), np.zeros(4800, np.float32), 48000)
    from studio.ui.app import make_config, serve_in_background
    from studio.ui.views import start_warm_up, wait_for_warm_up

    start_warm_up()
    wait_for_warm_up()
    demo = serve_in_background(make_config(library, public=True), port=free_port())
    try:
        yield demo.local_url, library
    finally:
        demo.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def open_studio(page, url):
    page.goto(url)
    page.locator("#status").get_by_text(re.compile(r"undo \d+")).wait_for()
    page.wait_for_function("() => document.querySelector('#sound-picker input') !== null")


def toast_text(page, expected: str) -> str:
    toast = page.locator("[data-testid=toast-body]").filter(has_text=expected).last
    toast.wait_for()
    return toast.inner_text()


def close_toasts(page):
    for button in page.locator("[data-testid=toast-close]").all():
        if button.is_visible():
            button.click()


def assert_no_foreign_markup(page, hits):
    found = page.evaluate(f"() => [...document.querySelectorAll({FOREIGN!r})].map(e => e.outerHTML).concat("
                          "[...document.scripts].filter(e => e.text.includes('alert(1)')).map(e => e.outerHTML))")
    assert found == [], found
    assert hits == [], hits


def test_markup_from_files_names_tags_and_prompts_shows_as_text(browser, public_server, beacon, tmp_path,
                                                                 artifacts):
    url, _ = public_server
    origin, hits = beacon
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.on("request", lambda request: hits.append(request.url) if "beacon" in request.url else None)
    open_studio(page, url)

    # A preset file whose name field is markup, in a file whose own name is markup.
    name = f'<img src="{origin}/beacon-import"> **imported** $$x^2$$'
    path = tmp_path / "<form><input type=password name=pw> x.yaml"
    path.write_text(dumps_preset(dataclasses.replace(factory_preset("pad"), name=name,
                                                     tags=("<img src=x onerror=alert(1)>",))))
    with page.expect_file_chooser() as chooser:
        page.locator("#btn-import").click()
    chooser.value.set_files(str(path))
    assert name in toast_text(page, "Imported")
    page.locator("#status").get_by_text("**imported** $$x^2$$").wait_for()  # literally: no bold, no LaTeX
    assert_no_foreign_markup(page, hits)

    # A broken file: the error quotes the file's name and its bad value.
    # (Gradio drops "<" and ">" from an uploaded file's name; the value is quoted as the file holds it.)
    broken = tmp_path / "<img src=x onerror=alert(1)> broken.json"
    fields = json.loads(dumps_preset(factory_preset("bass"), fmt="json"))
    fields["params"]["keyboard.midi_f0"] = "<form><input type=password>"
    broken.write_text(json.dumps(fields))
    with page.expect_file_chooser() as chooser:
        page.locator("#btn-import").click()
    chooser.value.set_files(str(broken))
    assert "got a string ('<form><input type=password>')" in toast_text(page, "broken.json")
    assert_no_foreign_markup(page, hits)
    page.screenshot(path=str(artifacts / "public-markup-toasts.png"))
    close_toasts(page)

    # A sound saved under a name and tags full of markup, then offered for deletion.
    saved = f"![b]({origin}/beacon-md) [l](javascript:alert(1)) <svg onload=x>"  # the box takes 80
    page.locator("#sound-name textarea, #sound-name input").fill(saved)
    page.locator("#sound-tags textarea, #sound-tags input").fill("<form><input type=password>, **t**")
    page.locator("#btn-save").click()
    assert saved in toast_text(page, "Saved")
    page.locator("#status").get_by_text(saved).wait_for()
    page.locator("#manage").get_by_text("Rename or delete").click()
    page.locator("#btn-delete").click()
    page.locator("#delete-confirm-text").get_by_text(saved).wait_for()
    assert_no_foreign_markup(page, hits)

    # A prompt: the progress line names it, and a second Generate is refused with a toast quoting both.
    prompt = f"bright pluck <img src={origin}/beacon-prompt> **x**"
    page.locator("#prompt-text textarea, #prompt-text input").fill(prompt)
    page.locator("#prompt-generate").click()
    page.locator("#prompt-progress").get_by_text(  # (a warm quick search may be done already)
        re.compile(r"Starting the search for|Searching|Loading|Done|Stopped")).first.wait_for()
    page.locator("#prompt-generate").click()
    refused = page.locator("[data-testid=toast-body]").filter(has_text="still running")
    try:
        refused.last.wait_for(timeout=10_000)
        assert "<img src=" in refused.last.inner_text()
    except Exception:  # the quick search may have finished before the second click: nothing was refused
        pass
    page.locator("#prompt-understood").get_by_text("'beacon' unknown").wait_for(timeout=120_000)
    page.locator("#prompt-cancel").click()
    assert_no_foreign_markup(page, hits)
    page.screenshot(path=str(artifacts / "public-markup-page.png"), full_page=True)
    context.close()


def test_the_same_browser_finds_its_library_after_a_reload_and_the_key_stays_on_the_server(
        browser, public_server, artifacts):
    url, library = public_server
    key = (library / ".token-key").read_text().strip()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    open_studio(page, url)
    page.locator("#sound-name textarea, #sound-name input").fill("Kept across reloads")
    page.locator("#btn-save").click()
    toast_text(page, "Saved")
    config = page.request.get(url.rstrip("/") + "/config").text()
    stored = page.evaluate("() => JSON.stringify(localStorage)")
    assert "synth-studio-library-key" in stored
    assert key not in config and key not in stored and key not in page.content()

    page.reload()
    open_studio(page, url)
    page.locator("#sound-picker input").click()
    page.get_by_role("option", name="saved · Kept across reloads").wait_for()
    page.screenshot(path=str(artifacts / "public-reload.png"))
    context.close()

    stranger = browser.new_context()  # another browser: its own, empty library
    other = stranger.new_page()
    other.set_default_timeout(TIMEOUT)
    open_studio(other, url)
    other.locator("#sound-picker input").click()
    other.get_by_role("option").first.wait_for()
    assert other.get_by_role("option", name="saved · Kept across reloads").count() == 0
    stranger.close()


def cryptojs_encrypt(value: str, secret: str) -> str:
    """What Gradio's BrowserState stored for ``value`` with ``secret`` (CryptoJS's format, made by openssl)."""
    passphrase = hashlib.sha256(secret.encode()).hexdigest()
    blob = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-md", "md5", "-salt", "-pass", f"pass:{passphrase}",
                           "-base64", "-A"], input=json.dumps(value).encode(), capture_output=True, check=True)
    return base64.b64encode(os.urandom(16)).decode() + ":" + blob.stdout.decode().strip()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command to encrypt with")
def test_a_browser_an_older_studio_served_finds_its_sounds(browser, public_server, artifacts):
    url, _ = public_server
    stored = cryptojs_encrypt(LEGACY_TOKEN, LEGACY_SECRET)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(  # what the older studio's page had stored, as long as nothing newer is there
        f"if (!localStorage.getItem('synth-studio-library-key'))"
        f" localStorage.setItem('synth-studio-library-token', '{stored}');")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    open_studio(page, url)
    page.locator("#sound-picker input").click()
    page.get_by_role("option", name=re.compile(r"^saved · bell")).wait_for()
    page.wait_for_function("() => localStorage.getItem('synth-studio-library-key') !== null"
                           " && localStorage.getItem('synth-studio-library-token') === null")
    page.reload()  # from now on the signed token alone finds it
    open_studio(page, url)
    page.locator("#sound-picker input").click()
    page.get_by_role("option", name=re.compile(r"^saved · bell")).wait_for()
    context.close()
