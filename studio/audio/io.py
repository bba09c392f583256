"""WAV files and the int16 hand-off to Gradio.

Audio inside the studio is float32 mono in [−1, 1], shape ``[T]``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from studio.errors import SettingsError, StudioError

WAV_SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
INT16_FULL_SCALE = 32767


def _mono_float32(audio, what: str = "audio") -> np.ndarray:
    """Check that ``audio`` is one finite mono signal ``[T]``; return it as float32."""
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be one non-empty mono signal of shape [T], got shape {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or infinite samples")
    return arr


def _process_umask() -> int:
    """The process's umask, read without changing it where Linux tells (os.umask would, for all threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_process_umask()  # read once at import, before any threads write files


@contextmanager
def atomic_file(path, mode: int | None = None):
    """Open a temporary binary file; on success put its bytes at ``path``, on failure delete it.

    ``mode``: the new file's permissions (e.g. ``0o600`` for a file only the server's user may read); by default
    those a plainly created file would get.

    A regular file (or a new one) is replaced atomically: the temporary lives next to it (``.<name>.<random>.tmp``,
    hidden, with the permissions a plainly created file would get; mkstemp's are 0600) and is moved over it, so
    readers see the old file or the complete new one. A symbolic link keeps being a link: the file it points to is
    replaced. Anything else that exists and is not a regular file (a FIFO, a device such as ``/dev/null``) is
    written through, never replaced; a folder is refused with ``IsADirectoryError``.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()  # replace what the link points to; the link stays a link
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file")
    special = path.exists() and not path.is_file()
    fd, tmp_name = tempfile.mkstemp(dir=None if special else path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _NEW_FILE_MODE if mode is None else mode)
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            if special:  # write the finished bytes through (a FIFO is not seekable, so nothing is staged there)
                f.seek(0)
                with open(path, "wb") as target:
                    shutil.copyfileobj(f, target)
            else:
                os.fsync(f.fileno())
        if special:
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_wav_once(samples: np.ndarray, sample_rate: int, folder) -> Path:
    """A 16-bit WAV of ``samples`` (int16 ``[T]``) in ``folder``, named by its content (rate and samples): written
    atomically the first time, reused as it is afterwards, so a reader of an earlier copy never sees it rewritten."""
    import hashlib

    import soundfile

    samples = np.asarray(samples, np.int16)
    digest = hashlib.sha256(np.int64(sample_rate).tobytes() + samples.tobytes()).hexdigest()
    path = Path(folder) / "studio-audio" / digest[:2] / f"{digest[2:34]}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as f:
            soundfile.write(f, samples, int(sample_rate), subtype="PCM_16", format="WAV")
    else:
        with suppress(OSError):
            os.utime(path)  # handed out again: the cache sweeper (studio.ui.disk) ages files from their last use
    return path


def write_wav(path, audio, sample_rate: int, subtype: str = "PCM_16", mode: int | None = None) -> Path:
    """Write mono float audio ``[T]`` (nominally in [−1, 1]) to a WAV file, atomically; return the path.

    subtype: ``"PCM_16"`` (default), ``"PCM_24"`` or ``"FLOAT"`` (32-bit float keeps values beyond ±1).
    PCM subtypes clip to [−1, 1] first, because libsndfile would otherwise wrap out-of-range samples around.
    The file is written to a temporary name in the same folder and moved into place with ``os.replace``,
    so a reader never sees half a file and a failed write leaves any previous file untouched. ``mode``: the
    file's permissions (see :func:`atomic_file`).
    """
    import soundfile  # lazy: keeps `import studio.audio` light for callers that only analyse

    arr = _mono_float32(audio)
    if subtype not in WAV_SUBTYPES:
        raise SettingsError(f"WAV subtype {subtype!r} is not supported: choose one of {', '.join(WAV_SUBTYPES)}",
                            "subtype")
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise SettingsError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}", "sample_rate")
    if subtype != "FLOAT":
        arr = np.clip(arr, -1.0, 1.0)
    path = Path(path)
    with atomic_file(path, mode) as f:
        soundfile.write(f, arr, int(sample_rate), subtype=subtype, format="WAV")
    return path


def read_wav(path) -> tuple[np.ndarray, int]:
    """Read an audio file (WAV, FLAC, OGG: whatever libsndfile reads) as mono float32.

    Returns ``(audio [T] float32, sample_rate Hz)``; several channels are averaged to one. Integer PCM is
    scaled to [−1, 1). An unreadable or empty file raises :class:`~studio.errors.StudioError` naming the file.
    """
    import soundfile

    path = Path(path)
    try:
        data, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as err:  # a RuntimeError: make it an error a UI can show as is
        raise StudioError(f"cannot read audio file {path}: {err}") from None
    if data.shape[0] == 0:
        raise StudioError(f"audio file {path} contains no samples")
    return data.mean(axis=1, dtype=np.float32), int(sample_rate)


def to_int16(audio, gain: float = 1.0) -> np.ndarray:
    """Float audio (any shape) → int16 with a fixed gain, clipping at full scale.

    Gradio peak-normalizes float arrays, which would make a quiet sound as loud as a loud one; handing it
    int16 made with the same ``gain`` for every sound keeps their loudness differences audible.
    ``round(clip(audio · gain, −1, 1) · 32767)``; NaN or infinite samples raise ``ValueError``.
    """
    arr = np.asarray(audio, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError("audio contains NaN or infinite samples")
    scaled = np.clip(arr * np.float32(gain), -1.0, 1.0) * INT16_FULL_SCALE
    return np.round(scaled).astype(np.int16)


# ---------------------------------------------------------------------------------------------------------------
# WAV bytes with a sampler's root note (the RIFF `smpl` chunk)

BIT_DEPTHS = {16: "PCM_16", 24: "PCM_24"}
SMPL_CHUNK = b"smpl"


def smpl_chunk(root_note: int, sample_rate: int, cents: float = 0.0) -> bytes:
    """A RIFF ``smpl`` chunk (header + 36 bytes, no loops) naming the sample's root note, which samplers read to map
    the sample across keys. Fields, little-endian uint32: manufacturer 0, product 0, sample period (ns per sample),
    MIDI unity note (0–127), pitch fraction (of a semitone upward, in 1/2³² steps), SMPTE format 0, SMPTE offset 0,
    loop count 0, sampler data 0."""
    import struct

    if not 0 <= int(root_note) <= 127:
        raise SettingsError(f"root note must be a MIDI note from 0 to 127, got {root_note!r}", "root_note")
    fraction = int(round((float(cents) % 100.0) / 100.0 * 2**32)) % 2**32
    body = struct.pack("<9I", 0, 0, int(round(1e9 / sample_rate)), int(root_note), fraction, 0, 0, 0, 0)
    return SMPL_CHUNK + struct.pack("<I", len(body)) + body


def with_smpl_chunk(wav: bytes, root_note: int, sample_rate: int) -> bytes:
    """A RIFF/WAVE file's bytes with a ``smpl`` chunk (:func:`smpl_chunk`) appended and the RIFF size updated.
    soundfile cannot write this chunk; chunks may come in any order after ``fmt``, so appending keeps the file valid
    for every reader (a pad byte first where the file's length is odd, as RIFF aligns chunks to 2 bytes)."""
    import struct

    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    body = wav + (b"\0" if len(wav) % 2 else b"") + smpl_chunk(root_note, sample_rate)
    return body[:4] + struct.pack("<I", len(body) - 8) + body[8:]


def riff_chunks(wav: bytes) -> dict[bytes, bytes]:
    """The chunks of a RIFF/WAVE file: id → data (the first of each id)."""
    import struct

    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    chunks, at = {}, 12
    while at + 8 <= len(wav):
        ident, size = wav[at:at + 4], struct.unpack("<I", wav[at + 4:at + 8])[0]
        chunks.setdefault(ident, wav[at + 8:at + 8 + size])
        at += 8 + size + (size % 2)
    return chunks


def smpl_root_note(wav: bytes) -> int | None:
    """The MIDI unity note of a WAV file's ``smpl`` chunk, or None when it has none."""
    import struct

    data = riff_chunks(wav).get(SMPL_CHUNK)
    return None if data is None or len(data) < 16 else struct.unpack("<I", data[12:16])[0]


def wav_bytes(audio, sample_rate: int, bits: int = 16, root_note: int | None = None) -> bytes:
    """Mono float audio ``[T]`` → the bytes of a PCM WAV file with ``bits`` (16 or 24) per sample, clipped to
    [−1, 1]; with ``root_note``, a ``smpl`` chunk names it (:func:`with_smpl_chunk`)."""
    import io

    import soundfile

    if bits not in BIT_DEPTHS:
        raise SettingsError(f"bit depth must be 16 or 24, got {bits!r}", "bits")
    arr = np.clip(_mono_float32(audio), -1.0, 1.0)
    out = io.BytesIO()
    soundfile.write(out, arr, int(sample_rate), subtype=BIT_DEPTHS[bits], format="WAV")
    data = out.getvalue()
    return data if root_note is None else with_smpl_chunk(data, int(root_note), int(sample_rate))
