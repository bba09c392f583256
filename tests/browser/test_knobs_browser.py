"""Knobs in a real browser: typed values clamp or are refused and always agree with the sound; Enter and arrow keys
commit; ↺ returns to the loaded sound's own value; knobs with no effect are marked and add no undo step."""
from __future__ import annotations

import re

import numpy as np
from test_studio_browser import (audio_url, expected_player_samples, open_studio, pick, status,
                                 wait_for_new_audio)

from studio.presets import loads_preset

from studio.presets import factory_preset
from studio.synth import PARAM_INDEX, to_human

TIMEOUT = 30_000


def box(page, elem_id):
    return page.locator(f"#{elem_id} input[type=number]")


def type_into(page, elem_id, text, commit="Enter"):
    """Type into a knob's number box and commit it: Enter, or Tab (leaving the box, as Gradio has always done)."""
    b = box(page, elem_id)
    b.scroll_into_view_if_needed()
    b.click()
    b.press("Control+a")
    b.press("Delete")
    if text:
        page.keyboard.type(text)
    b.press(commit)


def exported_preset(page):
    """Export the current sound and read back the preset file the browser downloads."""
    page.locator("#btn-export").click()
    link = page.locator('#exports a[download$=".yaml"]').first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    return loads_preset(open(download.value.path(), encoding="utf-8").read())


def human(preset, key):
    return float(to_human(preset.theta)[PARAM_INDEX[key]])


def test_typed_values_clamp_or_are_refused_and_agree_with_the_sound(page, studio_server, artifacts):
    url, _ = studio_server
    open_studio(page, url)
    knob = "knob-adsr_1-decay"
    before = audio_url(page)
    type_into(page, knob, "1e9")  # Enter commits; out of range clamps with a note
    played = wait_for_new_audio(page, before)
    page.locator("#status").get_by_text(re.compile(r"adsr_1\.decay: 1e\+09 is above the maximum; set to 2")).wait_for()
    assert float(box(page, knob).input_value()) == 2.0 and "undo 1" in status(page)
    # The box, the sound played and the exported preset agree.
    exported = exported_preset(page)
    assert human(exported, "adsr_1.decay") == 2.0
    assert np.array_equal(expected_player_samples(exported), played)
    page.screenshot(path=str(artifacts / "knobs-clamped.png"), full_page=False)

    clamped = audio_url(page)
    for bad in ("abc", "", "NaN", "-"):  # refused with a message; the box shows the sound's value again
        type_into(page, knob, bad)
        refused = re.compile(r"adsr_1\.decay: (the box is empty|that is not a number); type a number from 0 to 2")
        page.locator("#status").get_by_text(refused).wait_for()
        page.wait_for_function(f"() => document.querySelector('#{knob} input[type=number]').value === '2'")
        assert "undo 1" in status(page) and audio_url(page) == clamped
    page.screenshot(path=str(artifacts / "knobs-refused.png"), full_page=False)

    below = audio_url(page)
    type_into(page, knob, "-5")  # clamps downwards
    wait_for_new_audio(page, below)
    page.locator("#status").get_by_text(re.compile(r"adsr_1\.decay: -5 is below the minimum; set to 0")).wait_for()
    assert float(box(page, knob).input_value()) == 0.0 and "undo 2" in status(page)

    # An arrow key on a slider renders when let go (the pitch knob: one semitone up).
    pitch = "knob-keyboard-midi_f0"
    f0 = float(box(page, pitch).input_value())
    track = page.locator(f"#{pitch} input[type=range]")
    url_before = audio_url(page)
    track.scroll_into_view_if_needed()
    track.focus()
    track.press("ArrowUp")
    played = wait_for_new_audio(page, url_before)
    assert "undo 3" in status(page) and float(box(page, pitch).input_value()) > f0
    exported = exported_preset(page)
    assert abs(human(exported, "keyboard.midi_f0") - float(box(page, pitch).input_value())) < 1e-3
    assert human(exported, "adsr_1.decay") == 0.0
    assert np.array_equal(expected_player_samples(exported), played)


def test_reset_returns_to_the_loaded_sounds_value(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    pick(page, "factory · pad")
    page.locator("#status").get_by_text(re.compile(r"^pad")).wait_for()
    knob = "knob-adsr_1-sustain"
    pad_sustain = round(float(to_human(factory_preset("pad").theta)[PARAM_INDEX["adsr_1.sustain"]]), 3)
    before = audio_url(page)
    type_into(page, knob, "0.3", commit="Tab")
    wait_for_new_audio(page, before)
    reset = page.locator(f"#{knob} .reset-button")
    after_edit = audio_url(page)
    reset.click()
    page.wait_for_function(f"() => Math.abs(document.querySelector('#{knob} input[type=number]').value - {pad_sustain})"
                           " < 1e-3", timeout=10_000)
    assert np.array_equal(wait_for_new_audio(page, after_edit), expected_player_samples(factory_preset("pad")))
    assert abs(float(box(page, knob).input_value()) - pad_sustain) < 1e-3
    assert "modified" not in status(page)
    assert "loaded" in reset.get_attribute("title")  # the tooltip says what ↺ does


def test_knobs_with_no_effect_are_marked_and_add_no_undo_step(page, studio_server):
    """The noise fader does nothing on pad: dimmed, and moving it adds no undo step and no "modified"."""
    url, _ = studio_server
    open_studio(page, url)
    pick(page, "factory · pad")
    page.locator("#status").get_by_text(re.compile(r"^pad")).wait_for()
    page.wait_for_function("() => (document.querySelector('#knob-marks [data-inert]')?.dataset.inert || '')"
                           ".includes('knob-mixer-noise')")
    assert page.locator("#knob-mixer-noise").evaluate("e => getComputedStyle(e).opacity") == "0.5"
    assert page.locator("#knob-mixer-vco_1").evaluate("e => getComputedStyle(e).opacity") == "1"
    undo = re.search(r"undo (\d+)", status(page)).group(1)
    type_into(page, "knob-mixer-noise", "0.8", commit="Tab")
    page.locator("#status").get_by_text("mixer.noise changes no sample of this sound now (no undo step)").wait_for()
    assert f"undo {undo}" in status(page) and "modified" not in status(page)
    assert float(box(page, "knob-mixer-noise").input_value()) == 0.8


def test_idle_marks_follow_the_knobs_from_the_first_page_and_after_a_knob_edit(page, studio_server):
    """Knob edits skip Gradio's queue, which fires no state change after them: the idle-knob marks stayed as they
    were (and a fresh page had none until a sound was loaded)."""
    url, _ = studio_server
    open_studio(page, url)
    inert = "() => document.querySelector('#knob-marks [data-inert]')?.dataset.inert || ''"
    page.wait_for_function(f"() => ({inert})().includes('knob-')")  # the first sound's idle knobs, unasked
    pick(page, "factory · pad")
    page.locator("#status").get_by_text(re.compile(r"^pad")).wait_for()
    page.wait_for_function(f"() => !({inert})().includes('knob-vco_1-tuning')")
    assert page.locator("#knob-vco_1-tuning").evaluate("e => getComputedStyle(e).opacity") == "1"
    type_into(page, "knob-mixer-vco_1", "0", commit="Tab")  # oscillator 1 silent: its own knobs do nothing now
    page.wait_for_function(f"() => ({inert})().includes('knob-vco_1-tuning')", timeout=TIMEOUT)
    assert page.locator("#knob-vco_1-tuning").evaluate("e => getComputedStyle(e).opacity") == "0.5"
