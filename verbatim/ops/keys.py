"""Keys of the encryption at rest: a keyring file (or one key from the environment); rotation is in
:mod:`verbatim.ops.storage.rotation`.

The keyring is JSON, ``{"active": ID, "keys": {ID: base64 32 bytes, ...}}``, mode 0600. New objects are
encrypted under the active key; every key of the ring still decrypts, so a rotation adds a key, makes it
active, re-encrypts every object under it, and only then may the old key be retired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from verbatim.errors import InvalidOptionError
from verbatim.ops.settings import EncryptionSettings, Settings

__all__ = ["EMBEDDED_KEYRING", "Keyring", "init_keyring", "load_keyring", "new_key_id", "resolve_keyring"]

EMBEDDED_KEYRING = "keyring.json"
"""The keyring of the embedded deployment, under the home, when none is configured."""

log = logging.getLogger("verbatim.keys")


def _decode(value: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as e:
        raise InvalidOptionError(f"{where}: not base64") from e
    if len(raw) != 32:
        raise InvalidOptionError(f"{where}: an AES-256 key is 32 bytes, this one is {len(raw)}")
    return raw


def new_key_id() -> str:
    """``k`` + UTC date and time + 4 random hex digits: sortable, unique enough, never secret."""
    return f"k{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(2)}"


@dataclass
class Keyring:
    """Key id -> 32-byte key, and the id of the key new objects use."""

    active_id: str
    keys: dict[str, bytes] = field(repr=False)
    path: Path | None = None

    def active(self) -> tuple[str, bytes]:
        return self.active_id, self.keys[self.active_id]

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    def save(self) -> None:
        """Write the keyring to its file atomically, readable by its owner only."""
        if self.path is None:
            raise InvalidOptionError("this keyring comes from the environment: it has no file to write")
        data = {
            "active": self.active_id,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


def load_keyring(settings: EncryptionSettings) -> Keyring | None:
    """The configured keyring; ``None`` when encryption at rest is off.

    Raises:
        InvalidOptionError: a missing, unreadable or malformed keyring, or a malformed key.
    """
    if settings.keyring_file is not None:
        path = settings.keyring_file
        try:
            data = json.loads(path.read_text())
            keys = {str(k): _decode(str(v), f"{path}: key {k}") for k, v in data["keys"].items()}
            active = str(data["active"])
        except FileNotFoundError as e:
            raise InvalidOptionError(f"{path}: no keyring there (create it with `verbatim keys init`)") from e
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidOptionError(f"{path}: not a verbatim keyring ({type(e).__name__})") from e
        if active not in keys:
            raise InvalidOptionError(f"{path}: the active key {active!r} is not in the keyring")
        return Keyring(active, keys, path)
    if settings.key is not None:
        raw = _decode(settings.key.get_secret_value(), "VERBATIM_ENCRYPTION__KEY")
        key_id = "env-" + hashlib.sha256(raw).hexdigest()[:12]  # names the key without revealing it
        return Keyring(key_id, {key_id: raw})
    return None


def init_keyring(path: Path) -> Keyring:
    """Create a keyring file with one new active key.

    Raises:
        InvalidOptionError: the file exists (a keyring is never overwritten: objects would be lost).
    """
    if path.exists():
        raise InvalidOptionError(
            f"{path} exists: a keyring is never overwritten (use `verbatim keys rotate`)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key_id = new_key_id()
    ring = Keyring(key_id, {key_id: secrets.token_bytes(32)}, path)
    ring.save()
    return ring


def is_embedded(settings: Settings) -> bool:
    """The embedded deployment: SQLite under the home and the local object store (no database_url)."""
    return settings.database_url is None and settings.storage.backend == "local"


def resolve_keyring(settings: Settings) -> Keyring | None:
    """The keyring of encryption at rest, for the objects and the database's sealed columns.

    The configured one; else, in the embedded deployment (unless ``encryption.embedded_default`` is off),
    ``HOME/keyring.json``, created on first start (mode 0600) with a warning telling the operator to back
    it up. A distributed deployment keeps its explicit configuration (``None`` without one).

    Raises:
        InvalidOptionError: a configured keyring or key that cannot be used.
    """
    if settings.encryption.enabled:
        return load_keyring(settings.encryption)
    if not (settings.encryption.embedded_default and is_embedded(settings)):
        return None
    path = settings.home / EMBEDDED_KEYRING
    if not path.exists():
        ring = init_keyring(path)
        log.warning(
            "encryption at rest: a new key was created in %s; back this file up now, apart from the data "
            "(without it the recordings, transcripts and database text cannot be read)",
            path,
        )
        return ring
    return load_keyring(EncryptionSettings(keyring_file=path))
