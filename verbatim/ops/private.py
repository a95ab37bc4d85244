"""Data at rest in the embedded deployment: a private home, private database files.

The SQLite database holds transcript text (the search table), corrections, speaker names and file names; the
home holds it, the objects and the key files. Folders are made 0700 and files 0600 when verbatim creates
them, and tightened when an earlier version left them readable by others (only what the service's own user
owns is touched: a path chosen by an operator and owned by someone else is left alone).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "private_sqlite", "secure_home"]

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_SQLITE_COMPANIONS: Final = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(mode)


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700, or tighten it to 0700 if it is ours and open to others."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)  # mkdir's mode passes through the umask
    _tighten(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing, else tighten it to 0600 if it is ours."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)


def private_sqlite(database: Path) -> None:
    """A SQLite database file and its journals 0600 (SQLite gives its journals the database's mode)."""
    private_file(database)
    for suffix in _SQLITE_COMPANIONS:
        _tighten(database.with_name(database.name + suffix), FILE_MODE)


def secure_home(home: Path) -> None:
    """The embedded home 0700 (database, objects, key files, logs live under it)."""
    private_dir(home)
