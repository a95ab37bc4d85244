"""Fixtures of the ops tests: migrated databases on SQLite and the real PostgreSQL; a real S3-protocol server
(moto's) on loopback and the stores under test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verbatim.api.serving import free_port
from verbatim.ops.db import session_factory
from verbatim.ops.db.testing import migrated_engine
from verbatim.ops.storage import LocalObjectStore, ObjectStore, RetryPolicy, S3ObjectStore

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_engine(request.param, tmp_path) as migrated:
        yield migrated


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


class MotoServer:
    """moto's S3 server in a child process on 127.0.0.1.

    A child process rather than moto's ThreadedMotoServer: the memory tests measure this process's
    allocations, and the server keeps whole objects in memory.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        env = {**os.environ, "MOTO_PORT": str(self.port)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start in 30 s") from None
                time.sleep(0.1)

    def store(self, bucket: str | None = None, **kwargs: object) -> S3ObjectStore:
        return S3ObjectStore(
            endpoint=self.endpoint,
            access_key="testing",
            secret_key="testing",
            bucket=bucket or f"test-{uuid.uuid4().hex[:12]}",
            secure=False,
            region="us-east-1",
            **kwargs,  # type: ignore[arg-type]
        )

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One S3 server for the session; each test gets its own bucket."""
    server = MotoServer()
    yield server
    server.stop()


@dataclass
class Backend:
    """A store under test and a way to see everything it holds, temporary objects included."""

    name: str
    store: ObjectStore
    root: Path | None = None

    def everything(self) -> list[str]:
        """Every file under the local root, or every object and pending multipart upload in the bucket."""
        if isinstance(self.store, LocalObjectStore):
            assert self.root is not None
            return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())
        assert isinstance(self.store, S3ObjectStore)
        client = self.store._client
        if not client.bucket_exists(self.store.bucket):
            return []
        objects = [o.object_name or "" for o in client.list_objects(self.store.bucket, recursive=True)]
        uploads = client._list_multipart_uploads(self.store.bucket).uploads
        return sorted(objects + [f"upload:{u.object_name}" for u in uploads])


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The same behavioural tests run against the local folder and against a real S3 server."""
    if request.param == "local":
        root = tmp_path / "objects"
        return Backend("local", LocalObjectStore(root), root)
    server: MotoServer = request.getfixturevalue("moto_server")
    return Backend("s3", server.store(retry=RetryPolicy(attempts=2, initial_delay=0.05, deadline=1.0)))
