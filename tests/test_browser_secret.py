"""Public mode's library tokens: the key that signs them never leaves the server (GET /config used to carry it as
``browserstate.props.secret``), a browser that keeps its token finds its library after a reload, forged or altered
tokens open nothing, a folder's name leads to no token, and what the library writes is private to the server's
user. The browser half is tests/browser/test_public_browser.py."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import urllib.request

import gradio as gr
import numpy as np
import pytest

from app_session import Session as AppSession

from studio import library as lib
from studio.presets import factory_preset
from studio.ui.app import build_app, launch_options, make_config

KNOWN_SECRET = "0123456789abcdef-a-deployment-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_config(demo: gr.Blocks) -> str:
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **launch_options())
    try:
        with urllib.request.urlopen(demo.local_url.rstrip("/") + "/config", timeout=30) as response:
            return response.read().decode("utf-8")
    finally:
        demo.close()


def test_config_does_not_carry_the_secret_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_STUDIO_SECRET", KNOWN_SECRET)
    config = served_config(build_app(make_config(tmp_path, public=True)))
    assert "browserstate" in config  # the token is still kept in the browser …
    assert KNOWN_SECRET not in config  # … but the key that signs it is not sent


def test_config_does_not_carry_the_secret_kept_in_the_library(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTH_STUDIO_SECRET", raising=False)
    config = served_config(build_app(make_config(tmp_path, public=True)))
    secrets = [p.read_text().strip() for p in tmp_path.iterdir() if p.is_file() and "secret" in p.name
               or p.name == lib.TOKEN_KEY_FILE]
    assert secrets and all(len(s) >= 32 and s not in config for s in secrets)


def test_tokens_are_signed_and_namespaces_keyed():
    key, other = "k" * 64, "o" * 64
    token = lib.new_session_token(key)
    ident = lib.token_id(token, key)
    assert ident and token.startswith("v2.") and len(ident) >= 32
    assert lib.token_id(token, other) is None  # signed with another key
    assert lib.token_id(token[:-1] + ("A" if token[-1] != "A" else "B"), key) is None  # altered signature
    assert lib.token_id(token.replace(ident, ident[::-1]), key) is None  # another id, the old signature
    assert lib.token_id(lib.new_session_token(), key) is None  # unsigned
    for junk in (None, 42, "", "v2.", "v2..", "v2." + "x" * 300, ["v2.a.b"]):
        assert lib.token_id(junk, key) is None
    namespace = lib.namespace_for(token, key)
    assert len(namespace) == 32 and namespace != lib.namespace_for(token)  # keyed, not a plain hash
    assert namespace not in (hashlib.sha256(t.encode()).hexdigest()[:32] for t in (token, ident))
    with pytest.raises(lib.LibraryError, match="not valid"):
        lib.namespace_for(lib.new_session_token(other), key)
    with pytest.raises(lib.LibraryError, match="not valid"):
        lib.open_library("/nonexistent", True, "forged-" + "x" * 30, key)


# ---------------------------------------------------------------------------------------------------------------
# The page's load event, as Gradio runs it


class Session(AppSession):
    def load(self, stored, legacy=None) -> tuple[str, list[str]]:
        """The page loads with ``stored`` in localStorage (and ``legacy``, what an older studio left there):
        (the token it keeps now, its picker's labels)."""
        _, token, picker, _ = self("on_page_load", stored, legacy)
        return token, [label for label, _ in picker["choices"]]



def test_a_browser_finds_its_library_again_and_forgeries_find_nothing(tmp_path, loop, monkeypatch):
    monkeypatch.delenv("SYNTH_STUDIO_SECRET", raising=False)
    demo = build_app(make_config(tmp_path, public=True))
    first = Session(demo, loop)
    token, _ = first.load(None)
    first("pick", "factory:bass")
    first("save", "Mine", "", False)

    again = Session(demo, loop)  # the same browser after a reload: localStorage still holds the token
    kept, labels = again.load(token)
    assert kept == token and "saved · Mine" in labels

    [folder] = (tmp_path / "sessions").iterdir()
    ident = lib.token_id(token, lib.load_or_create_secret(tmp_path))
    forgeries = [
        None,  # storage cleared
        folder.name,  # the folder's name, read off the disk
        "v2." + ident + ".forged",  # the id with a made-up signature
        lib.new_session_token("guessed-key-" + "0" * 40),  # signed with another key
        lib.new_session_token(),  # an unsigned token (what this studio used to keep)
    ]
    for stored in forgeries:
        other = Session(demo, loop)
        issued, labels = other.load(stored)
        assert issued != stored and issued != token and lib.token_id(issued, lib.load_or_create_secret(tmp_path))
        assert "saved · Mine" not in labels, stored


# ---------------------------------------------------------------------------------------------------------------
# Browsers an older studio gave a token


def cryptojs_encrypt(value: str, secret: str) -> str:
    """What Gradio's BrowserState stored for ``value`` with ``secret`` (CryptoJS's format, made by openssl)."""
    passphrase = hashlib.sha256(secret.encode()).hexdigest()
    blob = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-md", "md5", "-salt", "-pass", f"pass:{passphrase}",
                           "-base64", "-A"], input=json.dumps(value).encode(), capture_output=True, check=True)
    return base64.b64encode(os.urandom(16)).decode() + ":" + blob.stdout.decode().strip()


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command to encrypt with")


