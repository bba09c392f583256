"""The keyboard in a real browser: a clicked key and a computer key start the right note from the sound's rendered
samples, octaves shift, Hold keeps notes, a (simulated) MIDI device plays with velocity, a changed knob re-arms the
keyboard, and the shortcuts (Space, Ctrl-Z, Shift-Ctrl-Z, L) work, but never inside a text box."""
from __future__ import annotations

import numpy as np
from test_studio_browser import drag_knob, open_studio, status

from studio.instrument.keyboard import DEFAULT_START, keyboard_samples
from studio.synth import RenderSettings, default_theta

TIMEOUT = 30_000
VIEWPORT = (1440, 900)
PHONE = (390, 844)

# A MIDI keyboard the page can find: navigator.requestMIDIAccess resolves to one input, and the test plays it
# through window.fakeMidi.send([status, note, velocity]).
FAKE_MIDI = """
(() => {
  const listeners = [];
  const input = {id: 'fake-1', name: 'Fake Keys 49', manufacturer: 'Test', state: 'connected', type: 'input',
                 onmidimessage: null};
  const access = {inputs: new Map([['fake-1', input]]), outputs: new Map(), onstatechange: null, sysexEnabled: false};
  window.fakeMidi = {requests: 0, send: data => {
    const event = {data: new Uint8Array(data), timeStamp: performance.now()};
    if (input.onmidimessage) input.onmidimessage(event);
  }};
  Object.defineProperty(Navigator.prototype, 'requestMIDIAccess', {configurable: true, value: function () {
    window.fakeMidi.requests += 1; return Promise.resolve(access); }});
})();
"""
NO_MIDI = "delete Navigator.prototype.requestMIDIAccess;"


def wait_armed(page, loads: int = 1) -> None:
    page.wait_for_function("n => window.synthKeyboard && window.synthKeyboard.loads >= n", arg=loads)


def keyboard(page, expression: str):
    return page.evaluate(f"() => {{ const kb = window.synthKeyboard; return {expression}; }}")


def last_started(page) -> dict:
    return keyboard(page, "kb.lastStarted")


def buffer_head(page, midi: int, n: int = 2048) -> np.ndarray:
    """The first ``n`` samples of the buffer the page plays for ``midi``."""
    return np.asarray(keyboard(page, f"Array.from(kb.buffers.get({midi} - kb.start).getChannelData(0).slice(0, {n}))"))


def focus_nothing(page) -> None:
    page.evaluate("() => { document.activeElement && document.activeElement.blur && document.activeElement.blur(); }")


# ---------------------------------------------------------------------------------------------------------------


def test_a_clicked_key_and_a_computer_key_play_their_notes(page, studio_server, artifacts):
    url, _ = studio_server
    open_studio(page, url)
    wait_armed(page)
    assert keyboard(page, "[kb.start, kb.count, kb.buffers.length]") == [DEFAULT_START, 25, 25]
    # The sound's own note is marked (the init patch plays C4 = 60).
    assert page.locator("#kb-root .kb-key.kb-own").get_attribute("data-midi") == "60"
    assert page.locator("#kb-root .kb-white").count() == 15 and page.locator("#kb-root .kb-black").count() == 10
    assert page.locator('#kb-root .kb-key[data-midi="48"] .kb-name').inner_text() == "C3"

    page.locator('#kb-root .kb-key[data-midi="55"]').click()
    started = last_started(page)
    assert started["midi"] == 55 and started["source"] == "pointer" and started["rate"] == 1 and started["gain"] == 1
    # What it plays is the server's render of that key (the init patch at G3).
    expected = keyboard_samples(default_theta(), RenderSettings(), DEFAULT_START).pcm[55 - DEFAULT_START, :2048] / 32767
    np.testing.assert_allclose(buffer_head(page, 55), expected, atol=1e-6)

    focus_nothing(page)
    page.keyboard.down("a")
    assert last_started(page)["midi"] == 48 and last_started(page)["source"] == "key"
    page.locator('#kb-root .kb-key.kb-down[data-midi="48"]').wait_for()  # the key shows it is down
    page.screenshot(path=str(artifacts / "keyboard-key-down.png"))
    page.keyboard.up("a")
    assert keyboard(page, "kb.stopped.at(-1).midi") == 48  # let go: released (a short fade)
    page.keyboard.press("k")
    assert last_started(page)["midi"] == 60
    page.keyboard.press("u")
    assert last_started(page)["midi"] == 58  # the DAW layout: U is A♯, J is B
    page.keyboard.press("j")
    assert last_started(page)["midi"] == 59

    # X: an octave up; its notes are rendered for the new range, and A plays its C.
    loads = keyboard(page, "kb.loads")
    page.keyboard.press("x")
    wait_armed(page, loads + 1)
    assert keyboard(page, "[kb.start, kb.pendingFrom]") == [60, None]
    assert page.locator("#kb-root .kb-range").inner_text() == "C4–C6"
    page.keyboard.press("a")
    assert last_started(page)["midi"] == 60 and last_started(page)["rate"] == 1
    page.keyboard.press("z")
    wait_armed(page, loads + 2)
    assert keyboard(page, "kb.start") == 48

    # Hold: a released key keeps playing its whole rendered note.
    page.locator("#kb-root .kb-hold").click()
    stops = keyboard(page, "kb.stopped.length")
    focus_nothing(page)
    page.keyboard.press("d")
    assert last_started(page)["midi"] == 52 and keyboard(page, "kb.stopped.length") == stops
    page.locator("#kb-root .kb-hold").click()


