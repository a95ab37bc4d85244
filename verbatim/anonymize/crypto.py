"""The pseudonymisation key and AES-256-GCM encryption (the ``cryptography`` package).

The key comes from the settings (``VERBATIM_PSEUDONYMIZATION__KEY``, base64) or from a key file
(``VERBATIM_PSEUDONYMIZATION__KEY_FILE``, default ``HOME/pseudonymization.key``), created on first use with
mode 0600. Correspondence tables are stored as an envelope naming the key by a fingerprint, never the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from verbatim.errors import InvalidOptionError, VerbatimError

if TYPE_CHECKING:
    from verbatim.ops.settings import Settings

__all__ = [
    "ENVELOPE_SCHEMA",
    "KeyError_",
    "decrypt_document",
    "decrypt_token",
    "encrypt_document",
    "encrypt_token",
    "key_fingerprint",
    "resolve_key",
]

ENVELOPE_SCHEMA: Final = "verbatim.pseudonymization-map/1"
_KEY_BYTES: Final = 32
_TOKEN_PREFIX: Final = "⟦"
_TOKEN_SUFFIX: Final = "⟧"


class KeyError_(VerbatimError):
    """The pseudonymisation key is missing, malformed, or not the one a table was encrypted with."""


def _decode_key(value: str) -> bytes:
    try:
        key = base64.b64decode(
            value.strip() + "=" * (-len(value.strip()) % 4), altchars=b"-_", validate=False
        )
    except ValueError as e:
        raise KeyError_("the pseudonymisation key is not base64") from e
    if len(key) != _KEY_BYTES:
        raise KeyError_(f"the pseudonymisation key must be {_KEY_BYTES} bytes (base64 of 32 random bytes)")
    return key


def resolve_key(settings: Settings) -> bytes:
    """The pseudonymisation key of these settings; the key file is created (0600) when missing.

    Raises:
        KeyError_: the configured key or key file is malformed, or the key file is readable by others.
    """
    conf = settings.pseudonymization
    if conf.key is not None:
        return _decode_key(conf.key.get_secret_value())
    path = conf.key_file or settings.home / "pseudonymization.key"
    if not path.exists():
        _create_key_file(path)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise KeyError_(f"the key file {path} is readable by other users: chmod 600 {path}")
    return _decode_key(path.read_text(encoding="ascii"))


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")


def key_fingerprint(key: bytes) -> str:
    """A short public name of a key (its SHA-256, truncated): says which key, never reveals it."""
    return hashlib.sha256(b"verbatim-pseudonymization-key" + key).hexdigest()[:16]


def _aesgcm(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def encrypt_token(key: bytes, text: str, *, category: str) -> str:
    """A reversible token standing for ``text`` in a pseudonymised copy: ``⟦base64⟧``.

    The nonce is derived from the key and the text (a synthetic IV), so that the same text gives the same
    token throughout a copy (consistency) while different texts never share a nonce.
    """
    data = text.encode("utf-8")
    nonce = hmac.new(key, category.encode() + b"\0" + data, hashlib.sha256).digest()[:12]
    sealed = _aesgcm(key).encrypt(nonce, data, category.encode())
    return (
        _TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=") + _TOKEN_SUFFIX
    )


def decrypt_token(key: bytes, token: str, *, category: str) -> str:
    """The text an :func:`encrypt_token` token stands for.

    Raises:
        KeyError_: not a token, or not encrypted with this key and category.
    """
    from cryptography.exceptions import InvalidTag

    body = token.removeprefix(_TOKEN_PREFIX).removesuffix(_TOKEN_SUFFIX)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return str(_aesgcm(key).decrypt(raw[:12], raw[12:], category.encode()).decode("utf-8"))
    except (ValueError, InvalidTag) as e:
        raise KeyError_("this token was not encrypted with this key") from e


def encrypt_document(
    key: bytes, document: dict[str, Any], *, context: str, schema: str = ENVELOPE_SCHEMA
) -> bytes:
    """An encrypted envelope of a JSON document (a correspondence table), bound to ``context`` (job id).

    ``schema`` names what the envelope holds (another kind of document, such as a voice print, uses the same
    envelope under its own name, and :func:`decrypt_document` refuses one kind for another).

    Returns:
        UTF-8 JSON ``{"schema", "alg", "key_id", "context", "nonce", "ciphertext"}``.
    """
    nonce = secrets.token_bytes(12)
    plaintext = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
    sealed = _aesgcm(key).encrypt(nonce, plaintext, context.encode("utf-8"))
    envelope = {
        "schema": schema,
        "alg": "AES-256-GCM",
        "key_id": key_fingerprint(key),
        "context": context,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
    }
    return (json.dumps(envelope, indent=2) + "\n").encode("utf-8")


def decrypt_document(key: bytes, data: bytes, *, schema: str = ENVELOPE_SCHEMA) -> dict[str, Any]:
    """The JSON document inside an :func:`encrypt_document` envelope of kind ``schema``.

    Raises:
        InvalidOptionError: not an envelope.
        KeyError_: encrypted with another key, or tampered with.
    """
    from cryptography.exceptions import InvalidTag

    try:
        envelope = json.loads(data)
        if envelope.get("schema") != schema:
            raise ValueError(f"schema {envelope.get('schema')!r}")
        nonce = base64.b64decode(envelope["nonce"])
        sealed = base64.b64decode(envelope["ciphertext"])
        context = str(envelope["context"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidOptionError(f"not a pseudonymisation table envelope: {e}") from e
    if envelope.get("key_id") != key_fingerprint(key):
        raise KeyError_("the correspondence table was encrypted with another key")
    try:
        plaintext = _aesgcm(key).decrypt(nonce, sealed, context.encode("utf-8"))
    except InvalidTag as e:
        raise KeyError_("the correspondence table was altered (authentication failed)") from e
    document: dict[str, Any] = json.loads(plaintext)
    return document