def test_aes_decryption_matches_the_standard():
    from studio.legacy_token import _decrypt_block, _round_keys

    # FIPS-197, appendix C.3 (AES-256)
    plain = _decrypt_block(bytes.fromhex("8ea2b7ca516745bfeafc49904b496089"), _round_keys(bytes(range(32))))
    assert plain.hex() == "00112233445566778899aabbccddeeff"


@needs_openssl
def test_an_older_studios_stored_token_is_read_with_its_secret_only():
    from studio.legacy_token import legacy_token

    secret, token = "s" * 64, lib.new_session_token()
    stored = cryptojs_encrypt(token, secret)
    assert legacy_token(stored, secret) == token
    for bad in (legacy_token(stored, "t" * 64), legacy_token(stored, None), legacy_token(None, secret),
                legacy_token("x:" + "A" * 40, secret), legacy_token(stored[:-8] + "AAAAAAA=", secret),
                legacy_token("v2.a.b", secret), legacy_token(cryptojs_encrypt(["a list"], secret), secret)):
        assert bad is None


@needs_openssl
def test_a_browser_an_older_studio_served_keeps_its_sounds(tmp_path, loop, monkeypatch):
    """Its library moves to the new token's folder the first time it comes back; its old token (and a made-up
    one) opens nothing afterwards."""
    monkeypatch.delenv("SYNTH_STUDIO_SECRET", raising=False)
    old_secret, old_token = "b" * 64, lib.new_session_token()
    (tmp_path / ".browser-secret").write_text(old_secret)
    old = lib.open_library(tmp_path, True, old_token)  # where an older studio kept this browser's sounds
    old.save(factory_preset("bell"), np.zeros(4800, np.float32), 48000)
    demo = build_app(make_config(tmp_path, public=True))

    stored = cryptojs_encrypt(old_token, old_secret)
    token, labels = Session(demo, loop).load(None, stored)
    assert has_bell(labels) and not old.folder.exists()
    assert mode(tmp_path / "sessions" / lib.namespace_for(token, lib.load_or_create_secret(tmp_path))) == 0o700
    assert has_bell(Session(demo, loop).load(token)[1])  # the new token from now on
    assert not has_bell(Session(demo, loop).load(None, stored)[1])  # the old one again: moved already
    assert not has_bell(Session(demo, loop).load(None, cryptojs_encrypt(lib.new_session_token(), old_secret))[1])


def has_bell(labels) -> bool:
    return any(label.startswith("saved · bell") for label in labels)


# ---------------------------------------------------------------------------------------------------------------
# File modes


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_session_folders_and_files_are_private(tmp_path, usual_umask):
    key = lib.load_or_create_secret(tmp_path)
    assert mode(tmp_path / lib.TOKEN_KEY_FILE) == 0o600
    library = lib.open_library(tmp_path, True, lib.new_session_token(key), key)
    preset = factory_preset("bass")
    library.save(preset, np.zeros(4800, np.float32), 48000)
    renamed = library.rename(lib.slugify(preset.name), "Renamed")
    library.save(preset, np.zeros(4800, np.float32), 48000)
    library.save(preset, np.zeros(4800, np.float32), 48000, overwrite=True)
    assert mode(tmp_path / "sessions") == 0o700 and mode(library.folder) == 0o700
    files = list(library.folder.iterdir())
    assert {p.name for p in files} >= {".lock", "bass.yaml", "bass.wav", f"{renamed.slug}.yaml",
                                        f"{renamed.slug}.wav"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_a_local_library_is_private_too(tmp_path, usual_umask):
    library = lib.open_library(tmp_path / "mine", False, None)
    library.save(factory_preset("pad"), np.zeros(4800, np.float32), 48000)
    assert mode(tmp_path / "mine") == 0o700
    assert all(mode(p) == 0o600 for p in (tmp_path / "mine").iterdir())
