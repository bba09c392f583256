"""The explore panels' building blocks without a browser: named variation and strip presets (shared with the
CLI), the map's colour groups and SVG (keys, escaping, selection), and the strip's neighbour-distance line."""
from __future__ import annotations

import re

import numpy as np
import pytest

from studio.errors import SettingsError
from studio.explore import lock_mask, strip_between, variations_of
from studio.explore.maps import colour_groups
from studio.plots import map_svg
from studio.presets import factory_preset
from studio.synth import PARAM_INDEX, RenderSettings
from studio.ui.explore_panel import step_info

SHORT = RenderSettings(duration=0.5)


def short(name: str):
    import dataclasses

    return dataclasses.replace(factory_preset(name), settings=SHORT)


def test_variations_are_named_seeded_presets_with_locks_kept():
    bass = short("bass")
    found = variations_of(bass, 0.25, 4, seed=3, locks=["pitch", "adsr_1"])
    again = variations_of(bass, 0.25, 4, seed=3, locks=["pitch", "adsr_1"])
    assert [p.name for p in found.presets] == [f"bass variation {i} (δ 0.25, seed 3)" for i in range(1, 5)]
    assert all("variation" in p.tags and p.settings == SHORT for p in found.presets)
    assert all("locked: pitch, adsr_1" in p.description for p in found.presets)
    mask = lock_mask(["pitch", "adsr_1"])
    for p, q in zip(found.presets, again.presets):
        assert np.array_equal(p.theta, q.theta)  # the seed decides
        assert np.array_equal(p.theta[mask], bass.theta[mask])  # locked knobs never move
        assert not np.array_equal(p.theta, bass.theta)
    assert found.audio.shape == (4, SHORT.num_samples) and found.original_audio.shape == (SHORT.num_samples,)
    assert np.all(found.distances > 0)


def test_delta_zero_variations_sound_exactly_like_the_original():
    bass = short("bass")
    found = variations_of(bass, 0.0, 4, seed=0)
    assert all(np.array_equal(p.theta, bass.theta) for p in found.presets)
    assert np.array_equal(found.audio, np.repeat(found.original_audio[None], 4, axis=0))
    assert np.allclose(found.distances, 0.0, atol=1e-4)


def test_strip_presets_end_at_a_and_b_and_name_their_steps():
    a, b = short("bass"), short("bell")
    strip, steps = strip_between(a, b, 4, "linear", locks=["pitch"])
    assert [s.name for s in steps] == [f"bass → bell linear step {j} of 4" for j in range(1, 5)]
    assert np.array_equal(steps[0].theta, a.theta)
    expected_b = b.theta.copy()
    expected_b[PARAM_INDEX["keyboard.midi_f0"]] = a.theta[PARAM_INDEX["keyboard.midi_f0"]]  # pitch locked at A's
    assert np.array_equal(steps[-1].theta, expected_b)
    assert all("morph" in s.tags and s.settings == a.settings for s in steps)
    assert strip.step_distances.shape == (3,)


def test_step_info_names_both_neighbours():
    distances = np.array([0.5, 0.25, 0.125])
    assert step_info(0, 0.0, distances) == "**1** · t 0.00 · A · 0.50 →"
    assert step_info(1, 1 / 3, distances) == "**2** · t 0.33 · ← 0.50 · 0.25 →"
    assert step_info(3, 1.0, distances) == "**4** · t 1.00 · ← 0.12 · B"


def test_colour_groups_by_tag_prompt_and_source():
    tags = [("bass", "tonal"), (), ("fx",)]
    prompts = [None, "  ", "a laser zap"]
    sources = ["factory", "library", "library"]
    assert colour_groups(tags, prompts, sources, "tag") == ["bass", "untagged", "fx"]
    assert colour_groups(tags, prompts, sources, "prompt") == ["no prompt", "no prompt", "a laser zap"]
    assert colour_groups(tags, prompts, sources, "source") == sources
    with pytest.raises(SettingsError, match="unknown colour by .mood.: choose one of tag, prompt, source"):
        colour_groups(tags, prompts, sources, "mood")


def test_map_svg_has_one_clickable_point_per_sound_escaped_and_a_legend():
    coords = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    keys = ["factory:bass", "library:evil", "library:x"]
    labels = ["bass", "<script>alert(1)</script>", "x & y"]
    svg = map_svg(coords, keys, labels, ["bass", "fx", "fx"], selected="library:x", names=["bass", "evil", "x"])
    assert re.findall(r'data-key="([^"]+)"', svg) == ["factory:bass", "library:evil", "library:x"]  # selected last
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "x &amp; y" in svg
    assert svg.count('stroke="#ffffff"') == 1  # the selection ring
    circles = re.findall(r'<circle class="map-point" cx="([\d.]+)" cy="([\d.]+)"', svg)
    (x0, y0), (x1, y1) = [(float(x), float(y)) for x, y in circles[:2]]
    assert x0 < x1 and y0 > y1  # y up: the point at (1, 1) is drawn higher (smaller SVG y)
    assert svg.count('r="5"') == 2  # legend: one dot per group (bass, fx)
