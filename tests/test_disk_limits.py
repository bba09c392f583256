"""A public studio's disk stays bounded (issue 13, item 3): uploads have per-client and total quotas, a browser's
library and all libraries together have byte and count limits, served files are swept minutes after use, and the
export folder goes with the server."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from studio import limits
from studio.library import LibraryError, new_session_token, open_library
from studio.presets import factory_preset
from studio.ui import disk
from studio.ui.app import make_config, serve_in_background

KB = 1024
DEFAULT_SCHEDULE = (limits.CACHE_SWEEP_EVERY_S, limits.CACHE_MAX_AGE_S, limits.CACHE_MIN_AGE_S)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # a quick schedule, so a test sees a sweep
        mp.setattr(limits, "CACHE_SWEEP_EVERY_S", 0.3)
        mp.setattr(limits, "CACHE_MAX_AGE_S", 2.0)
        demo = serve_in_background(make_config(tmp_path_factory.mktemp("library"), public=True))
        try:
            yield demo
        finally:
            demo.close()


def upload(demo, address: str, size: int, name: str = "x.bin") -> httpx.Response:
    return httpx.post(f"{demo.local_url}gradio_api/upload", files=[("files", (name, b"\0" * size))],
                      headers={"X-Forwarded-For": address}, timeout=30)


@pytest.fixture
def behind_a_proxy(monkeypatch):
    monkeypatch.setenv(limits.TRUST_PROXY_ENV, "1")  # clients are told apart by X-Forwarded-For, as in a Space


# -- uploads --------------------------------------------------------------------------------------------------------

def test_a_client_over_its_upload_quota_is_refused_while_another_still_uploads(server, behind_a_proxy, monkeypatch):
    monkeypatch.setattr(limits, "UPLOAD_CLIENT_MAX_BYTES", 1000 * KB)
    first = [upload(server, "203.0.113.1", 400 * KB) for _ in range(2)]
    assert [r.status_code for r in first] == [200, 200]
    refused = upload(server, "203.0.113.1", 400 * KB)
    assert refused.status_code == 429
    assert "Upload quota used up" in refused.text and "from one address" in refused.text
    # Claiming another address in front of the proxy's does not help: the proxy's own entry counts.
    spoofed = upload(server, "198.51.100.9, 203.0.113.1", 400 * KB)
    assert spoofed.status_code == 429
    # Nor does a second Content-Type header that hides the multipart one (the server reads the first).
    body = (b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + b"\0" * (400 * KB) + b"\r\n--b--\r\n")
    hidden = httpx.post(f"{server.local_url}gradio_api/upload", content=body, timeout=30,
                        headers=[("Content-Type", "multipart/form-data; boundary=b"), ("Content-Type", "text/plain"),
                                 ("X-Forwarded-For", "203.0.113.1")])
    assert hidden.status_code == 429, hidden.text
    other = upload(server, "203.0.113.2", 400 * KB)
    assert other.status_code == 200, other.text
    assert Path(other.json()[0]).is_file()


def test_many_small_uploads_from_one_client_are_refused(server, behind_a_proxy, monkeypatch):
    monkeypatch.setattr(limits, "UPLOAD_CLIENT_MAX_REQUESTS", 3)
    assert [upload(server, "203.0.113.3", 10).status_code for _ in range(3)] == [200, 200, 200]
    refused = upload(server, "203.0.113.3", 10)
    assert refused.status_code == 429 and "Too many uploads" in refused.text
    assert upload(server, "203.0.113.4", 10).status_code == 200


def test_uploads_of_all_clients_together_are_bounded(server, behind_a_proxy, monkeypatch):
    guard = _guard(server)
    with guard.lock:
        already = sum(n for _, n in guard.everyone)
    monkeypatch.setattr(limits, "UPLOAD_TOTAL_MAX_BYTES", already + 700 * KB)
    assert upload(server, "203.0.113.10", 300 * KB).status_code == 200
    assert upload(server, "203.0.113.11", 300 * KB).status_code == 200
    refused = upload(server, "203.0.113.12", 300 * KB)  # a fresh client, but the server has taken its share
    assert refused.status_code == 503 and "no more uploads" in refused.text


def test_uploads_are_refused_while_the_served_files_are_over_their_cap(server, behind_a_proxy, monkeypatch):
    monkeypatch.setattr(limits, "CACHE_MAX_BYTES", 0)
    refused = upload(server, "203.0.113.20", 10)
    assert refused.status_code == 503 and "space for files is full" in refused.text


def _guard(demo) -> disk.DiskGuard:
    stack = [m for m in demo.app.user_middleware if m.cls is disk.UploadQuota]
    assert stack, "the upload quota is not installed"
    return stack[0].kwargs["guard"]


# -- served files ---------------------------------------------------------------------------------------------------

def test_served_files_are_swept_minutes_after_use_not_hourly(server):
    response = upload(server, "127.0.0.1", 10 * KB)
    assert response.status_code == 200
    path = Path(response.json()[0])
    assert path.is_file()
    deadline = time.monotonic() + 20
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not path.exists(), "an upload older than CACHE_MAX_AGE_S was not swept on the schedule"
    assert not path.parent.exists(), "its (empty) folder was left behind"


def test_the_size_cap_never_deletes_a_file_just_handed_out(server):
    response = upload(server, "127.0.0.1", 10 * KB)
    path = Path(response.json()[0])
    now = time.time()
    # Over the cap (0 bytes), but handed out a minute ago: kept; older than CACHE_MIN_AGE_S: deleted.
    disk.sweep_cache(server, max_age_s=3600, max_bytes=0, min_age_s=120, now=now + 60)
    assert path.is_file()
    disk.sweep_cache(server, max_age_s=3600, max_bytes=0, min_age_s=120, now=now + 200)
    assert not path.exists()


def test_a_player_file_handed_out_again_counts_as_fresh(tmp_path):
    from studio.audio.io import write_wav_once

    samples = np.arange(1000, dtype=np.int16)
    path = write_wav_once(samples, 48000, tmp_path)
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert write_wav_once(samples, 48000, tmp_path) == path  # the same sound again (undo, another visitor)
    assert time.time() - path.stat().st_mtime < 60, "the sweeper would delete a file just handed out"


def test_the_default_schedule_sweeps_within_minutes():
    every, max_age, min_age = DEFAULT_SCHEDULE
    assert max_age <= 15 * 60 and every <= 60
    assert 60 <= min_age < max_age


# -- export folders -------------------------------------------------------------------------------------------------

def test_the_export_folder_goes_with_the_server(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{disk.EXPORT_PREFIX}{dead.pid}-abc123"  # left by a server that was killed
    stale.mkdir()
    (stale / "export-x").mkdir()
    mine = tmp_path / f"{disk.EXPORT_PREFIX}{os.getpid()}-live"  # a running server's (this process)
    mine.mkdir()
    config = make_config(tmp_path / "library", public=True)
    export_dir = Path(config.export_dir)
    assert not stale.exists() and mine.is_dir()
    assert export_dir.is_dir() and export_dir.name.startswith(f"{disk.EXPORT_PREFIX}{os.getpid()}-")
    demo = serve_in_background(config)
    (export_dir / "export-1").mkdir()
    demo.close()
    assert not export_dir.exists()


# -- saved sounds ---------------------------------------------------------------------------------------------------

def _sound(name: str, seconds: float = 1.0):
    preset = dataclasses.replace(factory_preset("bass"), name=name)
    return preset, np.zeros(int(preset.settings.sample_rate * seconds), np.float32), preset.settings.sample_rate


def test_a_browser_library_is_bounded_in_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "PUBLIC_MAX_SESSION_BYTES", 300 * KB)
    library = open_library(tmp_path, True, new_session_token())
    library.save(*_sound("one", 1.0))  # ~94 KB at 48 kHz
    library.save(*_sound("two", 1.0))
    with pytest.raises(LibraryError, match=r"your library is full: .* of 0\.3 MB used.*delete some sounds"):
        library.save(*_sound("three", 1.5))
    assert library.slugs() == ["one", "two"]
    library.save(*_sound("two", 0.5), overwrite=True)  # replacing a sound counts the space it frees
    library.save(*_sound("three", 1.0))
    assert library.slugs() == ["one", "three", "two"]


def test_all_browser_libraries_together_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "PUBLIC_MAX_TOTAL_BYTES", 250 * KB)
    a, b = (open_library(tmp_path, True, new_session_token()) for _ in range(2))
    a.save(*_sound("one"))
    b.save(*_sound("two"))
    with pytest.raises(LibraryError, match="disk space for saved sounds is used up"):
        b.save(*_sound("three"))
    a.delete("one")  # freed space is usable again
    b.save(*_sound("three"))


def test_the_number_of_browser_libraries_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "PUBLIC_MAX_SESSIONS", 2)
    for _ in range(2):
        open_library(tmp_path, True, new_session_token()).save(*_sound("one"))
    late = open_library(tmp_path, True, new_session_token())
    with pytest.raises(LibraryError, match="most libraries it can"):
        late.save(*_sound("one"))
    assert len(list((tmp_path / "sessions").iterdir())) == 2  # the refused browser left no folder
    for attempt in (lambda: late.delete("one"), lambda: late.rename("one", "two")):
        with pytest.raises(LibraryError, match="no saved sound"):
            attempt()
    assert len(list((tmp_path / "sessions").iterdir())) == 2  # nor did looking for a sound to delete or rename


def test_an_emptied_library_holds_no_place_among_the_libraries(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "PUBLIC_MAX_SESSIONS", 1)
    first = open_library(tmp_path, True, new_session_token())
    first.save(*_sound("one"))
    late = open_library(tmp_path, True, new_session_token())
    with pytest.raises(LibraryError, match="most libraries it can"):
        late.save(*_sound("one"))
    first.delete("one")
    late.save(*_sound("one"))
