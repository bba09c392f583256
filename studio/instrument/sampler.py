"""Sampler-ready exports: a patch as a multi-sample instrument (SFZ and DecentSampler), and the single-sound WAV
with trimming, sample rate and bit depth.

An instrument is one sample every ``every`` semitones from ``low`` to ``high``, each rendered in one batch with the
preset's settings (its note-on length and buffer) at its note, trimmed to its audible end with a 10 ms fade
(:func:`studio.instrument.trim.trim_to_audible`) and written as a WAV whose ``smpl`` chunk names its root note.
Each sample plays the keys nearest to it; the lowest and highest stretch to MIDI 0 and 127. The sampler's release
(``ampeg_release`` / ``release``) is the patch's longest release of a level envelope.

**In tune.** A patch may sound away from its keyboard note (an oscillator tuned +12 semitones sounds an octave up).
The studio measures the preset's pitch once (YIN, :func:`studio.audio.features.sound_features`), rounds the
difference to whole semitones, and renders each sample that much lower, so every sample sounds at its root note
and the instrument plays in tune in any sampler. A sound without a measurable pitch (noise, drums) is not shifted.

Zip layout: ``<stem>.yaml`` (the preset), ``<stem>.sfz`` and/or ``<stem>.dspreset``, ``samples/<stem>-<note>.wav``.
"""
from __future__ import annotations

import dataclasses
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from studio.checks import check_choice, check_whole, hz_to_midi, note_name
from studio.errors import SettingsError
from studio.instrument.midi import release_tail
from studio.instrument.notes import PITCH, note_thetas
from studio.instrument.trim import declicked, trim_to_audible
from studio.synth import RenderSettings, noise_seeds, render, to_human

FORMATS = ("sfz", "dspreset", "both")
BIT_CHOICES = (16, 24)
MAX_SAMPLES = 128


@dataclass(frozen=True)
class Sample:
    """One sample of an instrument: ``root`` (the MIDI note it sounds at), the keys it plays (``lokey``–``hikey``),
    the pitch it was rendered at (``played``: root minus the patch's offset), its path inside the zip and its length
    in seconds."""

    root: int
    lokey: int
    hikey: int
    played: float
    path: str
    seconds: float


@dataclass(frozen=True)
class InstrumentExport:
    """What :func:`export_instrument` wrote: the zip's path and the names in it, the samples, the patch's measured
    offset from its keyboard note (whole semitones), the release, sample rate and bit depth."""

    path: Path
    files: tuple[str, ...]
    samples: tuple[Sample, ...]
    offset: int
    release: float
    sample_rate: int
    bits: int

    def describe(self) -> str:
        roots = f"{note_name(self.samples[0].root)}–{note_name(self.samples[-1].root)}"
        shift = (f"; the patch sounds {self.offset:+d} semitones from its keyboard note, so samples were rendered "
                 f"{abs(self.offset)} {'lower' if self.offset > 0 else 'higher'} to sound at their roots"
                 if self.offset else "")
        formats = ", ".join(f for f in self.files if not f.startswith("samples/"))
        return (f"{len(self.samples)} samples {roots} at {self.sample_rate} Hz, {self.bits}-bit, release "
                f"{self.release:g} s ({formats}){shift}")


def key_note(value, field: str) -> int:
    """A key of the instrument's range: a note name (``C4``, ``F#2``) or a MIDI number, on a semitone from 0 to
    127; :class:`~studio.errors.SettingsError` naming ``field`` otherwise."""
    from studio.checks import label, parse_note

    midi = parse_note(value.strip() if isinstance(value, str) else value, field)
    if not (0 <= midi <= 127 and float(midi).is_integer()):
        raise SettingsError(f"{label(field)} must be a note from C-1 (0) to G9 (127) on a semitone, got {value!r}",
                            field)
    return int(midi)


