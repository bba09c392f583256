"""The studio in a real browser: pick a preset, move a knob and hear the change, save, reload and find it, undo,
export, import, and (public mode) libraries that stay private to each browser."""
from __future__ import annotations

import re

import numpy as np
from conftest import read_wav_bytes, serve

from studio.audio.io import to_int16
from studio.presets import dumps_preset, factory_preset, loads_preset
from studio.synth import render
from studio.ui.views import AUDIO_GAIN

TIMEOUT = 30_000  # ms; a render takes ~20 ms, but the first page load of a fresh server takes seconds


# ---------------------------------------------------------------------------------------------------------------
# Helpers that act like a user


def open_studio(page, url):
    page.goto(url)
    page.locator("#status").get_by_text(re.compile(r"undo \d+")).wait_for()
    page.wait_for_function("() => document.querySelector('#sound-picker input') !== null")


def name_box(page):
    return page.locator("#sound-name textarea, #sound-name input")


def status(page) -> str:
    """The status line's text (its markdown only: a hidden, faded status badge also lives in #status)."""
    return page.locator("#status [data-testid=markdown]").inner_text()


def audio_url(page) -> str:
    return page.locator("#audio-a a[data-testid=download-link]").get_attribute("href")


def audio_samples(page) -> np.ndarray:
    """What player A would play: the WAV behind its current source, as int16 samples."""
    response = page.request.get(audio_url(page))
    assert response.ok
    return read_wav_bytes(response.body())


def wait_for_new_audio(page, old_url: str) -> np.ndarray:
    """Wait until player A holds a different file (Gradio names files by content) and return its samples."""
    page.wait_for_function(
        "old => { const a = document.querySelector('#audio-a a[data-testid=download-link]');"
        " return a && a.href !== old; }", arg=old_url)
    return audio_samples(page)


def pick(page, label: str):
    page.locator("#sound-picker input").click()
    page.get_by_role("option", name=label).click()


def upload(page, path):
    with page.expect_file_chooser() as chooser:
        page.locator("#btn-import").click()
    chooser.value.set_files(str(path))


