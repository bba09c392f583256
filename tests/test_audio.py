"""studio.audio: WAV round trips and atomic writes, the int16 hand-off, log-mel spectrograms, sound features."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile

from studio.audio import (SpectrogramConfig, level_envelope_db, log_mel_distance, log_mel_spectrogram, read_wav,
                          sound_features, to_int16, write_wav)
from studio.audio.features import hz_to_mel, mel_filterbank

SR = 48_000


def tone(hz: float, seconds: float = 1.0, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


# --- WAV files ------------------------------------------------------------------------------------
def test_pcm16_round_trip_within_one_step(tmp_path):
    audio = tone(440.0, 0.25)
    path = write_wav(tmp_path / "a.wav", audio, SR)
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (SR, 1, "PCM_16", audio.size)
    back, sr = read_wav(path)
    assert sr == SR and back.dtype == np.float32 and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) <= 1 / 32767


def test_float_wav_is_exact_and_pcm_clips(tmp_path):
    audio = np.array([0.0, 0.3, -0.7, 1.5, -2.0, 1e-6], np.float32)
    back, _ = read_wav(write_wav(tmp_path / "f.wav", audio, 16_000, subtype="FLOAT"))
    assert np.array_equal(back, audio)  # float keeps values beyond ±1
    back, _ = read_wav(write_wav(tmp_path / "p.wav", audio, 16_000))
    assert back[3] == pytest.approx(32767 / 32768, abs=1e-6) and back[4] == -1.0  # clipped, not wrapped around


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "s.wav"
    write_wav(path, tone(220.0, 0.1), SR)
    before = path.read_bytes()
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like a plainly created file, not mkstemp's 0600

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_wav(path, tone(880.0, 0.1), SR)
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav"]  # and no half-written temporary remains


@pytest.mark.parametrize("audio, message", [
    (np.zeros((2, 100), np.float32), "shape"),
    (np.zeros(0, np.float32), "shape"),
    (np.array([0.0, np.nan], np.float32), "NaN"),
])
def test_write_refuses_bad_audio(tmp_path, audio, message):
    with pytest.raises(ValueError, match=message):
        write_wav(tmp_path / "x.wav", audio, SR)
    assert list(tmp_path.iterdir()) == []


def test_read_mixes_channels_and_names_bad_files(tmp_path):
    stereo = np.stack([tone(100.0, 0.1), np.zeros(4800, np.float32)], axis=1)
    soundfile.write(tmp_path / "st.wav", stereo, SR, subtype="FLOAT")
    mono, _ = read_wav(tmp_path / "st.wav")
    assert np.allclose(mono, stereo[:, 0] / 2)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="junk.wav"):
        read_wav(tmp_path / "junk.wav")


def test_to_int16_uses_a_fixed_gain_and_clips():
    audio = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 0.25], np.float32)
    assert to_int16(audio).tolist() == [0, 16384, -16384, 32767, -32767, 8192]
    loud = to_int16(audio, gain=4.0)
    assert loud.dtype == np.int16 and loud.tolist() == [0, 32767, -32767, 32767, -32767, 32767]
    quiet = to_int16(audio * 0.1)
    assert np.abs(quiet).max() == 3277  # not normalized: a quiet sound stays quiet
    with pytest.raises(ValueError):
        to_int16(np.array([np.inf], np.float32))


# --- spectrograms ---------------------------------------------------------------------------------
def test_log_mel_shapes_levels_and_batch_consistency():
    sounds = np.stack([tone(1000.0, 0.5, amplitude=1.0), np.zeros(SR // 2, np.float32)])
    config = SpectrogramConfig()
    mel = np.asarray(log_mel_spectrogram(sounds, config))
    assert mel.shape == (2, 1 + (SR // 2) // config.hop, config.n_mels)
    single = np.asarray(log_mel_spectrogram(sounds[0], config))
    assert single.shape == mel.shape[1:] and np.allclose(single, mel[0], atol=1e-4)
    # A full-scale sine reads about 0 dB (within the Hann main lobe's spread) in the band that holds it.
    middle = mel[0, mel.shape[1] // 2]
    centres = np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), config.n_mels + 2)[1:-1]
    assert abs(int(np.argmax(middle)) - int(np.argmin(np.abs(centres - hz_to_mel(1000.0))))) <= 1
    assert -3.0 < middle.max() < 3.0
    assert np.all(mel[1] == config.floor_db)  # silence sits exactly on the floor


def test_mel_filters_cover_the_spectrum():
    filters = mel_filterbank(SR, 2048, 128, 0.0, SR / 2)
    assert filters.shape == (1025, 128) and filters.max() <= 1.0
    assert np.all(filters[50:1000].sum(axis=1) > 0.5)  # every bin from ~1 kHz up belongs to some band


def test_log_mel_distance_counts_only_what_is_audible():
    blip_a = np.zeros(SR, np.float32)
    blip_b = np.zeros(SR, np.float32)
    blip_a[:2400] = tone(500.0, 0.05)
    blip_b[:2400] = tone(3000.0, 0.05)
    mel = log_mel_spectrogram(np.stack([blip_a, blip_b]))
    assert float(log_mel_distance(mel[0], mel[0], floor_db=-70.0)) == 0.0
    plain = float(log_mel_distance(mel[0], mel[1]))
    audible = float(log_mel_distance(mel[0], mel[1], floor_db=-70.0))
    assert audible > 5 * plain  # two different blips are far apart once the shared silence is left out
    pairwise = np.asarray(log_mel_distance(mel[:, None], mel[None, :], floor_db=-70.0))
    assert pairwise.shape == (2, 2) and pairwise[0, 1] == pytest.approx(pairwise[1, 0])


# --- sound features ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def measured():
    """One batch (one compile): three sines, white noise, silence, and a 0.2 s linear ramp into a 0.5 s tone."""
    rng = np.random.default_rng(0)
    burst = np.zeros(SR, np.float32)
    ramp = np.minimum(np.arange(SR // 2) / (0.2 * SR), 1.0)
    burst[:SR // 2] = tone(330.0, 0.5) * ramp
    sounds = np.stack([tone(110.0), tone(440.0), tone(2000.0), rng.uniform(-0.5, 0.5, SR).astype(np.float32),
                       np.zeros(SR, np.float32), burst])
    return sound_features(sounds, SR)


def test_sine_centroid_and_f0_sit_at_its_frequency(measured):
    for i, hz in enumerate((110.0, 440.0, 2000.0)):
        assert measured.f0_hz[i] == pytest.approx(hz, rel=0.01)
        assert measured.centroid_hz[i] == pytest.approx(hz, rel=0.05)
    assert measured.peak[1] == pytest.approx(0.5, abs=1e-4)
    assert measured.rms[1] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_noise_is_flat_and_has_no_pitch(measured):
    sine_flatness, noise_flatness = measured.flatness[1], measured.flatness[3]
    assert noise_flatness > 0.4 and sine_flatness < 0.01
    assert np.isnan(measured.f0_hz[3])
    assert measured.centroid_hz[3] == pytest.approx(SR / 4, rel=0.05)  # white: the middle of the band


def test_silence_has_no_pitch_centroid_or_length(measured):
    assert measured.peak[4] == 0.0 and measured.rms[4] == 0.0
    assert np.isnan(measured.f0_hz[4]) and np.isnan(measured.centroid_hz[4]) and np.isnan(measured.attack_s[4])
    assert measured.audible_s[4] == 0.0


def test_attack_and_audible_length_follow_the_envelope(measured):
    step = measured.envelope_hop_s
    assert measured.attack_s[5] == pytest.approx(0.8 * 0.2, abs=3 * step)  # 10 % → 90 % of a 0.2 s linear ramp
    assert measured.attack_s[1] <= step  # a sine that starts at full level
    # The burst lasts 0.5 s; its first ~2 ms (−40 dB of a linear ramp) are inaudible.
    assert measured.audible_s[5] == pytest.approx(0.5, abs=3 * step)
    assert measured.audible_s[1] == pytest.approx(1.0, abs=step)
    assert measured.envelope_db.shape == (6, int(np.ceil(SR / round(SR * step))))


def test_level_envelope_reads_dbfs():
    env = np.asarray(level_envelope_db(tone(1000.0, 0.2, amplitude=1.0), SR))
    assert np.allclose(env[2:-2], -3.01, atol=0.05)  # a full-scale sine's RMS
