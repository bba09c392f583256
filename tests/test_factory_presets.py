"""The factory presets: enough of them, each audible and unclipped, each clearly different from every other,
and each measuring like what its tags promise."""
from __future__ import annotations

import numpy as np
import pytest

from studio.audio import log_mel_distance, log_mel_spectrogram, sound_features
from studio.presets import FACTORY_DIR, factory_presets
from studio.synth import PARAM_INDEX, render

# Distances are mean |Δ| of log-mel spectrograms (dB) over the cells audible (above −70 dBFS) in either sound,
# so short drums are compared by what they play, not by the silence after them. Yardstick: re-rendering a
# preset with another noise seed, which a listener hears as the same sound, moves the noisy presets by up to
# 3.3 dB (hi-hat); transposing lead, bell or siren by one semitone moves it by 13–15 dB. Presets must be at least
# MIN_DISTANCE_DB apart, more than twice the same-sound spread (checked below). The closest pair at the time
# of writing, wind and engine, is 11.4 dB apart.
MIN_DISTANCE_DB = 8.0
AUDIBLE_FLOOR_DB = -70.0
MIN_RMS_DBFS = -45.0  # the shortest preset (hi-hat, 40 ms) averages −35 dBFS over its 2 s buffer
RESEED_OFFSET = 1000


@pytest.fixture(scope="module")
def factory():
    """Every factory preset rendered twice in one batch (its own noise seed, then another), and measured."""
    presets = factory_presets()
    settings = presets[0].settings
    assert all(p.settings.sample_rate == settings.sample_rate and p.settings.duration == settings.duration
               and p.settings.control_rate == settings.control_rate for p in presets), "one batch needs one shape"
    theta = np.stack([p.theta for p in presets] * 2)
    own_seeds = np.array([p.settings.noise_seed for p in presets], np.uint32)
    audio = np.asarray(render(theta, settings, seeds=np.concatenate([own_seeds, own_seeds + RESEED_OFFSET])))
    n = len(presets)
    mel = log_mel_spectrogram(audio)
    return dict(presets=presets, names=[p.name for p in presets], audio=audio[:n],
                measures=sound_features(audio[:n], settings.sample_rate), mel=mel[:n], mel_reseeded=mel[n:])


def test_there_are_at_least_16_presets_with_unique_names_matching_their_files():
    presets = factory_presets()
    names = [p.name for p in presets]
    assert len(presets) >= 16 and len(set(names)) == len(names)
    assert names == sorted(names)
    assert sorted(p.stem for p in FACTORY_DIR.glob("*.yaml")) == names
    assert (FACTORY_DIR / "bass.yaml").is_file()  # README's main command renders it
    assert all(p.tags and p.created for p in presets)


def test_each_preset_is_audible_and_unclipped(factory):
    m = factory["measures"]
    for i, name in enumerate(factory["names"]):
        assert 20 * np.log10(m.rms[i]) > MIN_RMS_DBFS, f"{name} is nearly silent"
        assert m.peak[i] < 1.0, f"{name} clips: the synth normalized it"  # normalized sounds peak at exactly 1


def test_each_preset_differs_audibly_from_every_other(factory):
    names, mel = factory["names"], factory["mel"]
    distance = np.array(log_mel_distance(mel[:, None], mel[None, :], AUDIBLE_FLOOR_DB))
    np.fill_diagonal(distance, np.inf)
    i, j = np.unravel_index(np.argmin(distance), distance.shape)
    assert distance[i, j] >= MIN_DISTANCE_DB, f"{names[i]} and {names[j]} are only {distance[i, j]:.1f} dB apart"


def test_the_distance_yardstick_holds(factory):
    """The threshold's justification: a preset with fresh noise stays within half of MIN_DISTANCE_DB of itself."""
    same = np.asarray(log_mel_distance(factory["mel"], factory["mel_reseeded"], AUDIBLE_FLOOR_DB))
    noise = PARAM_INDEX["mixer.noise"]
    noisy = [i for i, p in enumerate(factory["presets"]) if p.human[noise] > 0.01]
    assert noisy and np.all(same[noisy] > 0.5)  # the noise really changed ...
    assert same.max() <= MIN_DISTANCE_DB / 2  # ... and the sound stayed the same


def test_presets_measure_like_their_tags(factory):
    m = factory["measures"]
    for i, p in enumerate(factory["presets"]):
        tags = set(p.tags)
        if "percussive" in tags:
            assert m.audible_s[i] < 0.5 and m.attack_s[i] < 0.02, p.name
        if tags & {"pad", "drone", "sustained"}:
            assert m.audible_s[i] > 1.5, p.name
        if "slow" in tags:
            assert m.attack_s[i] > 0.3, p.name
        if "tonal" in tags:
            assert np.isfinite(m.f0_hz[i]) and m.flatness[i] < 0.01, p.name
        if "bass" in tags:
            assert m.f0_hz[i] < 100.0, p.name
        if "noise" in tags:
            assert m.flatness[i] > 0.15, p.name
