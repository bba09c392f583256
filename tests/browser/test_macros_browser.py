"""Macros and edits in words in a real browser (issue 17): the Macros panel shows the loaded sound's measured values;
letting go of a macro slider changes the sound, the knobs and the slider's measured value, as one undo step; the
edit box says what it understood and what changed, and names words it does not know without changing anything."""
from __future__ import annotations

import re

from test_studio_browser import audio_url, drag_knob, open_studio, pick, status, wait_for_new_audio

from studio.explore.macros import measure
from studio.presets import factory_preset

TIMEOUT = 60_000


def slider_value(page, name: str) -> float:
    return float(page.locator(f"#macro-{name} input[type=number]").input_value())


def test_macro_slider_and_edit_box(page, studio_server, artifacts):
    url, _ = studio_server
    open_studio(page, url)
    pick(page, "pad")
    page.locator("#status").get_by_text(re.compile(r"^\*\*pad\*\*|pad")).first.wait_for()
    page.locator("#section-macros").get_by_text("Macros:").first.click()  # the accordion starts closed
    pad = factory_preset("pad")
    measured = measure(pad.theta, pad.settings)
    page.wait_for_function(
        "want => { const b = document.querySelector('#macro-length input[type=number]');"
        " return b && Math.abs(parseFloat(b.value) - want) < 0.01; }", arg=measured["length"])
    assert abs(slider_value(page, "brightness") - measured["brightness"]) < 2.0

    # Drag the length macro to about a third of its range and let go: a new sound, one more undo step.
    before = audio_url(page)
    undo_before = int(re.search(r"undo (\d+)", status(page)).group(1))
    drag_knob(page, "macro-length", measured["length"] / pad.settings.duration, 0.3)
    wait_for_new_audio(page, before)
    note = page.locator("#macro-note")
    note.get_by_text(re.compile(r"length .* → .*\(asked")).wait_for()
    page.locator("#status").get_by_text(f"undo {undo_before + 1}").wait_for()
    assert slider_value(page, "length") < measured["length"] * 0.7
    page.screenshot(path=str(artifacts / "macros-panel.png"), full_page=False)

    # An edit in words: understood, changed, undoable.
    box = page.locator("#edit-text textarea, #edit-text input").first
    box.fill("slightly darker")
    before = audio_url(page)
    page.locator("#btn-edit").click()
    wait_for_new_audio(page, before)
    result = page.locator("#edit-result")
    result.get_by_text(re.compile(r"Understood: slightly darker → brightness × 0\.816")).wait_for()
    assert "Changed: brightness" in result.inner_text()
    page.locator("#status").get_by_text(f"undo {undo_before + 2}").wait_for()
    result.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "edit-in-words.png"), full_page=False)

    # Words it does not know: named, and nothing changes.
    box.fill("brighter and glorpy")
    page.locator("#btn-edit").click()
    result.get_by_text(re.compile(r"not understood: 'glorpy' — nothing changed")).wait_for()
    assert f"undo {undo_before + 2}" in status(page)
