"""What the panel shows: int16 audio at a fixed gain, spectrogram and waveform pictures that respond to the
sound (level, pitch), and slider settings for every knob."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

from studio import plots
from studio.audio.io import to_int16
from studio.instrument.notes import note_thetas
from studio.instrument.trim import cut_at_end, declicked
from studio.presets import Preset, factory_preset
from studio.synth import PARAM_INDEX, PARAMS, RenderSettings, default_theta, render
from studio.ui import views

SR = 48_000


def sine(freq: float, amplitude: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_player_audio_keeps_loudness_differences():
    sr, loud = views.to_player(sine(440, 0.8), SR)
    _, quiet = views.to_player(sine(440, 0.2), SR)
    assert sr == SR and loud.dtype == quiet.dtype == np.int16
    assert np.abs(loud).max() == pytest.approx(4 * np.abs(quiet).max(), rel=1e-3)  # not peak-normalized
    assert np.abs(loud).max() == pytest.approx(0.8 * 32767 * views.AUDIO_GAIN, rel=1e-3)


def test_spectrogram_puts_a_tone_at_its_frequency_and_level():
    height = 200
    for freq in (110.0, 1000.0, 8000.0):
        db = plots.spectrogram_db(sine(freq, 1.0), SR, width=64, height=height)
        assert db.shape == (height, 64) and db.dtype == np.float32
        row = int(np.argmax(db[:, 32]))
        expected = np.log(SR / 2 / freq) / np.log(SR / 2 / plots.F_MIN) * (height - 1)
        assert abs(row - expected) <= 2, (freq, row, expected)
        assert db[row, 32] == pytest.approx(0.0, abs=3.0)  # full scale reads 0 dB, less the Hann scalloping loss
    half = plots.spectrogram_db(sine(1000.0, 0.5), SR, width=64, height=height)
    full = plots.spectrogram_db(sine(1000.0, 1.0), SR, width=64, height=height)
    assert (full - half)[:, 32].max() == pytest.approx(20 * np.log10(2), abs=0.1)


def test_spectrogram_image_is_darker_for_a_quieter_sound():
    loud = plots.spectrogram_image(sine(500, 1.0), SR)
    quiet = plots.spectrogram_image(sine(500, 0.05), SR)
    assert loud.shape == (200, 640, 3) and loud.dtype == np.uint8
    assert loud.astype(float).mean() > quiet.astype(float).mean() + 1.0


def test_waveform_image_draws_the_envelope_on_a_fixed_scale():
    silence = plots.waveform_image(np.zeros(SR, np.float32), SR)
    assert silence.shape == (110, 640, 3)
    colour = np.array(plots.WAVE_COLOUR, np.uint8)
    fraction = lambda img: np.all(img == colour, axis=-1).mean()  # noqa: E731
    assert fraction(plots.waveform_image(sine(200, 1.0), SR)) > 4 * fraction(plots.waveform_image(sine(200, 0.2), SR))
    # a sound that fades out is drawn tall on the left, flat on the right
    fade = sine(200, 1.0) * np.linspace(1, 0, SR, dtype=np.float32)
    img = plots.waveform_image(fade, SR)
    drawn = np.any(img != np.array(plots.BACKGROUND, np.uint8), axis=-1)[:95]  # above the time labels
    assert drawn[:, 20].sum() > 5 * drawn[:, 620].sum()


def test_sound_views_render_the_sound_itself():
    preset = Preset(name="t", theta=default_theta(), settings=RenderSettings(duration=1.0))
    (sr, audio), spectrogram, waveform = views.sound_views(preset)
    expected = np.asarray(render(preset.theta, preset.settings))
    assert sr == SR and audio.shape == (SR,)
    assert np.array_equal(audio, views.to_player(declicked(expected, SR), SR)[1])  # faded only where it is cut
    assert spectrogram.shape[2] == waveform.shape[2] == 3


def test_the_player_fades_a_sound_cut_by_its_buffer_and_leaves_one_that_ended():
    held = Preset(name="held", theta=note_thetas(default_theta(), [57], 3.0)[0], settings=RenderSettings(duration=1.0))
    short = factory_preset("pluck")
    for preset, cut in ((held, True), (short, False)):
        rendered = np.asarray(render(preset.theta, preset.settings))
        (sr, audio), _, _ = views.sound_views(preset)
        assert cut_at_end(rendered, sr) == cut
        if cut:
            assert abs(int(to_int16(rendered)[-1])) > 1000 and audio[-1] == 0
            np.testing.assert_array_equal(audio[:-int(0.005 * sr)], to_int16(rendered)[:-int(0.005 * sr)])
        else:
            np.testing.assert_array_equal(audio, to_int16(rendered))


def test_every_knob_gets_a_slider_step_and_unique_id():
    pytest.importorskip("gradio")
    from studio.ui.common import shown_value, slider_step, slider_values
    from studio.ui.synth_panel import SECTIONS, knob_elem_id, knob_label

    ids = {knob_elem_id(p.key) for p in PARAMS}
    assert len(ids) == len(PARAMS) and all(i.replace("-", "").replace("_", "").isalnum() for i in ids)
    steps = {p.key: slider_step(p) for p in PARAMS}
    assert steps["keyboard.midi_f0"] == pytest.approx(0.1)
    assert steps["adsr_1.attack"] == pytest.approx(0.001)
    assert steps["vco_1.initial_phase"] == pytest.approx(0.001)
    for p in PARAMS:
        assert (p.hi - p.lo) / 10_000 < steps[p.key] <= (p.hi - p.lo) / 1000
    values = slider_values(default_theta())
    assert values[0] == 60.0 and len(values) == len(PARAMS)
    assert shown_value(0.123456789, 0.001) == 0.123457
    assert knob_label(PARAMS[0]) == "pitch (MIDI note)"  # the note name and cents show beside it (#pitch-note)
    assert knob_label(PARAMS[PARAM_INDEX["mod_matrix.lfo_2->noise_amp"]]) == "→ noise level"
    assert sum(len(modules) for _, modules, _ in SECTIONS) == len({p.module for p in PARAMS})


def test_simultaneous_renders_all_succeed_within_the_render_limit():
    """Knob renders skip Gradio's queue; a process-wide limit bounds them, and many at once still all finish right."""
    import dataclasses
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from studio.presets import factory_preset
    from studio.synth import render
    from studio.ui import views

    views.limit_renders(2)
    busy, most = [0], [0]
    lock = threading.Lock()
    real = views.render

    def counting(theta, settings):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            return real(theta, settings)
        finally:
            with lock:
                busy[0] -= 1

    views.render = counting
    try:
        pad = factory_preset("pad")
        sounds = [dataclasses.replace(pad, theta=np.clip(np.asarray(pad.theta) + 0.001 * k, 0, 1)) for k in range(12)]
        with ThreadPoolExecutor(12) as pool:
            out = list(pool.map(views.render_audio, sounds))
    finally:
        views.render = real
        views.limit_renders(1)
    assert most[0] <= 2
    for sound, audio in zip(sounds, out):
        assert np.array_equal(audio, np.asarray(render(np.asarray(sound.theta, np.float32), sound.settings)))