def sample_roots(low: int, high: int, every: int) -> list[int]:
    """Root notes from ``low`` to ``high`` every ``every`` semitones (``high`` included when the steps land on
    it)."""
    return list(range(int(low), int(high) + 1, int(every)))


def key_ranges(roots: list[int]) -> list[tuple[int, int]]:
    """``(lokey, hikey)`` per root: each key goes to the nearest root (a tie to the lower one), the first range
    starts at 0 and the last ends at 127, so the whole keyboard plays."""
    ranges = []
    for i, root in enumerate(roots):
        lo = 0 if i == 0 else (roots[i - 1] + root) // 2 + 1
        hi = 127 if i == len(roots) - 1 else (root + roots[i + 1]) // 2
        ranges.append((lo, hi))
    return ranges


def pitch_offset(theta, settings: RenderSettings) -> int:
    """Whole semitones between the pitch patch θ sounds at (measured, YIN) and its keyboard note; 0 when it has no
    measurable pitch."""
    from studio.audio.features import sound_features

    audio = np.asarray(render(theta, settings))
    f0 = float(sound_features(audio, settings.sample_rate).f0_hz[0])
    if not math.isfinite(f0) or f0 <= 0:
        return 0
    keyboard = float(to_human(np.asarray(theta, np.float64)[None])[0, PITCH])
    return int(round(hz_to_midi(f0) - keyboard))


def render_samples(preset, roots: list[int], settings: RenderSettings, offset: int = 0) -> list[np.ndarray]:
    """The samples for ``roots``: one batched render of the preset at ``root − offset`` each (its own note-on
    length and buffer), each trimmed to its audible end with a fade. Float32 ``[T_i]`` each."""
    played = np.clip(np.asarray(roots, np.float64) - offset, 0, 127)
    audio = np.asarray(render(note_thetas(preset.theta, played), settings,
                              noise_seeds(settings, 1).repeat(len(roots))))  # one noise row: samples differ by pitch
    return [trim_to_audible(row, settings.sample_rate) for row in audio]


def sfz_text(name: str, samples: list[Sample], release: float) -> str:
    """An SFZ file mapping ``samples`` (paths relative to the file) across the keyboard."""
    lines = [f"// {' '.join(name.split())}: exported by the synth sketch studio", "",
             "<group>", f"ampeg_release={release:.4g}", ""]
    for s in samples:
        lines.append(f"<region> sample={s.path} pitch_keycenter={s.root} lokey={s.lokey} hikey={s.hikey} "
                     f"ampeg_release={release:.4g}")
    return "\n".join(lines) + "\n"


def dspreset_text(name: str, samples: list[Sample], release: float) -> str:
    """A DecentSampler preset (XML): ``<DecentSampler><groups><group><sample path rootNote loNote hiNote/>``."""
    rows = "\n".join(f'      <sample path={quoteattr(s.path)} rootNote="{s.root}" loNote="{s.lokey}" '
                     f'hiNote="{s.hikey}"/>' for s in samples)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<!-- {name.replace("--", "-")}: exported by the synth sketch studio -->\n'
            f'<DecentSampler minVersion="1.0.0">\n'
            f'  <groups attack="0" decay="0" sustain="1" release="{release:.4g}">\n'
            f'    <group>\n{rows}\n    </group>\n'
            f'  </groups>\n'
            f'</DecentSampler>\n')


def _checked_settings(preset, sample_rate: int | None) -> RenderSettings:
    from studio.checks import check_render_settings

    settings = preset.settings if sample_rate is None else dataclasses.replace(preset.settings,
                                                                               sample_rate=sample_rate)
    return check_render_settings(settings)


