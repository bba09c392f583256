"""Preset files: exact round trips (YAML and JSON), strict loading with errors that name the file and the field,
atomic saves, and bit-identical re-renders."""
from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np
import pytest
import yaml

from studio.presets import (FORMAT_VERSION, Preset, PresetError, dumps_preset, factory_preset, file_representable,
                            load_preset, loads_preset, preset_from_dict, preset_render, preset_to_dict, save_preset,
                            utc_timestamp)
from studio.synth import N_PARAMS, PARAM_INDEX, PARAM_KEYS, PARAMS, RenderSettings, default_theta, render, to_normalized

SHORT = RenderSettings(duration=0.25, noise_seed=7)


def random_preset(seed: int, **kw) -> Preset:
    theta = np.random.default_rng(seed).random(N_PARAMS, dtype=np.float32)
    fields = dict(name=f"random {seed}", theta=theta, settings=SHORT, tags=("test", "random"),
                  prompt="a: tricky 'prompt' #1\nwith a second line", created="2025-01-31T12:00:00Z",
                  description="a test sound: {not yaml}")
    fields.update(kw)
    return Preset(**fields)


# --- round trips ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_text_round_trip_is_exact(fmt):
    for seed in range(40):
        p = random_preset(seed)
        q = loads_preset(dumps_preset(p, fmt), fmt=fmt)
        assert q == p
        assert q.theta.dtype == np.float32 and np.array_equal(q.theta, p.theta)  # exact float32, not approx


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_file_round_trip_and_bit_identical_render(tmp_path, suffix):
    p = random_preset(3, prompt=None, tags=())
    path = save_preset(p, tmp_path / f"sound{suffix}")
    q = load_preset(path)
    assert q == p and q.prompt is None and q.tags == () and q.description == "a test sound: {not yaml}"
    a, b = preset_render(p), preset_render(q)
    assert a.shape == (int(SHORT.sample_rate * SHORT.duration),)
    assert np.array_equal(a, b)


def test_edge_values_round_trip_exactly():
    edges = np.array([0.0, 1.0, 0.5, np.nextafter(np.float32(0.5), np.float32(0)), np.nextafter(np.float32(1), 0),
                      np.float32(1e-3), np.float32(0.123456789)], np.float32)
    for value in edges:
        p = Preset(name="edge", theta=np.full(N_PARAMS, value, np.float32), settings=SHORT)
        assert np.array_equal(p.theta, np.full(N_PARAMS, value, np.float32))  # nothing to snap at these values
        assert np.array_equal(preset_from_dict(preset_to_dict(p)).theta, p.theta)


def test_values_a_file_cannot_resolve_are_snapped_without_changing_the_sound():
    theta = default_theta().copy()
    tiny = {"vco_1.tuning": 1e-30, "keyboard.duration": 1e-7, "mixer.noise": 1e-9, "adsr_1.alpha": 1e-12}
    for key, value in tiny.items():
        theta[PARAM_INDEX[key]] = value
    p = Preset(name="tiny", theta=theta, settings=SHORT)
    changed = np.flatnonzero(p.theta != theta)
    assert set(PARAM_KEYS[i] for i in changed) <= set(tiny) and np.max(np.abs(p.theta - theta)) < 2e-6
    assert np.array_equal(file_representable(p.theta), p.theta)  # snapping is idempotent
    assert np.array_equal(preset_from_dict(preset_to_dict(p)).theta, p.theta)
    a, b = np.asarray(render(np.stack([theta, p.theta]), SHORT, seeds=np.array([1, 1], np.uint32)))
    assert np.array_equal(a, b)


def test_files_hold_readable_human_values():
    human = {"keyboard.midi_f0": 36.0, "adsr_1.attack": 0.3, "lfo_1.mod_depth": 0.0, "vco_1.tuning": -7.0,
             "mixer.noise": 0.25}
    theta = default_theta().copy()
    for key, value in human.items():
        theta[PARAM_INDEX[key]] = to_normalized(np.array([p.default if p.key != key else value for p in PARAMS]))[
            PARAM_INDEX[key]]
    data = yaml.safe_load(dumps_preset(Preset(name="x", theta=theta, settings=SHORT)))
    for key, value in human.items():
        assert data["params"][key] == value  # the shortest decimal: 0.3, not 0.30000001192092896
    assert list(data["params"]) == list(PARAM_KEYS)
    assert data["format_version"] == FORMAT_VERSION and data["settings"]["noise_seed"] == 7


def test_preset_equality_hash_and_immutability():
    p, q = random_preset(1), random_preset(1)
    assert p == q and hash(p) == hash(q) and len({p, q}) == 1
    assert p != dataclasses.replace(p, name="other")
    with pytest.raises(ValueError):
        p.theta[0] = 0.5  # read-only: a preset cannot be changed behind its back
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "changed"