def test_a_player_writes_each_sound_once_and_never_rewrites_a_served_file(tmp_path):
    """Gradio rewrote the content-named file of numpy audio every time the same sound came back, and a browser still
    fetching it got a truncated file; the studio's players write a sound once and reuse the file."""
    import gradio as gr
    import soundfile as sf

    from studio.ui.common import player_audio

    with gr.Blocks():
        player = player_audio(type="numpy", format="wav")
    player.GRADIO_CACHE = str(tmp_path)
    sound = views.to_player(sine(440, 0.5), SR)
    first = player.postprocess(sound)
    before = os.stat(first.path)
    with open(first.path, "rb") as reader:  # a download in flight
        head = reader.read(100)
        again = player.postprocess(sound)  # the same sound comes back (undo, another visitor)
        rest = reader.read()
    after = os.stat(again.path)
    # the same file, not rewritten (its modification time is refreshed on reuse: the cache sweeper keeps it)
    assert again.path == first.path and (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    samples, rate = sf.read(io.BytesIO(head + rest), dtype="int16")
    assert rate == SR and np.array_equal(samples, sound[1])  # the reader got the whole file
    other = player.postprocess(views.to_player(sine(220, 0.5), SR))
    assert other.path != first.path and not list(tmp_path.rglob("*.tmp"))
