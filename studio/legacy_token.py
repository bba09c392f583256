"""Reading the library token an older studio left in a browser, so that browser keeps its sounds after an upgrade.

Studios before signed tokens kept a bare random token in localStorage under ``synth-studio-library-token``,
encrypted by Gradio's ``BrowserState`` with a secret that ``GET /config`` sent to every page (so the encryption
protected nothing, which is why it is gone). Its format is CryptoJS's: ``base64(iv) ":" base64("Salted__" salt
ciphertext)``, AES-256-CBC with key and IV derived from the passphrase SHA-256-hex(secret) by OpenSSL's
EVP_BytesToKey (MD5, one round), PKCS#7 padding, holding ``JSON.stringify(token)``. No AES library is a
dependency of the studio, and a token is one or two blocks, so the (decrypting) cipher is written out here.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json


def _rotl8(x: int, shift: int) -> int:
    return ((x << shift) | (x >> (8 - shift))) & 0xFF


def _make_sboxes() -> tuple[list[int], list[int]]:
    sbox, p, q = [0] * 256, 1, 1
    while True:  # p runs through GF(2^8)* by ×3, q = p⁻¹ by ÷3; the S-box is q's affine transform
        p = (p ^ (p << 1) ^ (0x1B if p & 0x80 else 0)) & 0xFF
        q ^= (q << 1) & 0xFF
        q ^= (q << 2) & 0xFF
        q ^= (q << 4) & 0xFF
        q ^= 0x09 if q & 0x80 else 0
        sbox[p] = q ^ _rotl8(q, 1) ^ _rotl8(q, 2) ^ _rotl8(q, 3) ^ _rotl8(q, 4) ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    inverse = [0] * 256
    for i, v in enumerate(sbox):
        inverse[v] = i
    return sbox, inverse


_SBOX, _INV_SBOX = _make_sboxes()


def _mul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1
        b >>= 1
    return out


def _round_keys(key: bytes) -> list[list[int]]:
    """AES-256's 15 round keys (16 bytes each) from a 32-byte key."""
    words = [list(key[4 * i:4 * i + 4]) for i in range(8)]
    rcon = 1
    for i in range(8, 60):
        t = list(words[i - 1])
        if i % 8 == 0:
            t = [_SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _mul(rcon, 2)
        elif i % 8 == 4:
            t = [_SBOX[b] for b in t]
        words.append([a ^ b for a, b in zip(words[i - 8], t)])
    return [sum(words[4 * r:4 * r + 4], []) for r in range(15)]


def _decrypt_block(block: bytes, keys: list[list[int]]) -> bytes:
    s = [b ^ k for b, k in zip(block, keys[14])]
    for rnd in range(13, -1, -1):
        s = [s[r + 4 * ((c - r) % 4)] for c in range(4) for r in range(4)]  # inverse ShiftRows
        s = [_INV_SBOX[b] ^ k for b, k in zip(s, keys[rnd])]  # inverse SubBytes, AddRoundKey
        if rnd:
            s = [v for c in range(4) for v in (
                _mul(s[4 * c], 14) ^ _mul(s[4 * c + 1], 11) ^ _mul(s[4 * c + 2], 13) ^ _mul(s[4 * c + 3], 9),
                _mul(s[4 * c], 9) ^ _mul(s[4 * c + 1], 14) ^ _mul(s[4 * c + 2], 11) ^ _mul(s[4 * c + 3], 13),
                _mul(s[4 * c], 13) ^ _mul(s[4 * c + 1], 9) ^ _mul(s[4 * c + 2], 14) ^ _mul(s[4 * c + 3], 11),
                _mul(s[4 * c], 11) ^ _mul(s[4 * c + 1], 13) ^ _mul(s[4 * c + 2], 9) ^ _mul(s[4 * c + 3], 14))]
    return bytes(s)


def aes256_cbc_decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-256-CBC decryption with PKCS#7 padding removed; ``ValueError`` for bad lengths or padding."""
    if len(key) != 32 or len(iv) != 16 or not data or len(data) % 16:
        raise ValueError("bad AES-256-CBC input")
    keys, previous, out = _round_keys(key), iv, bytearray()
    for i in range(0, len(data), 16):
        block = data[i:i + 16]
        out += bytes(a ^ b for a, b in zip(_decrypt_block(block, keys), previous))
        previous = block
    pad = out[-1]
    if not 1 <= pad <= 16 or out[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    return bytes(out[:-pad])


def _evp_bytes_to_key(passphrase: bytes, salt: bytes) -> tuple[bytes, bytes]:
    derived, block = b"", b""
    while len(derived) < 48:
        block = hashlib.md5(block + passphrase + salt).digest()
        derived += block
    return derived[:32], derived[32:48]


MAX_STORED_CHARS = 512  # a stored token is ~100 characters; refuse to work on more


def legacy_token(stored, secret: str | None) -> str | None:
    """The token an older studio kept in this browser (``stored``: the raw localStorage value), decrypted with
    that studio's ``secret``; None for anything else (nothing stored, another secret, damaged or odd values)."""
    if not secret or not isinstance(stored, str) or len(stored) > MAX_STORED_CHARS or ":" not in stored:
        return None
    try:
        blob = base64.b64decode(stored.split(":", 1)[1], validate=True)
        if len(blob) < 32 or blob[:8] != b"Salted__":
            return None
        passphrase = hashlib.sha256(secret.encode()).hexdigest().encode()
        key, iv = _evp_bytes_to_key(passphrase, blob[8:16])
        token = json.loads(aes256_cbc_decrypt(blob[16:], key, iv).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return token if isinstance(token, str) and 16 <= len(token) <= 200 else None


LEGACY_SECRET_FILE = ".browser-secret"  # where older studios kept the secret they sent to every page


def legacy_secret(root) -> str | None:
    """The secret an older studio kept in ``<root>/.browser-secret``, if there is one (never created here)."""
    from pathlib import Path

    try:
        secret = (Path(root).expanduser() / LEGACY_SECRET_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return secret if len(secret) >= 32 else None


def adopt_legacy_library(root, old_token: str | None, new_token: str, key: str) -> bool:
    """Move the library an older studio kept for ``old_token`` (``sessions/<SHA-256 of it>``) to ``new_token``'s
    folder, when there is one and the new folder does not exist yet; whether it moved.

    Only the browser holding the old token can send it (it is 192 random bits, and the old folder's name is a
    one-way hash of it), so adopting gives nobody a library that was not theirs."""
    import os
    from pathlib import Path

    from studio.library import namespace_for

    if not old_token:
        return False
    sessions = Path(root).expanduser() / "sessions"
    old, new = sessions / namespace_for(old_token), sessions / namespace_for(new_token, key)
    if not old.is_dir() or old.is_symlink() or new.exists():
        return False
    try:
        os.rename(old, new)
    except OSError:
        return False
    os.chmod(new, 0o700)
    return True
