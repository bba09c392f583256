"""studio.audio.embedding: the perceptual embedding and its distance; bench/embedding_ranking.py's scoring code."""
from __future__ import annotations

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from studio.audio.embedding import (EMBEDDING_DIM, WINNER, analysis_config, cumulative_mel_spectrum,
                                    perceptual_distance, perceptual_embedding, perceptual_similarity, timbre_summary)
from studio.errors import StudioError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from embedding_ranking import (  # noqa: E402
    CANDIDATES,
    average_ranks,
    energy_arrival_times,
    ranking_scores,
    spearman_rho,
    sweep_ranking_rho,
)

SR = 16_000  # small renders keep the tests fast; the embedding adapts its FFT sizes to the rate
T = np.arange(SR // 2) / SR  # 0.5 s


def sine(hz: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * T)).astype(np.float32)


def pitch_sweep(octaves: float = 3.0, steps: int = 20) -> np.ndarray:
    """Sines from 220 Hz up ``octaves`` octaves in equal steps: ``[steps, T]``."""
    return np.stack([sine(220.0 * 2 ** (o)) for o in np.linspace(0.0, octaves, steps)])


# --- the ranking test's scoring -----------------------------------------------------------------
def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 30).astype(float)  # many ties
    y = x + rng.normal(0, 1.5, 30)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert average_ranks([3.0, 1.0, 3.0, 2.0]).tolist() == [2.5, 0.0, 2.5, 1.0]
    assert np.isnan(spearman_rho([1, 1, 1], [1, 2, 3]))


def test_an_oracle_embedding_ranks_a_sweep_perfectly_and_a_shuffled_one_does_not():
    oracle = np.arange(20, dtype=np.float32)[:, None] * np.array([[1.0, 0.5]], np.float32)  # distance ∝ steps apart
    assert sweep_ranking_rho(oracle) == pytest.approx(1.0)
    shuffled = oracle[np.random.default_rng(1).permutation(20)]
    assert sweep_ranking_rho(shuffled) < 0.5
    scores = ranking_scores(np.stack([oracle, shuffled]))
    assert scores.shape == (2,) and scores[0] == pytest.approx(1.0) and scores[1] < 0.5


def test_distances_that_saturate_score_below_one():
    # Distance grows for 5 steps, then stays flat with noise: the test must see that the order is lost.
    flat_after_five = np.minimum(np.arange(20), 5).astype(np.float32) + np.random.default_rng(2).normal(0, 0.1, 20)
    assert sweep_ranking_rho(flat_after_five[:, None]) < 0.9


def test_ranking_reproduces_a_pitch_sweep_and_shows_why_the_cumulative_spectrum_is_there():
    audio = jnp.asarray(pitch_sweep())
    assert sweep_ranking_rho(perceptual_embedding(audio, SR)) >= 0.95
    # Bin-wise log-mel distances stop growing once the partials no longer overlap: the known weakness.
    assert sweep_ranking_rho(CANDIDATES["mel128"].embed(audio, SR)) < 0.9


def test_ranking_reproduces_a_level_sweep():
    audio = np.stack([sine(440.0, 0.5 * 10 ** (db / 20)) for db in np.linspace(-40, 0, 20)])
    assert sweep_ranking_rho(perceptual_embedding(audio, SR)) == pytest.approx(1.0)


def test_sweep_ranking_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N ≥ 3"):
        sweep_ranking_rho(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="sweeps, steps, dim"):
        ranking_scores(np.zeros((4, 3)))


# --- the embedding and its distance -------------------------------------------------------------
def test_embedding_shapes_and_identity():
    audio = np.stack([sine(440.0), sine(880.0), np.zeros_like(T, dtype=np.float32)])
    e = np.asarray(perceptual_embedding(audio, SR))
    assert e.shape == (3, EMBEDDING_DIM) and np.isfinite(e).all()  # silence too
    single = np.asarray(perceptual_embedding(audio[0], SR))
    assert single.shape == (EMBEDDING_DIM,)
    np.testing.assert_allclose(single, e[0], rtol=1e-5, atol=1e-6)
    d = np.asarray(perceptual_distance(e[:, None], e[None, :]))
    assert d.shape == (3, 3) and np.allclose(np.diag(d), 0.0) and np.allclose(d, d.T)
    assert d[0, 2] > d[0, 1] > 0  # a tone is further from silence than from its octave
    assert WINNER in CANDIDATES


def test_distance_grows_with_the_size_of_a_change():
    base = sine(440.0)
    louder = [sine(440.0, 0.5 * 10 ** (db / 20)) for db in (1.0, 6.0, 20.0)]
    e = perceptual_embedding(np.stack([base, *louder]), SR)
    d = np.asarray(perceptual_distance(e[1:], e[0]))
    assert d[0] < d[1] < d[2]


def test_similarity_is_exp_of_minus_distance():
    d = jnp.array([0.0, 0.5, 1.0, 3.0])
    s = np.asarray(perceptual_similarity(d))
    np.testing.assert_allclose(s, np.exp(-np.asarray(d)), rtol=1e-6)
    assert s[0] == 1.0 and np.all(np.diff(s) < 0)


def test_distance_rejects_embeddings_of_different_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        perceptual_distance(np.zeros(4), np.zeros(5))


def test_analysis_settings_follow_the_sample_rate():
    assert (analysis_config(48_000).n_fft, analysis_config(48_000).hop) == (2048, 512)
    assert analysis_config(44_100).n_fft == 2048 and analysis_config(16_000).n_fft == 512
    with pytest.raises(StudioError, match="sample_rate") as caught:
        analysis_config(1000)
    assert caught.value.field == "sample_rate"


# --- the blocks ---------------------------------------------------------------------------------
def test_cumulative_mel_spectrum_is_a_distribution_that_moves_with_pitch():
    cdf = np.asarray(cumulative_mel_spectrum(jnp.asarray(np.stack([sine(300.0), sine(2400.0)])),
                                             analysis_config(SR)))
    assert np.all(np.diff(cdf, axis=-1) >= -1e-6) and np.allclose(cdf[:, -1], 1.0, atol=1e-5)
    assert np.all(cdf[0] >= cdf[1] - 1e-6) and cdf[0, 40] > cdf[1, 40] + 0.5  # the low tone's energy arrives first


def test_timbre_summary_reads_level_brightness_and_noisiness():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, T.size).astype(np.float32)
    d = np.asarray(timbre_summary(jnp.asarray(np.stack([sine(1000.0), noise])), analysis_config(SR)))
    level, octaves_re_1k, decades = d.T
    assert level[0] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)  # RMS of a 0.5 sine in dBFS
    assert abs(octaves_re_1k[0]) < 0.1 and octaves_re_1k[1] > 1.5  # white noise: centroid near 4 kHz at 16 kHz
    assert decades[0] < -3 and decades[1] > -0.5  # a tone is far from flat, white noise nearly flat


def test_energy_arrival_times_follow_a_burst():
    audio = np.zeros((2, T.size), np.float32)
    audio[0, : SR // 20] = 0.5  # 50 ms at the start
    audio[1, SR // 4: SR // 4 + SR // 20] = 0.5  # the same burst 250 ms later
    onset, centroid, end = np.asarray(energy_arrival_times(jnp.asarray(audio), SR)).T
    assert onset[0] < 0.02 and end[0] < 0.06
    np.testing.assert_allclose([onset[1] - onset[0], centroid[1] - centroid[0], end[1] - end[0]], 0.25, atol=0.01)
