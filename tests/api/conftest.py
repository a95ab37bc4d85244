"""The API under test: a real app (SQLite and a local store in a temporary folder, the in-process worker
running the real models), its users, and a recording transcribed once for the whole module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import DATA
from verbatim.api.deps import ServiceState
from verbatim.ops.accounts import create_user
from verbatim.ops.db import User
from verbatim.ops.settings import Settings, get_settings
from verbatim.server import create_app

JFK = DATA / "jfk.flac"
# Words of the clip that must never reach the audit log.
SECRET_WORDS = ("jfk", "ask not", "country")


@dataclass
class Actor:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Service:
    app: FastAPI
    client: TestClient
    home: Path
    investigator: Actor  # unit brigade-a
    colleague: Actor  # unit brigade-a too
    outsider: Actor  # clerk of court-b
    admin: Actor

    @property
    def state(self) -> ServiceState:
        state: ServiceState = self.app.state.verbatim
        return state

    def wait(self, job_id: str, actor: Actor | None = None, timeout: float = 120.0) -> dict[str, Any]:
        """Poll ``GET /v1/jobs/{id}`` until the job is finished."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(f"/v1/jobs/{job_id}", headers=(actor or self.investigator).headers)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["status"] in ("succeeded", "failed"):
                return body
            assert time.monotonic() < deadline, f"job still {body['status']} after {timeout} s"
            time.sleep(0.2)

    def upload(self, actor: Actor | None = None, path: Path = JFK, **options: str) -> dict[str, Any]:
        with path.open("rb") as fh:
            r = self.client.post(
                "/v1/jobs", headers=(actor or self.investigator).headers, files={"file": (path.name, fh)},
                data=options,
            )  # fmt: skip
        assert r.status_code == 202, r.text
        body: dict[str, Any] = r.json()
        return body


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings of an isolated embedded service, sharing the test session's installed models.

    Many tests send wrong tokens on purpose: the failed-authentication limit is raised unless a test sets
    it (tests/api/test_security.py tests the limit itself).
    """
    overrides.setdefault("auth_max_failures", 10_000)
    return Settings(home=home, models_dir=get_settings().models_dir, **overrides)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("api-home")
    app = create_app(make_settings(home), poll_interval_s=0.05)
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        with state.sessions() as session:
            actors = [
                Actor(*create_user(session, name=name, role=role, unit=unit))
                for name, role, unit in (
                    ("inv-a", "investigator", "brigade-a"),
                    ("inv-a2", "investigator", "brigade-a"),
                    ("clerk-b", "clerk", "court-b"),
                    ("root", "admin", "hq"),
                )
            ]
        yield Service(app, client, home, *actors)


@pytest.fixture(scope="module")
def done_job(service: Service) -> dict[str, Any]:
    """The JFK clip, transcribed (without diarisation, to keep the suite fast) by the investigator."""
    created = service.upload(language="en", diarize="false")
    body = service.wait(created["id"])
    assert body["status"] == "succeeded", body
    return body


def stored_job(service: Service, owner: Actor, *, filename: str = "x.flac") -> str:
    """A job that was never dispatched: a row in the owner's unit and a stored original (no model runs)."""
    import uuid

    from verbatim.jobs.layout import original_key
    from verbatim.ops.db import create_job

    job_id = str(uuid.uuid4())
    key = original_key(job_id)
    stored = service.state.store.put_bytes(key, JFK.read_bytes())
    with service.state.sessions() as session:
        create_job(
            session, owner=owner.user, options={}, filename=filename, audio_sha256=stored.sha256,
            audio_size=stored.size, object_key=key, job_id=job_id,
        )  # fmt: skip
    return job_id