@pytest.mark.parametrize("kw, message", [
    (dict(theta=np.zeros(77, np.float32)), "shape"),
    (dict(theta=np.full(N_PARAMS, 1.5, np.float32)), r"keyboard\.midi_f0 .* not in \[0, 1\]"),
    (dict(theta=np.full(N_PARAMS, np.nan, np.float32)), "not in"),
    (dict(name=""), "name"),
    (dict(tags=("ok", 3)), "tags"),
    (dict(settings=RenderSettings(sample_rate=100)), "sample_rate"),
])
def test_invalid_presets_cannot_be_built(kw, message):
    with pytest.raises(ValueError, match=message):
        random_preset(0, **kw)


def test_utc_timestamp_is_iso_8601_utc():
    import datetime as dt

    stamp = utc_timestamp(dt.datetime(2025, 3, 4, 5, 6, 7, 890, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert stamp == "2025-03-04T03:06:07Z"


# --- strict loading -------------------------------------------------------------------------------
def _good() -> dict:
    return preset_to_dict(random_preset(5))


def _set(path: str, value):
    def edit(d):
        *parents, last = path.split("/")
        for key in parents:
            d = d[key]
        d[last] = value
    return edit


def _drop(path: str):
    def edit(d):
        *parents, last = path.split("/")
        for key in parents:
            d = d[key]
        del d[last]
    return edit


BAD_FIELDS = [
    (_set("params/keyboard.midi_f00", 60.0),
     r"params\.keyboard\.midi_f00: unknown field \(did you mean params\.keyboard\.midi_f0\?\)"),
    (_drop("params/mixer.noise"), r"params\.mixer\.noise: missing field"),
    (_set("params/keyboard.midi_f0", 130.0), r"params\.keyboard\.midi_f0: 130\.0 is out of range \[0, 127\] MIDI note"),
    (_set("params/adsr_1.attack", -0.1), r"params\.adsr_1\.attack: -0\.1 is out of range"),
    (_set("params/adsr_1.attack", float("nan")), r"params\.adsr_1\.attack: expected a finite number"),
    (_set("params/lfo_1.frequency", float("inf")), r"params\.lfo_1\.frequency: expected a finite number"),
    (_set("params/keyboard.midi_f0", 10 ** 400), r"params\.keyboard\.midi_f0: expected a finite number"),
    (_set("settings/duration", 10 ** 400), r"settings\.duration: expected a finite number"),
    (_set("settings/sample_rate", 10 ** 400), r"settings\.sample_rate: expected a finite number"),
    (_set("params/vco_2.shape", "0.5"), r"params\.vco_2\.shape: expected a number, got a string"),
    (_set("params/vco_2.shape", True), r"params\.vco_2\.shape: expected a number, got a boolean"),
    (_set("params", [1, 2]), r"params: expected a mapping"),
    (_set("name", ["bass"]), r"name: expected a non-empty string, got a list"),
    (_set("name", ""), r"name: expected a non-empty string"),
    (_set("tags", "bass"), r"tags: expected a list of non-empty strings"),
    (_set("tags", ["ok", 1]), r"tags: expected a list"),
    (_set("prompt", 42), r"prompt: expected a string, got an integer"),
    (_set("description", ["x"]), r"description: expected a string, got a list"),
    (_set("created", "yesterday"), r"created: 'yesterday' is not an ISO-8601 time"),
    (_set("colour", "red"), r"colour: unknown field"),
    (_drop("format_version"), r"format_version: missing field"),
    (_set("format_version", 2), r"format_version: version 2 is not supported"),
    (_set("format_version", "1"), r"format_version: expected an integer, got a string"),
    (_drop("settings"), r"settings: missing field"),
    (_set("settings/sample_rate", 100), r"settings\.sample_rate: sample rate must be a whole number from 8000 to"),
    (_set("settings/sample_rate", 48000.5), r"settings\.sample_rate: expected an integer, got a number"),
    (_set("settings/duration", "2s"), r"settings\.duration: expected a number, got a string"),
    (_set("settings/gain", 1.0), r"settings\.gain: unknown field"),
    (_drop("settings/noise_seed"), r"settings\.noise_seed: missing field"),
    (_set("settings/noise_seed", -1),
     r"settings\.noise_seed: the noise seed must be a whole number from 0 to 4294967295"),
]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("edit, message", BAD_FIELDS)
def test_bad_fields_are_named_with_the_file(tmp_path, fmt, edit, message):
    d = _good()
    edit(d)
    path = tmp_path / f"broken.{fmt}"
    if fmt == "json":
        text = json.dumps(d)  # NaN/inf become NaN/Infinity tokens, which the loader must refuse too
    else:
        text = yaml.safe_dump(d, sort_keys=False)
    path.write_text(text)
    with pytest.raises(PresetError, match=f"^{re.escape(str(path))}: {message}") as err:
        load_preset(path)
    assert err.value.source == str(path) and err.value.field is not None


@pytest.mark.parametrize("name, text, message", [
    ("empty.yaml", "", "the file is empty"),
    ("blank.yaml", "  \n\n", "the file is empty"),
    ("broken.yaml", "name: [unclosed\nparams: {", "malformed YAML: .*line"),
    ("broken.json", '{"name": "x",', "malformed JSON: .*line 1"),
    ("list.yaml", "- 1\n- 2\n", "expected a mapping of preset fields, got a list"),
    ("scalar.json", "42", "expected a mapping of preset fields, got an integer"),
    ("evil.yaml", "!!python/object/apply:os.system ['echo pwned']\n", "malformed YAML"),  # safe_load refuses tags
    ("bytes.yaml", None, "the file is not UTF-8 text"),
    ("sound.txt", "name: x", "unsupported file type '.txt'"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "malformed JSON: nested too deeply"),
    ("huge.yaml", "# padding\n" * 200_000, "the file is too large for a preset"),
])
def test_broken_files_are_reported_with_their_name(tmp_path, name, text, message):
    path = tmp_path / name
    if text is None:
        path.write_bytes(b"\xff\xfe\x00name")
    else:
        path.write_text(text)
    with pytest.raises(PresetError, match=f"^{re.escape(str(path))}: {message}"):
        load_preset(path)


def test_alias_bombs_are_reported_without_expanding_them():
    # YAML aliases nest a list 3^20 times in little memory; printing it in the error would never finish.
    bomb = "[&l0 [x, x, x], " + ", ".join(f"&l{i} [*l{i - 1}, *l{i - 1}, *l{i - 1}]" for i in range(1, 21)) + "]"
    text = dumps_preset(random_preset(0)).replace("name: random 0", f"name: {bomb}")
    with pytest.raises(PresetError, match=r"^<text>: name: expected a non-empty string, got a list \(21 items\)$"):
        loads_preset(text)


def test_a_key_given_twice_is_refused_in_yaml_and_json():
    """YAML and JSON keep the last of two equal keys without a word; a strict format names the key instead."""
    text = dumps_preset(random_preset(0))
    doubled = text.replace("name: random 0", "name: random 0\nname: other")
    with pytest.raises(PresetError, match=r"upload.yaml: name: the key 'name' appears twice \(line \d+\)") as err:
        loads_preset(doubled, source="upload.yaml")
    assert err.value.field == "name"
    knob = "keyboard.midi_f0"
    line = next(row for row in text.splitlines() if row.strip().startswith(knob))
    with pytest.raises(PresetError, match=f"the key '{knob}' appears twice"):
        loads_preset(text.replace(line, f"{line}\n{line}"), source="upload.yaml")
    as_json = dumps_preset(random_preset(0), "json")
    with pytest.raises(PresetError, match=r"upload.json: name: the key 'name' appears twice; a preset names each"):
        loads_preset(as_json.replace('"name": "random 0"', '"name": "random 0", "name": "other"'), source="upload.json")
    assert loads_preset(text).name == "random 0"  # the file as written still loads


def test_missing_file_and_loads_source_are_named(tmp_path):
    with pytest.raises(PresetError, match="nothing.yaml: cannot read the file"):
        load_preset(tmp_path / "nothing.yaml")
    with pytest.raises(PresetError, match=r"^upload\.yaml: name: "):
        loads_preset(dumps_preset(random_preset(0)).replace("name: random 0", "name: [a, b]"), source="upload.yaml")


def test_unquoted_yaml_timestamp_is_accepted_as_text():
    text = dumps_preset(random_preset(0)).replace("created: '2025-01-31T12:00:00Z'", "created: 2025-01-31T12:00:00Z")
    assert loads_preset(text).created == "2025-01-31T12:00:00Z"


# --- atomic saves ---------------------------------------------------------------------------------
def test_save_leaves_only_the_file(tmp_path):
    for i in range(3):  # overwrite a few times
        save_preset(random_preset(i), tmp_path / "sound.yaml")
    assert [p.name for p in tmp_path.iterdir()] == ["sound.yaml"]
    assert load_preset(tmp_path / "sound.yaml") == random_preset(2)
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "sound.yaml").stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any new file


def test_failed_save_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = save_preset(random_preset(0), tmp_path / "sound.json")
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_preset(random_preset(1), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sound.json"]


def test_save_refuses_unknown_suffix_before_writing(tmp_path):
    with pytest.raises(PresetError, match="unsupported file type"):
        save_preset(random_preset(0), tmp_path / "sound.txt")
    assert list(tmp_path.iterdir()) == []


# --- factory lookups ------------------------------------------------------------------------------
def test_factory_preset_lookup():
    assert factory_preset("bass").name == "bass"
    with pytest.raises(PresetError, match=r"no preset named 'bas'; did you mean bass\?.*available: .*bass"):
        factory_preset("bas")
