"""Fixtures of the worker tests: a migrated SQLite database, a local store, an owner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.workers.helpers import make_owner
from verbatim.ops.db import User, session_factory
from verbatim.ops.db.testing import migrated_engine
from verbatim.ops.storage import LocalObjectStore


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_engine("sqlite", tmp_path) as engine:
        yield session_factory(engine)


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def owner(sessions: sessionmaker[Session]) -> User:
    return make_owner(sessions)
