"""The distributed object store: a bucket on MinIO or any S3 server, through the ``minio`` client."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, ComposeSource, CopySource
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError
from urllib3.util import Retry, Timeout

from verbatim.ops.storage.base import (
    DEFAULT_CONTENT_TYPE,
    STALE_TEMPORARY_S,
    BaseObjectStore,
    InvalidKeyError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    StorageError,
    StorageUnavailableError,
    StoredObject,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["RetryPolicy", "S3ObjectStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest multipart part
_MAX_COPY_SIZE = 5 * 1024**3  # larger sources need a multipart copy (compose)
_TMP_PREFIX = ".partial/"  # keys cannot start with a dot, so no object can collide with an upload in progress
_SHA256_META = "x-amz-meta-sha256"
_TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to insist when the S3 server does not answer.

    Attributes:
        attempts: Tries per operation, the first included.
        initial_delay: Seconds before the second try; doubled after each failure.
        max_delay: Longest wait between two tries.
        deadline: No new try starts once this many seconds have passed since the first (each try is
            further bounded by the connect and read timeouts): an operation fails within ``deadline`` plus
            one try (a server that accepts connections and never answers: one read timeout).
    """

    attempts: int = 5
    initial_delay: float = 0.25
    max_delay: float = 4.0
    deadline: float = 8.0


