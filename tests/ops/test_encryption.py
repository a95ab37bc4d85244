"""Encryption at rest: AES-256-GCM segments over the local folder and a real S3 server; tampering, truncation
and moved objects are refused; rotation re-encrypts everything without changing a byte of plaintext."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.ops.conftest import Backend
from verbatim.cli import app
from verbatim.errors import InvalidOptionError
from verbatim.ops.keys import init_keyring, load_keyring
from verbatim.ops.settings import EncryptionSettings, Settings
from verbatim.ops.storage import LocalObjectStore, make_store
from verbatim.ops.storage.encrypted import SEGMENT, EncryptedObjectStore, IntegrityError, key_id_of
from verbatim.ops.storage.rotation import rotate_keyring

SIZES = [0, 1, 1000, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17]


def _encrypted(backend: Backend, tmp_path: Path) -> EncryptedObjectStore:
    ring = init_keyring(tmp_path / "keys" / "keyring.json")
    return EncryptedObjectStore(backend.store, ring)


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_with_plaintext_hash_and_size(backend: Backend, tmp_path: Path, size: int) -> None:
    store = _encrypted(backend, tmp_path)
    data = os.urandom(size)
    stored = store.put_stream("jobs/a/original", io.BytesIO(data), overwrite=False)
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert store.get_bytes("jobs/a/original") == data
    assert store.stat("jobs/a/original").size == size
    raw = backend.store.get_bytes("jobs/a/original")
    assert raw.startswith(b"VBENC1") and (size < 64 or data[:64] not in raw)


def test_what_lies_in_the_store_reveals_no_plaintext(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    store = EncryptedObjectStore(LocalObjectStore(root), init_keyring(tmp_path / "ring.json"))
    text = "Julie Martin, 12 rue des Lilas, a déclaré que son beau-père".encode()
    store.put_bytes("jobs/j/transcript.json", text * 100)
    on_disk = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert b"Julie" not in on_disk and b"Lilas" not in on_disk


def test_a_limit_is_enforced_on_the_plaintext(backend: Backend, tmp_path: Path) -> None:
    from verbatim.ops.storage import ObjectTooLargeError

    store = _encrypted(backend, tmp_path)
    with pytest.raises(ObjectTooLargeError):
        store.put_stream("jobs/b/original", io.BytesIO(b"x" * 5000), max_bytes=4000)
    assert not store.exists("jobs/b/original")


@pytest.mark.parametrize("damage", ["flip", "truncate-segment", "drop-last-segment", "moved"])
def test_altered_objects_fail_authentication(tmp_path: Path, damage: str) -> None:
    inner = LocalObjectStore(tmp_path / "objects")
    store = EncryptedObjectStore(inner, init_keyring(tmp_path / "ring.json"))
    data = os.urandom(2 * SEGMENT + 100)
    store.put_bytes("jobs/c/original", data)
    raw = bytearray(inner.get_bytes("jobs/c/original"))
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
        inner.put_bytes("jobs/c/original", bytes(raw))
    elif damage == "truncate-segment":
        inner.put_bytes("jobs/c/original", bytes(raw[:-50]))
    elif damage == "drop-last-segment":
        last = 4 + 100 + 16
        inner.put_bytes("jobs/c/original", bytes(raw[:-last]))
    else:  # the ciphertext of one object copied over another's key
        inner.put_bytes("jobs/d/original", bytes(raw))
    key = "jobs/d/original" if damage == "moved" else "jobs/c/original"
    with pytest.raises(IntegrityError):
        store.get_bytes(key)


def test_objects_written_before_encryption_stay_readable(tmp_path: Path) -> None:
    inner = LocalObjectStore(tmp_path / "objects")
    inner.put_bytes("jobs/old/original", b"RIFF old plaintext recording")
    store = EncryptedObjectStore(inner, init_keyring(tmp_path / "ring.json"))
    assert store.get_bytes("jobs/old/original") == b"RIFF old plaintext recording"
    assert key_id_of(inner, "jobs/old/original") is None


def test_rotation_reencrypts_everything_and_retires_the_old_key(backend: Backend, tmp_path: Path) -> None:
    ring = init_keyring(tmp_path / "ring.json")
    store = EncryptedObjectStore(backend.store, ring)
    contents = {f"jobs/{i}/original": os.urandom(SEGMENT + i * 1000) for i in range(3)}
    for key, data in contents.items():
        store.put_bytes(key, data, overwrite=False)
    backend.store.put_bytes("jobs/legacy/transcript.json", b'{"plain": true}')  # from before encryption
    first = ring.active_id

    report = rotate_keyring(store)
    assert report.reencrypted == 4 and report.already == 0 and report.retired == (first,)
    reloaded = load_keyring(EncryptionSettings(keyring_file=tmp_path / "ring.json"))
    assert (
        reloaded is not None
        and set(reloaded.keys) == {report.new_key}
        and reloaded.active_id == report.new_key
    )
    fresh = EncryptedObjectStore(backend.store, reloaded)
    for key, data in contents.items():
        assert key_id_of(backend.store, key) == report.new_key
        assert hashlib.sha256(fresh.get_bytes(key)).hexdigest() == hashlib.sha256(data).hexdigest()
    assert fresh.get_bytes("jobs/legacy/transcript.json") == b'{"plain": true}'
    assert key_id_of(backend.store, "jobs/legacy/transcript.json") == report.new_key


def test_keyring_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    ring = init_keyring(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(json.loads(path.read_text())["keys"]) == {ring.active_id}
    with pytest.raises(InvalidOptionError, match="never overwritten"):
        init_keyring(path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (EncryptionSettings(keyring_file=Path("/nonexistent/ring.json")), "keys init"),
        (EncryptionSettings(key=SecretStr("c2hvcnQ=")), "32 bytes"),
        (EncryptionSettings(key=SecretStr("not base64!")), "base64"),
    ],
)
def test_bad_key_configuration_is_refused_with_a_clear_message(
    settings: EncryptionSettings, message: str
) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        load_keyring(settings)


def test_make_store_encrypts_when_a_key_is_set(tmp_path: Path) -> None:
    import base64

    key = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(home=tmp_path, encryption=EncryptionSettings(key=SecretStr(key)))
    store = make_store(settings)
    assert isinstance(store, EncryptedObjectStore)
    store.put_bytes("jobs/e/original", b"secret")
    assert key_id_of(
        store.inner,
        "jobs/e/original",
    ).startswith("env-")  # type: ignore[union-attr]
    # embedded without a key: encrypted by default, with a keyring created 0600 under the home (issue 15)
    embedded = make_store(Settings(home=tmp_path / "embedded"))
    assert isinstance(embedded, EncryptedObjectStore)
    assert (tmp_path / "embedded" / "keyring.json").stat().st_mode & 0o777 == 0o600
    assert make_store(Settings(home=tmp_path / "embedded")).keyring.keys == embedded.keyring.keys  # type: ignore[attr-defined]
    off = EncryptionSettings(embedded_default=False)
    assert not isinstance(make_store(Settings(home=tmp_path / "off", encryption=off)), EncryptedObjectStore)
    # distributed: its explicit configuration only
    distributed = Settings(home=tmp_path / "d", database_url="postgresql+psycopg://x@127.0.0.1/x")
    assert not isinstance(make_store(distributed), EncryptedObjectStore)


def test_keys_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from verbatim.ops.settings import get_settings

    ring_path = tmp_path / "ring.json"
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "init", str(ring_path)]).exit_code == 0
    monkeypatch.setenv("VERBATIM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VERBATIM_ENCRYPTION__KEYRING_FILE", str(ring_path))
    get_settings.cache_clear()
    try:
        empty = runner.invoke(app, ["keys", "status"])
        assert empty.exit_code == 0 and empty.output.startswith("no stored object yet; new objects will be")
        store = make_store(get_settings())
        store.put_bytes("jobs/f/original", b"abc")
        first = runner.invoke(app, ["keys", "status"])
        assert first.exit_code == 0 and "\t1\tactive" in first.output
        rotated = runner.invoke(app, ["keys", "rotate"])
        assert rotated.exit_code == 0, rotated.output
        assert "1 objects re-encrypted" in rotated.output
        after = runner.invoke(app, ["keys", "status"])
        assert after.exit_code == 0 and "\tactive" in after.output
        assert all(" clear\t" not in line for line in after.output.splitlines())
        assert make_store(get_settings()).get_bytes("jobs/f/original") == b"abc"
    finally:
        get_settings.cache_clear()