def export_instrument(preset, output, fmt: str = "both", every: int = 3, low: int = 36, high: int = 96,
                      sample_rate: int | None = None, bits: int = 24) -> InstrumentExport:
    """Write ``preset`` as a zipped multi-sample instrument at ``output`` (see the module's docstring).

    fmt: ``sfz``, ``dspreset`` or ``both``. every: semitones between samples (1–12). low/high: the lowest and
    highest sample's note, a name (``C2``) or a MIDI number (0–127). sample_rate: default the preset's. bits: 16 or 24.
    """
    from studio.audio.io import atomic_file, wav_bytes
    from studio.library import file_stem
    from studio.presets import dumps_preset

    fmt = check_choice(fmt, FORMATS, "format")
    every = check_whole(every, 1, 12, "every")
    low, high = key_note(low, "low"), key_note(high, "high")
    if low > high:
        raise SettingsError(f"the lowest note ({note_name(low)}) must not be above the highest ({note_name(high)})",
                            "low")
    if bits not in BIT_CHOICES:
        raise SettingsError(f"bits must be 16 or 24, got {bits!r}", "bits")
    settings = _checked_settings(preset, sample_rate)
    roots = sample_roots(low, high, every)
    if len(roots) > MAX_SAMPLES:
        raise SettingsError(f"{len(roots)} samples is too many: at most {MAX_SAMPLES}", "every")

    offset = pitch_offset(preset.theta, settings)
    audio = render_samples(preset, roots, settings, offset)
    release = round(release_tail(preset.theta), 4)
    stem = file_stem(preset.name, "instrument")
    samples = [Sample(root, lo, hi, float(np.clip(root - offset, 0, 127)),
                      f"samples/{stem}-{note_name(root).replace('#', 's')}.wav", a.shape[0] / settings.sample_rate)
               for root, (lo, hi), a in zip(roots, key_ranges(roots), audio)]
    files: dict[str, bytes] = {f"{stem}.yaml": dumps_preset(preset, fmt="yaml").encode("utf-8")}
    if fmt in ("sfz", "both"):
        files[f"{stem}.sfz"] = sfz_text(preset.name, samples, release).encode("utf-8")
    if fmt in ("dspreset", "both"):
        files[f"{stem}.dspreset"] = dspreset_text(preset.name, samples, release).encode("utf-8")
    for s, a in zip(samples, audio):
        files[s.path] = wav_bytes(a, settings.sample_rate, bits, root_note=s.root)
    output = Path(output)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with atomic_file(output) as f:
        f.write(buffer.getvalue())
    return InstrumentExport(output, tuple(files), tuple(samples), offset, release, settings.sample_rate, bits)


def sound_audio(preset, sample_rate: int | None = None, trim: bool = False) -> tuple[np.ndarray, int]:
    """The preset's sound for a single-WAV export: rendered at ``sample_rate`` (default the preset's), trimmed to
    its audible end with a fade when ``trim``, else with the de-click fade where the buffer cut it. Returns
    ``(float32 [T], sample rate)``."""
    settings = _checked_settings(preset, sample_rate)
    audio = np.asarray(render(preset.theta, settings))
    audio = trim_to_audible(audio, settings.sample_rate) if trim else declicked(audio, settings.sample_rate)
    return audio, settings.sample_rate


def export_sound(preset, folder, sample_rate: int | None = None, bits: int = 16, trim: bool = False):
    """Write ``<slug>.wav`` (``bits`` 16 or 24) and ``<slug>.yaml`` for a download
    into a fresh subfolder of ``folder`` (:func:`studio.library.export_files`); returns ``(wav, preset)`` paths."""
    from studio.audio.io import BIT_DEPTHS
    from studio.library import export_files

    if bits not in BIT_DEPTHS:
        raise SettingsError(f"bits must be 16 or 24, got {bits!r}", "bits")
    audio, rate = sound_audio(preset, sample_rate, trim)
    return export_files(preset, audio, rate, folder, subtype=BIT_DEPTHS[bits])


__all__ = ["BIT_CHOICES", "FORMATS", "InstrumentExport", "Sample", "dspreset_text", "export_instrument",
           "export_sound", "key_note", "key_ranges", "pitch_offset", "render_samples", "sample_roots", "sfz_text",
           "sound_audio"]
