"""studio.audio.frontend: framing, spectra, level envelope, the YIN kernel and spectral shape against numpy oracles."""
from __future__ import annotations

import numpy as np
import pytest

from studio.audio.frontend import (POWER_EPS, as_batch, difference_function, envelope_power, frame_signal,
                                   parabolic_minimum, power_spectrogram, power_to_db, spectral_shape, yin_cmndf,
                                   yin_pick)

SR = 16_000


def gather_frames(audio: np.ndarray, frame: int, hop: int, centred: bool) -> np.ndarray:
    """Oracle: frames by explicit indices into the zero-padded signal."""
    t = audio.shape[-1]
    n = 1 + t // hop if centred else max(1, 1 + (t - frame) // hop)
    lead = frame // 2 if centred else 0
    padded = np.pad(audio, ((0, 0), (lead, n * hop + frame)))
    return padded[:, np.arange(n)[:, None] * hop + np.arange(frame)[None, :]]


@pytest.mark.parametrize("t, frame, hop, centred", [(1000, 256, 64, True), (1001, 300, 128, True),
                                                    (5000, 2224, 1024, False), (100, 2224, 1024, False)])
def test_framing_equals_an_index_gather_exactly(t, frame, hop, centred):
    audio = np.random.default_rng(t).standard_normal((2, t)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(frame_signal(audio, frame, hop, centred=centred)),
                                  gather_frames(audio, frame, hop, centred))


def test_power_spectrogram_reads_a_full_scale_sine_at_0_db_in_its_bin():
    n_fft, hop = 512, 128
    hz = 40 * SR / n_fft  # exactly on bin 40
    audio = np.sin(2 * np.pi * hz * np.arange(SR) / SR).astype(np.float32)[None]
    power = np.asarray(power_spectrogram(audio, n_fft, hop))
    assert power.shape == (1, 1 + SR // hop, n_fft // 2 + 1)
    middle = power[0, power.shape[1] // 2]
    assert np.argmax(middle) == 40 and middle[40] == pytest.approx(1.0, rel=1e-4)


def test_envelope_power_is_the_mean_square_over_three_steps():
    audio = np.random.default_rng(0).standard_normal((1, 1000)).astype(np.float32)
    hop = 100
    got = np.asarray(envelope_power(audio, hop))[0]
    blocks = (audio[0].astype(np.float64) ** 2).reshape(10, hop).sum(axis=1)
    padded = np.pad(blocks, 1)
    counts = np.pad(np.full(10, hop), 1)
    expected = (padded[:-2] + padded[1:-1] + padded[2:]) / (counts[:-2] + counts[1:-1] + counts[2:])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert float(power_to_db(np.float32(0.0))) == pytest.approx(10 * np.log10(POWER_EPS))


def test_difference_function_matches_its_definition():
    frames = np.random.default_rng(1).standard_normal((3, 2, 150)).astype(np.float32)
    max_lag, window = 50, 100
    d, e = (np.asarray(x) for x in difference_function(frames, max_lag))
    x = frames.astype(np.float64)
    for tau in (0, 1, 17, 50):
        np.testing.assert_allclose(d[..., tau], np.sum((x[..., :window] - x[..., tau:tau + window]) ** 2, -1),
                                   rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(e[..., tau], np.sum(x[..., :window] ** 2 + x[..., tau:tau + window] ** 2, -1),
                                   rtol=1e-5)


def test_yin_finds_the_period_of_a_tone_between_samples():
    period = 36.4  # samples: 439.6 Hz at 16 kHz, between two integer lags
    n = np.arange(600)
    frames = np.sin(2 * np.pi * n / period).astype(np.float32)[None, None]
    lag, dip = yin_pick(yin_cmndf(frames, 200), 20, 0.15)
    assert float(lag[0, 0]) == pytest.approx(period, abs=0.05) and float(dip[0, 0]) < 0.05


def test_parabolic_minimum_lands_on_the_vertex():
    curve = ((np.arange(10) - 4.3) ** 2).astype(np.float32)[None]
    refined, value = parabolic_minimum(curve, np.array([4]))
    assert float(refined[0]) == pytest.approx(4.3, abs=1e-5) and float(value[0]) == pytest.approx(0.09, abs=1e-5)


def test_spectral_shape_of_a_tone_and_of_silence():
    n_fft = 512
    hz = 64 * SR / n_fft
    tone = np.sin(2 * np.pi * hz * np.arange(SR // 2) / SR).astype(np.float32)
    power = power_spectrogram(np.stack([tone, np.zeros_like(tone)]), n_fft, n_fft // 4)
    centroid, flatness = (np.asarray(x) for x in spectral_shape(power, SR, n_fft))
    assert centroid[0] == pytest.approx(hz, rel=0.01) and flatness[0] < 1e-3
    assert np.isnan(centroid[1]) and np.isnan(flatness[1])  # silence has no spectral shape


def test_as_batch_adds_and_reports_the_batch_axis():
    batch, single = as_batch(np.zeros(5))
    assert batch.shape == (1, 5) and single
    with pytest.raises(ValueError, match=r"\[T\] or \[batch, T\]"):
        as_batch(np.zeros((1, 1, 3)))
