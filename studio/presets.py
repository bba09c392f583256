"""Preset files: a sound (θ plus render settings) saved as readable YAML or JSON, and the factory presets.

A file holds the format version, the name, tags, an optional description, an optional prompt (the text a
search was asked for), the creation time (ISO-8601 UTC), the
render settings and ``params``: the human value of each of the 78 parameters keyed ``module.parameter``.
Human values are written with the fewest digits that still load back to the *same* float32 θ, so a saved
sound re-renders bit-identically. Reading is strict (YAML through the safe loader only; a key given twice, unknown,
missing, mistyped, out-of-range or non-finite fields raise :class:`PresetError` naming the file and the field) and
saving is atomic (a temporary file in the same folder, then ``os.replace``).
"""
from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from studio.audio.io import atomic_file
from studio.checks import check_render_settings
from studio.errors import SettingsError, StudioError
from studio.synth import N_PARAMS, PARAM_KEYS, PARAMS, RenderSettings, render, to_human, to_normalized

FORMAT_VERSION = 1
FACTORY_DIR = Path(__file__).resolve().parent / "factory_presets"  # package data: found from any folder
SUFFIX_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}

_REQUIRED_KEYS = ("format_version", "name", "settings", "params")
_OPTIONAL_KEYS = ("tags", "description", "prompt", "created")
_SETTINGS_TYPES = {"sample_rate": "integer", "duration": "number", "control_rate": "number", "noise_seed": "integer"}
MAX_PRESET_CHARS = 1_000_000  # a preset is ~5 kB; anything this big is not one
_SHORTEST_SIGNIFICANT = 6  # fewest significant digits tried for values on a tiny scale


class PresetError(StudioError):
    """A preset that cannot be read, found or used. ``str()`` reads ``SOURCE: FIELD: PROBLEM``.

    ``source`` is the file (or ``<text>``/``<dict>``), ``field`` the offending field as a dotted path
    (``params.keyboard.midi_f0``, ``settings.duration``) or None when the whole file is at fault.
    """

    def __init__(self, source, field: str | None, problem: str):
        self.source, self.problem = str(source), problem
        super().__init__(f"{self.source}: {field}: {problem}" if field else f"{self.source}: {problem}", field)


@dataclass(frozen=True)
class Preset:
    """A saved sound: normalized parameters θ ``[78]`` float32 in [0, 1] plus how to render them.

    ``theta`` is stored as a read-only float32 copy, snapped to what a file can hold (see
    :func:`file_representable`: a no-op except for values within about 2e-6 of 0 that float64 human values
    cannot tell apart from 0), so every Preset survives a save/load round trip unchanged.
    """

    name: str
    theta: np.ndarray
    settings: RenderSettings
    tags: tuple[str, ...] = ()
    prompt: str | None = None  # the text prompt a search made this sound for, if any
    created: str = ""  # ISO-8601 UTC, e.g. 2025-01-31T12:00:00Z; empty when unknown
    description: str = ""  # one line for people: what the sound is

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"preset name must be a non-empty string, got {self.name!r}")
        theta = np.array(self.theta, dtype=np.float32).reshape(-1)
        if theta.shape != (N_PARAMS,) or np.ndim(self.theta) != 1:
            raise ValueError(f"preset theta must have shape [{N_PARAMS}], got {list(np.shape(self.theta))}")
        bad = np.flatnonzero(~np.isfinite(theta) | (theta < 0.0) | (theta > 1.0))
        if bad.size:
            raise ValueError(f"preset theta: {PARAM_KEYS[bad[0]]} = {theta[bad[0]]} is not in [0, 1]")
        if not isinstance(self.settings, RenderSettings):
            raise ValueError(f"preset settings must be RenderSettings, got {type(self.settings).__name__}")
        self.settings.validate()
        tags = tuple(self.tags) if not isinstance(self.tags, str) else (self.tags,)
        if not all(isinstance(t, str) and t for t in tags):
            raise ValueError(f"preset tags must be non-empty strings, got {self.tags!r}")
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise ValueError(f"preset prompt must be a string or None, got {type(self.prompt).__name__}")
        if not isinstance(self.description, str):
            raise ValueError(f"preset description must be a string, got {type(self.description).__name__}")
        if not isinstance(self.created, str):
            raise ValueError(f"preset created must be an ISO-8601 string, got {type(self.created).__name__}")
        theta = file_representable(theta)
        theta.flags.writeable = False
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "tags", tags)

    # The generated __eq__/__hash__ would compare arrays with == (ambiguous truth value): compare by content.
    def __eq__(self, other):
        if not isinstance(other, Preset):
            return NotImplemented
        return (self.name, self.settings, self.tags, self.prompt, self.created, self.description) == (
            other.name, other.settings, other.tags, other.prompt, other.created, other.description) and np.array_equal(
            self.theta, other.theta)

    def __hash__(self):
        return hash((self.name, self.theta.tobytes(), self.settings, self.tags, self.prompt, self.created,
                     self.description))

    @property
    def human(self) -> np.ndarray:
        """The parameters in human units, ``[78]`` float64 (canonical order)."""
        return to_human(self.theta.astype(np.float64))


