"""What a dataset is: one :class:`DatasetSpec` (kind, counts, render settings, seed, fields, format, options), checked
before any work and written first to the dataset's folder as ``spec.json``.

Everything a sample's bytes depend on is in the spec (plus the versions of the libraries that make the bytes,
``made_with``, which is recorded but not compared), so sample *i* of shard *s* is a pure function of the spec and
(s, i): see :mod:`studio.data.samples`.

The options of each kind:

- ``random``: θ uniform over [0, 1]^78; or, with ``around`` (presets), clip(preset + spread·z) around them in turn,
  ``locks`` keeping the preset's values;
- ``doppelgangers``: groups of one anchor (uniform, or the ``around`` presets in turn) followed by ``variants``
  doppelgängers clip(θ + δ·z) at each δ of ``deltas``, ``locks`` keeping the anchor's values;
- ``sweeps``: groups of 20 steps of one attribute (``attributes``, default all 13, in turn) swept from a base
  sound, as in the embedding ranking test (``studio.explore.sweeps``);
- ``presets``: the preset files of a folder (``presets``), sorted by path, with the dataset's sample rate, duration
  and control rate and each preset's own noise seed; ``count`` defaults to all of them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from studio import checks
from studio.errors import SettingsError

SPEC_VERSION = 1  # bump when the bytes a spec makes change (sample draws, encodings, file layout)
SPEC_FILE = "spec.json"
KINDS = ("random", "doppelgangers", "sweeps", "presets")
FORMATS = ("parquet", "webdataset")
FIELDS = ("theta", "settings", "audio", "embedding", "logmel", "clap")
DEFAULT_FIELDS = ("theta", "settings", "audio")
AUDIO_FORMATS = ("flac", "int16", "float32")
DEFAULT_SHARD_SIZE = 1000
DEFAULT_CHUNK = 32
MAX_CHUNK = 1024
MAX_COUNT = 2**48  # sample indices are folded into the keys as two 32-bit words
MAX_VARIANTS = 1024
FIELD_HELP = {
    "theta": "the 78 normalized knobs, float32",
    "settings": "sample rate, duration, control rate and the sample's noise seed",
    "audio": "the sound (FLAC bytes, or int16 / float32 samples: --audio-format)",
    "embedding": "the studio's perceptual embedding, 259 float32 (studio.audio.embedding)",
    "logmel": "log-mel frames [F, 128] float32 dBFS (the embedding's analysis)",
    "clap": "the LAION-CLAP audio embedding, float32 (needs CLAP weights)",
}
# Options that belong to some kinds only: (spec attribute, its CLI flag, the kinds it applies to)
KIND_OPTIONS = (
    ("deltas", "--deltas", ("doppelgangers",)),
    ("variants", "--variants", ("doppelgangers",)),
    ("locks", "--lock", ("random", "doppelgangers")),
    ("around", "--around", ("random", "doppelgangers")),
    ("spread", "--spread", ("random",)),
    ("attributes", "--attributes", ("sweeps",)),
    ("presets", "--presets", ("presets",)),
)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset's definition. Build one, then :meth:`validated` (done by every entry point) checks and normalizes it.

    count: samples (rows); for ``presets`` None means every preset in the folder. shard_size: samples per shard
    file (the last may hold fewer). chunk: sounds per render call; a shard is rendered in chunks of exactly this
    many (the last padded), so the bytes never depend on the engine or the cores, only on the spec.
    sources_sha256: a hash of the presets a kind reads (``around``, ``presets``), filled in when they are loaded,
    so a changed preset file is noticed when a run resumes.
    """

    kind: str
    count: int | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    seed: int = 0
    format: str = "parquet"
    fields: tuple[str, ...] = DEFAULT_FIELDS
    audio_format: str = "flac"
    sample_rate: int = 48_000
    duration: float = 2.0
    control_rate: float = 480.0
    chunk: int = DEFAULT_CHUNK
    deltas: tuple[float, ...] = (0.25,)
    variants: int = 8
    locks: tuple[str, ...] = ()
    around: tuple[str, ...] = ()
    spread: float = 0.1
    attributes: tuple[str, ...] = ()
    presets: str | None = None
    clap_model: str | None = None
    sources_sha256: str | None = None
    version: int = SPEC_VERSION

    # -- checking ---------------------------------------------------------------------------
    def validated(self) -> DatasetSpec:
        """This spec checked and normalized (tuples, canonical field order); :class:`SettingsError` naming the
        first problem (its field is the spec attribute). Does not read files: see ``samples.resolve``."""
        kind = checks.check_choice(self.kind, KINDS, "kind")
        fields = _names(self.fields, FIELDS, "fields", "field")
        if not fields:
            raise SettingsError(f"fields must name at least one of {', '.join(FIELDS)}", "fields")
        fields = tuple(f for f in FIELDS if f in fields)  # canonical order: the same spec whatever order was typed
        if self.count is None and kind != "presets":
            raise SettingsError("count (the number of samples) is required", "count")
        count = None if self.count is None else checks.check_whole(self.count, 1, MAX_COUNT, "count")
        version = checks.check_whole(self.version, 1, None, "version")
        if version != SPEC_VERSION:
            raise SettingsError(f"this studio makes datasets of spec version {SPEC_VERSION}, not {version}", "version")
        spec = dataclasses.replace(
            self, kind=kind, fields=fields, count=count,
            shard_size=checks.check_whole(self.shard_size, 1, MAX_COUNT, "shard_size"),
            seed=checks.check_seed(self.seed, "seed"),
            format=checks.check_choice(self.format, FORMATS, "format"),
            audio_format=checks.check_choice(self.audio_format, AUDIO_FORMATS, "audio_format"),
            chunk=checks.check_whole(self.chunk, 1, MAX_CHUNK, "chunk"),
            deltas=tuple(checks.check_number(d, 0.0, 1.0, "deltas") for d in _sequence(self.deltas, "deltas")),
            variants=checks.check_whole(self.variants, 1, MAX_VARIANTS, "variants"),
            locks=tuple(str(x) for x in _sequence(self.locks, "locks")),
            around=tuple(str(x) for x in _sequence(self.around, "around")),
            spread=checks.check_number(self.spread, 0.0, 1.0, "spread"),
            attributes=tuple(str(x) for x in _sequence(self.attributes, "attributes")),
            version=version)
        settings = checks.check_render_settings(spec.render_settings())
        spec = dataclasses.replace(spec, sample_rate=int(settings.sample_rate), duration=float(settings.duration),
                                   control_rate=float(settings.control_rate))
        if not spec.deltas:
            raise SettingsError("deltas must hold at least one step size δ", "deltas")
        default = DatasetSpec(kind=kind)
        for name, flag, kinds in KIND_OPTIONS:
            if kind not in kinds and getattr(spec, name) != getattr(default, name):
                users = " or ".join(f"--kind {k}" for k in kinds)
                raise SettingsError(f"{flag} applies to {users} only, not to --kind {kind}", name)
        if spec.locks:
            from studio.explore.locks import lock_mask

            try:
                lock_mask(list(spec.locks))
            except SettingsError as err:
                raise SettingsError(f"--lock: {err}", "locks") from None
        if spec.attributes:
            from studio.explore.sweeps import ATTRIBUTE_NAMES

            _names(spec.attributes, ATTRIBUTE_NAMES, "attributes", "attribute")
        if kind == "presets" and not spec.presets:
            raise SettingsError("--kind presets needs --presets DIR: the folder of preset files to render", "presets")
        if kind == "random" and spec.locks and not spec.around:
            raise SettingsError("--lock needs --around: uniform random sounds have no values to keep", "locks")
        if kind == "random" and spec.spread != default.spread and not spec.around:
            raise SettingsError("--spread needs --around: the presets to spread around", "spread")
        if spec.clap_model is not None and "clap" not in fields:
            raise SettingsError("--clap-model applies to the clap field only: add clap to --fields", "clap_model")
        return spec

    # -- derived -----------------------------------------------------------------------------
    def render_settings(self, noise_seed: int = 0):
        """The :class:`~studio.synth.RenderSettings` every sample is rendered with (each with its own noise seed)."""
        from studio.synth import RenderSettings

        return RenderSettings(sample_rate=self.sample_rate, duration=self.duration, control_rate=self.control_rate,
                              noise_seed=noise_seed)

    @property
    def group_size(self) -> int:
        """Rows per group: 1 + variants·len(deltas) for doppelgängers (the anchor first), 20 for sweeps, else 1."""
        if self.kind == "doppelgangers":
            return 1 + self.variants * len(self.deltas)
        if self.kind == "sweeps":
            from studio.explore.sweeps import STEPS

            return STEPS
        return 1

    @property
    def shard_count(self) -> int:
        if self.count is None:
            raise ValueError("the spec's count is not known yet (presets: resolve it first)")
        return -(-self.count // self.shard_size)

    def shard_rows(self, shard: int) -> range:
        """Global sample indices of shard ``shard``."""
        if not 0 <= shard < self.shard_count:
            raise IndexError(f"shard {shard} is out of range: this dataset has {self.shard_count} shards")
        start = shard * self.shard_size
        return range(start, min(start + self.shard_size, self.count))

    def shard_name(self, shard: int) -> str:
        """The file name of a shard: ``shard-000012.parquet`` / ``shard-000012.tar``."""
        return f"shard-{shard:06d}." + ("parquet" if self.format == "parquet" else "tar")

    # -- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The spec as JSON-ready data: the common entries, then the options of its kind only."""
        d = {"version": self.version, "kind": self.kind, "count": self.count, "shard_size": self.shard_size,
             "seed": self.seed, "format": self.format, "fields": list(self.fields), "audio_format": self.audio_format,
             "settings": {"sample_rate": self.sample_rate, "duration": self.duration,
                          "control_rate": self.control_rate},
             "chunk": self.chunk}
        for name, _, kinds in KIND_OPTIONS:
            if self.kind in kinds:
                value = getattr(self, name)
                d[name] = list(value) if isinstance(value, tuple) else value
        if self.kind == "random" and not self.around:
            d.pop("spread")
        if "clap" in self.fields:
            d["clap_model"] = self.clap_model
        if self.sources_sha256 is not None:
            d["sources_sha256"] = self.sources_sha256
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSpec:
        """The spec from :meth:`to_dict`'s data (``made_with`` and unknown entries are refused, except made_with);
        :class:`SettingsError` for data that is not a spec."""
        if not isinstance(d, dict):
            raise SettingsError(f"a dataset spec is a JSON object, got {type(d).__name__}")
        d = {k: v for k, v in d.items() if k != "made_with"}
        settings = d.pop("settings", {})
        if not isinstance(settings, dict):
            raise SettingsError("the spec's settings must be an object", "settings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known) + sorted(set(settings) - {"sample_rate", "duration", "control_rate"})
        if unknown:
            raise SettingsError(f"unknown entries in the dataset spec: {', '.join(unknown)}")
        if "kind" not in d:
            raise SettingsError("the dataset spec names no kind", "kind")
        d.update(settings)
        for name in ("fields", "deltas", "locks", "around", "attributes"):
            if isinstance(d.get(name), list):
                d[name] = tuple(d[name])
        return cls(**d).validated()

    def to_json(self, made_with: dict | None = None) -> str:
        """``spec.json``'s text: the spec, plus ``made_with`` (library versions, recorded, not compared)."""
        d = self.to_dict()
        if made_with:
            d["made_with"] = made_with
        return json.dumps(d, indent=2, sort_keys=False) + "\n"

    def sha256(self) -> str:
        """A hash of the spec's canonical JSON (the manifest records which spec its shards were made by)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def differences(self, other: DatasetSpec) -> list[str]:
        """What differs between two specs, one ``name: A there, B here`` each (empty when they are the same)."""
        mine, theirs = _flat(self.to_dict()), _flat(other.to_dict())
        return [f"{k}: {theirs.get(k, 'unset')!r} there, {mine.get(k, 'unset')!r} here"
                for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]


def load_spec_text(text: str, source: str = "spec.json") -> tuple[DatasetSpec, dict]:
    """(spec, made_with) from ``spec.json``'s text; :class:`SettingsError` naming ``source`` when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise SettingsError(f"{source} is not a dataset spec (not JSON: {err})") from None
    try:
        made_with = data.get("made_with", {}) if isinstance(data, dict) else {}
        return DatasetSpec.from_dict(data), made_with
    except (SettingsError, TypeError) as err:
        raise SettingsError(f"{source} is not a dataset spec this studio reads: {err}") from None


def made_with() -> dict:
    """The versions of what makes the bytes (recorded in ``spec.json``; a resume under others is allowed, with a note).
    """
    from importlib import metadata

    import studio

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    import os

    out = {"studio": studio.__version__, "xla_flags": os.environ.get("XLA_FLAGS", "")}
    for name in ("jax", "jaxlib", "numpy", "soundfile", "pyarrow", "webdataset"):
        out[name] = version(name)
    try:
        import soundfile

        out["libsndfile"] = soundfile.__libsndfile_version__
    except (ImportError, AttributeError, OSError):
        pass
    return out


def parse_list(text: str, what: str) -> tuple[str, ...]:
    """A comma list from the command line (``theta,audio``) → names, blanks dropped."""
    names = tuple(part.strip() for part in str(text).split(",") if part.strip())
    if not names:
        raise SettingsError(f"{what} must name at least one value", what)
    return names


def _sequence(value, field: str) -> tuple:
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise SettingsError(f"{field} must be a list, got {value!r}", field) from None


def _names(values, choices, field: str, what: str) -> tuple[str, ...]:
    names = _sequence(values, field)
    for name in names:
        if name not in choices:
            import difflib

            close = difflib.get_close_matches(str(name), list(choices), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise SettingsError(f"unknown {what} {name!r}: {hint}choose from {', '.join(choices)}", field)
    if len(set(names)) != len(names):
        raise SettingsError(f"{field} names a {what} twice: {', '.join(names)}", field)
    return tuple(names)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
