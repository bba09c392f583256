"""Targets for matching (studio/audio/target.py): every format libsndfile reads decodes to the same samples, a
sine keeps its frequency through soxr, silence is trimmed, long sounds are cut (and said so), loudness is
normalized, and every bad input gets its own readable message."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from studio.audio import target as tg
from studio.audio.target import TargetError, decode_audio, load_target, prepare_audio
from studio.errors import StudioError

RATE = 48_000


def sine(freq_hz: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_frequency(audio: np.ndarray, rate: int) -> float:
    """The strongest frequency of a sound (Hann window, zero-padded FFT, parabolic peak refinement), Hz."""
    n = 1 << 20
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size), n))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / n


@pytest.mark.parametrize("fmt, subtype, suffix, tolerance", [
    ("WAV", "PCM_16", ".wav", 1 / 32767),
    ("WAV", "FLOAT", ".wav", 0.0),
    ("FLAC", "PCM_24", ".flac", 1 / 2**23),
    ("AIFF", "PCM_16", ".aiff", 1 / 32767),
    ("OGG", "VORBIS", ".ogg", 0.05),  # lossy: close, not exact
])
def test_every_format_decodes_to_the_written_samples(tmp_path, fmt, subtype, suffix, tolerance):
    left, right = sine(440, 0.5, 44_100, 0.5), sine(660, 0.5, 44_100, 0.25)
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, np.stack([left, right], axis=1), 44_100, format=fmt, subtype=subtype)
    data, rate = decode_audio(path)
    assert rate == 44_100 and data.shape == (left.size, 2)
    assert np.max(np.abs(data[:, 0] - left)) <= tolerance + 1e-7
    assert np.max(np.abs(data[:, 1] - right)) <= tolerance + 1e-7
    # bytes (an upload in memory) decode the same as the file
    same, _ = decode_audio(path.read_bytes(), name="upload")
    assert np.array_equal(same, data)


def test_stereo_is_mixed_to_mono_and_described(tmp_path):
    left, right = sine(440, 1.0, RATE, 0.4), -sine(440, 1.0, RATE, 0.2)
    path = tmp_path / "st.wav"
    soundfile.write(path, np.stack([left, right], axis=1), RATE, subtype="FLOAT")
    target = load_target(path, RATE, 1.0)
    # the mean of the channels is 0.1·sin: after normalization, still a 440 Hz sine with the same shape
    expected = 0.5 * (left + right)
    scale = np.dot(target.audio, expected) / np.dot(expected, expected)
    assert np.max(np.abs(target.audio - scale * expected)) < 1e-4
    assert target.original_channels == 2 and "stereo" in target.describe()


@pytest.mark.parametrize("rate, freq", [(44_100, 440.0), (22_050, 1234.5), (8_000, 300.0), (96_000, 5000.0)])
def test_resampling_keeps_a_sines_frequency(rate, freq):
    target = prepare_audio(sine(freq, 1.0, rate), rate, RATE, RATE)
    assert target.sample_rate == RATE and target.audio.size == RATE
    assert abs(peak_frequency(target.audio, RATE) - freq) < 0.01 * freq / 100  # within 0.01 %
    assert f"resampled {rate} → {RATE} Hz" in target.describe()


def test_resampling_keeps_the_level_of_a_sine():
    # a proper resampler keeps the amplitude of a sine well below Nyquist (no droop, no aliasing)
    from studio.audio.resample import resample

    out = resample(sine(1000.0, 1.0, 44_100, 0.5), 44_100, RATE)
    middle = out[RATE // 4:3 * RATE // 4]
    assert abs(np.sqrt(np.mean(middle ** 2)) - 0.5 / np.sqrt(2)) < 1e-3


def test_silence_is_trimmed_at_both_ends():
    sound = sine(220, 0.5, RATE, 0.3)
    padded = np.concatenate([np.zeros(int(0.3 * RATE)), sound, np.zeros(int(0.7 * RATE))]).astype(np.float32)
    target = prepare_audio(padded, RATE, RATE, 2 * RATE)
    assert abs(target.lead_s - 0.3) <= 0.0101 and abs(target.tail_s - 0.7) <= 0.0101
    assert abs(target.sound_s - 0.5) <= 0.0201
    # the sound now starts at sample 0 and is followed by silence to the end of the buffer
    assert np.max(np.abs(target.audio[:480])) > 0.1
    assert np.all(target.audio[int(0.52 * RATE):] == 0.0)
    assert "trimmed 0.30 s of silence at the start and 0.70 s at the end" in target.describe()


def test_a_long_target_is_cut_with_a_fade_and_the_cut_is_reported():
    target = prepare_audio(sine(330, 3.0, RATE), RATE, RATE, RATE)  # 3 s into a 1 s buffer
    assert target.audio.size == RATE and abs(target.cut_s - 2.0) < 1e-9
    assert "cut to the synth's 1 s: the last 2.00 s are not matched" in target.describe()
    assert target.audio[-1] == 0.0 and np.max(np.abs(target.audio[-480:-240])) > 0.0  # faded, not chopped
    short = prepare_audio(sine(330, 0.5, RATE), RATE, RATE, RATE)
    assert short.cut_s == 0.0 and "cut" not in short.describe()


def test_loudness_is_normalized_whatever_the_recording_level():
    quiet = prepare_audio(sine(440, 0.5, RATE, 0.01), RATE, RATE, RATE)
    loud = prepare_audio(sine(440, 0.5, RATE, 0.9), RATE, RATE, RATE)
    assert np.allclose(quiet.audio, loud.audio, atol=1e-5)
    audible = quiet.audio[:RATE // 2]
    assert abs(20 * np.log10(np.sqrt(np.mean(audible ** 2))) - tg.TARGET_RMS_DB) < 0.1
    expected_gain = lambda amplitude: tg.TARGET_RMS_DB - 20 * np.log10(amplitude / np.sqrt(2))  # noqa: E731
    assert abs(quiet.gain_db - expected_gain(0.01)) < 0.05 and abs(loud.gain_db - expected_gain(0.9)) < 0.05


def test_normalization_never_clips_a_peaky_sound():
    click = np.zeros(RATE, np.float32)
    click[100] = 0.5  # one sample: its RMS is tiny, so reaching the RMS target would need a huge gain
    target = prepare_audio(click, RATE, RATE, RATE)
    assert abs(np.max(np.abs(target.audio)) - tg.PEAK_LIMIT) < 1e-6


# ---------------------------------------------------------------------------------------------------------------
# Bad input: one clear message each


def test_unreadable_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for")
    with pytest.raises(TargetError, match=r"notes.wav: cannot read this as audio .*send WAV, FLAC, OGG/Vorbis or AIFF"):
        decode_audio(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(TargetError, match="empty.wav: the file is empty"):
        load_target(path)


def test_missing_file(tmp_path):
    with pytest.raises(TargetError, match="nothing.wav: no such audio file"):
        load_target(tmp_path / "nothing.wav")


def test_file_without_samples(tmp_path):
    path = tmp_path / "none.wav"
    soundfile.write(path, np.zeros((0, 1), np.float32), RATE)
    with pytest.raises(TargetError, match="none.wav: the file holds no samples"):
        load_target(path)


@pytest.mark.parametrize("level, shown", [(0.0, "digital silence"), (1e-4, "-80 dBFS")])
def test_silent_recording(tmp_path, level, shown):
    path = tmp_path / "hush.wav"
    soundfile.write(path, np.full(RATE, level, np.float32), RATE, subtype="FLOAT")
    with pytest.raises(TargetError, match=f"hush.wav: the recording is silent \\(its peak is {shown}\\)"):
        load_target(path)


def test_too_large_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(tg, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.wav"
    soundfile.write(path, sine(440, 0.1, RATE), RATE)
    with pytest.raises(TargetError, match=r"big.wav: the file is 0.0 MB; targets may be at most 0 MB"):
        load_target(path)


def test_the_size_limit_is_the_20_mb_the_message_and_readme_say(tmp_path):
    path = tmp_path / "huge.wav"
    path.write_bytes(b"\0" * 20_000_001)
    with pytest.raises(TargetError, match=r"huge.wav: the file is 20.0 MB; targets may be at most 20 MB"):
        load_target(path)


def test_a_one_sample_file_is_too_short_to_match(tmp_path):
    path = tmp_path / "blip.wav"
    soundfile.write(path, np.array([0.5], np.float32), RATE, subtype="FLOAT")
    with pytest.raises(TargetError, match=r"blip.wav: the sound is 1 samples \(0.0 ms\) long; targets need at least "
                                          r"20 ms"):
        load_target(path)


def test_an_absurd_level_is_refused_with_what_was_wrong(tmp_path):
    path = tmp_path / "loud.wav"
    soundfile.write(path, sine(440, 0.5, RATE) * np.float32(1e30), RATE, subtype="FLOAT")
    with pytest.raises(TargetError, match=r"loud.wav: the samples reach 5e\+29, 594 dB over full scale: the file's "
                                          r"level is broken"):
        load_target(path)
    soundfile.write(path, sine(440, 0.5, RATE) * np.float32(1.5), RATE, subtype="FLOAT")  # a little over is fine
    assert load_target(path).audio.size > 0


def test_too_long_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "long.flac"
    soundfile.write(path, np.zeros(int(61 * 8000), np.float32) + 0.1, 8000, format="FLAC")
    with pytest.raises(TargetError, match=r"long.flac: the sound is 61.0 s long; targets may be at most 60 s"):
        load_target(path)


@pytest.mark.parametrize("rate", [1000, 768_000])
def test_absurd_sample_rates(tmp_path, rate):
    path = tmp_path / "odd.wav"
    soundfile.write(path, sine(100, 0.01, rate), rate)
    with pytest.raises(TargetError, match=f"odd.wav: sample rate {rate} Hz is not usable: expected 4000 to 384000 Hz"):
        load_target(path)


def test_non_finite_samples(tmp_path):
    path = tmp_path / "nan.wav"
    audio = sine(440, 0.1, RATE)
    audio[10] = np.nan
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    with pytest.raises(TargetError, match="nan.wav: the file holds NaN or infinite samples"):
        load_target(path)


def test_target_errors_are_value_errors_for_the_ui():
    assert issubclass(TargetError, StudioError)  # the UI and the CLI show StudioErrors as messages
    assert issubclass(TargetError, ValueError)