class S3ObjectStore(BaseObjectStore):
    """Objects in one S3 bucket, created on first use if missing.

    Uploads stream in parts of ``part_size`` bytes (memory per upload is a few parts, whatever the object's
    size) to a temporary key, then are copied server-side to their key with their SHA-256 as metadata and the
    temporary object is removed: the key holds the whole object or nothing. An upload refused or failed
    mid-way is aborted (S3 multipart uploads only appear on completion). Idempotent calls are retried on
    transport errors and 5xx answers per ``retry``; an upload is not (its stream cannot be replayed): the
    caller retries with a fresh stream. Logs name the operation, the endpoint and the kind of error, no more.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        part_size: int = MIN_PART_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
    ) -> None:
        """Args:
        endpoint: ``host:port`` of the server.
        access_key: Access key (empty for anonymous access).
        secret_key: Secret key.
        bucket: The bucket, created on first use if missing.
        secure: HTTPS (certificates checked against ``SSL_CERT_FILE`` or certifi's).
        region: The bucket's region; unset, the client asks the server.
        retry: Retry policy of idempotent calls (default :class:`RetryPolicy`).
        part_size: Bytes per uploaded part, at least 5 MiB.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for the server between two reads.
        """
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.endpoint = endpoint
        self.bucket = bucket
        self.retry = retry or RetryPolicy()
        self.part_size = part_size
        # Retries are ours (bounded, logged) rather than urllib3's, which would multiply with them.
        http = urllib3.PoolManager(
            timeout=Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=Retry(total=0, redirect=0, raise_on_status=False),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._region = region
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()
        self._orphans: set[str] = set()  # temporary objects left by uploads cut short by an outage
        self._orphans_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3ObjectStore(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    # -- plumbing --------------------------------------------------------------------------------------------

    def _retrying(self, op: str, call: Callable[[], T]) -> T:
        """Run ``call``, retrying transient failures per the policy; translate failures into StorageError."""
        policy = self.retry
        start = time.monotonic()
        delay = policy.initial_delay
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except S3Error as e:
                if e.code not in _TRANSIENT_CODES:
                    raise
                error: Exception = e
            except (ServerError, urllib3.exceptions.HTTPError) as e:
                error = e
            elapsed = time.monotonic() - start
            if attempt >= policy.attempts or elapsed + delay > policy.deadline:
                raise StorageUnavailableError(
                    f"the S3 server at {self.endpoint} failed {op} {attempt} times in {elapsed:.1f} s "
                    f"({_describe(error)}); check that it is running and reachable"
                ) from error
            log.warning(
                "S3 %s at %s failed (%s), try %d of %d; retrying in %.2f s",
                op,
                self.endpoint,
                type(error).__name__,
                attempt,
                policy.attempts,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, policy.max_delay)

    def _call(self, op: str, key: str | None, call: Callable[[], T]) -> T:
        """:meth:`_retrying`, with S3 error answers turned into the store's errors."""
        try:
            return self._retrying(op, call)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound") and key is not None:
                raise ObjectNotFoundError(f"no object {key!r}") from e
            raise StorageError(f"the S3 server at {self.endpoint} refused {op}: {e.code}") from e
        except InvalidResponseError as e:
            raise StorageError(f"the S3 server at {self.endpoint} gave a non-S3 answer to {op}") from e

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (done once, before the first operation).

        Raises:
            StorageError: The server is unreachable or refuses.
        """
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return

            def create() -> None:
                if self._client.bucket_exists(self.bucket):
                    return
                try:
                    self._client.make_bucket(self.bucket, location=self._region)
                except S3Error as e:
                    if e.code != "BucketAlreadyOwnedByYou":  # created meanwhile by another process
                        raise

            self._call("bucket creation", None, create)
            self._bucket_ready = True

    # -- writing ---------------------------------------------------------------------------------------------

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store ``stream`` under ``key``; see :meth:`ObjectStore.put_stream`. Not retried (see the class)."""

        def upload(tmp: str) -> tuple[int, str]:
            reader = _HashingReader(stream, max_bytes)
            try:
                self._client.put_object(
                    self.bucket,
                    tmp,
                    reader,  # type: ignore[arg-type]  # has the read() minio needs
                    length=-1,
                    part_size=self.part_size,
                    content_type=content_type,
                    num_parallel_uploads=1,  # parallel parts would multiply the memory held
                )
            except S3Error as e:
                raise StorageError(f"the S3 server at {self.endpoint} refused the upload: {e.code}") from e
            except (ServerError, InvalidResponseError, urllib3.exceptions.HTTPError) as e:
                raise StorageError(
                    f"the upload to the S3 server at {self.endpoint} failed ({_describe(e)}); nothing stored"
                ) from e
            return reader.size, reader.hexdigest()

        return self._store(key, upload, content_type=content_type, overwrite=overwrite)

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store ``data`` under ``key``; see :meth:`put_stream`. Retried on transport errors."""

        def upload(tmp: str) -> tuple[int, str]:
            self._call(
                "upload",
                None,
                lambda: self._client.put_object(
                    self.bucket, tmp, io.BytesIO(data), length=len(data), content_type=content_type
                ),
            )
            return len(data), hashlib.sha256(data).hexdigest()

        return self._store(key, upload, content_type=content_type, overwrite=overwrite)

    def _store(
        self, key: str, upload: Callable[[str], tuple[int, str]], *, content_type: str, overwrite: bool
    ) -> StoredObject:
        """Upload to a temporary key, copy to ``key`` with the hash as metadata, remove the temporary key."""
        validate_key(key)
        self.ensure_bucket()
        if not overwrite and self.exists(key):
            raise ObjectExistsError(f"object {key!r} already exists and may not be overwritten")
        tmp = f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            size, digest = upload(tmp)
            # Checked again before the copy: S3 has no portable "create only" copy; this narrows the race.
            if not overwrite and self.exists(key):
                raise ObjectExistsError(f"object {key!r} already exists and may not be overwritten")
            self._call("copy", key, lambda: self._copy(tmp, key, size, digest, content_type))
        finally:
            self._remove_quietly(tmp)
        self._remove_orphans()  # the server answers again: what an outage left behind can go now
        return StoredObject(key, size, digest)

    def _copy(self, source: str, key: str, size: int, digest: str, content_type: str) -> None:
        metadata: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": content_type,
            _SHA256_META: digest,
        }
        if size <= _MAX_COPY_SIZE:
            self._client.copy_object(
                self.bucket,
                key,
                CopySource(self.bucket, source),
                metadata=metadata,
                metadata_directive=REPLACE,
            )
        else:
            self._client.compose_object(
                self.bucket, key, [ComposeSource(self.bucket, source)], metadata=metadata
            )

    def _remove_quietly(self, tmp: str) -> None:
        # One try only: when the server is gone, waiting here would only delay the error the caller gets.
        # A temporary object that could not be removed is removed by the next upload that succeeds.
        try:
            self._client.remove_object(self.bucket, tmp)
        except Exception as e:  # a leftover temporary object must not hide the outcome
            with self._orphans_lock:
                self._orphans.add(tmp)
            log.warning(
                "could not remove a temporary upload under %s in bucket %s (%s); the API removes such "
                "leftovers when it starts (once an hour old), as would an S3 lifecycle rule on that prefix",
                _TMP_PREFIX,
                self.bucket,
                type(e).__name__,
            )

    def _remove_orphans(self) -> None:
        """Remove the temporary objects uploads could not remove during an outage (one try each)."""
        with self._orphans_lock:
            orphans, self._orphans = self._orphans, set()
        for tmp in orphans:
            try:
                self._client.remove_object(self.bucket, tmp)
            except Exception:  # still unreachable: kept for the next upload (or the start-up clean-up)
                with self._orphans_lock:
                    self._orphans.add(tmp)

    # -- reading ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Yield a buffered stream of the object, read from the server as it is consumed.

        Raises:
            ObjectNotFoundError: No object has this key.
            StorageError: The server failed, also mid-way through the read.
        """
        validate_key(key)
        self.ensure_bucket()
        response = self._call("download", key, lambda: self._client.get_object(self.bucket, key))
        try:
            yield io.BufferedReader(_ResponseRaw(response, self.endpoint), buffer_size=1024 * 1024)
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        """Whether an object has this key."""
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def stat(self, key: str) -> StoredObject:
        """Size and recorded SHA-256 of an object."""
        validate_key(key)
        self.ensure_bucket()
        info = self._call("stat", key, lambda: self._client.stat_object(self.bucket, key))
        sha256 = info.metadata.get(_SHA256_META) if info.metadata is not None else None
        return StoredObject(key, int(info.size or 0), sha256 or None)

    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with ``prefix``, sorted (uploads in progress are not objects)."""
        validate_prefix(prefix)
        self.ensure_bucket()

        def names() -> list[str]:
            found = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
            return [o.object_name for o in found if o.object_name is not None]

        keys = self._call("listing", None, names)
        return sorted(k for k in keys if not k.startswith(_TMP_PREFIX))

    # -- deleting --------------------------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Remove an object; no error when there is none."""
        validate_key(key)
        self.ensure_bucket()
        self._call("delete", key, lambda: self._client.remove_object(self.bucket, key))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix`` (not empty); return how many."""
        if not prefix:
            raise InvalidKeyError("refusing to delete every object: give a non-empty prefix")
        keys = self.list(prefix)
        if not keys:
            return 0

        def remove() -> None:
            errors = list(self._client.remove_objects(self.bucket, [DeleteObject(k) for k in keys]))
            if errors:
                raise StorageError(
                    f"the S3 server at {self.endpoint} refused to delete {len(errors)} of {len(keys)} objects"
                    f" ({errors[0].code})"
                )

        self._call("delete", None, remove)
        return len(keys)

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_S) -> int:
        """Delete what uploads cut short by a crash left under the temporary prefix (objects written but never
        copied to their key, and multipart uploads never completed); return how many. They are never objects
        of the store, but the bucket bills and keeps them (a lifecycle rule on the prefix does the same job).

        Args:
            older_than: seconds since the temporary object or upload was started; an upload in progress is
                younger than its time limit, so only abandoned ones are this old.
        """
        self.ensure_bucket()
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)

        def stale_objects() -> list[str]:
            return [
                o.object_name
                for o in self._client.list_objects(self.bucket, prefix=_TMP_PREFIX, recursive=True)
                if o.object_name and o.last_modified is not None and o.last_modified <= cutoff
            ]

        def stale_uploads() -> list[tuple[str, str]]:
            found: list[tuple[str, str]] = []
            key_marker: str | None = None
            upload_marker: str | None = None
            while True:
                page = self._client._list_multipart_uploads(
                    self.bucket, prefix=_TMP_PREFIX, key_marker=key_marker, upload_id_marker=upload_marker
                )
                for upload in page.uploads:
                    started = upload.initiated_time
                    if upload.object_name and upload.upload_id and started is not None and started <= cutoff:
                        found.append((upload.object_name, upload.upload_id))
                if not page.is_truncated:
                    return found
                key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker

        removed = 0
        for key in self._retrying("list", stale_objects):
            self._retrying("delete", lambda key=key: self._client.remove_object(self.bucket, key))  # type: ignore[misc]
            removed += 1
        for key, upload_id in self._retrying("list", stale_uploads):
            self._retrying(
                "abort",
                lambda key=key, upload_id=upload_id: self._client._abort_multipart_upload(  # type: ignore[misc]
                    self.bucket, key, upload_id
                ),
            )
            removed += 1
        return removed


class _HashingReader:
    """A read-only view of a stream that hashes and counts what passes, and stops past ``max_bytes``.

    ``read(n)`` returns ``n`` bytes unless the stream ends: minio concatenates what ``read`` returns, which
    costs a copy of the part per call.
    """

    def __init__(self, stream: BinaryIO, max_bytes: int | None) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._hash: _Hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = MIN_PART_SIZE
        chunks: list[bytes] = []
        got = 0
        while got < size:
            want = size - got
            if self._max_bytes is not None:
                # Read one byte past the limit at most: enough to know the stream is too long.
                want = min(want, self._max_bytes + 1 - self.size - got)
            chunk = self._stream.read(want)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.size += len(data)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise ObjectTooLargeError(f"the upload is larger than the {self._max_bytes} bytes allowed")
        self._hash.update(data)
        return bytes(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class _ResponseRaw(io.RawIOBase):
    """An HTTP response body as a raw stream whose transport errors are StorageError."""

    def __init__(self, response: urllib3.BaseHTTPResponse, endpoint: str) -> None:
        self._response = response
        self._endpoint = endpoint

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._response.read(len(buffer))
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise StorageError(
                f"reading from the S3 server at {self._endpoint} failed mid-way ({_describe(e)})"
            ) from e
        n = len(data)
        buffer[:n] = data
        return n


def _describe(error: BaseException) -> str:
    """The kind of a transport error, without URLs (they name the object)."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        error = reason
    text = str(error)
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        text = text.split(": ", 1)[-1]
    elif isinstance(error, urllib3.exceptions.HTTPError):
        text = type(error).__name__
    return text or type(error).__name__