def test_a_midi_device_plays_with_velocity(page, studio_server):
    url, _ = studio_server
    page.add_init_script(FAKE_MIDI)
    open_studio(page, url)
    wait_armed(page)
    assert "not connected" in page.locator("#kb-root .kb-midi").inner_text()
    page.locator("#kb-root .kb-midi-connect").click()
    page.wait_for_function("() => window.synthKeyboard.midi.devices.length === 1")
    assert page.locator("#kb-root .kb-midi").inner_text() == "MIDI: Fake Keys 49"

    page.evaluate("() => window.fakeMidi.send([0x90, 64, 64])")  # note on, E4, velocity 64
    started = last_started(page)
    assert started["midi"] == 64 and started["velocity"] == 64 and started["source"] == "midi"
    assert abs(started["gain"] - (64 / 127) ** 2) < 1e-6
    page.evaluate("() => window.fakeMidi.send([0x91, 67, 127])")  # another channel, full velocity: polyphony
    assert last_started(page)["gain"] == 1 and keyboard(page, "kb.stopped.length") == 0
    page.evaluate("() => window.fakeMidi.send([0x80, 64, 0])")  # note off
    page.evaluate("() => window.fakeMidi.send([0x90, 67, 0])")  # note on with velocity 0 = note off
    assert keyboard(page, "kb.stopped.map(s => s.midi)") == [64, 67]
    page.evaluate("() => window.fakeMidi.send([0x90, 30, 100])")  # below the shown range: nearest note, resampled
    started = last_started(page)
    assert started["midi"] == 30 and abs(started["rate"] - 2 ** ((30 - 48) / 12)) < 1e-6


def test_without_web_midi_the_panel_says_so(page, studio_server):
    url, _ = studio_server
    page.add_init_script(NO_MIDI)
    open_studio(page, url)
    wait_armed(page)
    note = page.locator("#kb-root .kb-midi").inner_text()
    assert "no Web MIDI" in note and "still play" in note
    assert page.locator("#kb-root .kb-midi-connect").is_hidden()


