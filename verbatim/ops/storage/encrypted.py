"""Encryption at rest: every object AES-256-GCM encrypted, in 1 MiB segments, under a key of a keyring.

:class:`EncryptedObjectStore` wraps the local or S3 store; the code above it sees plaintext, so hashes
(custody), sizes and streaming stay as they were. Format of an encrypted object::

    b"VBENC1" | key id length (1 byte) | key id (ASCII) | nonce prefix (8 random bytes)
    then per segment: ciphertext length (4 bytes, big endian) | AES-GCM(segment) incl. its 16-byte tag

The nonce of segment ``i`` is the prefix followed by ``i`` (4 bytes). The associated data binds each segment
to the object's key, its index and whether it is the last one, so segments cannot be reordered, dropped,
truncated at a segment boundary, or moved to another object without failing authentication. An object
written before encryption was enabled (no magic) is read as it is, and ``verbatim keys rotate`` encrypts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, BinaryIO

from verbatim.ops.storage.base import (
    DEFAULT_CONTENT_TYPE,
    BaseObjectStore,
    ObjectStore,
    ObjectTooLargeError,
    StorageError,
    StoredObject,
)

if TYPE_CHECKING:
    from verbatim.ops.keys import Keyring

__all__ = ["MAGIC", "SEGMENT", "EncryptedObjectStore", "IntegrityError", "key_id_of"]

MAGIC = b"VBENC1"
SEGMENT = 1 << 20
_TAG = 16
_LEN = struct.Struct(">I")


class IntegrityError(StorageError):
    """An encrypted object failed authentication: altered, truncated, or a key the keyring lacks."""


def _aad(key: str, index: int, last: bool) -> bytes:
    return b"%s|%d|%s" % (key.encode(), index, b"last" if last else b"more")


def _header(key_id: str, prefix: bytes) -> bytes:
    raw = key_id.encode("ascii")
    return MAGIC + bytes([len(raw)]) + raw + prefix


class _EncryptingReader(io.RawIOBase):
    """Reads plaintext from ``source`` and yields the encrypted object; hashes and counts the plaintext."""

    def __init__(
        self, source: BinaryIO, *, key: str, key_id: str, secret: bytes, max_bytes: int | None
    ) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._source = source
        self._key = key
        self._aead = AESGCM(secret)
        self._prefix = os.urandom(8)
        self._buffer = bytearray(_header(key_id, self._prefix))
        self._index = 0
        self._pending = source.read(SEGMENT)  # one segment ahead, to know which one is the last
        self._done = False
        self._max = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def _next_segment(self) -> None:
        chunk = self._pending
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            raise ObjectTooLargeError(f"the upload is larger than the {self._max} bytes allowed")
        self.digest.update(chunk)
        self._pending = self._source.read(SEGMENT) if chunk else b""
        last = not self._pending
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aead.encrypt(nonce, bytes(chunk), _aad(self._key, self._index, last))
        self._buffer += _LEN.pack(len(sealed)) + sealed
        self._index += 1
        self._done = last

    def readinto(self, out: memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            self._next_segment()
        n = min(len(out), len(self._buffer))
        out[:n] = self._buffer[:n]
        del self._buffer[:n]
        return n


class _DecryptingReader(io.RawIOBase):
    """Plaintext of an encrypted object read from ``source`` (positioned after the header)."""

    def __init__(self, source: BinaryIO, *, key: str, secret: bytes, prefix: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._source = source
        self._key = key
        self._aead = AESGCM(secret)
        self._prefix = prefix
        self._index = 0
        self._buffer = bytearray()
        self._next_length = self._read_length()
        self._done = False

    def readable(self) -> bool:
        return True

    def _read_exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self._source.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def _read_length(self) -> int | None:
        raw = self._read_exact(_LEN.size)
        if not raw:
            return None
        if len(raw) < _LEN.size:
            raise IntegrityError(f"{self._key}: truncated encrypted object")
        length: int = _LEN.unpack(raw)[0]
        if length < _TAG or length > SEGMENT + _TAG:
            raise IntegrityError(f"{self._key}: corrupt encrypted object (segment length {length})")
        return length

    def _next_segment(self) -> None:
        from cryptography.exceptions import InvalidTag

        if self._next_length is None:
            raise IntegrityError(f"{self._key}: truncated encrypted object (no final segment)")
        sealed = self._read_exact(self._next_length)
        if len(sealed) < self._next_length:
            raise IntegrityError(f"{self._key}: truncated encrypted object")
        self._next_length = self._read_length()
        last = self._next_length is None
        nonce = self._prefix + struct.pack(">I", self._index)
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(self._key, self._index, last))
        except InvalidTag as e:
            raise IntegrityError(
                f"{self._key}: the encrypted object failed authentication (altered, truncated or moved)"
            ) from e
        self._buffer += plain
        self._index += 1
        self._done = last

    def readinto(self, out: memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            self._next_segment()
        n = min(len(out), len(self._buffer))
        out[:n] = self._buffer[:n]
        del self._buffer[:n]
        return n


def _read_header(stream: BinaryIO) -> tuple[str, bytes] | bytes:
    """``(key id, nonce prefix)`` of an encrypted object, or the bytes read when it is not one."""
    head = stream.read(len(MAGIC) + 1)
    if head[: len(MAGIC)] != MAGIC or len(head) < len(MAGIC) + 1:
        return head
    raw = stream.read(head[-1])
    prefix = stream.read(8)
    if len(raw) != head[-1] or len(prefix) != 8:
        raise IntegrityError("truncated encryption header")
    return raw.decode("ascii"), prefix


def key_id_of(store: ObjectStore, key: str) -> str | None:
    """The key id an object of the wrapped ``store`` is encrypted under; ``None`` for a plaintext object."""
    with store.open(key) as stream:
        found = _read_header(stream)
    return found[0] if isinstance(found, tuple) else None


class _Prepend(io.RawIOBase):
    """``head`` then the rest of ``stream``: a plaintext object whose first bytes were read to sniff it."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, out: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(out), len(self._head))
            out[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(out))
        out[: len(data)] = data
        return len(data)


