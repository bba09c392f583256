"""The vocal sketch (microphone) path in a real browser (issue 12, item 13): Chromium's fake capture device plays a
WAV written here (a steady 220 Hz hum with harmonics) as the microphone; the test records it in "Vocal sketch"
mode, sees the target arrive (its recording, pitch and spectrogram), matches it and opens the match in the synth.
Browsers pass the microphone through voice-call processing unless asked not to; the hum must arrive as hummed."""
from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf
from conftest import CHROMIUM, CHROMIUM_ARGS, read_wav_bytes
from test_studio_browser import audio_url, name_box, status, wait_for_new_audio

from studio.audio.target import frame_levels_db

TIMEOUT = 240_000  # ms: the first match of a fresh server compiles its search on a busy 2-core CPU
VIEWPORT = (1400, 1100)
HUM_HZ = 220.0  # A3
HUM_S = 4.0


def write_hum(path) -> None:
    """A steady hummed A3: 220 Hz and three harmonics, 16-bit PCM at 48 kHz (what the fake device plays, looped)."""
    sr = 48_000
    t = np.arange(int(HUM_S * sr)) / sr
    hum = sum(0.35 / k * np.sin(2 * np.pi * HUM_HZ * k * t) for k in range(1, 5))
    sf.write(path, hum.astype(np.float32), sr, subtype="PCM_16")


@pytest.fixture(scope="module")
def mic_browser(tmp_path_factory):
    """Chromium whose microphone is the hum file (no permission prompt: the fake UI grants it)."""
    from playwright.sync_api import sync_playwright

    hum = tmp_path_factory.mktemp("microphone") / "hum.wav"
    write_hum(hum)
    args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                            f"--use-file-for-fake-audio-capture={hum}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


@pytest.fixture
def mic_page(mic_browser):
    context = mic_browser.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]},
                                      permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    yield page
    context.close()


def dominant_hz(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size)))
    return float(np.argmax(spectrum)) * sample_rate / samples.size


def test_record_a_vocal_sketch_see_the_target_and_match_it(mic_page, studio_server, artifacts):
    page = mic_page
    url, _ = studio_server
    page.goto(url)
    page.locator("#status").get_by_text(re.compile(r"undo \d+")).wait_for()
    page.get_by_role("tab", name="Match a sound").click()
    page.locator("#match-mode").get_by_text("Vocal sketch (microphone)").click()
    target = page.locator("#match-target")
    target.get_by_text("Vocal sketch: hum, whistle or say the sound, then stop").wait_for()
    assert target.locator("input[type=file]").count() == 0  # the microphone only: no upload offered

    # Record about two seconds of the microphone.
    target.locator("button.record-button").click()
    page.wait_for_timeout(2500)
    target.locator("button.stop-button").click()

    # The target arrives: the recording itself, what was measured, its spectrogram and the A/B player's "A".
    info = page.locator("#match-target-info")
    info.get_by_text("Measured: pitch A3").wait_for()
    text = info.inner_text()
    assert text.startswith("Target: the recording: "), text
    recording_url = target.locator("a[data-testid=download-link]").get_attribute("href")
    response = page.request.get(recording_url)
    assert response.ok
    (artifacts / "30-vocal-sketch-recording.wav").write_bytes(response.body())
    recorded, rate = sf.read(artifacts / "30-vocal-sketch-recording.wav", dtype="float32")
    recorded = recorded if recorded.ndim == 1 else recorded.mean(axis=1)
    assert recorded.size / rate >= 1.5  # seconds of sound, not an empty clip
    assert abs(dominant_hz(recorded[rate // 4:], rate) - HUM_HZ) < 5.0  # the hum, as the microphone heard it
    # The steady hum arrives steady: no voice-call processing (noise suppression, automatic gain) fading it out.
    levels = frame_levels_db(recorded, rate, 0.1)[3:-2]
    assert levels.max() - levels.min() < 3.0, np.round(levels, 1)
    assert float(re.search(r"note length (\d+\.\d+) s", text).group(1)) >= 1.8, text  # the whole 2 s buffer
    page.locator("#match-target-spectrogram img").wait_for()
    page.wait_for_function("() => document.querySelector('#match-ab-audio a[data-testid=download-link]')")
    page.screenshot(path=str(artifacts / "30-vocal-sketch-target.png"), full_page=True)

    # Match it: the best match is listed, sounds at the hum's pitch, and opens in the synth.
    page.locator("#match-run").click()
    page.locator("#match-progress").get_by_text(re.compile(r"^Done: \d distinct match")).wait_for()
    assert page.locator("#match-results label").nth(0).inner_text().startswith("1. match the recording · loss ")
    heard = re.search(r"The match measures pitch (\S+)", page.locator("#match-progress").inner_text())
    assert heard and heard.group(1) in ("G#3", "A3", "A#3"), page.locator("#match-progress").inner_text()
    page.screenshot(path=str(artifacts / "31-vocal-sketch-matched.png"), full_page=True)
    before = audio_url(page)
    page.locator("#match-open").click()
    opened = wait_for_new_audio(page, before)
    assert np.abs(opened).max() > 0
    assert name_box(page).input_value() == "match the recording" and status(page).startswith("match the recording")
    assert read_wav_bytes(page.request.get(audio_url(page)).body()).size == opened.size
