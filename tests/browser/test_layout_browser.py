"""The page as a sound designer meets it, on a desktop (1440×900) and a phone (390×844): the knobs sit next to the
player, the tools stay one tap away, the spectrogram's label leaves the picture visible, pitches read as notes,
the note length and the buffer length are told apart, and no two elements share an HTML id."""
from __future__ import annotations

import re
import time

from test_studio_browser import audio_url, drag_knob, open_studio, pick, wait_for_new_audio

from studio.checks import note_name
from studio.presets import factory_preset
from studio.synth import PARAMS
from studio.ui import state as st

TIMEOUT = 30_000
VIEWPORT = (1440, 900)
PHONE = (390, 844)
PITCH = next(i for i, p in enumerate(PARAMS) if p.key == "keyboard.midi_f0")


def top(page, selector: str) -> float:
    """An element's top edge in page coordinates (px from the top of the document)."""
    return page.evaluate(f"() => document.querySelector({selector!r}).getBoundingClientRect().top + window.scrollY")


def bottom(page, selector: str) -> float:
    return page.evaluate(f"() => document.querySelector({selector!r}).getBoundingClientRect().bottom + window.scrollY")


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(f"""() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();
        return r.top >= 0 && r.top < window.innerHeight; }}""")


def jump_to_tools(page):
    """The intro's "Tools" link: one click brings the tool tabs into view."""
    page.evaluate("() => window.scrollTo(0, 0)")
    page.locator("#intro a[href='#tools']").click()
    page.wait_for_function("""() => { const r = document.querySelector('#tools').getBoundingClientRect();
        return r.top > -4 && r.top < window.innerHeight; }""")


def duplicate_ids(page) -> list[str]:
    """Ids the page's own elements share with any other element. Gradio's audio player repeats its internal ids
    (waveform, time, duration) in every loaded player; only a studio id colliding with them counts here."""
    return page.evaluate("""() => { const n = {}, own = new Set();
        for (const e of document.querySelectorAll('[id]')) {
            if (!e.id) continue;
            n[e.id] = (n[e.id] || 0) + 1;
            const player = e.closest('.block:has(audio), .block:has([data-testid=waveform-controls])');
            if (!player || player === e) own.add(e.id);
        }
        return [...own].filter(k => n[k] > 1); }""")


def pitch_note(page) -> str:
    return page.locator("#pitch-note").inner_text().strip()


