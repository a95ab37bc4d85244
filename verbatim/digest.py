"""SHA-256 of files, read in 1 MiB chunks: recordings (chain of custody) and model weights (supply chain)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

__all__ = ["sha256_file", "sha256_stream"]

_CHUNK = 1 << 20


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def sha256_stream(stream: BinaryIO) -> str:
    """Hex SHA-256 of what remains to be read from a binary stream."""
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