def test_a_changed_knob_rearms_the_keyboard_and_undo_brings_the_old_sound_back(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    wait_armed(page)
    first, loads = keyboard(page, "kb.version"), keyboard(page, "kb.loads")
    before = buffer_head(page, 60)
    drag_knob(page, "knob-mixer-vco_1", 0.6, 0.15)
    page.wait_for_function("v => window.synthKeyboard.version !== v", arg=first)
    after = buffer_head(page, 60)
    assert keyboard(page, "kb.loads") == loads + 1 and not np.allclose(before, after)
    assert "undo 1" in status(page)

    focus_nothing(page)
    page.keyboard.press("Control+z")  # the undo shortcut clicks ↶ Undo: the keyboard plays the old sound again
    page.wait_for_function("v => window.synthKeyboard.version === v", arg=first)
    np.testing.assert_allclose(buffer_head(page, 60), before, atol=0)
    assert "undo 0" in status(page) and "redo 1" in status(page)
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function("v => window.synthKeyboard.version !== v", arg=first)
    assert "undo 1" in status(page) and "redo 0" in status(page)


def test_space_and_l_drive_the_player_and_no_shortcut_fires_in_a_text_box(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    wait_armed(page)
    page.wait_for_function("() => !window.synthKeyboard.playerPlaying()")  # the sound played once on load
    page.locator("#btn-pin").click()  # a button clicked with the mouse does not keep Space for itself
    page.keyboard.press("Space")
    page.wait_for_function("() => window.synthKeyboard.playerPlaying()")
    page.keyboard.press("Space")
    page.wait_for_function("() => !window.synthKeyboard.playerPlaying()")
    page.locator("#kb-root .kb-hold").click()
    page.keyboard.press("Space")
    page.wait_for_function("() => window.synthKeyboard.playerPlaying()")
    assert keyboard(page, "kb.hold") is True  # Space played A; it did not press Hold again
    page.keyboard.press("Space")
    page.wait_for_function("() => !window.synthKeyboard.playerPlaying()")
    page.locator("#kb-root .kb-hold").click()
    page.keyboard.press("l")
    assert keyboard(page, "kb.loop") is True
    assert page.locator("#kb-root .kb-loop").get_attribute("aria-pressed") == "true"
    # Looping: the 2 s sound plays again when it ends, until stopped.
    if not keyboard(page, "kb.playerPlaying()"):
        page.keyboard.press("Space")
    page.wait_for_function("() => window.synthKeyboard.loops >= 1", timeout=8_000)
    page.wait_for_function("() => window.synthKeyboard.playerPlaying()")
    page.keyboard.press("Space")
    page.wait_for_function("() => !window.synthKeyboard.playerPlaying()")
    page.keyboard.press("l")
    assert keyboard(page, "kb.loop") is False

    # Typing in a box: letters, Space, L and Ctrl-Z belong to the box.
    undo_line = status(page)
    counts = keyboard(page, "[kb.started.length, kb.shortcuts.length]")
    box = page.locator("#sound-name textarea, #sound-name input").first
    box.click()
    box.press("End")
    page.keyboard.type(" ask lz")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+Shift+z")
    assert keyboard(page, "[kb.started.length, kb.shortcuts.length]") == counts
    assert keyboard(page, "kb.loop") is False and keyboard(page, "kb.start") == DEFAULT_START
    page.wait_for_timeout(300)
    assert status(page) == undo_line
    assert "ask lz" in box.input_value()


def test_the_keyboard_sits_under_the_player_on_desktop_and_phone(browser, studio_server, artifacts):
    url, _ = studio_server
    for name, (width, height), mobile in (("desktop", VIEWPORT, False), ("phone", PHONE, True)):
        context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        try:
            open_studio(page, url)
            wait_armed(page)
            box = page.evaluate("""() => { const r = e => document.querySelector(e).getBoundingClientRect();
                const k = r('#kb-root .kb-piano'), a = r('#audio-b'), c = r('#player-column'),
                      w = r('#kb-root .kb-white'), b = r('#kb-root .kb-black');
                return {top: k.top, bottom: k.bottom, left: k.left, right: k.right, playerBottom: a.bottom,
                        colLeft: c.left, colRight: c.right, white: w.width, whiteH: w.height, black: b.width,
                        blackH: b.height, pageWidth: document.documentElement.scrollWidth}; }""")
            page.locator("#kb-root").scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts / f"keyboard-{name}.png"))
            page.locator("#kb-root").screenshot(path=str(artifacts / f"keyboard-{name}-panel.png"))
            assert 0 <= box["top"] - box["playerBottom"] < 140, box  # right under the players (A, then B on a phone)
            assert box["colLeft"] - 1 <= box["left"] and box["right"] <= box["colRight"] + 1, box  # inside its column
            assert box["pageWidth"] <= width, box  # no sideways scrolling
            assert box["white"] >= 18 and box["black"] < box["white"] and box["blackH"] < box["whiteH"], box
            if mobile:  # a tap plays
                page.locator('#kb-root .kb-key[data-midi="62"]').tap()
                assert last_started(page)["midi"] == 62
        finally:
            context.close()
