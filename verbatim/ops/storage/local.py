"""The embedded object store: a folder on the local disk."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from verbatim.ops.storage.base import (
    DEFAULT_CONTENT_TYPE,
    STALE_TEMPORARY_S,
    BaseObjectStore,
    InvalidKeyError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageError,
    StoredObject,
    copy_hashing,
    validate_key,
    validate_prefix,
)

__all__ = ["LocalObjectStore"]

_DIR_MODE = 0o700
# The hash travels with the file where the file system keeps extended attributes (ext4, xfs, btrfs, tmpfs on
# recent kernels); elsewhere `stat` answers sha256=None and callers rely on the hash recorded at intake.
_SHA256_XATTR = "user.verbatim.sha256"
_TMP_PREFIX = ".tmp-"


class LocalObjectStore(BaseObjectStore):
    """Objects as files under ``root``: key ``a/b`` is the file ``root/a/b``.

    Writes go to a temporary file in the destination folder, are flushed to disk and renamed into place, so
    a reader sees the old object or the new one, never a part. Folders are created private (0o700), files
    0o600. A key cannot be both an object and the folder of other objects here (S3 allows it; verbatim's keys
    never do).
    """

    def __init__(self, root: Path) -> None:
        """Args:
        root: The store's folder, created if missing.
        """
        self.root = Path(root)
        try:
            self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create the object store folder {self.root}: {e.strerror}") from e

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store ``stream`` under ``key``; see :meth:`ObjectStore.put_stream` (content_type is not kept)."""
        path = self._path(key)
        if not overwrite and path.exists():
            raise ObjectExistsError(f"object {key!r} already exists and may not be overwritten")
        fd, tmp = self._mkstemp(path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                # Errors of the source stream propagate as they are: they are not the store's.
                size, digest = copy_hashing(stream, out, max_bytes=max_bytes)
                try:
                    out.flush()
                    with contextlib.suppress(OSError):
                        os.setxattr(out.fileno(), _SHA256_XATTR, digest.encode())
                    os.fsync(out.fileno())
                except OSError as e:
                    raise StorageError(f"cannot write object {key!r}: {e.strerror or e}") from e
            self._commit(tmp, path, key, overwrite=overwrite)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return StoredObject(key, size, digest)

    def _commit(self, tmp: str, path: Path, key: str, *, overwrite: bool) -> None:
        """Move a complete temporary file to its key, durably."""
        try:
            if overwrite:
                os.replace(tmp, path)
            else:
                # link() refuses an existing target atomically, where exists()-then-replace() would race.
                try:
                    os.link(tmp, path)
                except FileExistsError as e:
                    raise ObjectExistsError(f"object {key!r} already exists, may not be overwritten") from e
                os.unlink(tmp)
            _fsync_dir(path.parent)
        except OSError as e:
            raise StorageError(f"cannot write object {key!r}: {e.strerror or e}") from e

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store ``data`` under ``key``; see :meth:`put_stream`."""
        return self.put_stream(key, io.BytesIO(data), content_type=content_type, overwrite=overwrite)

    def _mkstemp(self, folder: Path) -> tuple[int, str]:
        # A concurrent delete may prune the folder between makedirs and mkstemp: try again a few times.
        for attempt in range(3):
            try:
                self._makedirs(folder)
                return tempfile.mkstemp(dir=folder, prefix=_TMP_PREFIX, suffix=".part")
            except FileNotFoundError:
                if attempt == 2:
                    raise
            except (FileExistsError, NotADirectoryError) as e:
                raise StorageError(
                    f"cannot create folder {folder.relative_to(self.root)}: an object has that key"
                ) from e
            except OSError as e:
                raise StorageError(f"cannot write into the object store: {e.strerror or e}") from e
        raise AssertionError("unreachable")

    def _makedirs(self, folder: Path) -> None:
        # Path.mkdir(parents=True) gives the intermediate folders default permissions: make each one private.
        current = self.root
        for part in folder.relative_to(self.root).parts:
            current = current / part
            with contextlib.suppress(FileExistsError):
                current.mkdir(mode=_DIR_MODE)

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Yield the object's file, open for reading.

        Raises:
            ObjectNotFoundError: No object has this key.
        """
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
            raise ObjectNotFoundError(f"no object {key!r}") from e
        except OSError as e:
            raise StorageError(f"cannot read object {key!r}: {e.strerror or e}") from e
        with handle:
            yield handle

    def exists(self, key: str) -> bool:
        """Whether an object has this key."""
        return self._path(key).is_file()

    def stat(self, key: str) -> StoredObject:
        """Size, and SHA-256 where the file system kept it, of an object."""
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as e:
            raise ObjectNotFoundError(f"no object {key!r}") from e
        if not path.is_file():
            raise ObjectNotFoundError(f"no object {key!r}")
        sha256: str | None = None
        with contextlib.suppress(OSError):
            value = os.getxattr(path, _SHA256_XATTR).decode("ascii", "replace")
            if len(value) == 64:
                sha256 = value
        return StoredObject(key, st.st_size, sha256)

    def delete(self, key: str) -> None:
        """Remove an object (no error when there is none) and the folders it leaves empty."""
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as e:
            raise StorageError(f"cannot delete object {key!r}: {e.strerror or e}") from e
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix`` (not empty); return how many."""
        if not prefix:
            raise InvalidKeyError("refusing to delete every object: give a non-empty prefix")
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_S) -> int:
        """Delete temporary files of writes that a crash cut short (the process was killed mid-write, e.g.
        during an upload); return how many. They are never objects, but they hold disk space.

        Args:
            older_than: seconds since a temporary file was last written; a write in progress keeps its
                file fresh, so only abandoned ones are this old.
        """
        cutoff = time.time() - older_than
        removed = 0
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for name in filenames:
                if not (name.startswith(_TMP_PREFIX) and name.endswith(".part")):
                    continue
                path = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
        return removed

    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with ``prefix``, sorted (temporary files of writes in progress are not objects)."""
        validate_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        base = self.root.joinpath(*folder.split("/")) if folder else self.root
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        keys.sort()
        return keys

    def _prune(self, folder: Path) -> None:
        """Remove empty folders from ``folder`` up to (not including) the root."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): stop there
                return
            folder = folder.parent


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: fsync the folder that holds it (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
