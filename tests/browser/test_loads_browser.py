"""Loading a sound in a real browser shows *its* name, tags and picker entry (issue 12, item 3): a newcomer picked a
saved sound, imported ``good-pluck.yaml`` and pressed Save — the file got the previous sound's tags and the picker
still named the previous sound."""
from __future__ import annotations

import dataclasses

from test_studio_browser import audio_url, name_box, open_studio, pick, status, upload, wait_for_new_audio

from studio.presets import factory_preset, load_preset, save_preset

TIMEOUT = 60_000  # ms: the first page of a fresh server on a busy 2-core CPU


def tags_box(page):
    return page.locator("#sound-tags input, #sound-tags textarea")


def picker_text(page) -> str:
    return page.locator("#sound-picker input").input_value()


def test_import_then_save_keeps_the_imported_sounds_name_and_tags(page, studio_server, tmp_path, artifacts):
    url, library = studio_server
    open_studio(page, url)
    # A saved sound, tagged test, pluck, ui, is on the panel and named by the picker.
    name_box(page).fill("Previous sound")
    tags_box(page).fill("test, pluck, ui")
    page.locator("#btn-save").click()
    page.get_by_text("Saved “Previous sound” to the library").wait_for()
    page.wait_for_function("() => document.querySelector('#sound-picker input').value.startsWith('saved · Previous')")
    before = audio_url(page)
    pick(page, "factory · pad")
    wait_for_new_audio(page, before)
    assert tags_box(page).input_value() == ", ".join(factory_preset("pad").tags)
    before = audio_url(page)
    pick(page, "saved · Previous sound  [test, pluck, ui]")
    wait_for_new_audio(page, before)
    assert tags_box(page).input_value() == "test, pluck, ui"

    # Import good-pluck.yaml: the name, the tags and the picker follow the imported sound.
    preset = dataclasses.replace(factory_preset("pluck"), name="good-pluck", tags=("pluck", "tonal", "percussive"))
    path = save_preset(preset, tmp_path / "good-pluck.yaml")
    before = audio_url(page)
    upload(page, path)
    wait_for_new_audio(page, before)
    page.wait_for_function("() => document.querySelector('#sound-tags textarea, #sound-tags input').value"
                           " === 'pluck, tonal, percussive'")
    assert name_box(page).input_value() == "good-pluck" and status(page).startswith("good-pluck")
    assert picker_text(page) == ""  # no longer "saved · Previous sound"
    page.screenshot(path=str(artifacts / "40-imported.png"), full_page=True)

    # Save writes the imported sound's own tags.
    page.locator("#btn-save").click()
    page.get_by_text("Saved “good-pluck” to the library").wait_for()
    assert load_preset(library / "good-pluck.yaml").tags == ("pluck", "tonal", "percussive")
    page.wait_for_function("() => document.querySelector('#sound-picker input').value.startsWith('saved · good-pluck')")

    # Undo goes back to the previous sound: name and tags follow, the picker names no other sound.
    before = audio_url(page)
    page.locator("#btn-undo").click()
    wait_for_new_audio(page, before)
    page.wait_for_function("() => document.querySelector('#sound-tags textarea, #sound-tags input').value"
                           " === 'test, pluck, ui'")
    assert name_box(page).input_value() == "Previous sound"
    assert picker_text(page) in ("", "saved · Previous sound  [test, pluck, ui]")
    page.screenshot(path=str(artifacts / "41-undone.png"), full_page=True)
