"""What every object store offers: the protocol, its result type, its errors and the key rules.

Keys name objects the way S3 does (``jobs/<job id>/original``). They are job ids and artefact names chosen by
verbatim, never a user's file name, so they carry no personal data; still, they are validated strictly,
because the local store maps them to paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from verbatim.errors import VerbatimError

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_CONTENT_TYPE",
    "STALE_TEMPORARY_S",
    "BaseObjectStore",
    "InvalidKeyError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectTooLargeError",
    "StorageError",
    "StorageUnavailableError",
    "StoredObject",
    "copy_hashing",
    "validate_key",
    "validate_prefix",
]

CHUNK_SIZE = 1024 * 1024
"""Bytes read from a stream at a time."""

DEFAULT_CONTENT_TYPE = "application/octet-stream"

STALE_TEMPORARY_S = 3600.0
"""A store's temporary file or object not written for this long belongs to a write that a crash cut short
(``remove_stale_temporaries`` of the local and S3 stores)."""

MAX_KEY_LENGTH = 1024  # S3's limit
MAX_SEGMENT_LENGTH = 255  # a file name on common file systems

# A segment never starts with a dot: dot-names are reserved for the stores' own temporary objects, and this
# also rules out "." and "..".
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class StorageError(VerbatimError):
    """The object store failed or is unreachable."""


class StorageUnavailableError(StorageError):
    """The store's server could not be reached (or kept failing) for its whole retry budget; trying again
    later may succeed."""


class ObjectNotFoundError(StorageError):
    """No object has this key."""


class ObjectExistsError(StorageError):
    """An object already has this key and overwriting was not allowed (originals are immutable)."""


class ObjectTooLargeError(StorageError):
    """A stream went past the size allowed for it; nothing was stored."""


class InvalidKeyError(StorageError, ValueError):
    """A key or prefix breaks the key rules (see :func:`validate_key`)."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object as stored.

    Attributes:
        key: Its key.
        size: Its size in bytes.
        sha256: Hex SHA-256 of its content; ``None`` when the store does not know it without reading the
            object (``stat`` of a local object on a file system without extended attributes).
    """

    key: str
    size: int
    sha256: str | None


def validate_key(key: str) -> str:
    """Check that ``key`` is a valid object key and return it.

    A key is made of ``/``-separated segments of ``[A-Za-z0-9._-]``, none empty, none starting with a dot
    (so no ``.``, ``..`` or hidden names), no leading or trailing ``/``, at most 1024 characters.

    Raises:
        InvalidKeyError: The key breaks a rule.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("an object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(f"an object key is at most {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment) or len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKeyError(
                f"invalid object key {key!r}: use '/'-separated names of letters, digits, '.', '_' or '-', "
                "none empty and none starting with '.'"
            )
    return key


def validate_prefix(prefix: str) -> str:
    """Check a listing prefix: empty, or a valid key optionally followed by ``/``; return it.

    Raises:
        InvalidKeyError: The prefix breaks the key rules.
    """
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


@runtime_checkable
class ObjectStore(Protocol):
    """Where recordings and derived artefacts are kept: a local folder or an S3 bucket.

    Prefixes match as plain string prefixes, as in S3: ``"jobs/1"`` also matches ``"jobs/10/..."``, so pass
    ``"jobs/1/"`` to mean one job's folder.
    """

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store what ``stream`` yields under ``key``, hashing it on the way, without holding it in memory.

        The object appears whole or not at all: on any failure nothing is visible under ``key`` and no
        temporary object is left behind.

        Args:
            key: Where to store it (see :func:`validate_key`).
            stream: Read until EOF; not closed.
            max_bytes: Refuse a stream longer than this.
            content_type: Recorded with the object where the store can.
            overwrite: ``False`` refuses a key that already holds an object (immutable originals).

        Returns:
            The stored object, with its size and SHA-256.

        Raises:
            ObjectTooLargeError: The stream went past ``max_bytes``.
            ObjectExistsError: ``overwrite`` is false and the key exists.
            StorageError: The store failed.
        """
        ...

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store ``data`` under ``key``; see :meth:`put_stream`."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A context manager yielding a readable binary stream of the object.

        Raises:
            ObjectNotFoundError: No object has this key.
        """
        ...

    def get_stream(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Same as :meth:`open`."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole object in memory (for small artefacts only)."""
        ...

    def download_to(self, key: str, path: Path) -> StoredObject:
        """Copy the object to ``path`` (written to a temporary file and renamed), hashing it on the way.

        Returns:
            The object with the SHA-256 of the bytes actually written.
        """
        ...

    def exists(self, key: str) -> bool:
        """Whether an object has this key."""
        ...

    def stat(self, key: str) -> StoredObject:
        """Size and, where recorded, SHA-256 of an object.

        Raises:
            ObjectNotFoundError: No object has this key.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove an object; no error when there is none."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix`` (which must not be empty); return how many."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with ``prefix``, sorted."""
        ...


class BaseObjectStore:
    """What both stores do the same way, on top of ``open`` (to be provided by the subclass)."""

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        raise NotImplementedError

    def get_stream(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Same as :meth:`open`."""
        return self.open(key)

    def get_bytes(self, key: str) -> bytes:
        """The whole object in memory (for small artefacts only)."""
        with self.open(key) as stream:
            return stream.read()

    def download_to(self, key: str, path: Path) -> StoredObject:
        """Copy the object to ``path`` through a temporary file in the same folder, hashing it on the way."""
        path = Path(path)
        with self.open(key) as stream:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    size, digest = copy_hashing(stream, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        return StoredObject(key, size, digest)


def copy_hashing(source: BinaryIO, target: BinaryIO, *, max_bytes: int | None = None) -> tuple[int, str]:
    """Copy ``source`` to ``target`` in chunks; return the size and hex SHA-256 of what was copied.

    Raises:
        ObjectTooLargeError: ``source`` holds more than ``max_bytes`` (of which at most one byte more is
            read).
    """
    digest = hashlib.sha256()
    size = 0
    while True:
        want = CHUNK_SIZE if max_bytes is None else min(CHUNK_SIZE, max_bytes + 1 - size)
        chunk = source.read(want)
        if not chunk:
            break
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise ObjectTooLargeError(f"the upload is larger than the {max_bytes} bytes allowed")
        digest.update(chunk)
        try:
            target.write(chunk)
        except OSError as e:
            raise StorageError(f"cannot write: {e.strerror or e}") from e
    return size, digest.hexdigest()
