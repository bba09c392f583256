"""studio.explore: locks, doppelgängers, interpolation strips (linear and perceptually even), maps."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from studio.explore import (LOCK_GROUPS, LOCK_LABELS, apply_locks, describe_locks, distances_to, doppelgangers,
                            interpolate, lerp_thetas, lock_mask, locked_keys, map_coordinates, render_sounds, sound_map,
                            umap_warm, warm_up_umap)
from studio.explore.interpolate import even_positions, path_points
from studio.explore.maps import pca_coordinates
from studio.explore.sounds import batch_size_for
from studio.presets import factory_preset
from studio.synth import MODULES, N_PARAMS, PARAM_INDEX, RenderSettings, module_slices, render

SMALL = RenderSettings(sample_rate=16_000, duration=0.5)  # fast renders; the explore code is rate-agnostic


def preset_theta(name: str) -> np.ndarray:
    return np.array(factory_preset(name).theta)


# --- locks -------------------------------------------------------------------------------------
def test_lock_groups_cover_modules_pitch_and_note_length():
    assert list(LOCK_GROUPS)[:2] == ["pitch", "note_length"] and set(MODULES) <= set(LOCK_GROUPS)
    assert set(LOCK_LABELS) == set(LOCK_GROUPS)
    assert np.flatnonzero(lock_mask(["pitch"])).tolist() == [PARAM_INDEX["keyboard.midi_f0"]]
    assert np.flatnonzero(lock_mask("note_length")).tolist() == [PARAM_INDEX["keyboard.duration"]]
    for module, where in module_slices().items():
        assert np.flatnonzero(lock_mask([module])).tolist() == list(range(where.start, where.stop))
    mask = lock_mask(["mixer", "vco_2.shape"])
    assert locked_keys(mask) == ["vco_2.shape", "mixer.vco_1", "mixer.vco_2", "mixer.noise"]
    assert describe_locks(mask) == "mixer, vco_2.shape"
    assert describe_locks(lock_mask(["keyboard"])) == "pitch, note_length"
    assert describe_locks(lock_mask(None)) == "nothing" and not lock_mask([]).any()


def test_lock_names_are_checked():
    with pytest.raises(ValueError, match="unknown lock 'pitchh': did you mean pitch"):
        lock_mask(["pitchh"])
    with pytest.raises(ValueError, match="shape"):
        lock_mask(np.zeros(5, bool))
    passthrough = np.zeros(N_PARAMS, bool)
    passthrough[3] = True
    assert np.array_equal(lock_mask(passthrough), passthrough)


def test_apply_locks_keeps_the_reference_where_locked_for_numpy_and_jax():
    reference = np.full(N_PARAMS, 0.5, np.float32)
    candidates = np.zeros((3, N_PARAMS), np.float32)
    mask = lock_mask(["pitch", "mixer"])
    for out in (apply_locks(candidates, reference, mask), np.asarray(apply_locks(jnp.asarray(candidates), reference,
                                                                                  mask))):
        assert np.all(out[:, mask] == 0.5) and np.all(out[:, ~mask] == 0.0)


# --- doppelgängers -----------------------------------------------------------------------------
def test_delta_zero_returns_the_original_exactly():
    theta = preset_theta("bass")
    variants = doppelgangers(theta, delta=0.0, count=6, seed=4)
    assert variants.shape == (6, N_PARAMS) and variants.dtype == np.float32
    assert np.array_equal(variants, np.repeat(theta[None], 6, axis=0))


def test_doppelgangers_are_clipped_gaussian_steps_reproducible_from_the_seed():
    theta = np.full(N_PARAMS, 0.5, np.float32)
    variants = doppelgangers(theta, delta=0.05, count=64, seed=7)
    z = (variants - theta) / 0.05  # no clipping this close to the middle
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
    assert np.array_equal(variants, doppelgangers(theta, 0.05, 64, 7))
    assert not np.array_equal(variants, doppelgangers(theta, 0.05, 64, 8))
    assert np.array_equal(doppelgangers(theta, 0.05, 4, 7), variants[:4])  # more variants keep the first ones
    wide = doppelgangers(preset_theta("pad"), delta=1.0, count=16, seed=0)
    assert wide.min() == 0.0 and wide.max() == 1.0  # big steps hit the bounds and stay in [0, 1]


@pytest.mark.parametrize("locks", [["pitch"], ["note_length"], ["adsr_1", "mixer"], ["mod_matrix", "vco_2.shape"]])
def test_locked_parameters_never_change_in_variations(locks):
    theta = preset_theta("pluck")
    mask = lock_mask(locks)
    variants = doppelgangers(theta, delta=0.5, count=16, seed=1, locks=locks)
    assert np.array_equal(variants[:, mask], np.repeat(theta[None, mask], 16, axis=0))
    assert np.all(np.any(variants[:, ~mask] != theta[~mask], axis=1))  # everything else moved
    # Locking never changes the steps of the unlocked parameters.
    free = doppelgangers(theta, delta=0.5, count=16, seed=1)
    assert np.array_equal(variants[:, ~mask], free[:, ~mask])


def test_doppelganger_inputs_are_checked():
    theta = preset_theta("bass")
    for bad, match in ((dict(delta=-0.1), "delta"), (dict(delta=float("nan")), "delta"), (dict(count=0), "count"),
                       (dict(seed=-1), "seed"), (dict(seed=2**32), "seed"), (dict(locks=["nope"]), "unknown lock")):
        with pytest.raises(ValueError, match=match):
            doppelgangers(theta, **{"delta": 0.25, "count": 2, "seed": 0, **bad})
    with pytest.raises(ValueError, match="outside"):
        doppelgangers(np.full(N_PARAMS, 1.5, np.float32))
    with pytest.raises(ValueError, match="one sound"):
        doppelgangers(np.zeros((2, N_PARAMS), np.float32))


# --- rendering helpers -------------------------------------------------------------------------
def test_render_sounds_uses_one_noise_seed_for_every_sound():
    assert [batch_size_for(n) for n in (1, 3, 8, 9, 64, 200)] == [1, 4, 8, 16, 64, 64]  # few compiled shapes
    noise_only = preset_theta("hihat")
    batch = render_sounds(np.repeat(noise_only[None], 3, axis=0), SMALL)
    assert np.array_equal(batch[0], batch[1]) and np.array_equal(batch[0], batch[2])
    np.testing.assert_allclose(batch[0], np.asarray(render(noise_only, SMALL)), atol=1e-6)  # = the saved sound
    assert distances_to(noise_only, noise_only[None], SMALL)[0] == pytest.approx(0.0, abs=1e-6)


# --- interpolation strips ----------------------------------------------------------------------
def test_lerp_is_exact_at_the_ends():
    a, b = preset_theta("bass"), preset_theta("bell")
    points = lerp_thetas(a, b, [0.0, 0.5, 1.0])
    assert np.array_equal(points[0], a) and np.array_equal(points[-1], b)
    np.testing.assert_allclose(points[1], (a.astype(np.float64) + b) / 2, atol=1e-7)


def test_even_positions_make_neighbouring_steps_equally_far_apart():
    t = np.linspace(0.0, 1.0, 101)
    embeddings = np.stack([t ** 2, np.zeros_like(t)], axis=-1)  # the change happens late: steps bunch near t = 1
    positions = even_positions(t, embeddings, 5)
    np.testing.assert_allclose(positions, np.sqrt([0.0, 0.25, 0.5, 0.75, 1.0]), atol=2e-3)
    bent = np.stack([np.cos(np.pi * t), np.sin(np.pi * t)], axis=-1)  # a half circle: equal chords = equal angles
    np.testing.assert_allclose(even_positions(t, bent, 4), [0.0, 1 / 3, 2 / 3, 1.0], atol=1e-3)
    np.testing.assert_array_equal(even_positions(t, np.zeros((101, 2)), 4), np.linspace(0, 1, 4))  # no change
    np.testing.assert_allclose(path_points(t, embeddings, [0.5, 0.505]), [[0.25, 0.0], [0.255025, 0.0]], atol=1e-4)


@pytest.mark.parametrize("mode", ["linear", "even"])
def test_strip_endpoints_are_a_and_b_exactly(mode):
    a, b = preset_theta("pluck"), preset_theta("pad")
    strip = interpolate(a, b, steps=5, mode=mode, settings=SMALL)
    assert strip.thetas.shape == (5, N_PARAMS) and strip.audio.shape == (5, SMALL.num_samples)
    assert np.array_equal(strip.thetas[0], a) and np.array_equal(strip.thetas[-1], b)
    assert strip.positions[0] == 0.0 and strip.positions[-1] == 1.0 and np.all(np.diff(strip.positions) > 0)
    assert strip.step_distances.shape == strip.estimated_distances.shape == (4,)
    assert np.all(strip.step_distances > 0)
    assert strip.endpoint_distance == pytest.approx(distances_to(a, b[None], SMALL)[0], rel=1e-4)
    np.testing.assert_allclose(strip.audio[2], render_sounds(strip.thetas[2:3], SMALL)[0], atol=1e-6)


def test_even_strip_steps_are_equally_far_apart():
    a, b = preset_theta("pluck"), preset_theta("pad")
    linear = interpolate(a, b, steps=5, mode="linear", settings=SMALL)
    even = interpolate(a, b, steps=5, mode="even", settings=SMALL)
    estimated = even.estimated_distances  # on the dense path the strip was planned on
    assert estimated.max() <= 1.1 * estimated.min(), estimated
    assert not np.allclose(even.positions, linear.positions, atol=0.02)  # even really moved the steps
    # The steps as rendered, measured afresh: within 10 %, where linear steps are far apart from equal.
    assert even.step_distances.max() <= 1.1 * even.step_distances.min(), even.step_distances
    assert linear.step_distances.max() > 1.3 * linear.step_distances.min(), linear.step_distances


@pytest.mark.parametrize("mode", ["linear", "even"])
def test_locked_parameters_never_change_along_a_strip(mode):
    a, b = preset_theta("lead"), preset_theta("wobble")
    mask = lock_mask(["pitch", "lfo_1", "mixer"])
    strip = interpolate(a, b, steps=4, mode=mode, locks=["pitch", "lfo_1", "mixer"], settings=SMALL)
    assert np.array_equal(strip.thetas[:, mask], np.repeat(a[None, mask], 4, axis=0))
    moving = ~mask & (a != b)
    assert np.array_equal(strip.thetas[-1, moving], b[moving]) and np.array_equal(strip.thetas[0], a)


def test_a_strip_between_equal_sounds_stays_put():
    a = preset_theta("drone")
    strip = interpolate(a, a, steps=3, mode="even", settings=SMALL)
    assert np.array_equal(strip.thetas, np.repeat(a[None], 3, axis=0))
    np.testing.assert_array_equal(strip.positions, [0.0, 0.5, 1.0])
    assert np.all(strip.step_distances < 1e-6) and strip.endpoint_distance < 1e-6


def test_interpolate_inputs_are_checked():
    a, b = preset_theta("bass"), preset_theta("bell")
    with pytest.raises(ValueError, match="mode"):
        interpolate(a, b, mode="cubic", settings=SMALL)
    with pytest.raises(ValueError, match="steps"):
        interpolate(a, b, steps=1, settings=SMALL)
    with pytest.raises(ValueError, match="dense points"):
        interpolate(a, b, steps=5, dense_points=8, settings=SMALL)
    with pytest.raises(ValueError, match="sound B: parameter keyboard.midi_f0 is not finite"):
        interpolate(a, np.full(N_PARAMS, np.nan, np.float32), settings=SMALL)


# --- maps --------------------------------------------------------------------------------------
def thetas_in_clusters(count: int) -> np.ndarray:
    """``count`` sounds in two clusters (variations of two presets), seed-fixed."""
    halves = [doppelgangers(preset_theta(name), 0.05, count // 2 + count % 2 * (i == 0), seed=i)
              for i, name in enumerate(("kick", "pad"))]
    return np.concatenate(halves)[:count]


def test_few_sounds_fall_back_to_pca_and_say_so():
    sound_map_ = sound_map(thetas_in_clusters(6), space="theta", seed=0)
    assert sound_map_.method == "pca" and "PCA" in sound_map_.note and "fewer than 10" in sound_map_.note
    coords = sound_map_.coords
    assert coords.shape == (6, 2) and np.abs(coords).max() == pytest.approx(1.0)
    # the two clusters are separated along the first axis
    assert np.sign(coords[:3, 0]).tolist() != np.sign(coords[3:, 0]).tolist()
    assert map_coordinates(np.ones((1, 4))).method == "single"


def test_pca_is_deterministic_in_sign():
    x = np.random.default_rng(0).normal(size=(8, 5))
    first = pca_coordinates(x)
    assert np.array_equal(first, pca_coordinates(x.copy()))
    assert np.allclose(pca_coordinates(x + 3.0), first)  # centring


def test_umap_map_is_deterministic_for_a_seed():
    warming = warm_up_umap()  # also the start-up path: compiles numba in the background
    warming.result(timeout=300)
    assert umap_warm() and warm_up_umap() is warming  # warming up once per process
    thetas = thetas_in_clusters(12)
    first = sound_map(thetas, space="theta", seed=3)
    again = sound_map(thetas, space="theta", seed=3)
    other = sound_map(thetas, space="theta", seed=4)
    assert first.method == "umap" and "UMAP" in first.note
    assert np.array_equal(first.coords, again.coords)
    assert not np.array_equal(first.coords, other.coords)
    assert first.coords.shape == (12, 2) and np.abs(first.coords).max() == pytest.approx(1.0)
    perceptual = sound_map(thetas, space="perceptual", seed=3, settings=SMALL)
    assert perceptual.method == "umap" and perceptual.space == "perceptual"
    assert np.array_equal(perceptual.coords, sound_map(thetas, "perceptual", 3, settings=SMALL).coords)


def test_an_auto_map_does_not_wait_for_a_running_warm_up(monkeypatch):
    from studio.explore import maps

    monkeypatch.setattr(maps, "umap_warming", lambda: True)
    quick = sound_map(thetas_in_clusters(12), space="theta", seed=0)
    assert quick.method == "pca" and "still warming up" in quick.note


def test_map_inputs_are_checked():
    with pytest.raises(ValueError, match="space"):
        sound_map(thetas_in_clusters(4), space="clap")
    with pytest.raises(ValueError, match="method"):
        map_coordinates(np.zeros((4, 3)), method="tsne")
    with pytest.raises(ValueError, match="NaN"):
        map_coordinates(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="at least 3"):
        map_coordinates(np.zeros((2, 3)), method="umap")
    with pytest.raises(ValueError, match="seed"):
        map_coordinates(np.zeros((4, 3)), seed=-2)