def wait_for_pitch_note(page, expected: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not pitch_note(page).startswith(expected):
        assert time.monotonic() < deadline, f"the pitch knob shows {pitch_note(page)!r}, not {expected!r}"
        page.wait_for_timeout(100)


# ---------------------------------------------------------------------------------------------------------------


def test_desktop_knobs_next_to_the_player_and_tools_one_click_away(page, studio_server, artifacts):
    url, _ = studio_server
    open_studio(page, url)
    page.screenshot(path=str(artifacts / "layout-desktop-top.png"))
    page.screenshot(path=str(artifacts / "layout-desktop-full.png"), full_page=True)
    knob, player = top(page, "#knob-keyboard-midi_f0"), bottom(page, "#audio-a")
    # The first knob is on the first screen, beside the player (it was 2,072 px down, below all the tools).
    assert knob < VIEWPORT[1], f"first knob at {knob:.0f} px, below the first screen"
    assert knob - player < 400, f"first knob {knob - player:.0f} px below the player"
    page.locator("#knob-keyboard-midi_f0").hover()  # visible and reachable without scrolling
    assert in_viewport(page, "#knob-keyboard-midi_f0") and in_viewport(page, "#audio-a")
    assert top(page, "#tools") < 2 * VIEWPORT[1]
    jump_to_tools(page)
    page.get_by_role("tab", name="Match a sound").click()
    page.locator("#tab-match").wait_for()


def test_phone_knobs_follow_the_player_and_the_spectrogram_stays_visible(browser, studio_server, artifacts):
    url, _ = studio_server
    context = browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        open_studio(page, url)
        page.screenshot(path=str(artifacts / "layout-phone-top.png"))
        page.screenshot(path=str(artifacts / "layout-phone-full.png"), full_page=True)
        knob, player = top(page, "#knob-keyboard-midi_f0"), bottom(page, "#audio-a")
        assert knob - player < 1.5 * PHONE[1], f"first knob {knob - player:.0f} px below the player (was 4,260)"
        jump_to_tools(page)

        # The spectrogram's label sits beside or above the picture, not on it (it covered half of it).
        img = page.locator("#spectrogram-image img").bounding_box()
        lab = page.locator("#spectrogram-image [data-testid=block-label]").bounding_box()
        overlap_w = max(0.0, min(img["x"] + img["width"], lab["x"] + lab["width"]) - max(img["x"], lab["x"]))
        overlap_h = max(0.0, min(img["y"] + img["height"], lab["y"] + lab["height"]) - max(img["y"], lab["y"]))
        covered = overlap_w * overlap_h / (img["width"] * img["height"])
        assert covered < 0.05, f"the spectrogram's label covers {covered:.0%} of the picture"
        page.locator("#spectrogram-image").screenshot(path=str(artifacts / "layout-phone-spectrogram.png"))
    finally:
        context.close()


def test_no_two_elements_share_an_id(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    before = audio_url(page)
    pick(page, "factory · pad")
    wait_for_new_audio(page, before)
    page.locator("#btn-pin").click()  # two loaded players
    page.locator("#audio-b audio, #audio-b [data-testid=download-link]").first.wait_for(state="attached")
    for section in ("Render settings", "LFOs", "LFO envelopes", "Modulation matrix"):
        page.get_by_text(section, exact=True).click()
    for tab in ("Variations", "Morph", "Map", "Match a sound", "Prompt"):
        page.get_by_role("tab", name=tab).click()
    page.locator("#knob-mod_matrix-lfo_1-to-vco_1_pitch").wait_for()
    page.get_by_text("Noise seed", exact=True).wait_for()  # the render settings are open
    assert duplicate_ids(page) == []


def test_pitch_reads_as_a_note_with_cents(page, studio_server, artifacts):
    url, _ = studio_server
    open_studio(page, url)
    assert pitch_note(page).startswith(note_name(60.0, cents=True))  # the init patch plays middle C
    before = audio_url(page)
    pick(page, "factory · snare")  # its pitch is 54.5: a quarter tone off the grid
    wait_for_new_audio(page, before)
    snare = float(st.human_values(factory_preset("snare").theta)[PITCH])
    shown = float(page.locator("#knob-keyboard-midi_f0 input[type=number]").input_value())
    assert abs(shown - snare) < 1e-3
    wait_for_pitch_note(page, note_name(shown, cents=True))  # the note of the number the knob shows
    assert re.match(r"^F#3 \+50 ct", pitch_note(page))
    assert not re.fullmatch(r"[\d.]+", pitch_note(page))

    before = audio_url(page)
    drag_knob(page, "knob-keyboard-midi_f0", 0.1, 0.9)
    wait_for_new_audio(page, before)
    page.wait_for_function("() => document.querySelector('#knob-keyboard-midi_f0 input[type=number]').value > 60")
    value = float(page.locator("#knob-keyboard-midi_f0 input[type=number]").input_value())
    wait_for_pitch_note(page, note_name(value, cents=True))
    page.locator("#knob-keyboard-midi_f0").screenshot(path=str(artifacts / "layout-pitch-knob.png"))


def test_note_length_and_buffer_length_are_told_apart(page, studio_server):
    url, _ = studio_server
    open_studio(page, url)
    page.get_by_text("Render settings", exact=True).click()
    buffer = page.locator("#buffer-length [data-testid=block-info]").first.inner_text().strip()
    note = page.locator("#knob-keyboard-duration [data-testid=block-info]").first.inner_text().strip()
    assert buffer == "Buffer length (s)" and note == "note length (s)"
    assert "duration" not in (buffer + note).lower()