def utc_timestamp(now: _dt.datetime | None = None) -> str:
    """ISO-8601 UTC time to the second, e.g. ``2025-01-31T12:00:00Z`` (now unless ``now`` is given)."""
    now = now or _dt.datetime.now(_dt.UTC)
    return now.astimezone(_dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# ----------------------------------------------------------------------------------------------
# θ ↔ human values with exact float32 round trips
# ----------------------------------------------------------------------------------------------
def _theta_from_human(human: np.ndarray) -> np.ndarray:
    """Human values ``[78]`` (float64) → θ ``[78]`` float32, clipped to [0, 1] against rounding."""
    return np.clip(to_normalized(np.asarray(human, np.float64)), 0.0, 1.0).astype(np.float32)


def file_representable(theta: np.ndarray) -> np.ndarray:
    """θ ``[78]`` float32 → the θ its human values load back to (a float32 copy).

    Equal to ``theta`` except for a few values very close to 0 whose human values float64 cannot resolve:
    below about 2e-6 where a range does not start at 0 (``−24 + 48·1e-30`` is ``−24``) and noise θ below
    about 2e-8 (its level x⁴⁰ underflows). Those become the value the file holds; the synth converts to human
    units in float32, which cannot resolve such differences either, so the rendered sound does not change.
    """
    theta = np.asarray(theta, np.float32)
    return _theta_from_human(to_human(theta.astype(np.float64)))


def human_values(theta: np.ndarray) -> list[float]:
    """θ ``[78]`` float32 → 78 human values, each the shortest decimal that loads back to the same float32 θ.

    Tries few decimal places first (so a θ made from the human value 0.3 is written 0.3, and a knob at its
    centre reads 0 rather than 1.8e-07), then significant digits for values on a tiny scale (noise levels).
    Candidates are clamped into the parameter's range, since rounding π up would step outside it.
    """
    theta = np.asarray(theta, np.float32)
    exact = to_human(theta.astype(np.float64))
    lo = np.array([p.lo for p in PARAMS])
    hi = np.array([p.hi for p in PARAMS])
    chosen = exact.copy()  # 17 significant digits: the fallback that always reproduces the float64
    unresolved = np.ones(N_PARAMS, bool)
    roundings = [lambda v, d=d: round(v, d) for d in range(0, 11)]
    roundings += [lambda v, s=s: float(f"{v:.{s}g}") for s in range(_SHORTEST_SIGNIFICANT, 18)]
    for rounding in roundings:
        candidate = np.clip([rounding(float(v)) for v in exact], lo, hi)
        fits = unresolved & (_theta_from_human(candidate) == theta)
        chosen[fits] = candidate[fits]
        unresolved &= ~fits
        if not unresolved.any():
            break
    return [_clean_zero(float(v)) for v in chosen]


def _clean_zero(value: float) -> float:
    return 0.0 if value == 0.0 else value  # no "-0.0" in files


# ----------------------------------------------------------------------------------------------
# Preset ↔ dict
# ----------------------------------------------------------------------------------------------
def preset_to_dict(p: Preset) -> dict:
    """A preset as plain data (what the files hold): str/int/float/list/dict only, fields in file order."""
    d = {"format_version": FORMAT_VERSION, "name": p.name, "tags": list(p.tags)}
    if p.description:
        d["description"] = p.description
    if p.prompt is not None:
        d["prompt"] = p.prompt
    d["created"] = p.created
    s = p.settings
    d["settings"] = {"sample_rate": int(s.sample_rate), "duration": float(s.duration),
                     "control_rate": float(s.control_rate), "noise_seed": int(s.noise_seed)}
    d["params"] = dict(zip(PARAM_KEYS, human_values(p.theta)))
    return d


def preset_from_dict(d, source: str = "<dict>") -> Preset:
    """Build a preset from plain data, strictly. Raises :class:`PresetError` naming ``source`` and the field."""
    if not isinstance(d, dict):
        raise PresetError(source, None, f"expected a mapping of preset fields, got {_kind(d)}")
    _check_keys(d, _REQUIRED_KEYS, _OPTIONAL_KEYS, source, prefix="")

    version = d["format_version"]
    if not _is_int(version):
        raise PresetError(source, "format_version", f"expected an integer, got {_kind(version)}")
    if version != FORMAT_VERSION:
        raise PresetError(source, "format_version",
                          f"version {version} is not supported (this studio reads version {FORMAT_VERSION})")

    name = d["name"]
    if not isinstance(name, str) or not name.strip():
        raise PresetError(source, "name", f"expected a non-empty string, got {_kind(name)}")

    tags = d.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise PresetError(source, "tags", f"expected a list of non-empty strings, got {_kind(tags)}")

    prompt = d.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise PresetError(source, "prompt", f"expected a string, got {_kind(prompt)}")

    description = d.get("description", "")
    if not isinstance(description, str):
        raise PresetError(source, "description", f"expected a string, got {_kind(description)}")

    created = _created(d.get("created", ""), source)
    settings = _settings(d["settings"], source)
    theta = _theta(d["params"], source)
    return Preset(name=name, theta=theta, settings=settings, tags=tuple(tags), prompt=prompt, created=created,
                  description=description)


def _created(value, source) -> str:
    # YAML turns an unquoted timestamp into a datetime; accept it and store it as text.
    if isinstance(value, _dt.datetime):
        return utc_timestamp(value if value.tzinfo else value.replace(tzinfo=_dt.UTC))
    if isinstance(value, _dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise PresetError(source, "created", f"expected an ISO-8601 time string, got {_kind(value)}")
    if value:
        try:
            _dt.datetime.fromisoformat(value)
        except ValueError:
            raise PresetError(source, "created", f"{value!r} is not an ISO-8601 time") from None
    return value


def _settings(value, source) -> RenderSettings:
    if not isinstance(value, dict):
        raise PresetError(source, "settings", f"expected a mapping of render settings, got {_kind(value)}")
    _check_keys(value, tuple(_SETTINGS_TYPES), (), source, prefix="settings.")
    for key, kind in _SETTINGS_TYPES.items():
        v = value[key]
        ok = _is_int(v) if kind == "integer" else _is_number(v)
        if not ok:
            raise PresetError(source, f"settings.{key}", f"expected {'an' if kind == 'integer' else 'a'} {kind}, "
                                                         f"got {_kind(v)}")
        _finite(v, source, f"settings.{key}")  # also keeps integers too large for a float out of the synth
    settings = RenderSettings(sample_rate=int(value["sample_rate"]), duration=float(value["duration"]),
                              control_rate=float(value["control_rate"]), noise_seed=int(value["noise_seed"]))
    try:
        return check_render_settings(settings)
    except SettingsError as err:
        raise PresetError(source, f"settings.{err.field}", str(err)) from None


def _theta(params, source) -> np.ndarray:
    if not isinstance(params, dict):
        raise PresetError(source, "params", f"expected a mapping of 'module.parameter: value', got {_kind(params)}")
    _check_keys(params, PARAM_KEYS, (), source, prefix="params.")
    human = np.empty(N_PARAMS, np.float64)
    for i, spec in enumerate(PARAMS):
        v = params[spec.key]
        where = f"params.{spec.key}"
        if not _is_number(v):
            raise PresetError(source, where, f"expected a number, got {_kind(v)}")
        _finite(v, source, where)
        if not spec.lo <= v <= spec.hi:
            unit = f" {spec.unit}" if spec.unit else ""
            raise PresetError(source, where, f"{v} is out of range [{spec.lo:g}, {spec.hi:g}]{unit}")
        human[i] = float(v)
    return _theta_from_human(human)


def _finite(v, source, where: str) -> float:
    """A number as a finite float, or PresetError (NaN, ±inf, or an integer too large for a float)."""
    try:
        as_float = float(v)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        shown = v if isinstance(v, float) else f"{str(v)[:20]}…"
        raise PresetError(source, where, f"expected a finite number, got {shown}")
    return as_float


def _check_keys(d: dict, required, optional, source, prefix: str) -> None:
    """Unknown keys first (a typo often explains a missing key), then missing ones."""
    allowed = set(required) | set(optional)
    for key in d:
        if not isinstance(key, str) or key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise PresetError(source, f"{prefix}{key}", f"unknown field{hint}")
    for key in required:
        if key not in d:
            raise PresetError(source, f"{prefix}{key}", "missing field")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v) -> str:
    """How a wrong value reads in an error message: its YAML/JSON type, and a short excerpt of a scalar."""
    if isinstance(v, list):
        return f"a list ({len(v)} items)"  # never repr a container: YAML aliases can make it exponentially long
    if isinstance(v, dict):
        return f"a mapping ({len(v)} keys)"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", type(None): "nothing (null)"}
    if type(v) not in names:
        return type(v).__name__
    text = repr(v)
    return f"{names[type(v)]} ({text[:40] + '…' if len(text) > 40 else text})"


# ----------------------------------------------------------------------------------------------
# Text and files
# ----------------------------------------------------------------------------------------------
def dumps_preset(p: Preset, fmt: str = "yaml") -> str:
    """A preset as the text of a file: ``fmt`` "yaml" (with units as comments) or "json"."""
    d = preset_to_dict(p)
    if fmt == "json":
        return json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt != "yaml":
        raise ValueError(f"preset format must be 'yaml' or 'json', got {fmt!r}")
    params = d.pop("params")
    header = {k: v for k, v in d.items() if k != "settings"}
    lines = [f"# synth sketch studio preset (format {FORMAT_VERSION}); params are human values, units in comments",
             yaml.safe_dump(header, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1 << 16)
             .rstrip("\n"),
             yaml.safe_dump({"settings": d["settings"]}, sort_keys=False, default_flow_style=False).rstrip("\n"),
             "params:"]
    values = {k: _yaml_float(v) for k, v in params.items()}
    key_width = max(len(k) for k in PARAM_KEYS) + 1
    value_width = max(len(v) for v in values.values())
    for spec in PARAMS:
        comment = f"  # {spec.unit}" if spec.unit else ""
        lines.append(f"  {spec.key + ':':<{key_width}} {values[spec.key]:<{value_width}}{comment}".rstrip())
    return "\n".join(lines) + "\n"


def _yaml_float(v: float) -> str:
    """A float as a YAML 1.1 float token: PyYAML reads '1e-05' as a string, so write '1.0e-05' (as PyYAML does)."""
    text = repr(float(v))
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def loads_preset(text: str, source: str = "<text>", fmt: str | None = None) -> Preset:
    """Parse a preset from file text. ``fmt``: "yaml", "json", or None to tell by the first character."""
    if not isinstance(text, str):
        raise PresetError(source, None, f"expected text, got {type(text).__name__}")
    if not text.strip():
        raise PresetError(source, None, "the file is empty")
    if len(text) > MAX_PRESET_CHARS:
        raise PresetError(source, None, f"the file is too large for a preset ({len(text)} characters, "
                                        f"at most {MAX_PRESET_CHARS})")
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    if fmt == "json":
        try:  # NaN/Infinity tokens parse to floats, so the field check can name the field that holds them
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except _DuplicateKey as err:
            raise PresetError(source, err.key, f"the key {err.key!r} appears twice; a preset names each field once") \
                from None
        except json.JSONDecodeError as err:
            raise PresetError(source, None, f"malformed JSON: {err.msg} (line {err.lineno}, column {err.colno})") \
                from None
        except RecursionError:
            raise PresetError(source, None, "malformed JSON: nested too deeply") from None
    elif fmt == "yaml":
        try:
            data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader that also refuses duplicates)
        except _DuplicateKey as err:
            raise PresetError(source, err.key, f"the key {err.key!r} appears twice (line {err.line}); a preset names "
                                               f"each field once") from None
        except yaml.YAMLError as err:
            raise PresetError(source, None, f"malformed YAML: {_yaml_problem(err)}") from None
        except RecursionError:
            raise PresetError(source, None, "malformed YAML: nested too deeply") from None
    else:
        raise ValueError(f"preset format must be 'yaml', 'json' or None, got {fmt!r}")
    return preset_from_dict(data, source)


