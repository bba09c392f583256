"""Saved sounds: a folder of preset files plus their WAVs, safe against bad names, races and crashes.

Layout: ``<root>/<slug>.yaml`` (the preset, the source of truth) and ``<root>/<slug>.wav`` (its render, for
listening and downloading). In public mode every browser session gets its own folder
``<root>/sessions/<namespace>/``. The browser keeps a token the server signed (``v2.<id>.<signature>``, an HMAC
with a key that never leaves the server); the namespace is another HMAC of the token's id, so one session can
neither list, read nor overwrite another's sounds, a forged or altered token is refused, and a folder's name says
nothing about the token that opens it.

Safety rules, and why:
- A sound's file name is a *slug* derived from its display name (``[a-z0-9-]``, at most 60 characters), and
  every slug that arrives from outside is checked against that pattern, so no name can reach outside the
  library folder (``../``, absolute paths, NUL bytes, hidden files).
- Each file is written to a hidden temporary file in the same folder, flushed to disk, then renamed into place
  (``os.replace`` is atomic on POSIX): a crash leaves either the old file or the new one, never half of one.
  The WAV is written before the preset, and only presets are listed, so a crash between the two leaves
  no visible sound; stale temporary files are swept on the next open.
- Folders the library creates are private to the server's user (0700) and so are its files (0600).
- Multi-file operations (save, rename, delete) hold an exclusive ``flock`` on ``<folder>/.lock``, shared by
  threads and processes alike, so "does it exist?" and "write it" cannot interleave with another writer
  (no silent overwrite) and a preset never pairs with another writer's WAV.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

import numpy as np

from studio import limits
from studio.errors import StudioError
from studio.limits import PUBLIC_MAX_SOUNDS  # noqa: F401 (the limits live in studio.limits)

ENV_LIBRARY = "SYNTH_STUDIO_LIBRARY"  # library root folder
ENV_PUBLIC = "SYNTH_STUDIO_PUBLIC"  # "1"/"true": per-session namespaces (default on when SPACE_ID is set)
PRESET_SUFFIX = ".yaml"
WAV_SUFFIX = ".wav"
MAX_NAME_CHARS = 80
MAX_SLUG_CHARS = 60
PRIVATE_DIR_MODE = 0o700  # the library's folders and files: only the server's user may read them
PRIVATE_FILE_MODE = 0o600
TOKEN_PREFIX = "v2."  # a signed session token: "v2.<id>.<signature>"
PENDING_SUFFIX = ".pending"  # ".<slug>.pending": that sound's pair is being replaced (see Library._replacing)

_SLUG_RE = re.compile(rf"[a-z0-9](?:[a-z0-9-]{{0,{MAX_SLUG_CHARS - 1}}})")
_NAMESPACE_RE = re.compile(r"[0-9a-f]{32}")
_TEMP_PREFIX = ".tmp-"

log = logging.getLogger(__name__)


class LibraryError(StudioError):
    """A problem the user can cause (bad name, missing sound, name taken, library full): its message is for them.

    ``field``: ``"name"`` (a display name), ``"slug"`` (a sound's id), ``"tags"``, ``"file"`` (an imported file),
    ``"session"`` (the browser's library token) or None (the library as a whole: full, bad audio).
    """


class SoundExistsError(LibraryError):
    """Saving or renaming would replace an existing sound and overwriting was not asked for."""


class SoundNotFoundError(LibraryError):
    """No sound with that name exists in this library (or namespace)."""


# ---------------------------------------------------------------------------------------------------------------
# Configuration


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def public_mode(env: dict | None = None) -> bool:
    """Whether per-session isolation is on: ``SYNTH_STUDIO_PUBLIC`` if set, else on inside a Hugging Face Space."""
    env = os.environ if env is None else env
    if env.get(ENV_PUBLIC, "").strip():
        return _truthy(env.get(ENV_PUBLIC))
    return bool(env.get("SPACE_ID"))


def default_library_root(env: dict | None = None) -> Path:
    """The library folder: ``$SYNTH_STUDIO_LIBRARY``, else ``$XDG_DATA_HOME/synth-studio/library``
    (``~/.local/share/...`` when XDG_DATA_HOME is unset)."""
    env = os.environ if env is None else env
    if env.get(ENV_LIBRARY, "").strip():
        return Path(env[ENV_LIBRARY]).expanduser()
    data_home = env.get("XDG_DATA_HOME", "").strip() or str(Path("~/.local/share").expanduser())
    return Path(data_home).expanduser() / "synth-studio" / "library"


# ---------------------------------------------------------------------------------------------------------------
# Names


def clean_name(name: str) -> str:
    """A display name, trimmed and checked: 1 to 80 printable characters, at least one letter or digit."""
    if not isinstance(name, str):
        raise LibraryError("the sound's name must be text", "name")
    name = " ".join(name.split())  # collapse whitespace (and drop newlines/tabs)
    if not name:
        raise LibraryError("give the sound a name", "name")
    if len(name) > MAX_NAME_CHARS:
        raise LibraryError(f"the name is too long ({len(name)} characters, at most {MAX_NAME_CHARS})", "name")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in name):
        raise LibraryError("the name contains control or unassigned characters", "name")
    return name


def file_stem(text: str, fallback: str = "") -> str:
    """A safe file stem from any text: ASCII lowercase letters, digits and single hyphens, at most
    ``MAX_SLUG_CHARS``. Accents are dropped (``"Bässe Nº1"`` → ``"basse-no1"``); everything else separates words,
    so ``"../x"`` becomes ``"x"``. ``fallback`` when nothing usable remains."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:MAX_SLUG_CHARS].strip("-") or fallback


def slugify(name: str) -> str:
    """The file stem (:func:`file_stem`) for a display name (:func:`clean_name`); :class:`LibraryError` when nothing
    usable remains."""
    slug = file_stem(clean_name(name))
    if not slug:
        raise LibraryError(f"the name {name!r} needs at least one letter or digit (A–Z, 0–9)", "name")
    return slug


def check_slug(slug: str) -> str:
    """Return ``slug`` if it is a well-formed sound id; raise :class:`LibraryError` otherwise (traversal etc.)."""
    if not isinstance(slug, str) or not _SLUG_RE.fullmatch(slug):
        raise LibraryError(f"{slug!r} is not a valid sound id", "slug")
    return slug


def _mac(key: str, purpose: str, ident: str) -> str:
    return hmac.new(key.encode(), f"synth-studio/{purpose}/{ident}".encode(), hashlib.sha256).hexdigest()


def new_session_token(key: str | None = None) -> str:
    """A fresh secret that identifies one browser's library in public mode (~192 random bits).

    With the server's ``key`` it is signed, ``v2.<id>.<signature>`` (see :func:`token_id`): the form the studio
    hands to browsers. Without one, the bare random id (for a library opened without a key)."""
    ident = secrets.token_urlsafe(24)
    if key is None:
        return ident
    return f"{TOKEN_PREFIX}{ident}.{_mac(key, 'token', ident)[:43]}"


def token_id(token, key: str) -> str | None:
    """The id inside a token signed with ``key``, or None for anything else (forged, altered, signed with another
    key, an old unsigned token, not text)."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    ident, _, signature = token[len(TOKEN_PREFIX):].rpartition(".")
    if len(ident) < 16 or not hmac.compare_digest(signature, _mac(key, "token", ident)[:43]):
        return None
    return ident


def namespace_for(token: str, key: str | None = None) -> str:
    """The folder name of a session's library: 32 hex digits.

    With the server's ``key``: an HMAC of the signed token's id (a token that :func:`token_id` refuses raises
    :class:`LibraryError`), so only the server can tell which folder a token opens and a folder's name leads to no
    token. Without one: SHA-256 of the token. Either keeps the token out of file names and makes any token,
    however odd, a safe path component.
    """
    if key is not None:
        ident = token_id(token, key)
        if ident is None:
            raise LibraryError("this browser's library token is not valid here: reload the page", "session")
        return _mac(key, "namespace", ident)[:32]
    if not isinstance(token, str) or len(token) < 16:
        raise LibraryError("the session token is missing or too short", "session")
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------------------------
# Atomic files


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a hidden temporary file in the same folder and an atomic rename."""
    from studio.audio.io import atomic_file

    with atomic_file(path, PRIVATE_FILE_MODE) as f:
        f.write(data)


def _write_wav_atomic(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    from studio.audio.io import write_wav  # stages in a hidden ".<name>.*.tmp" file and renames: atomic

    write_wav(path, np.asarray(audio, np.float32), int(sample_rate), subtype=subtype, mode=PRIVATE_FILE_MODE)


def _fsync_dir(folder: Path) -> None:
    # Makes the renames themselves durable; harmless where directories cannot be opened.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------------------------------
# The library


@dataclasses.dataclass(frozen=True)
class Entry:
    """One saved sound: ``slug`` is its id and file stem, ``name`` its display name."""

    slug: str
    name: str
    tags: tuple[str, ...]
    created: str
    preset_path: Path
    wav_path: Path


class Library:
    """The saved sounds in one folder (one namespace in public mode).

    root: the library root; namespace: ``None`` for the root itself (local mode) or a 32-hex-digit
    :func:`namespace_for` value (public mode: ``root/sessions/<namespace>``). max_sounds: refuse new sounds
    beyond this count (``None``: no limit). max_bytes: refuse a save that would take this folder's files beyond
    this many bytes. max_total_bytes, max_sessions (namespaces only): refuse a save that would take all sessions'
    files together beyond this many bytes, or that would start a library when this many session folders exist.
    """

    def __init__(self, root: str | os.PathLike, namespace: str | None = None, max_sounds: int | None = None,
                 max_bytes: int | None = None, max_total_bytes: int | None = None, max_sessions: int | None = None):
        root = Path(root).expanduser()
        self.root = root
        if namespace is not None:
            if not isinstance(namespace, str) or not _NAMESPACE_RE.fullmatch(namespace):
                raise LibraryError("invalid library namespace", "session")
            self.folder = root / "sessions" / namespace
        else:
            self.folder = root
        self.max_sounds = max_sounds
        self.max_bytes = max_bytes
        self.sessions = self.folder.parent if namespace is not None else None  # all public libraries' folder
        self.max_total_bytes = max_total_bytes if namespace is not None else None
        self.max_sessions = max_sessions if namespace is not None else None
        self._recover()  # the folder itself is created by the first write, not by looking

    # -- paths -----------------------------------------------------------------------------------------------
    def preset_path(self, slug: str) -> Path:
        return self.folder / f"{check_slug(slug)}{PRESET_SUFFIX}"

    def wav_path(self, slug: str) -> Path:
        return self.folder / f"{check_slug(slug)}{WAV_SUFFIX}"

    @contextlib.contextmanager
    def _locked(self):
        # One lock file per folder; flock is per open file description, so threads of one process exclude each
        # other as well as other processes, and a killed holder releases it automatically.
        if not self.folder.is_dir():
            if self.folder != self.root:  # <root>/sessions: private too, not only the session's own folder
                self.folder.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            self.folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _pending(self, slug: str) -> Path:
        """The marker a writer leaves while a sound's pair of files is being replaced."""
        return self.folder / f".{slug}{PENDING_SUFFIX}"

    @contextlib.contextmanager
    def _replacing(self, *slugs: str):
        """Mark ``slugs`` as being rewritten for the duration (under the lock): if the writer dies in between, the
        next :meth:`_recover` re-renders their WAVs from their presets, so no mismatched pair survives a crash."""
        markers = [self._pending(slug) for slug in slugs]
        for marker in markers:
            marker.touch(mode=PRIVATE_FILE_MODE)
        _fsync_dir(self.folder)
        yield
        _fsync_dir(self.folder)
        for marker in markers:
            marker.unlink(missing_ok=True)

    def _recover(self) -> None:
        """Clean up after writers that died: under the lock no writer is alive, so every temporary file is a dead
        one's (removed), and every pending marker names a sound whose WAV may not match its preset (re-rendered
        from the preset, which atomic renames keep whole; a WAV without a preset is removed)."""
        if not self.folder.is_dir() or not any(self.folder.glob(".*[.]tmp")) and not any(
                self.folder.glob(f".*{PENDING_SUFFIX}")):
            return
        with self._locked():
            for tmp in self.folder.glob(".*.tmp"):  # what studio.audio.io.atomic_file leaves if a writer dies
                tmp.unlink(missing_ok=True)
            for marker in self.folder.glob(f".*{PENDING_SUFFIX}"):
                slug = marker.name[1:-len(PENDING_SUFFIX)]
                if _SLUG_RE.fullmatch(slug):
                    self._rerender(slug)
                marker.unlink(missing_ok=True)
            _fsync_dir(self.folder)

    def _rerender(self, slug: str) -> None:
        from studio.presets import PresetError, preset_render

        try:
            preset = self.load(slug)
        except (SoundNotFoundError, PresetError, OSError, UnicodeDecodeError):
            self.wav_path(slug).unlink(missing_ok=True)  # no (readable) preset: a lone WAV is no sound
            return
        _write_wav_atomic(self.wav_path(slug), preset_render(preset), preset.settings.sample_rate)
        log.warning("library %s: re-rendered %s.wav after an interrupted save", self.folder, slug)

    # -- reading ---------------------------------------------------------------------------------------------
    def slugs(self) -> list[str]:
        """Ids of the saved sounds, sorted."""
        return sorted(p.stem for p in self.folder.glob(f"*{PRESET_SUFFIX}") if _SLUG_RE.fullmatch(p.stem))

    def exists(self, slug: str) -> bool:
        return self.preset_path(slug).is_file()

    def load(self, slug: str):
        """The saved :class:`~studio.presets.Preset` with this id. Raises :class:`SoundNotFoundError` if absent,
        ``PresetError`` if its file is invalid."""
        from studio.presets import loads_preset

        path = self.preset_path(slug)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SoundNotFoundError(f"no saved sound called {slug!r}", "slug") from None
        return loads_preset(text, source=path.name, fmt="yaml")

    def entries(self) -> list[Entry]:
        """Every readable saved sound, sorted by display name; unreadable files are skipped (and logged)."""
        from studio.presets import PresetError

        out = []
        for slug in self.slugs():
            try:
                p = self.load(slug)
            except (PresetError, SoundNotFoundError, OSError, UnicodeDecodeError) as e:
                log.warning("skipping unreadable library file %s: %s", slug, e)
                continue
            out.append(Entry(slug, p.name, tuple(p.tags), p.created, self.preset_path(slug), self.wav_path(slug)))
        return sorted(out, key=lambda e: (e.name.lower(), e.slug))

    # -- writing ---------------------------------------------------------------------------------------------
    def save(self, preset, audio: np.ndarray, sample_rate: int, overwrite: bool = False) -> Entry:
        """Save ``preset`` (its ``name`` decides the id) and its render ``audio`` ``[T]`` float32 at ``sample_rate``.

        Raises :class:`SoundExistsError` if the id is taken and ``overwrite`` is false, :class:`LibraryError` for a
        bad name or a full library. Both files are replaced atomically, preset last.
        """
        from studio.presets import dumps_preset

        slug = slugify(preset.name)
        text = dumps_preset(preset, fmt="yaml")  # serialize before touching the disk: a bad preset writes nothing
        audio = np.asarray(audio, np.float32)
        if audio.ndim != 1 or audio.size == 0:
            raise LibraryError(f"audio must be one non-empty channel [T], got shape {list(audio.shape)}")
        new_bytes = _WAV_HEADER_BYTES + 2 * audio.size + len(text.encode("utf-8"))  # a 16-bit WAV and the preset
        self._check_shared_space(slug, new_bytes)  # before the folder exists: a refused visitor leaves none
        with self._locked():
            exists = self.exists(slug)
            if exists and not overwrite:
                raise SoundExistsError(f"a sound called {preset.name!r} already exists; choose another name or "
                                       "allow overwriting", "name")
            if not exists and self.max_sounds is not None and len(self.slugs()) >= self.max_sounds:
                raise LibraryError(f"the library is full ({self.max_sounds} sounds): delete some first")
            old_bytes = self._pair_bytes(slug)
            if self.max_bytes is not None:
                used = _folder_bytes(self.folder)
                if used - old_bytes + new_bytes > self.max_bytes:
                    raise LibraryError(f"your library is full: {_mb(used)} of {_mb(self.max_bytes)} used, and this "
                                       f"sound needs {_mb(new_bytes)}; delete some sounds first (or save at a lower "
                                       "sample rate or a shorter buffer length)")
            with self._replacing(slug):
                _write_wav_atomic(self.wav_path(slug), audio, sample_rate)
                _write_bytes_atomic(self.preset_path(slug), text.encode("utf-8"))
            if self.sessions is not None:
                _sessions_usage_add(self.sessions, self._pair_bytes(slug) - old_bytes)
        return Entry(slug, preset.name, tuple(preset.tags), preset.created, self.preset_path(slug), self.wav_path(slug))

    def _pair_bytes(self, slug: str) -> int:
        """The bytes a saved sound's two files take (0 for files that do not exist)."""
        total = 0
        for path in (self.wav_path(slug), self.preset_path(slug)):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def _check_shared_space(self, slug: str, new_bytes: int) -> None:
        """Refuse a save that would start a library beyond ``max_sessions`` or take all public libraries beyond
        ``max_total_bytes`` (the shared disk; approximate, without the lock: the totals are recounted now and then)."""
        if self.sessions is None:
            return
        if self.max_sessions is not None and not _has_sounds(self.folder):
            with contextlib.suppress(OSError):
                if sum(1 for p in self.sessions.iterdir() if _has_sounds(p)) >= self.max_sessions:
                    raise LibraryError(f"this studio already keeps the most libraries it can ({self.max_sessions} "
                                       "browsers), so a new one cannot be started now: export the sound to keep "
                                       "it (Export WAV + preset)")
        if self.max_total_bytes is not None:
            total = sessions_bytes(self.sessions)
            if total - self._pair_bytes(slug) + new_bytes > self.max_total_bytes:
                raise LibraryError(f"this studio's disk space for saved sounds is used up ({_mb(total)} of "
                                   f"{_mb(self.max_total_bytes)} for all visitors), so nothing can be saved now: "
                                   "export the sound to keep it (Export WAV + preset)")

    def rename(self, slug: str, new_name: str, overwrite: bool = False) -> Entry:
        """Give a saved sound a new display name (and so a new id); its sound is unchanged."""
        from studio.presets import dumps_preset

        new_name = clean_name(new_name)
        new_slug = slugify(new_name)
        if not self.folder.is_dir():  # nothing to rename; and looking must not create a (session) folder
            raise SoundNotFoundError(f"no saved sound called {check_slug(slug)!r}", "slug")
        with self._locked():
            preset = dataclasses.replace(self.load(check_slug(slug)), name=new_name)
            if new_slug != slug and self.exists(new_slug) and not overwrite:
                raise SoundExistsError(f"a sound called {new_name!r} already exists; choose another name or "
                                       "allow overwriting", "name")
            # New preset first, old one last: a crash in between shows the sound twice, never loses it.
            old_wav, new_wav = self.wav_path(slug), self.wav_path(new_slug)
            with self._replacing(slug, new_slug):
                _write_bytes_atomic(self.preset_path(new_slug), dumps_preset(preset, fmt="yaml").encode("utf-8"))
                if new_slug != slug:
                    if old_wav.exists():
                        os.replace(old_wav, new_wav)
                    self.preset_path(slug).unlink(missing_ok=True)
        return Entry(new_slug, new_name, tuple(preset.tags), preset.created, self.preset_path(new_slug), new_wav)

    def delete(self, slug: str) -> None:
        """Remove a saved sound (preset first, so a crash never leaves a listed sound without its file)."""
        if not self.folder.is_dir():  # nothing to delete; and looking must not create a (session) folder
            raise SoundNotFoundError(f"no saved sound called {check_slug(slug)!r}", "slug")
        with self._locked():
            path = self.preset_path(slug)
            if not path.exists():
                raise SoundNotFoundError(f"no saved sound called {slug!r}", "slug")
            freed = self._pair_bytes(slug)
            path.unlink()
            self.wav_path(slug).unlink(missing_ok=True)
            _fsync_dir(self.folder)
            if self.sessions is not None:
                _sessions_usage_add(self.sessions, -freed)


def open_library(root: str | os.PathLike, public: bool, token: str | None, key: str | None = None) -> Library:
    """The library a session sees: the root itself locally, or the token's own namespace in public mode
    (``key``: the server's token key, see :func:`namespace_for`)."""
    if not public:
        return Library(root)
    if not token:
        raise LibraryError("this session has no library yet: reload the page", "session")
    return Library(root, namespace=namespace_for(token, key), max_sounds=limits.PUBLIC_MAX_SOUNDS,
                   max_bytes=limits.PUBLIC_MAX_SESSION_BYTES, max_total_bytes=limits.PUBLIC_MAX_TOTAL_BYTES,
                   max_sessions=limits.PUBLIC_MAX_SESSIONS)


# ---------------------------------------------------------------------------------------------------------------
# Disk use (public mode's quotas)

_WAV_HEADER_BYTES = 44
_usage_lock = threading.Lock()
_usage: dict[str, list] = {}  # sessions folder -> [monotonic time it was counted, bytes]


def _mb(n: int) -> str:
    return f"{n / limits.MB:.1f} MB"


def _has_sounds(folder: Path) -> bool:
    """Whether a session folder holds a saved sound (an emptied library holds no place among PUBLIC_MAX_SESSIONS)."""
    return folder.is_dir() and any(folder.glob(f"*{PRESET_SUFFIX}"))


def _folder_bytes(folder: Path) -> int:
    """The bytes of the files directly in ``folder`` (a library holds no subfolders)."""
    total = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as it:
        for entry in it:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def sessions_bytes(sessions: str | os.PathLike) -> int:
    """The bytes all public libraries under ``sessions`` take: counted from the disk at most every
    ``LIBRARY_RECOUNT_S`` seconds, and kept up to date by this process's saves and deletes in between."""
    key = str(Path(sessions).resolve())
    with _usage_lock:
        entry = _usage.get(key)
        if entry is None or time.monotonic() - entry[0] > limits.LIBRARY_RECOUNT_S:
            total = 0
            with contextlib.suppress(FileNotFoundError), os.scandir(key) as it:
                for sub in it:
                    if sub.is_dir(follow_symlinks=False):
                        total += _folder_bytes(Path(sub.path))
            entry = _usage[key] = [time.monotonic(), total]
        return entry[1]


def _sessions_usage_add(sessions: Path, delta: int) -> None:
    key = str(Path(sessions).resolve())
    with _usage_lock:
        if key in _usage:
            _usage[key][1] += delta


# ---------------------------------------------------------------------------------------------------------------
# Exports and imports (files that leave or enter the studio through the browser)

MAX_IMPORT_BYTES = 256 * 1024  # a preset is ~4 KB; anything near this is not one


def export_files(preset, audio: np.ndarray, sample_rate: int, folder: str | os.PathLike,
                 subtype: str = "PCM_16") -> tuple[Path, Path]:
    """Write ``<slug>.wav`` and ``<slug>.yaml`` for a download into a fresh subfolder of ``folder``.

    The files are named after the sound (``"Warm Bass"`` → ``warm-bass.wav``) so a browser saves them under a
    meaningful name; a fresh subfolder per export keeps concurrent sessions' files apart. ``subtype``: the WAV's
    sample format (``PCM_16``, ``PCM_24`` or ``FLOAT``). Returns ``(wav_path, preset_path)``.
    """
    from studio.presets import dumps_preset

    slug = slugify(preset.name)
    out = Path(tempfile.mkdtemp(prefix="export-", dir=Path(folder)))
    preset_path = out / f"{slug}{PRESET_SUFFIX}"
    _write_bytes_atomic(preset_path, dumps_preset(preset, fmt="yaml").encode("utf-8"))
    wav_path = out / f"{slug}{WAV_SUFFIX}"
    _write_wav_atomic(wav_path, audio, sample_rate, subtype)
    return wav_path, preset_path


def sweep_exports(folder: str | os.PathLike, max_age_s: float = 3600.0) -> int:
    """Delete export subfolders older than ``max_age_s`` seconds (downloads happen right after export);
    returns how many were removed."""
    import shutil

    removed, now = 0, time.time()
    for sub in Path(folder).glob("export-*"):
        with contextlib.suppress(OSError):
            if now - sub.stat().st_mtime > max_age_s:
                shutil.rmtree(sub)
                removed += 1
    return removed


def import_preset(path: str | os.PathLike, display_name: str | None = None):
    """Read an uploaded preset file (YAML or JSON, by suffix or content), strictly validated.

    Raises ``PresetError`` (a ``ValueError``) naming the file and the bad field, or :class:`LibraryError` for a file
    that is too large or not UTF-8 text. ``display_name`` is the name to quote in messages (the browser's file
    name rather than the server's temporary path).
    """
    from studio.presets import loads_preset

    path = Path(path)
    shown = display_name or path.name
    size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise LibraryError(f"{shown} is {size // 1024} KB: too large to be a preset file "
                           f"(at most {MAX_IMPORT_BYTES // 1024} KB)", "file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise LibraryError(f"{shown} is not a text file: expected a YAML or JSON preset", "file") from None
    suffix = path.suffix.lower()
    fmt = "json" if suffix == ".json" else "yaml" if suffix in (".yaml", ".yml") else None
    return loads_preset(text, source=shown, fmt=fmt)


MAX_TAGS = 12
MAX_TAG_CHARS = 32


def parse_tags(text: str | None) -> tuple[str, ...]:
    """Comma-separated tags → a tuple of trimmed, de-duplicated tags (order kept). Raises :class:`LibraryError`
    for too many or too long tags."""
    tags = tuple(dict.fromkeys(" ".join(t.split()) for t in (text or "").split(",") if t.strip()))
    if len(tags) > MAX_TAGS:
        raise LibraryError(f"too many tags ({len(tags)}, at most {MAX_TAGS})", "tags")
    for tag in tags:
        if len(tag) > MAX_TAG_CHARS:
            raise LibraryError(f"the tag {tag[:20]!r}… is too long (at most {MAX_TAG_CHARS} characters)", "tags")
    return tags


TOKEN_KEY_FILE = ".token-key"


def load_or_create_secret(root: str | os.PathLike, name: str = TOKEN_KEY_FILE) -> str:
    """A persistent random secret stored in ``<root>/<name>`` (created once, mode 0600), by default the key that
    signs public-mode tokens and names their libraries (:func:`new_session_token`, :func:`namespace_for`). It
    never leaves the server; a fresh key per start would make every browser's library unreachable after a restart.
    """
    root = Path(root).expanduser()
    root.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path = root / name
    with contextlib.suppress(FileNotFoundError):
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 32:
            return secret
    secret = secrets.token_hex(32)
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=root)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret)
        try:
            os.link(tmp, path)  # first writer wins: two servers starting together agree on one secret
        except FileExistsError:
            existing = path.read_text(encoding="ascii").strip()
            if len(existing) >= 32:
                return existing
            os.replace(tmp, path)  # a damaged secret file: replace it
        except OSError:  # a filesystem without hard links
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return secret
