"""The object stores, local and S3, held to the same behaviour (S3 against a real server on loopback)."""

from __future__ import annotations

import hashlib
import io
import logging
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from tests.ops.conftest import Backend, MotoServer
from verbatim.ops.settings import EncryptionSettings, Settings, StorageSettings
from verbatim.ops.storage import (
    InvalidKeyError,
    LocalObjectStore,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectTooLargeError,
    RetryPolicy,
    S3ObjectStore,
    StorageError,
    make_store,
)
from verbatim.ops.storage.encrypted import EncryptedObjectStore

MiB = 1024 * 1024


class GeneratedStream(io.RawIOBase):
    """``size`` deterministic bytes, made as they are read (never held whole), in short reads."""

    def __init__(self, size: int, *, fail_at: int | None = None) -> None:
        self._size = size
        self._pos = 0
        self._fail_at = fail_at

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._fail_at is not None and self._pos >= self._fail_at:
            raise OSError("client went away")
        n = min(len(buffer), 64 * 1024, self._size - self._pos)
        if n <= 0:
            return 0
        block = self._pos // 4096
        data = (block.to_bytes(8, "little") * 8192)[self._pos % 4096 : self._pos % 4096 + n]
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def generated_sha256(size: int) -> str:
    digest = hashlib.sha256()
    stream = GeneratedStream(size)
    while chunk := stream.read(MiB):
        digest.update(chunk)
    return digest.hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- round trips ---------------------------------------------------------------------------------------------