class EncryptedObjectStore(BaseObjectStore):
    """An :class:`ObjectStore` that encrypts what it writes to ``inner`` and decrypts what it reads.

    Args:
        inner: the local or S3 store holding the ciphertext.
        keyring: the keys; new objects use its active key, any key of it reads.
    """

    def __init__(self, inner: ObjectStore, keyring: Keyring) -> None:
        self.inner = inner
        self.keyring = keyring

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        key_id, secret = self.keyring.active()
        reader = _EncryptingReader(stream, key=key, key_id=key_id, secret=secret, max_bytes=max_bytes)
        buffered = io.BufferedReader(reader, buffer_size=SEGMENT)
        self.inner.put_stream(
            key,
            buffered,
            content_type="application/octet-stream",
            overwrite=overwrite,  # type: ignore[arg-type]
        )
        return StoredObject(key, reader.size, reader.digest.hexdigest())

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        return self.put_stream(key, io.BytesIO(data), content_type=content_type, overwrite=overwrite)

    @contextlib.contextmanager
    def _open(self, key: str) -> Iterator[BinaryIO]:
        with self.inner.open(key) as raw:
            found = _read_header(raw)
            if isinstance(found, bytes):  # written before encryption was enabled
                yield io.BufferedReader(_Prepend(found, raw))  # type: ignore[arg-type]
                return
            key_id, prefix = found
            secret = self.keyring.get(key_id)
            if secret is None:
                raise IntegrityError(
                    f"{key}: encrypted under key {key_id!r}, which the keyring does not hold"
                )
            yield io.BufferedReader(  # type: ignore[misc]
                _DecryptingReader(raw, key=key, secret=secret, prefix=prefix), buffer_size=SEGMENT
            )

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        return self._open(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def stat(self, key: str) -> StoredObject:
        """Plaintext size (computed from the segment layout); no SHA-256 without reading the object."""
        stored = self.inner.stat(key)
        with self.inner.open(key) as raw:
            found = _read_header(raw)
        if isinstance(found, bytes):
            return stored
        header = len(_header(found[0], found[1]))
        body = stored.size - header
        segments = max(1, -(-body // (SEGMENT + _TAG + _LEN.size)))
        return StoredObject(key, body - segments * (_TAG + _LEN.size), None)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        return self.inner.delete_prefix(prefix)

    def list(self, prefix: str = "") -> list[str]:
        return self.inner.list(prefix)

    def reencrypt(self, key: str) -> bool:
        """Encrypt one object again under the active key (rotation); ``False`` when it already is.

        The new ciphertext replaces the old one whole (the inner store's writes are atomic), and its
        plaintext hash is checked against the old one's before that: rotation loses nothing.
        """
        active, _ = self.keyring.active()
        if key_id_of(self.inner, key) == active:
            return False
        with self.open(key) as plain:
            before = hashlib.sha256()
            spool = _Spool()
            while chunk := plain.read(SEGMENT):
                before.update(chunk)
                spool.write(chunk)
        with spool.reader() as again:
            after = self.put_stream(key, again, overwrite=True)
        spool.close()
        if after.sha256 != before.hexdigest():
            raise IntegrityError(f"{key}: re-encryption changed the content")
        return True


class _Spool:
    """A temporary file (recordings can be hours long: never held in memory)."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()

    def write(self, data: bytes) -> None:
        self._file.write(data)

    @contextlib.contextmanager
    def reader(self) -> Iterator[BinaryIO]:
        self._file.flush()
        self._file.seek(0)
        yield self._file  # type: ignore[misc]

    def close(self) -> None:
        self._file.close()
