"""The pseudonymisation key: from the settings, or a key file created with mode 0600."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from verbatim.anonymize.crypto import KeyError_, resolve_key
from verbatim.ops.settings import Settings


def test_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    key = resolve_key(settings)
    path = tmp_path / "pseudonymization.key"
    assert len(key) == 32 and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_key(settings) == key


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    resolve_key(settings)
    os.chmod(tmp_path / "pseudonymization.key", 0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        resolve_key(settings)


def test_key_from_settings_and_malformed_key(tmp_path: Path) -> None:
    raw = bytes(range(32))
    good = Settings(home=tmp_path, pseudonymization={"key": base64.b64encode(raw).decode()})
    assert resolve_key(good) == raw
    bad = Settings(home=tmp_path, pseudonymization={"key": base64.b64encode(b"short").decode()})
    with pytest.raises(KeyError_, match="32 bytes"):
        resolve_key(bad)