def test_round_trip_bytes_and_hash(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    data = b"RIFF fake wave \x00\x01\x02" * 1000

    stored = store.put_bytes("jobs/j1/original", data, content_type="audio/wav")

    assert (stored.key, stored.size, stored.sha256) == ("jobs/j1/original", len(data), sha(data))
    assert store.exists("jobs/j1/original")
    assert store.get_bytes("jobs/j1/original") == data
    with store.open("jobs/j1/original") as f:
        assert f.read(4) == b"RIFF"
        assert f.read() == data[4:]
    with store.get_stream("jobs/j1/original") as f:
        assert f.read() == data
    info = store.stat("jobs/j1/original")
    assert info.size == len(data)
    assert info.sha256 in (None, sha(data)) if backend.name == "local" else info.sha256 == sha(data)
    downloaded = store.download_to("jobs/j1/original", tmp_path / "out" / "copy.wav")
    assert (tmp_path / "out" / "copy.wav").read_bytes() == data
    assert downloaded.sha256 == sha(data)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["copy.wav"]  # no temporary file left
    assert backend.everything() == ["jobs/j1/original"]


def test_empty_object(backend: Backend) -> None:
    stored = backend.store.put_bytes("empty", b"")
    assert (stored.size, stored.sha256) == (0, sha(b""))
    assert backend.store.get_bytes("empty") == b""


def test_put_stream_hashes_a_stream_read_in_short_pieces(backend: Backend) -> None:
    size = 7 * MiB + 123  # more than one S3 part
    stored = backend.store.put_stream("jobs/j2/original", GeneratedStream(size))  # type: ignore[arg-type]
    assert stored.size == size
    assert stored.sha256 == generated_sha256(size)
    assert sha(backend.store.get_bytes("jobs/j2/original")) == stored.sha256
    assert backend.everything() == ["jobs/j2/original"]


def test_overwrite_replaces_by_default(backend: Backend) -> None:
    backend.store.put_bytes("a", b"one")
    backend.store.put_bytes("a", b"two")
    assert backend.store.get_bytes("a") == b"two"


def test_overwrite_false_keeps_the_original(backend: Backend) -> None:
    store = backend.store
    store.put_stream("jobs/j3/original", io.BytesIO(b"evidence"), overwrite=False)
    with pytest.raises(ObjectExistsError):
        store.put_stream("jobs/j3/original", io.BytesIO(b"tampered"), overwrite=False)
    with pytest.raises(ObjectExistsError):
        store.put_bytes("jobs/j3/original", b"tampered", overwrite=False)
    assert store.get_bytes("jobs/j3/original") == b"evidence"
    assert backend.everything() == ["jobs/j3/original"]


# -- streaming memory ----------------------------------------------------------------------------------------


def test_50_mb_stream_is_never_held_in_memory(backend: Backend, tmp_path: Path) -> None:
    size = 50 * MiB
    # tracemalloc counts every Python allocation (parts, buffers), not what the allocator keeps: a stable
    # measure, unlike the RSS. The S3 server runs in another process, so only the client is measured.
    tracemalloc.start()
    try:
        stored = backend.store.put_stream("big/upload", GeneratedStream(size), max_bytes=60 * MiB)  # type: ignore[arg-type]
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        downloaded = backend.store.download_to("big/upload", tmp_path / "big.bin")
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.size == size and stored.sha256 == generated_sha256(size)
    assert downloaded.sha256 == stored.sha256 and (tmp_path / "big.bin").stat().st_size == size
    assert upload_peak < 25 * MiB, f"upload held {upload_peak / MiB:.1f} MiB"
    assert download_peak < 10 * MiB, f"download held {download_peak / MiB:.1f} MiB"


# -- refusals leave nothing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 12 * MiB], ids=["small", "multipart"])
def test_too_large_is_refused_and_leaves_nothing(backend: Backend, size: int) -> None:
    limit = size - 1
    with pytest.raises(ObjectTooLargeError):
        backend.store.put_stream("jobs/j4/original", GeneratedStream(size), max_bytes=limit)  # type: ignore[arg-type]
    assert not backend.store.exists("jobs/j4/original")
    assert backend.store.list("") == []
    assert backend.everything() == []  # no temporary file, object or pending multipart upload


def test_exactly_max_bytes_is_accepted(backend: Backend) -> None:
    stored = backend.store.put_stream("x", io.BytesIO(b"12345"), max_bytes=5)
    assert stored.size == 5


def test_failing_source_stream_leaves_nothing(backend: Backend) -> None:
    backend.store.put_bytes("jobs/j5/original", b"old")
    with pytest.raises(OSError, match="client went away"):
        backend.store.put_stream("jobs/j5/original", GeneratedStream(9 * MiB, fail_at=6 * MiB))  # type: ignore[arg-type]
    assert backend.store.get_bytes("jobs/j5/original") == b"old"
    assert backend.everything() == ["jobs/j5/original"]


# -- listing and deleting ------------------------------------------------------------------------------------


def test_list_delete_and_delete_prefix(backend: Backend) -> None:
    store = backend.store
    keys = ["a/1", "a/2", "a/sub/3", "ab/4", "b"]
    for key in keys:
        store.put_bytes(key, key.encode())

    assert store.list() == keys
    assert store.list("") == keys
    assert store.list("a/") == ["a/1", "a/2", "a/sub/3"]
    assert store.list("a") == ["a/1", "a/2", "a/sub/3", "ab/4"]  # plain string prefix, as in S3
    assert store.list("a/sub/") == ["a/sub/3"]
    assert store.list("nothing/") == []

    store.delete("b")
    store.delete("b")  # deleting what is gone is not an error
    assert not store.exists("b")
    assert store.delete_prefix("a/") == 3
    assert store.list() == ["ab/4"]
    assert store.delete_prefix("a/") == 0
    with pytest.raises(InvalidKeyError):
        store.delete_prefix("")
    assert backend.everything() == ["ab/4"]


def test_missing_key(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    assert not store.exists("jobs/none")
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("jobs/none")
    with pytest.raises(ObjectNotFoundError), store.open("jobs/none"):
        pass
    with pytest.raises(ObjectNotFoundError):
        store.stat("jobs/none")
    with pytest.raises(ObjectNotFoundError):
        store.download_to("jobs/none", tmp_path / "dl" / "x")
    assert not (tmp_path / "dl").exists()


INVALID_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "a/../../b",
    "a/./b",
    "a//b",
    "a/",
    ".hidden",
    "a/.partial",
    "a\x00b",
    "a\nb",
    "a\tb",
    "été",
    "a b",
    "a\\b",
    "C:x",
    "x" * 1025,
    "a/" + "y" * 256,
]


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
def test_invalid_keys_are_refused(backend: Backend, key: str) -> None:
    store = backend.store
    with pytest.raises(InvalidKeyError):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.put_stream(key, io.BytesIO(b"x"))
    with pytest.raises(InvalidKeyError):
        store.get_bytes(key)
    with pytest.raises(InvalidKeyError):
        store.exists(key)
    with pytest.raises(InvalidKeyError):
        store.stat(key)
    with pytest.raises(InvalidKeyError):
        store.delete(key)
    assert backend.everything() == []


@pytest.mark.parametrize("prefix", ["../", "/a", "a//", ".x", "a b/"])
def test_invalid_prefixes_are_refused(backend: Backend, prefix: str) -> None:
    with pytest.raises(InvalidKeyError):
        backend.store.list(prefix)
    with pytest.raises(InvalidKeyError):
        backend.store.delete_prefix(prefix)


def test_invalid_key_is_a_storage_error_and_a_value_error() -> None:
    assert issubclass(InvalidKeyError, StorageError) and issubclass(InvalidKeyError, ValueError)


# -- local specifics -----------------------------------------------------------------------------------------


def test_local_folders_are_private_and_keys_stay_under_root(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    store = LocalObjectStore(root)
    store.put_bytes("jobs/j6/original", b"x")
    for folder in (root, root / "jobs", root / "jobs" / "j6"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((root / "jobs" / "j6" / "original").stat().st_mode) & 0o077 == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [root / "jobs" / "j6" / "original"]
    store.delete("jobs/j6/original")
    assert list(root.iterdir()) == []  # emptied folders are pruned, the root stays


# -- S3 specifics --------------------------------------------------------------------------------------------


@pytest.mark.services
def test_s3_creates_its_bucket_and_records_the_hash(moto_server: MotoServer) -> None:
    store = moto_server.store()
    assert not store._client.bucket_exists(store.bucket)
    stored = store.put_bytes("k", b"abc", content_type="text/plain")
    assert store._client.bucket_exists(store.bucket)
    assert store._client.stat_object(store.bucket, "k").content_type == "text/plain"
    assert store.stat("k").sha256 == stored.sha256 == sha(b"abc")
    # A second store on the same bucket finds it there.
    assert moto_server.store(store.bucket).get_bytes("k") == b"abc"


@pytest.mark.services
def test_s3_removes_what_crashed_uploads_left_behind(moto_server: MotoServer) -> None:
    """A process killed between writing the temporary object and copying it to its key, or in the middle of
    a multipart upload, leaves them under ``.partial/``; a start-up removes them once they are old enough."""
    store = moto_server.store()
    store.put_bytes("jobs/a/original", b"kept")
    client = store._client
    client.put_object(store.bucket, ".partial/crashed", io.BytesIO(b"half"), 4)

    def leftovers() -> tuple[list[str], list[str]]:
        objects = [
            o.object_name or "" for o in client.list_objects(store.bucket, prefix=".partial/", recursive=True)
        ]
        uploads = [u.upload_id or "" for u in client._list_multipart_uploads(store.bucket).uploads]
        return objects, uploads

    assert store.remove_stale_temporaries() == 0  # younger than an hour: maybe an upload in progress
    assert leftovers() == ([".partial/crashed"], [])
    # (moto dates every multipart upload 2010-11-10, so its age is checked with real servers only.)
    upload_id = client._create_multipart_upload(store.bucket, ".partial/cut-short", {})
    assert leftovers() == ([".partial/crashed"], [upload_id])
    assert store.remove_stale_temporaries(older_than=0) == 2
    assert leftovers() == ([], [])
    assert store.list() == ["jobs/a/original"] and store.get_bytes("jobs/a/original") == b"kept"


@pytest.mark.services
def test_an_unreachable_store_does_not_stop_the_api_from_starting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The start-up clean-up of crashed uploads is best effort: storage down, the API still starts (and
    answers /healthz), and says why nothing was cleaned."""
    from fastapi.testclient import TestClient

    from tests.api.conftest import make_settings
    from verbatim.api.serving import free_port
    from verbatim.server import create_app

    store = S3ObjectStore(
        endpoint=f"127.0.0.1:{free_port()}", access_key="testing", secret_key="testing", bucket="nowhere",
        secure=False, region="us-east-1", retry=RetryPolicy(attempts=2, initial_delay=0.05, deadline=0.5),
    )  # fmt: skip
    with caplog.at_level("WARNING"), TestClient(create_app(make_settings(tmp_path), store=store)) as client:
        assert client.get("/healthz").status_code in (200, 503)
    assert "could not remove abandoned temporary uploads from the object store (StorageUnavailableError)" in (
        caplog.text
    )


@pytest.mark.services
def test_s3_unreachable_fails_after_bounded_retries(caplog: pytest.LogCaptureFixture) -> None:
    server = MotoServer()
    try:
        store = server.store(retry=RetryPolicy(attempts=4, initial_delay=0.1, max_delay=0.2, deadline=5.0))
        store.put_bytes("jobs/secret-job/original", b"x")
    finally:
        server.stop()

    caplog.set_level(logging.WARNING, logger="verbatim.ops.storage")
    started = time.monotonic()
    with pytest.raises(StorageError, match=f"S3 server at {server.endpoint}.*4 times") as raised:
        store.get_bytes("jobs/secret-job/original")
    elapsed = time.monotonic() - started
    assert 0.1 + 0.2 + 0.2 <= elapsed < 3.0
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 3
    assert not any("secret-job" in r.getMessage() for r in caplog.records)
    assert "secret-job" not in str(raised.value)

    # Idempotent calls (and put_bytes, whose data can be sent again) are retried; put_stream is not.
    for call in (
        lambda: store.exists("k"),
        lambda: store.list(""),
        lambda: store.delete("k"),
        lambda: store.delete_prefix("jobs/"),
        lambda: store.put_bytes("k", b"x"),
    ):
        with pytest.raises(StorageError, match="4 times"):
            call()
    with pytest.raises(StorageError, match=r"upload .* failed .*nothing stored"):
        store.put_stream("k", io.BytesIO(b"x"))


@pytest.mark.services
def test_s3_default_retry_policy_is_bounded() -> None:
    server = MotoServer()
    server.stop()
    store = server.store()  # default policy: 5 tries, 8 s deadline; connection refused answers at once
    started = time.monotonic()
    with pytest.raises(StorageError, match="5 times"):
        store.exists("k")  # the bucket check comes first and is what fails
    elapsed = time.monotonic() - started
    assert 0.25 + 0.5 + 1 + 2 <= elapsed < 8.0


# -- choosing a store ----------------------------------------------------------------------------------------


def test_make_store_follows_the_settings(tmp_path: Path) -> None:
    # The embedded deployment encrypts by default (HOME/keyring.json made on first use) ...
    sealed = make_store(Settings(home=tmp_path))
    assert isinstance(sealed, EncryptedObjectStore) and isinstance(sealed.inner, LocalObjectStore)
    assert sealed.inner.root == tmp_path / "objects" and (tmp_path / "keyring.json").is_file()
    # ... unless the operator turns that default off.
    plain = EncryptionSettings(embedded_default=False)
    local = make_store(Settings(home=tmp_path, encryption=plain))
    assert isinstance(local, LocalObjectStore) and local.root == tmp_path / "objects"
    assert isinstance(local, ObjectStore)

    elsewhere = make_store(
        Settings(home=tmp_path, encryption=plain, storage=StorageSettings(local_root=tmp_path / "o"))
    )
    assert isinstance(elsewhere, LocalObjectStore) and elsewhere.root == tmp_path / "o"

    # Building the S3 store contacts nothing: the bucket is checked on first use.
    s3 = make_store(
        Settings(
            home=tmp_path,
            storage=StorageSettings(backend="s3", s3_endpoint="127.0.0.1:1", s3_bucket="b", s3_secure=False),
        )
    )
    assert isinstance(s3, S3ObjectStore) and s3.bucket == "b" and s3.endpoint == "127.0.0.1:1"
    assert isinstance(s3, ObjectStore)
