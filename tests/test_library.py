"""The sound library: names that cannot escape the folder, no silent overwrites, atomic saves under races and
crashes, and per-session isolation in public mode."""
from __future__ import annotations

import dataclasses
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from studio import library as lib
from studio.audio.io import read_wav
from studio.library import (Library, LibraryError, SoundExistsError, SoundNotFoundError, check_slug, clean_name,
                            export_files, import_preset, namespace_for, open_library, parse_tags, slugify)
from studio.presets import Preset, PresetError, dumps_preset, loads_preset, preset_render
from studio.synth import RenderSettings, default_theta

ROOT = Path(__file__).resolve().parent.parent
SR = 8000  # small files: the library does not care about the rate


def sound(name: str, level: float = 0.5, **kw) -> tuple[Preset, np.ndarray]:
    """A preset whose first knob encodes ``level`` and a matching constant 'audio' [T], so a test can tell which
    writer produced a preset file and which produced a WAV."""
    theta = default_theta().copy()
    theta[0] = level
    preset = Preset(name=name, theta=theta, settings=RenderSettings(), **kw)
    return preset, np.full(400, preset.theta[0], np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize("name, slug", [
    ("Warm Bass", "warm-bass"),
    ("../../etc/passwd", "etc-passwd"),
    ("/absolute/path.yaml", "absolute-path-yaml"),
    ("..\\..\\windows", "windows"),
    ("Bässe Nº1", "basse-no1"),
    ("  lots   of   space  ", "lots-of-space"),
    ("x" * 80, "x" * 60),
])
def test_slugify_keeps_names_inside_the_folder(name, slug):
    assert slugify(name) == slug
    assert check_slug(slug) == slug


@pytest.mark.parametrize("name", ["", "   ", "..", "../", "/", "***", "日本語", "\x00", "a\x00b", "x" * 81,
                                  "a\u202eb"])
def test_unusable_names_are_refused_with_a_message(name):
    with pytest.raises(LibraryError) as err:
        slugify(name)
    assert str(err.value)


@pytest.mark.parametrize("slug", ["../x", "a/b", ".hidden", "Upper", "-lead", "x" * 61, "a\x00", "", "a b", "/etc"])
def test_ids_from_outside_are_checked(tmp_path, slug):
    library = Library(tmp_path / "lib")
    with pytest.raises(LibraryError):
        library.load(slug)
    with pytest.raises(LibraryError):
        library.delete(slug)


def test_a_traversal_id_cannot_read_a_file_next_to_the_library(tmp_path):
    preset, audio = sound("secret")
    (tmp_path / "secret.yaml").write_text(dumps_preset(preset))  # outside lib/, one level up
    library = Library(tmp_path / "lib")
    with pytest.raises(LibraryError, match="not a valid sound id"):
        library.load("../secret")
    assert library.slugs() == []


def test_clean_name_collapses_whitespace():
    assert clean_name("  my\tnew\nsound ") == "my new sound"


def test_parse_tags():
    assert parse_tags(" bass, dark ,, bass,  warm  pad ") == ("bass", "dark", "warm pad")
    assert parse_tags("") == ()
    with pytest.raises(LibraryError, match="too many"):
        parse_tags(",".join(f"t{i}" for i in range(13)))
    with pytest.raises(LibraryError, match="too long"):
        parse_tags("x" * 33)


# ---------------------------------------------------------------------------------------------------------------
# Saving, loading, renaming, deleting


def test_save_and_load_round_trip(tmp_path):
    library = Library(tmp_path)
    preset, audio = sound("Warm Bass", 0.25, tags=("bass", "warm"))
    entry = library.save(preset, audio, SR)
    assert entry.slug == "warm-bass"
    assert library.load("warm-bass") == preset
    wav, sr = read_wav(entry.wav_path)
    assert sr == SR and np.allclose(wav, audio, atol=1 / 32767)
    [listed] = library.entries()
    assert (listed.name, listed.tags) == ("Warm Bass", ("bass", "warm"))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["warm-bass.wav",
                                                                                         "warm-bass.yaml"]


def test_no_overwrite_without_asking(tmp_path):
    library = Library(tmp_path)
    first, audio = sound("Warm Bass", 0.25)
    library.save(first, audio, SR)
    second, audio2 = sound("warm-bass!", 0.75)  # a different spelling of the same id
    with pytest.raises(SoundExistsError, match="already exists"):
        library.save(second, audio2, SR)
    assert library.load("warm-bass") == first
    library.save(second, audio2, SR, overwrite=True)
    assert library.load("warm-bass") == second
    assert np.allclose(read_wav(library.wav_path("warm-bass"))[0], audio2, atol=1 / 32767)


def test_rename_moves_both_files_and_refuses_to_clobber(tmp_path):
    library = Library(tmp_path)
    a, audio_a = sound("alpha", 0.2)
    b, audio_b = sound("beta", 0.8)
    library.save(a, audio_a, SR)
    library.save(b, audio_b, SR)
    with pytest.raises(SoundExistsError):
        library.rename("alpha", "Beta")
    assert library.load("alpha") == a and library.load("beta") == b
    entry = library.rename("alpha", "Gamma ray")
    assert entry.slug == "gamma-ray" and library.slugs() == ["beta", "gamma-ray"]
    assert library.load("gamma-ray").name == "Gamma ray"
    assert np.array_equal(library.load("gamma-ray").theta, a.theta)
    assert np.allclose(read_wav(entry.wav_path)[0], audio_a, atol=1 / 32767)
    assert not library.wav_path("alpha").exists()
    with pytest.raises(SoundNotFoundError):
        library.rename("alpha", "delta")


def test_delete(tmp_path):
    library = Library(tmp_path)
    preset, audio = sound("gone")
    library.save(preset, audio, SR)
    library.delete("gone")
    assert library.slugs() == [] and not library.wav_path("gone").exists()
    with pytest.raises(SoundNotFoundError, match="no saved sound"):
        library.delete("gone")


def test_unreadable_files_are_skipped_not_fatal(tmp_path):
    library = Library(tmp_path)
    preset, audio = sound("good")
    library.save(preset, audio, SR)
    (tmp_path / "broken.yaml").write_text("format_version: 1\nname: [unclosed\n")
    assert [e.slug for e in library.entries()] == ["good"]
    with pytest.raises(PresetError, match="broken.yaml"):
        library.load("broken")


def test_a_bad_preset_writes_nothing(tmp_path):
    library = Library(tmp_path)
    preset, _ = sound("x")
    with pytest.raises(LibraryError, match="one non-empty channel"):
        library.save(preset, np.zeros((2, 10), np.float32), SR)
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


# ---------------------------------------------------------------------------------------------------------------
# Concurrency


def _run_threads(n: int, target) -> list:
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()  # start together, to make the race as tight as possible
        try:
            results[i] = target(i)
        except Exception as e:  # noqa: BLE001 — collected and checked by the caller
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_saves_of_one_name_let_exactly_one_win(tmp_path):
    library = Library(tmp_path)
    sounds = [sound("Same name", (i + 1) / 10) for i in range(8)]
    results = _run_threads(8, lambda i: Library(tmp_path).save(*sounds[i], SR))
    winners = [i for i, r in enumerate(results) if isinstance(r, lib.Entry)]
    losers = [r for r in results if isinstance(r, SoundExistsError)]
    assert len(winners) == 1 and len(losers) == 7
    assert library.load("same-name") == sounds[winners[0]][0]


def test_an_overwrite_cannot_slip_between_another_writers_two_files(tmp_path, monkeypatch):
    """Writer A pauses between its WAV and its preset while writer B overwrites the same sound. With the lock,
    B waits and the files end up as B's pair; without it, A's preset would end up beside B's WAV."""
    a_between_files, b_at_lock = threading.Event(), threading.Event()
    write_wav, flock = lib._write_wav_atomic, lib.fcntl.flock

    def pausing_write_wav(path, audio, sample_rate):
        write_wav(path, audio, sample_rate)
        if threading.current_thread().name == "A":
            a_between_files.set()
            # A holds the lock: B asks for it, and blocks until A's save is complete.
            assert b_at_lock.wait(timeout=30), "writer B never asked for the lock"

    def announcing_flock(fd, operation):
        if threading.current_thread().name == "B" and operation == lib.fcntl.LOCK_EX:
            b_at_lock.set()
        return flock(fd, operation)

    monkeypatch.setattr(lib, "_write_wav_atomic", pausing_write_wav)
    monkeypatch.setattr(lib.fcntl, "flock", announcing_flock)

    def save_b():
        assert a_between_files.wait(timeout=30), "writer A never wrote its WAV"
        Library(tmp_path).save(*sound("contested", 0.75), SR, overwrite=True)

    a = threading.Thread(target=lambda: Library(tmp_path).save(*sound("contested", 0.25), SR, overwrite=True),
                         name="A")
    b = threading.Thread(target=save_b, name="B")
    a.start(), b.start()
    a.join(), b.join()
    library = Library(tmp_path)
    level = library.load("contested").theta[0]
    wav, _ = read_wav(library.wav_path("contested"))
    assert level == pytest.approx(0.75) and np.allclose(wav, level, atol=1 / 32767)


def test_concurrent_saves_of_different_names_all_land(tmp_path):
    results = _run_threads(8, lambda i: Library(tmp_path).save(*sound(f"sound {i}", 0.5), SR))
    assert all(isinstance(r, lib.Entry) for r in results)
    assert Library(tmp_path).slugs() == sorted(f"sound-{i}" for i in range(8))


# ---------------------------------------------------------------------------------------------------------------
# A process killed in the middle of a save

_KILLED_SAVER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from studio.library import Library
    from studio.presets import Preset
    from studio.synth import RenderSettings, default_theta

    root, pause_at = sys.argv[1], int(sys.argv[2])
    theta = default_theta().copy(); theta[0] = 0.9
    preset = Preset(name="victim", theta=theta, settings=RenderSettings())
    real_replace, calls = os.replace, [0]

    def replace(src, dst):  # the moment a temporary file is complete but not yet renamed into place
        calls[0] += 1
        if calls[0] == pause_at:
            print("PAUSED", flush=True)
            time.sleep(60)
        return real_replace(src, dst)

    os.replace = replace
    Library(root).save(preset, np.full(400, 0.9, np.float32), 8000, overwrite=True)
    print("FINISHED", flush=True)
""")


@pytest.mark.parametrize("had_old_version", [False, True])
@pytest.mark.parametrize("pause_at, stage", [(1, "before the WAV is in place"), (2, "between WAV and preset")])
def test_a_process_killed_mid_save_leaves_no_partial_sound(tmp_path, pause_at, stage, had_old_version):
    old, old_audio = sound("victim", 0.1)
    if had_old_version:
        Library(tmp_path).save(old, old_audio, SR)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_SAVER, str(tmp_path), str(pause_at)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"})
    try:
        assert proc.stdout.readline().strip() == "PAUSED", f"the saver never reached the point {stage}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    library = Library(tmp_path)  # opening the library recovers from the killed writer
    if had_old_version:  # the old sound is intact and still listed …
        assert library.slugs() == ["victim"] and library.load("victim") == old
        # … and its WAV is the old preset's own sound again, even when the killed writer had replaced it already
        wav, rate = read_wav(library.wav_path("victim"))
        expected = np.asarray(preset_render(old))
        assert rate == old.settings.sample_rate and np.max(np.abs(wav - expected)) <= 1 / 32767
    else:  # nothing half-saved is listed, and no lone WAV is left
        assert library.slugs() == [] and library.entries() == []
        assert not library.wav_path("victim").exists()
    # No temporary file or pending marker survives the next open: the killed writer's lock died with it.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".lock"] == []
    new, new_audio = sound("victim", 0.6)
    Library(tmp_path).save(new, new_audio, SR, overwrite=True)
    assert Library(tmp_path).load("victim") == new


def test_a_pending_rename_is_recovered_on_open(tmp_path):
    """A rename killed after writing the new preset: both names list, each WAV matches its own preset."""
    old, old_audio = sound("before", 0.2)
    library = Library(tmp_path)
    library.save(old, np.asarray(preset_render(old)), old.settings.sample_rate)
    renamed = dataclasses.replace(old, name="after")
    lib._write_bytes_atomic(library.preset_path("after"), dumps_preset(renamed).encode())
    for slug in ("before", "after"):
        library._pending(slug).touch()  # what Library.rename leaves when killed at that point
    recovered = Library(tmp_path)
    assert recovered.slugs() == ["after", "before"]
    for slug in ("before", "after"):
        wav, _ = read_wav(recovered.wav_path(slug))
        assert np.max(np.abs(wav - np.asarray(preset_render(recovered.load(slug))))) <= 1 / 32767
    assert not list(tmp_path.glob(".*.pending"))


# ---------------------------------------------------------------------------------------------------------------
# Public mode: one namespace per browser session


def test_public_sessions_cannot_see_read_or_overwrite_each_other(tmp_path):
    token_a, token_b = lib.new_session_token(), lib.new_session_token()
    a, b = open_library(tmp_path, True, token_a), open_library(tmp_path, True, token_b)
    assert a.folder != b.folder and a.folder.parent == b.folder.parent == tmp_path / "sessions"
    mine, audio = sound("my secret sound", 0.3)
    a.save(mine, audio, SR)
    assert b.slugs() == [] and b.entries() == []
    with pytest.raises(SoundNotFoundError):
        b.load("my-secret-sound")
    with pytest.raises(SoundNotFoundError):
        b.delete("my-secret-sound")
    with pytest.raises(SoundNotFoundError):
        b.rename("my-secret-sound", "stolen")
    theirs, audio2 = sound("my secret sound", 0.7)
    b.save(theirs, audio2, SR)  # the same name in another namespace is another sound
    assert a.load("my-secret-sound") == mine and b.load("my-secret-sound") == theirs
    # The same token (the same browser after a reload) finds its sounds again.
    assert open_library(tmp_path, True, token_a).load("my-secret-sound") == mine
    # The local (non-public) library does not list public sessions' sounds.
    assert open_library(tmp_path, False, None).slugs() == []


def test_public_namespaces_come_only_from_tokens(tmp_path):
    with pytest.raises(LibraryError):
        open_library(tmp_path, True, None)
    with pytest.raises(LibraryError, match="too short"):
        namespace_for("short")
    for bad in ["../../etc", "ABCDEF" * 6, "0" * 31]:
        with pytest.raises(LibraryError, match="namespace"):
            Library(tmp_path, namespace=bad)
    odd = "../../" * 5 + "x" * 10
    assert Library(tmp_path, namespace=namespace_for(odd)).folder.parent == tmp_path / "sessions"


def test_public_libraries_have_a_quota(tmp_path):
    library = Library(tmp_path, namespace=namespace_for(lib.new_session_token()), max_sounds=2)
    for i in range(2):
        library.save(*sound(f"s{i}"), SR)
    with pytest.raises(LibraryError, match="full"):
        library.save(*sound("one too many"), SR)
    library.save(*sound("s1", 0.9), SR, overwrite=True)  # replacing is not growing


# ---------------------------------------------------------------------------------------------------------------
# Configuration, exports and imports


def test_library_root_and_public_mode_from_the_environment(tmp_path):
    assert lib.default_library_root({"SYNTH_STUDIO_LIBRARY": str(tmp_path)}) == tmp_path
    assert lib.default_library_root({"XDG_DATA_HOME": "/x"}) == Path("/x/synth-studio/library")
    assert lib.default_library_root({}) == Path("~/.local/share/synth-studio/library").expanduser()
    assert lib.public_mode({}) is False
    assert lib.public_mode({"SPACE_ID": "user/space"}) is True
    assert lib.public_mode({"SPACE_ID": "user/space", "SYNTH_STUDIO_PUBLIC": "0"}) is False
    assert lib.public_mode({"SYNTH_STUDIO_PUBLIC": "true"}) is True


def test_exports_are_named_after_the_sound(tmp_path):
    preset, audio = sound("Warm Bass #2", 0.4)
    wav, preset_file = export_files(preset, audio, SR, tmp_path)
    assert (wav.name, preset_file.name) == ("warm-bass-2.wav", "warm-bass-2.yaml")
    assert loads_preset(preset_file.read_text()) == preset
    assert np.allclose(read_wav(wav)[0], audio, atol=1 / 32767)
    wav2, _ = export_files(preset, audio, SR, tmp_path)
    assert wav2.parent != wav.parent  # two exports of one name never collide
    assert lib.sweep_exports(tmp_path, max_age_s=-1) == 2 and list(tmp_path.iterdir()) == []


def test_import_validates_strictly(tmp_path):
    preset, _ = sound("imported", 0.3)
    good = tmp_path / "mine.json"
    good.write_text(dumps_preset(preset, fmt="json"))
    assert import_preset(good) == preset
    bad = tmp_path / "bad.yaml"
    bad.write_text(dumps_preset(preset).replace("keyboard.midi_f0:", "keyboard.midi_f00:"))
    with pytest.raises(PresetError, match=r"upload\.yaml: params\.keyboard\.midi_f00: unknown field"):
        import_preset(bad, display_name="upload.yaml")
    binary = tmp_path / "noise.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(LibraryError, match="not a text file"):
        import_preset(binary)
    huge = tmp_path / "huge.yaml"
    huge.write_text("#" * (lib.MAX_IMPORT_BYTES + 1))
    with pytest.raises(LibraryError, match="too large"):
        import_preset(huge)


def test_browser_secret_persists_privately(tmp_path):
    first = lib.load_or_create_secret(tmp_path)
    assert len(first) >= 32 and lib.load_or_create_secret(tmp_path) == first
    assert stat.S_IMODE((tmp_path / lib.TOKEN_KEY_FILE).stat().st_mode) == 0o600
