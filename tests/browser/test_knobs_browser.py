"""Knobs in a real browser: typed values clamp or are refused and always agree with the sound; Enter and arrow keys
commit; ↺ returns to the loaded sound's own value; knobs with no effect are marked and add no undo step."""
from __future__ import annotations

import re

from test_studio_browser import audio_url, open_studio, pick, status, wait_for_new_audio

from studio.presets import factory_preset
from studio.synth import PARAM_INDEX, to_human

TIMEOUT = 30_000


def box(page, elem_id):
    return page.locator(f"#{elem_id} input[type=number]")


def type_into(page, elem_id, text):
    b = box(page, elem_id)
    b.scroll_into_view_if_needed()
    b.click()
    b.press("Control+a")
    b.press("Delete")
    if text:
        page.keyboard.type(text)
    b.press("Enter")


def test_typed_values_clamp_or_are_refused_and_agree_with_the_sound(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    knob = "knob-adsr_1-decay"
    before = audio_url(page)
    type_into(page, knob, "1e9")  # Enter commits; out of range clamps with a note
    wait_for_new_audio(page, before)
    page.get_by_text(re.compile(r"adsr_1\.decay: 1e\+09 is above the maximum; set to 2")).wait_for()
    assert float(box(page, knob).input_value()) == 2.0 and "undo 1" in status(page)
    for bad in ("abc", "", "NaN"):
        type_into(page, knob, bad)
        page.get_by_text(re.compile(r"adsr_1\.decay: type a number")).first.wait_for()
        page.wait_for_function("() => document.querySelector('#knob-adsr_1-decay input[type=number]').value === '2'")
        assert "undo 1" in status(page)
    # Arrow keys on the slider commit when released.
    track = page.locator(f"#{knob} input[type=range]")
    url_before = audio_url(page)
    track.focus()
    track.press("ArrowLeft")
    wait_for_new_audio(page, url_before)
    assert "undo 2" in status(page)


def test_reset_returns_to_the_loaded_sounds_value_and_idle_knobs_are_marked(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    pick(page, "factory · pad")
    page.locator("#status").get_by_text(re.compile(r"^pad")).wait_for()
    knob = "knob-adsr_1-sustain"
    pad_sustain = round(float(to_human(factory_preset("pad").theta)[PARAM_INDEX["adsr_1.sustain"]]), 3)
    before = audio_url(page)
    type_into(page, knob, "0.3")
    wait_for_new_audio(page, before)
    reset = page.locator(f"#{knob} .reset-button")
    assert "loaded" in reset.get_attribute("title")
    after_edit = audio_url(page)
    reset.click()
    wait_for_new_audio(page, after_edit)
    assert abs(float(box(page, knob).input_value()) - pad_sustain) < 1e-3
    assert "modified" not in status(page)

    # The noise fader does nothing on pad: marked, and moving it adds no undo step and no "modified".
    page.wait_for_function("() => (document.querySelector('#knob-marks [data-inert]')?.dataset.inert || '')"
                           ".includes('knob-mixer-noise')")
    undo = re.search(r"undo (\d+)", status(page)).group(1)
    type_into(page, "knob-mixer-noise", "0.8")
    page.wait_for_timeout(1500)
    assert f"undo {undo}" in status(page) and "modified" not in status(page)
    assert float(box(page, "knob-mixer-noise").input_value()) == 0.8