def drag_knob(page, elem_id: str, start: float, end: float):
    """Drag a knob's slider like a mouse would (press, move, release: the release triggers the render)."""
    track = page.locator(f"#{elem_id} input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=8)
    page.mouse.up()


def same_within_one_step(wav: np.ndarray, player: np.ndarray) -> bool:
    """Saved and exported WAVs are the float render written as 16-bit PCM (full scale 32768), the player's are
    ``to_int16`` (full scale 32767): the same sound up to one quantization step."""
    return wav.shape == player.shape and int(np.abs(wav.astype(np.int32) - player).max()) <= 1


def expected_player_samples(preset) -> np.ndarray:
    """What player A plays for a preset: its render, faded over 5 ms where the buffer cuts it."""
    from studio.instrument.trim import declicked

    sr = preset.settings.sample_rate
    return to_int16(declicked(np.asarray(render(preset.theta, preset.settings)), sr), gain=AUDIO_GAIN)


# ---------------------------------------------------------------------------------------------------------------


def test_pick_tweak_save_reload_undo_export(page, studio_server, artifacts):
    url, library = studio_server
    open_studio(page, url)
    assert "init" in status(page)
    page.screenshot(path=str(artifacts / "01-opened.png"), full_page=True)

    # Pick a factory preset: the browser receives exactly what the synth renders.
    first_url = audio_url(page)
    pick(page, "factory · bass")
    bass = wait_for_new_audio(page, first_url)
    assert np.array_equal(bass, expected_player_samples(factory_preset("bass")))
    assert status(page).startswith("bass") and name_box(page).input_value() == "bass"

    # Move the pitch knob: the returned audio changes.
    bass_url = audio_url(page)
    drag_knob(page, "knob-keyboard-midi_f0", 0.35, 0.6)
    tweaked = wait_for_new_audio(page, bass_url)
    assert tweaked.shape == bass.shape and not np.array_equal(tweaked, bass)
    assert "modified" in status(page) and "undo 2" in status(page)
    page.screenshot(path=str(artifacts / "02-tweaked.png"), full_page=True)

    # Save it under a new name, with tags.
    name_box(page).fill("Browser bass")
    page.locator("#sound-tags input, #sound-tags textarea").fill("test, low")
    page.locator("#btn-save").click()
    page.get_by_text("Saved “Browser bass” to the library").wait_for()
    assert (library / "browser-bass.yaml").exists() and (library / "browser-bass.wav").exists()
    assert same_within_one_step(read_wav_bytes((library / "browser-bass.wav").read_bytes()), tweaked)

    # Reload: a fresh session, and the saved sound is in the picker.
    page.reload()
    open_studio(page, url)
    assert "init" in status(page)
    before = audio_url(page)
    pick(page, "saved · Browser bass  [test, low]")
    assert np.array_equal(wait_for_new_audio(page, before), tweaked)
    page.screenshot(path=str(artifacts / "03-reloaded-and-picked.png"), full_page=True)

    # Change something, then undo: the audio is the saved sound's again, sample for sample.
    saved_url = audio_url(page)
    drag_knob(page, "knob-mixer-vco_2", 0.4, 0.9)
    changed = wait_for_new_audio(page, saved_url)
    assert not np.array_equal(changed, tweaked)
    changed_url = audio_url(page)
    page.locator("#btn-undo").click()
    assert np.array_equal(wait_for_new_audio(page, changed_url), tweaked)
    page.locator("#btn-redo").click()
    assert np.array_equal(wait_for_new_audio(page, saved_url), changed)
    page.locator("#btn-undo").click()
    wait_for_new_audio(page, changed_url)

    # Export: two files named after the sound, holding what the player plays.
    page.locator("#btn-export").click()
    wav_link = page.locator('#exports a[download="browser-bass.wav"]')
    yaml_link = page.locator('#exports a[download="browser-bass.yaml"]')
    wav_link.wait_for()
    with page.expect_download() as download:
        wav_link.click()
    assert download.value.suggested_filename == "browser-bass.wav"
    assert same_within_one_step(read_wav_bytes(open(download.value.path(), "rb").read()), tweaked)
    with page.expect_download() as download:
        yaml_link.click()
    assert download.value.suggested_filename == "browser-bass.yaml"
    exported = loads_preset(open(download.value.path(), encoding="utf-8").read())
    assert exported.name == "Browser bass" and np.array_equal(expected_player_samples(exported), tweaked)
    page.screenshot(path=str(artifacts / "04-exported.png"), full_page=True)


def test_import_and_user_errors_show_readable_messages(page, studio_server, tmp_path, artifacts):
    url, _ = studio_server
    open_studio(page, url)

    name_box(page).fill("   ")
    page.locator("#btn-save").click()
    page.get_by_text("give the sound a name").wait_for()

    bad = tmp_path / "broken-pad.yaml"
    bad.write_text(dumps_preset(factory_preset("pad")).replace("mixer.noise:", "mixer.nois:"))
    upload(page, bad)
    page.get_by_text("broken-pad.yaml: params.mixer.nois: unknown field (did you mean params.mixer.noise?)").wait_for()
    page.screenshot(path=str(artifacts / "05-import-error.png"), full_page=True)
    assert "init" in status(page)  # the studio is still usable and unchanged

    good = tmp_path / "my-pad.yaml"
    good.write_text(dumps_preset(factory_preset("pad")).replace("name: pad", "name: my imported pad"))
    before = audio_url(page)
    upload(page, good)
    assert np.array_equal(wait_for_new_audio(page, before), expected_player_samples(factory_preset("pad")))
    page.screenshot(path=str(artifacts / "06-imported.png"), full_page=True)
    assert status(page).startswith("my imported pad")


def test_knobs_have_units_and_hover_descriptions(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    assert page.locator("#knob-adsr_1-attack").get_by_text("attack (s)").count() == 1
    assert "note-on time" in page.locator("#knob-keyboard-duration").get_attribute("title")
    page.get_by_text("Modulation matrix", exact=True).click()  # a section that starts closed
    knob = page.locator("#knob-mod_matrix-lfo_1-to-vco_1_pitch")
    knob.wait_for()
    page.wait_for_function("() => document.getElementById('knob-mod_matrix-lfo_1-to-vco_1_pitch').title !== ''")
    assert "lfo 1 drives oscillator 1 pitch" in knob.get_attribute("title")


def test_public_mode_keeps_each_browser_library_private(browser, tmp_path, artifacts):
    demo = serve(tmp_path, public=True)
    try:
        alice = browser.new_context(viewport={"width": 1400, "height": 1000})
        bob = browser.new_context(viewport={"width": 1400, "height": 1000})
        a, b = alice.new_page(), bob.new_page()
        for p in (a, b):
            p.set_default_timeout(TIMEOUT)
            open_studio(p, demo.local_url)
        name_box(a).fill("Alice secret")
        a.locator("#btn-save").click()
        a.get_by_text("Saved “Alice secret” to the library").wait_for()

        b.reload()
        open_studio(b, demo.local_url)
        b.locator("#sound-picker input").click()
        b.get_by_role("option", name="factory · bass").wait_for()
        assert b.get_by_role("option", name=re.compile("Alice secret")).count() == 0
        b.screenshot(path=str(artifacts / "07-public-other-browser.png"))

        a.reload()  # the same browser finds its sound again after a reload
        open_studio(a, demo.local_url)
        a.locator("#sound-picker input").click()
        a.get_by_role("option", name="saved · Alice secret").wait_for()
        [folder] = (tmp_path / "sessions").iterdir()  # Alice's; Bob only looked, which writes nothing
        assert (folder / "alice-secret.yaml").exists()
        alice.close(), bob.close()
    finally:
        demo.close()
