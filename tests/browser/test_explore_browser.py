"""Explore in a real browser: make 8 doppelgängers and adopt one; build a strip and play a step; open the map,
click a point and hear it, then open it in the synth; a saved sound joins the map."""
from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import read_wav_bytes

from studio.explore import variations_of
from studio.presets import factory_preset
from studio.ui.app import initial_sound
from studio.ui.views import to_player

TIMEOUT = 60_000  # ms: the first grid compiles a batch shape (seconds on a 2-core CPU)
VIEWPORT = (1400, 1100)


@pytest.fixture
def studio(page, studio_server):
    """The page with the studio open and ready."""
    page.goto(studio_server[0])
    page.locator("#status").get_by_text(re.compile(r"undo \d+")).wait_for()
    return page


def status(page) -> str:
    return page.locator("#status [data-testid=markdown]").inner_text()


def wav_of(page, player_id: str) -> np.ndarray:
    """The int16 samples behind a player's current file."""
    href = page.locator(f"#{player_id} a[data-testid=download-link]").get_attribute("href")
    response = page.request.get(href)
    assert response.ok
    return read_wav_bytes(response.body())


def play(page, player_id: str) -> None:
    """Press a player's play button and wait until its audio element is actually playing."""
    page.locator(f"#{player_id} button.play-pause-button").click()
    wait_until_playing(page, player_id)


def wait_until_playing(page, player_id: str) -> None:
    """Gradio's player (WaveSurfer) turns its play button into "Pause" while sound plays and moves its clock."""
    page.wait_for_function(
        "id => { const b = document.querySelector(`#${id} button.play-pause-button`);"
        " const t = document.querySelector(`#${id} #time`);"
        " return b && b.getAttribute('aria-label') === 'Pause' && t && t.textContent.trim() !== '0:00'; }",
        arg=player_id)


def test_eight_variations_then_adopt_one(studio, artifacts):
    page = studio
    page.locator("#tab-variations-button, button[role=tab]:has-text('Variations')").first.click()
    page.locator("#btn-variations").click()
    page.locator("#var-info-7").get_by_text("distance").wait_for()
    visible = [page.locator(f"#var-{i}").is_visible() for i in range(16)]
    assert visible == [True] * 8 + [False] * 8
    distances = [float(re.search(r"distance ([\d.]+)", page.locator(f"#var-info-{i}").inner_text())[1])
                 for i in range(8)]
    assert all(0.0 < d < 3.0 for d in distances)
    # Variation 3 plays exactly what the library function makes for this seed (the CLI's `vary` too).
    expected = variations_of(initial_sound(), 0.25, 8, 0)
    assert np.array_equal(wav_of(page, "var-audio-2"), to_player(expected.audio[2], 48000)[1])
    page.screenshot(path=str(artifacts / "explore-variations.png"), full_page=True)

    page.locator("#var-adopt-2").click()
    page.locator("#status").get_by_text("variation 3").wait_for()
    assert "undo 1" in status(page)
    from studio.instrument.trim import declicked  # player A fades a sound the buffer cuts

    assert np.array_equal(wav_of(page, "audio-a"), to_player(declicked(expected.audio[2], 48000), 48000)[1])
    page.locator("#btn-undo").click()
    page.locator("#status").get_by_text("undo 0").wait_for()


def test_strip_then_play_a_step(studio, artifacts):
    page = studio
    page.locator("button[role=tab]:has-text('Morph')").first.click()
    page.locator("#btn-morph").click()  # current sound → factory bell, 5 linear steps
    page.locator("#morph-info-4").get_by_text("B").wait_for()
    assert [page.locator(f"#morph-{i}").is_visible() for i in range(6)] == [True] * 5 + [False]
    info = page.locator("#morph-info-2").inner_text()
    assert re.search(r"t 0\.50 · ← [\d.]+ · [\d.]+ →", info), info
    # The last step is the bell exactly (A's settings: the same defaults here).
    bell = factory_preset("bell")
    from studio.ui.views import render_audio

    assert np.array_equal(wav_of(page, "morph-audio-4"), to_player(render_audio(bell), 48000)[1])
    play(page, "morph-audio-2")
    page.screenshot(path=str(artifacts / "explore-morph.png"), full_page=True)


def test_map_click_plays_and_opens(studio, artifacts):
    page = studio
    page.locator("button[role=tab]:has-text('Map')").first.click()
    points = page.locator("#sound-map circle.map-point")
    points.first.wait_for()
    assert points.count() == 18  # the factory presets; this library is empty
    assert "factory presets and 0 saved sounds" in page.locator("#map-note").inner_text()
    bell = page.locator("#sound-map circle[data-key='factory:bell']")
    bell.click()
    page.locator("#map-picked").get_by_text("bell").wait_for()
    from studio.ui.views import render_audio

    assert np.array_equal(wav_of(page, "map-audio"), to_player(render_audio(factory_preset("bell")), 48000)[1])
    wait_until_playing(page, "map-audio")  # autoplay: the click is heard without another press
    page.screenshot(path=str(artifacts / "explore-map.png"), full_page=True)
    page.locator("#btn-map-open").click()
    page.locator("#status").get_by_text("bell").wait_for()

    # Saving the current sound adds a point.
    page.locator("#sound-name textarea, #sound-name input").fill("my bell")
    page.locator("#btn-save").click()
    page.wait_for_function("() => document.querySelectorAll('#sound-map circle.map-point').length === 19")
    assert page.locator("#sound-map circle[data-key^='library:']").count() == 1