class _DuplicateKey(Exception):
    """A mapping that names a key twice (YAML and JSON keep the last silently; a strict format cannot)."""

    def __init__(self, key, line: int | None = None):
        super().__init__(key)
        self.key, self.line = str(key), line


def _unique_keys(pairs: list) -> dict:
    """``json.loads``' object hook: the object as a dict, or :class:`_DuplicateKey` for a key given twice."""
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader (plain data only) that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:  # other keys fail in the base class
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def _format_for(path: Path) -> str:
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PresetError(path, None, f"unsupported file type {path.suffix or '(none)'!r}: "
                                      f"use {', '.join(SUFFIX_FORMATS)}")
    return fmt


def load_preset(path) -> Preset:
    """Read a ``.yaml``/``.yml``/``.json`` preset file. Missing, unreadable or invalid files raise PresetError."""
    path = Path(path)
    fmt = _format_for(path)
    try:
        if path.stat().st_size > MAX_PRESET_CHARS * 4:  # refuse a huge upload before reading it (UTF-8: ≤ 4 B/char)
            raise PresetError(path, None, f"the file is too large for a preset ({path.stat().st_size} bytes)")
        raw = path.read_bytes()
    except OSError as err:
        raise PresetError(path, None, f"cannot read the file: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PresetError(path, None, "the file is not UTF-8 text") from None
    return loads_preset(text, source=str(path), fmt=fmt)


def save_preset(p: Preset, path) -> Path:
    """Write a preset to ``path`` (format from the suffix), atomically; return the path.

    The text goes to a temporary file in the same folder, is flushed to disk, then moved over ``path`` with
    ``os.replace``: readers see the old file or the new one, never half of one, and a failure leaves no trace.
    """
    path = Path(path)
    data = dumps_preset(p, _format_for(path)).encode("utf-8")  # fully serialized before the disk is touched
    with atomic_file(path) as f:
        f.write(data)
    return path


# ----------------------------------------------------------------------------------------------
# Factory presets and rendering
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _factory() -> tuple[Preset, ...]:
    paths = sorted(FACTORY_DIR.glob("*.yaml"))
    return tuple(sorted((load_preset(p) for p in paths), key=lambda p: p.name))


def factory_presets() -> list[Preset]:
    """The presets shipped in ``presets/``, sorted by name."""
    return list(_factory())


def factory_preset(name: str) -> Preset:
    """The factory preset called ``name``; PresetError listing the available names when there is none."""
    for p in _factory():
        if p.name == name:
            return p
    names = ", ".join(p.name for p in _factory())
    close = difflib.get_close_matches(name, [p.name for p in _factory()], n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise PresetError("factory presets", "name", f"no preset named {name!r}; {hint}available: {names}")


def preset_render(p: Preset) -> np.ndarray:
    """Render a preset with its own settings: float32 audio ``[T]`` in [−1, 1], ``T = sample_rate · duration``."""
    return np.asarray(render(p.theta, p.settings))


__all__ = ["FACTORY_DIR", "FORMAT_VERSION", "Preset", "PresetError", "dumps_preset", "factory_preset",
           "factory_presets", "file_representable", "human_values", "load_preset", "loads_preset",
           "preset_from_dict", "preset_render", "preset_to_dict", "save_preset", "utc_timestamp"]
